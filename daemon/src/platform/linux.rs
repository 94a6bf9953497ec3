//! Linux's side of [`crate::platform`]: the owner of a TCP socket by its 4-tuple,
//! asked of the kernel with one `sock_diag` netlink request (`SOCK_DIAG_BY_FAMILY`
//! for exactly that socket, a hash lookup in the kernel, answered before `send`
//! returns; where netlink sock_diag is unavailable — a kernel without
//! `inet_diag`, a sandbox that forbids netlink — `/proc/net/tcp{,6}` is scanned
//! instead: slower, same answer), the parent-death signal and process name
//! (`prctl`), and `/proc/self/exe`.

use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};
use nix::sys::signal::Signal;

use super::PeerOwner;

/// "Match any socket cookie" (`INET_DIAG_NOCOOKIE`).
const NO_COOKIE: [u8; 8] = [0xff; 8];

#[derive(Debug)]
pub(super) struct PeerOwners {
    /// `None` when netlink sock_diag cannot be used here: `/proc` then.
    socket: Option<Socket>,
    buf: Vec<u8>,
}

impl PeerOwners {
    pub(super) fn new() -> Self {
        let socket = open().map_err(|err| {
            tracing::info!(%err, "netlink sock_diag unavailable; connection owners are read from /proc/net/tcp");
        });
        PeerOwners {
            socket: socket.ok(),
            buf: Vec::with_capacity(1024),
        }
    }

    pub(super) fn owner(&mut self, local: SocketAddr, peer: SocketAddr) -> io::Result<PeerOwner> {
        if let Some(socket) = &self.socket {
            match ask(socket, &mut self.buf, local, peer) {
                Ok(owner) => return Ok(owner),
                Err(err) if unsupported(&err) => {
                    tracing::info!(%err, "netlink sock_diag refused; connection owners are read from /proc/net/tcp");
                    self.socket = None;
                }
                Err(err) => return Err(err),
            }
        }
        from_proc(local, peer)
    }
}

fn open() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    Ok(socket)
}

/// Errors that mean "not on this kernel", not "not this socket".
fn unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(
            nix::libc::EPROTONOSUPPORT
                | nix::libc::EOPNOTSUPP
                | nix::libc::EINVAL
                | nix::libc::EPERM
                | nix::libc::EACCES
        )
    )
}

fn ask(
    socket: &Socket,
    buf: &mut Vec<u8>,
    local: SocketAddr,
    peer: SocketAddr,
) -> io::Result<PeerOwner> {
    let family = if peer.is_ipv4() { AF_INET } else { AF_INET6 };
    // The client's socket: its source is our peer, its destination our address.
    let socket_id = SocketId {
        source_port: peer.port(),
        destination_port: local.port(),
        source_address: peer.ip(),
        destination_address: v4_mapped_as(local.ip(), peer.ip()),
        interface_id: 0,
        cookie: NO_COOKIE,
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    request.finalize();
    buf.clear();
    buf.resize(request.buffer_len(), 0);
    request.serialize(buf);
    socket.send(buf, 0)?;

    // The kernel answers inside `send`; never wait here in case it did not.
    buf.clear();
    buf.reserve(1024);
    socket.recv(buf, nix::libc::MSG_DONTWAIT)?;
    let reply = NetlinkMessage::<SockDiagMessage>::deserialize(buf)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
            Ok(PeerOwner::Uid(response.header.uid))
        }
        NetlinkPayload::Error(err) if err.raw_code().abs() == nix::libc::ENOENT => {
            Ok(PeerOwner::Gone)
        }
        NetlinkPayload::Error(err) => Err(err.to_io()),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected sock_diag reply (type {})", other.message_type()),
        )),
    }
}

/// Our address in the peer's family (an IPv6 listener sees IPv4 peers mapped).
fn v4_mapped_as(local: IpAddr, peer: IpAddr) -> IpAddr {
    match (local, peer) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(local, IpAddr::V4),
        _ => local,
    }
}

/// The same question answered from `/proc/net/tcp{,6}`: the line whose local end
/// is `peer` and remote end is `local`, its `uid` column.
fn from_proc(local: SocketAddr, peer: SocketAddr) -> io::Result<PeerOwner> {
    let (table, want_local, want_remote) = match peer {
        SocketAddr::V4(_) => ("/proc/net/tcp", hex(peer), hex(local)),
        SocketAddr::V6(_) => ("/proc/net/tcp6", hex(peer), hex(local)),
    };
    let text = std::fs::read_to_string(table)?;
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(l), Some(r)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if l.eq_ignore_ascii_case(&want_local) && r.eq_ignore_ascii_case(&want_remote) {
            // state, tx:rx, tr:when, retrnsmt, then uid.
            let uid = fields.nth(4).and_then(|u| u.parse().ok());
            return Ok(uid.map_or(PeerOwner::Unknown, PeerOwner::Uid));
        }
    }
    Ok(PeerOwner::Gone)
}

/// An address as `/proc/net/tcp` writes it: the address's 32-bit words in host
/// byte order, each as 8 hex digits, then `:` and the port as 4.
fn hex(addr: SocketAddr) -> String {
    let words: Vec<u32> = match addr.ip() {
        IpAddr::V4(v4) => vec![u32::from_ne_bytes(v4.octets())],
        IpAddr::V6(v6) => v6
            .octets()
            .chunks_exact(4)
            .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
            .collect(),
    };
    let mut out: String = words.iter().map(|w| format!("{w:08X}")).collect();
    out.push_str(&format!(":{:04X}", addr.port()));
    out
}

pub fn set_parent_death_signal() -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from)
}

pub fn set_process_name(name: &CStr) -> io::Result<()> {
    nix::sys::prctl::set_name(name).map_err(io::Error::from)
}

pub fn own_executable() -> io::Result<PathBuf> {
    Ok(PathBuf::from("/proc/self/exe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_answers_like_netlink() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let local = server.local_addr().unwrap();
        let ours = PeerOwner::Uid(super::super::own_uid());
        match open() {
            Ok(socket) => assert_eq!(ask(&socket, &mut Vec::new(), local, peer).unwrap(), ours),
            Err(err) => eprintln!("netlink sock_diag not checked: {err}"),
        }
        assert_eq!(from_proc(local, peer).unwrap(), ours);
        drop((client, server));
    }

    #[test]
    fn proc_addresses_are_written_like_the_kernel_does() {
        let addr: SocketAddr = "127.0.0.1:15721".parse().unwrap();
        assert_eq!(hex(addr), "0100007F:3D69");
    }

    /// How versions before migration 0005 recorded a worker's start: field 22
    /// of `/proc/PID/stat`, clock ticks after boot.
    fn start_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn start_ticks_recorded_by_older_versions_convert_to_the_second_sysinfo_reports() {
        let pid = std::process::id();
        let converted = crate::process_info::from_boot_ticks(start_ticks(pid));
        assert!(converted.is_some());
        assert_eq!(converted, crate::process_info::start_time(pid));
    }

    #[test]
    fn the_own_executable_is_this_test_binary() {
        let exe = std::fs::canonicalize(own_executable().unwrap()).unwrap();
        assert_eq!(exe, std::env::current_exe().unwrap());
    }
}

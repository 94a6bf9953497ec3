//! What differs between operating systems and has no portable crate, behind
//! one signature per function: `linux.rs` and `macos.rs` (which also serves
//! any other Unix) each implement every function below, and nothing outside
//! this module names an OS-specific API (`tests/portable_source.rs` fails the
//! suite if something does): who owns the client end of a loopback TCP
//! connection (the proxy port refuses other users with it), the descriptor
//! limit, the parent-death signal, the process name and our own executable.
//!
//! Everything else about processes and ports goes through cross-platform
//! crates (`sysinfo`, `listeners`, `nix`'s POSIX calls), the same code on
//! every OS; see ARCHITECTURE.md, "Platforms".

use std::ffi::CStr;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(not(target_os = "linux"))]
mod macos;
#[cfg(not(target_os = "linux"))]
use macos as os;

/// Who owns the client end of a TCP connection, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOwner {
    /// The uid that created the client's socket.
    Uid(u32),
    /// The kernel knows no such socket: the client has already gone.
    Gone,
    /// This system cannot tell (another OS, or the lookup is unavailable here).
    Unknown,
}

/// Looks up the owners of connected loopback peers; one per listener, reused for
/// every connection (it may hold a kernel socket of its own).
#[derive(Debug)]
pub struct PeerOwners(os::PeerOwners);

impl PeerOwners {
    pub fn new() -> Self {
        PeerOwners(os::PeerOwners::new())
    }

    /// The owner of the socket at `peer` connected to our `local` address. Answers
    /// at once (no waiting on anything but the kernel); an `Err` says why the
    /// kernel could not be asked.
    pub fn owner(&mut self, local: SocketAddr, peer: SocketAddr) -> io::Result<PeerOwner> {
        self.0.owner(local, peer)
    }
}

impl Default for PeerOwners {
    fn default() -> Self {
        Self::new()
    }
}

/// Our own effective uid: what a peer's owner is compared with.
pub fn own_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Raises the soft limit on open descriptors to the hard limit (distributions
/// ship a soft limit of 1,024 beside a far higher hard one) and returns the limit
/// now in force. Capped at 2^20, Linux's default ceiling (`fs.nr_open`), for a
/// hard limit of "unlimited"; macOS's own ceiling is handled by the crate.
pub fn raise_fd_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(1 << 20)
}

/// The soft limit on open descriptors in force now.
pub fn fd_limit() -> io::Result<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft)
}

/// Asks the kernel to send this process SIGTERM when its parent dies. Called
/// in a freshly forked worker before exec, so it makes async-signal-safe calls
/// only. A backup: the control channel's end-of-file is what stops a worker
/// whose daemon is gone, on every OS. On macOS, which has no such request,
/// this does nothing.
pub fn set_parent_death_signal() -> io::Result<()> {
    os::set_parent_death_signal()
}

/// Sets the name `ps`, `top` and `pgrep` show for this process, where the OS
/// names a process separately from its arguments (Linux: a worker started
/// through [`own_executable`] would otherwise be called "exe"). macOS names a
/// process after its executable file, which is already `switchyard`.
pub fn set_process_name(name: &CStr) -> io::Result<()> {
    os::set_process_name(name)
}

/// The path to start another copy of this very program from. On Linux that
/// is the running image itself, even after an upgrade replaced the file on
/// disk, so that a daemon never starts workers of another version. Elsewhere
/// it is the file the program was started from.
pub fn own_executable() -> io::Result<PathBuf> {
    os::own_executable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_peer_of_ours_is_ours() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let mut owners = PeerOwners::new();
        let owner = owners.owner(server.local_addr().unwrap(), peer).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(owner, PeerOwner::Uid(own_uid()));
        }
        drop((client, server));
    }

    #[test]
    fn a_peer_that_never_existed_is_gone() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        // Port 1 on loopback never connects to our listener.
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(
            PeerOwners::new().owner(local, peer).unwrap(),
            PeerOwner::Gone
        );
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let now = raise_fd_limit().unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(now, hard.min(1 << 20));
        }
        assert_eq!(fd_limit().unwrap(), now);
    }
}

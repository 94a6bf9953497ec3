//! Binding an app's port. The daemon owns the listening socket for as long as
//! the app is enabled; workers and the 503 responder only borrow it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

/// Binds 127.0.0.1:`port`, or explains who holds it. The explanation looks
/// through every process's sockets, so it runs off the daemon's (single)
/// runtime thread.
pub async fn bind(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpListener::bind(addr) {
        Ok(listener) => Ok(listener),
        Err(err) => Err(
            tokio::task::spawn_blocking(move || describe_bind_error(port, &err))
                .await
                .unwrap_or_else(|_| format!("cannot bind 127.0.0.1:{port}")),
        ),
    }
}

fn describe_bind_error(port: u16, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => {
            let owner = port_owner(port)
                .map(|(pid, name)| format!(" (pid {pid}, {name})"))
                .unwrap_or_default();
            format!("port {port} on 127.0.0.1 is in use by another program{owner}")
        }
        io::ErrorKind::PermissionDenied => {
            format!("port {port} needs privileges to bind; choose a port above 1023")
        }
        _ => format!("cannot bind 127.0.0.1:{port}: {err}"),
    }
}

/// The process listening on `port` in a way that keeps 127.0.0.1:`port` from
/// being bound, as the `listeners` crate finds it (every process on Linux and
/// macOS whose sockets the OS shows us: in practice the same user's). When
/// several share the socket (a daemon and its worker do), the lowest pid is
/// named, usually the parent.
pub fn port_owner(port: u16) -> Option<(u32, String)> {
    listeners::get_all()
        .ok()?
        .into_iter()
        .filter(|l| {
            l.protocol == listeners::Protocol::TCP
                && l.state == listeners::SocketState::Listen
                && l.socket.port() == port
                && blocks_loopback_v4(l.socket.ip())
        })
        .map(|l| (l.process.pid, l.process.name))
        .min()
}

/// Whether a listener on `ip` takes the port away from 127.0.0.1 too: the
/// address itself, any IPv4 address, or any address of a dual-stack socket.
fn blocks_loopback_v4(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == Ipv4Addr::LOCALHOST || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_names_the_port_and_its_owner() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let err = bind(port).await.unwrap_err();
        assert!(err.contains(&format!("port {port}")), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn the_owner_is_the_process_that_listens_not_one_connected_from_the_port() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let me = std::process::id();
        assert_eq!(port_owner(port).map(|(pid, _)| pid), Some(me));
        // A port nothing listens on has no owner, even while a connection
        // that once came through a listener there is still open.
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_server_side, _) = holder.accept().unwrap();
        drop(holder);
        assert_eq!(port_owner(port), None);
        drop(client);
    }

    #[test]
    fn only_listeners_that_cover_127_0_0_1_take_its_port() {
        assert!(blocks_loopback_v4("127.0.0.1".parse().unwrap()));
        assert!(blocks_loopback_v4("0.0.0.0".parse().unwrap()));
        assert!(blocks_loopback_v4("::".parse().unwrap()));
        assert!(blocks_loopback_v4("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!blocks_loopback_v4("127.0.0.2".parse().unwrap()));
        assert!(!blocks_loopback_v4("::1".parse().unwrap()));
    }
}

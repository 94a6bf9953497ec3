//! Binding an app's port. The daemon owns the listening socket for as long as
//! the app is enabled; workers and the 503 responder only borrow it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Binds 127.0.0.1:`port`, or explains who holds it. The explanation scans
/// `/proc`, so it runs off the daemon's (single) runtime thread.
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

/// The process listening on `port`, where `/proc` tells (Linux, same user).
pub fn port_owner(port: u16) -> Option<(u32, String)> {
    let inode = listening_inode(port)?;
    let needle = format!("socket:[{inode}]");
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == needle.as_str()) {
                let name = std::fs::read_to_string(proc_entry.path().join("comm"))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
                return Some((pid, name));
            }
        }
    }
    None
}

/// The socket inode listening on `port` in /proc/net/tcp{,6}.
fn listening_inode(port: u16) -> Option<u64> {
    const LISTEN: &str = "0A";
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == LISTEN && local_port == Some(port) {
                return inode.parse().ok();
            }
        }
    }
    None
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
}

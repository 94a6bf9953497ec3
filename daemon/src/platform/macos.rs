//! macOS's side of [`crate::platform`] (and any other Unix's). macOS has no
//! parent-death signal (the worker relies on its control channel's end-of-file,
//! as it does everywhere) and names a process after its executable file.
//!
//! The owner of a loopback peer is not looked up here, so the proxy port cannot
//! refuse other local users on these systems; the daemon's own socket still does
//! (`getpeereid`). What macOS could do: the `net.inet.tcp.pcblist_n` sysctl lists
//! every TCP socket as `xinpcb_n`/`xsocket_n` records, and `xsocket_n.so_uid` is
//! the owner's uid; finding the record whose local end is the peer's address and
//! port (and whose foreign end is ours) answers the question without privileges,
//! the way `netstat` reads the same table. It is a scan of every TCP socket on the
//! machine per connection and its record layout is private to the kernel version,
//! so it is not done blindly here; `lsof -i` (`proc_pidfdinfo` over every process)
//! is slower still and sees only the caller's own processes.

use std::ffi::CStr;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::PeerOwner;

#[derive(Debug)]
pub(super) struct PeerOwners;

impl PeerOwners {
    pub(super) fn new() -> Self {
        PeerOwners
    }

    pub(super) fn owner(&mut self, _local: SocketAddr, _peer: SocketAddr) -> io::Result<PeerOwner> {
        Ok(PeerOwner::Unknown)
    }
}

pub fn set_parent_death_signal() -> io::Result<()> {
    Ok(())
}

pub fn set_process_name(_name: &CStr) -> io::Result<()> {
    Ok(())
}

pub fn own_executable() -> io::Result<PathBuf> {
    std::env::current_exe()
}

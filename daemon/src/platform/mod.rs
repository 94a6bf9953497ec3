//! What differs between operating systems and has no portable crate, behind
//! one signature per function: `linux.rs` and `macos.rs` (which also serves
//! any other Unix) each implement every function below, and nothing outside
//! this module names an OS-specific API (`tests/portable_source.rs` fails the
//! suite if something does).
//!
//! Everything else about processes and ports goes through cross-platform
//! crates (`sysinfo`, `listeners`, `nix`'s POSIX calls), the same code on
//! every OS; see ARCHITECTURE.md, "Platforms".

use std::ffi::CStr;
use std::io;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(not(target_os = "linux"))]
mod macos;
#[cfg(not(target_os = "linux"))]
use macos as os;

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

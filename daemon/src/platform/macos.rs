//! macOS's side of [`crate::platform`] (and any other Unix's). macOS has no
//! parent-death signal (the worker relies on its control channel's
//! end-of-file, as it does everywhere) and names a process after its
//! executable file.

use std::ffi::CStr;
use std::io;
use std::path::PathBuf;

pub fn set_parent_death_signal() -> io::Result<()> {
    Ok(())
}

pub fn set_process_name(_name: &CStr) -> io::Result<()> {
    Ok(())
}

pub fn own_executable() -> io::Result<PathBuf> {
    std::env::current_exe()
}

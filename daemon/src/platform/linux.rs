//! Linux's side of [`crate::platform`]: `prctl` and `/proc/self/exe`.

use std::ffi::CStr;
use std::io;
use std::path::PathBuf;

use nix::sys::signal::Signal;

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

//! A reserve file beside the database: a few MiB set aside at start and given
//! up only when the daemon stops on a full disk, so that what the store holds
//! in memory (the ends of worker runs above all) can still be written and the
//! write-ahead log checkpointed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// How much room the reserve keeps: enough for the held records at their
/// bound (`writer::MAX_HELD_EVENTS` events of a few hundred bytes each, their
/// index pages, and the checkpoint copying them into the main file).
pub const RESERVE_BYTES: u64 = 4 << 20;

pub struct Reserve {
    path: PathBuf,
    bytes: u64,
}

impl Reserve {
    pub fn new(path: PathBuf, bytes: u64) -> Reserve {
        Reserve { path, bytes }
    }

    /// Sets the room aside unless it already is; on failure (no space) no
    /// partial file is left behind.
    pub fn ensure(&self) -> std::io::Result<()> {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= self.bytes) {
            return Ok(());
        }
        let fill = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&self.path)?;
            // Real blocks, not a sparse file: the point is that they are taken.
            let zeros = vec![0u8; 64 << 10];
            let mut left = self.bytes;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            file.sync_all()
        };
        fill().inspect_err(|_| {
            let _ = std::fs::remove_file(&self.path);
        })
    }

    /// Gives the room back to the file system; false when there was none.
    pub fn release(&self) -> bool {
        std::fs::remove_file(&self.path).is_ok()
    }
}

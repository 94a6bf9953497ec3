//! The takeover record: for each app whose CLI Switchyard has pointed at its
//! proxy, every file it edited — the bytes from before the first change, the
//! bytes last written, the previous values of the owned keys — and the
//! caller's environment that named those files.
//!
//! It lives in a small private file per app (`<data dir>/takeover/<app>.json`,
//! mode 0600 in a 0700 directory), not in the database: written atomically
//! *before* a CLI file changes, it survives a database that is lost, emptied
//! or corrupt, so `disable` (or the next start) can still give the user their
//! own bytes back. JSON, so that a person can read it too: file contents are
//! strings (every file takeover edits is UTF-8), other bytes hex.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::env::CallerEnv;
use super::{Previous, TakeoverError, Target, atomic};
use crate::apps::App;

/// What Switchyard needs to hand an app's files back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub app: App,
    /// The environment that named the files; re-pointing after a restart or
    /// a port move, with no caller, uses it.
    pub env: CallerEnv,
    pub files: Vec<FileRecord>,
}

/// One edited file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub target: Target,
    #[serde(with = "path_bytes")]
    pub path: PathBuf,
    /// The file before the first change; `None` when it did not exist.
    #[serde(with = "opt_bytes")]
    pub original: Option<Vec<u8>>,
    /// What Switchyard last wrote.
    #[serde(with = "bytes")]
    pub written: Vec<u8>,
    /// The previous values of the owned keys.
    pub previous: Previous,
    /// Every difference between `original` and `written` is Switchyard's own.
    pub clean: bool,
    /// Directories created for the file, innermost first: removed again,
    /// if empty, when the file goes.
    #[serde(default, with = "path_list")]
    pub created: Vec<PathBuf>,
}

/// Never the contents: a settings file may hold API keys, and this ends up in logs.
impl std::fmt::Debug for FileRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRecord")
            .field("target", &self.target)
            .field("path", &self.path)
            .field("original", &self.original.as_ref().map(Vec::len))
            .field("written", &self.written.len())
            .field("clean", &self.clean)
            .finish_non_exhaustive()
    }
}

/// The directory of record files.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(dir: PathBuf) -> Self {
        Records { dir }
    }

    /// Where `app`'s record is kept.
    pub fn path(&self, app: App) -> PathBuf {
        self.dir.join(format!("{}.json", app.name()))
    }

    pub fn load(&self, app: App) -> Result<Option<AppRecord>, TakeoverError> {
        let path = self.path(app);
        let Some(bytes) = atomic::read(&path).map_err(|source| io_error("read", &path, source))?
        else {
            return Ok(None);
        };
        let record: AppRecord =
            serde_json::from_slice(&bytes).map_err(|err| TakeoverError::Record {
                app,
                message: format!(
                    "{} is not a takeover record ({err}); it was left as it is",
                    path.display()
                ),
            })?;
        Ok(Some(record))
    }

    /// Saves `record` durably, private to the user.
    pub fn save(&self, record: &AppRecord) -> Result<(), TakeoverError> {
        let path = self.path(record.app);
        let json = serde_json::to_vec_pretty(record).map_err(|err| TakeoverError::Record {
            app: record.app,
            message: err.to_string(),
        })?;
        self.make_dir()
            .and_then(|()| atomic::write(&path, &json))
            .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o600)))
            .map_err(|source| io_error("write", &path, source))
    }

    pub fn remove(&self, app: App) -> Result<(), TakeoverError> {
        let path = self.path(app);
        atomic::remove(&path).map_err(|source| io_error("remove", &path, source))
    }

    fn make_dir(&self) -> io::Result<()> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
    }
}

fn io_error(what: &'static str, path: &Path, source: io::Error) -> TakeoverError {
    TakeoverError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Bytes as a JSON string when they are UTF-8, else as `{"hex": "…"}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Encoded {
    Text(String),
    Raw { hex: String },
}

impl Encoded {
    fn of(bytes: &[u8]) -> Encoded {
        match std::str::from_utf8(bytes) {
            Ok(text) => Encoded::Text(text.to_owned()),
            Err(_) => Encoded::Raw {
                hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
    }

    fn bytes<E: serde::de::Error>(self) -> Result<Vec<u8>, E> {
        match self {
            Encoded::Text(text) => Ok(text.into_bytes()),
            Encoded::Raw { hex } => (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                        .ok_or_else(|| E::custom("bad hex in a takeover record"))
                })
                .collect(),
        }
    }
}

mod bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Encoded;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        Encoded::of(bytes).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Encoded::deserialize(d)?.bytes()
    }
}

mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Encoded;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        bytes.as_deref().map(Encoded::of).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<Encoded>::deserialize(d)?
            .map(Encoded::bytes)
            .transpose()
    }
}

mod path_bytes {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        super::bytes::serialize(path.as_os_str().as_bytes(), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        super::bytes::deserialize(d).map(|b| PathBuf::from(OsString::from_vec(b)))
    }
}

mod path_list {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super::path_bytes")] PathBuf);

    pub fn serialize<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<_> = paths.iter().cloned().map(Wrapped).collect();
        wrapped.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Ok(Vec::<Wrapped>::deserialize(d)?
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn record() -> AppRecord {
        AppRecord {
            app: App::Claude,
            env: CallerEnv {
                vars: vec![("HOME".into(), b"/home/u".to_vec())],
            },
            files: vec![FileRecord {
                target: Target::ClaudeSettings,
                path: PathBuf::from(OsString::from_vec(
                    b"/home/\xffu/.claude/settings.json".to_vec(),
                )),
                original: Some("{\"a\": \"\u{2603}\"}\n".into()),
                written: b"{}".to_vec(),
                previous: Previous::Json(super::super::claude::Previous {
                    env: false,
                    value: None,
                }),
                clean: true,
                created: vec![PathBuf::from("/home/u/.claude")],
            }],
        }
    }

    #[test]
    fn records_round_trip_privately_and_keep_absent_apart_from_empty() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path().join("takeover"));
        assert_eq!(records.load(App::Claude).unwrap(), None);
        let mut record = record();
        records.save(&record).unwrap();
        assert_eq!(records.load(App::Claude).unwrap(), Some(record.clone()));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&records.path(App::Claude)), 0o600);
        assert_eq!(mode(&dir.path().join("takeover")), 0o700);
        // Readable by a person: the original is plain text.
        let text = fs::read_to_string(records.path(App::Claude)).unwrap();
        assert!(
            text.contains("\u{2603}") && text.contains("\"hex\""),
            "{text}"
        );
        record.files[0].original = Some(Vec::new());
        records.save(&record).unwrap();
        assert_eq!(records.load(App::Claude).unwrap(), Some(record.clone()));
        record.files[0].original = None;
        records.save(&record).unwrap();
        assert_eq!(records.load(App::Claude).unwrap(), Some(record));
        records.remove(App::Claude).unwrap();
        records.remove(App::Claude).unwrap();
        assert_eq!(records.load(App::Claude).unwrap(), None);
    }

    #[test]
    fn a_damaged_record_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path().to_owned());
        fs::write(records.path(App::Codex), b"{\"app\":").unwrap();
        let err = records.load(App::Codex).unwrap_err().to_string();
        assert!(err.contains("codex.json is not a takeover record"), "{err}");
        assert_eq!(fs::read(records.path(App::Codex)).unwrap(), b"{\"app\":");
    }

    #[test]
    fn debug_never_shows_the_contents() {
        let shown = format!("{:?}", record());
        assert!(!shown.contains('\u{2603}'), "{shown}");
    }
}

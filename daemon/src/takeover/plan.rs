//! Reading a configuration file and deciding what to write, against the
//! record of what the file was before Switchyard's first change.
//!
//! Planning and committing are separate so that the record can be saved
//! *between* them: the original is kept before the file changes. A
//! commit writes only if the file still holds the bytes the plan was made
//! from, so an edit the user saves meanwhile is never overwritten.

use std::path::{Path, PathBuf};

use super::record::FileRecord;
use super::{TakeoverError, Target, atomic, text_of};

/// Pointing a file at the proxy: the record to save first, then the bytes to write.
#[derive(Debug)]
pub struct PointPlan {
    /// What the file held when planned (`None`: absent).
    pub seen: Option<Vec<u8>>,
    /// The record to save; `record.written` is what to write.
    pub record: FileRecord,
    /// Whether the file must change at all.
    pub changed: bool,
}

/// Handing a file back.
#[derive(Debug)]
pub struct ReleasePlan {
    pub seen: Option<Vec<u8>>,
    pub action: Action,
    /// Owned keys whose value the user changed: left as they are (`key = value`).
    pub kept: Vec<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Write(Vec<u8>),
    Remove,
}

/// Never the contents: a settings file may hold API keys, and this ends up in logs.
impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Nothing => f.write_str("Nothing"),
            Action::Write(bytes) => write!(f, "Write({} bytes)", bytes.len()),
            Action::Remove => f.write_str("Remove"),
        }
    }
}

/// Works out how to point `path` (a `target` file) at `value`. With a record
/// (a takeover already in place), its original and previous values are kept:
/// they are what the file was before the *first* change. A record of keys an
/// older Switchyard owned is handed back in memory first, then the current
/// keys are set on the result, so the file moves to them in one write.
pub fn plan_point(
    target: Target,
    path: &Path,
    value: &str,
    record: Option<&FileRecord>,
) -> Result<PointPlan, TakeoverError> {
    let seen = read(path)?;
    let text = text_of(path, seen.as_deref())?;
    let invalid = |error| TakeoverError::Invalid {
        path: path.to_owned(),
        error,
    };
    let upgrade = record.filter(|old| !old.previous.is_current());
    let base = match upgrade {
        Some(old) => {
            let written = String::from_utf8_lossy(&old.written);
            super::restore(&old.previous, text, &written)
                .map_err(invalid)?
                .text
        }
        None => text.to_owned(),
    };
    let (new, previous) = super::point(target, &base, value).map_err(invalid)?;
    let record = match record {
        Some(old) => FileRecord {
            // Still Switchyard's own difference only if nobody else wrote
            // since: the file is the original, or what we last wrote.
            clean: seen == old.original
                || (old.clean && seen.as_deref() == Some(old.written.as_slice())),
            written: new.into_bytes(),
            previous: if upgrade.is_some() {
                previous
            } else {
                old.previous.clone()
            },
            target,
            ..old.clone()
        },
        None => FileRecord {
            target,
            path: path.to_owned(),
            original: seen.clone(),
            written: new.into_bytes(),
            previous,
            clean: true,
            created: if seen.is_none() {
                missing_dirs(path)
            } else {
                Vec::new()
            },
        },
    };
    let changed = seen.as_deref() != Some(record.written.as_slice());
    Ok(PointPlan {
        seen,
        record,
        changed,
    })
}

/// Works out how to hand `record`'s file back. Untouched since Switchyard
/// wrote it: the original bytes, exactly. Edited by the user meanwhile: only
/// the owned keys go back to their previous values, and a value the user gave
/// one of them stays. A file that did not exist goes away again if nothing
/// but Switchyard's keys was in it.
pub fn plan_release(record: &FileRecord) -> Result<ReleasePlan, TakeoverError> {
    let path = &record.path;
    let seen = read(path)?;
    let mut kept = Vec::new();
    let action = if seen == record.original {
        Action::Nothing
    } else if record.clean && seen.as_deref() == Some(record.written.as_slice()) {
        match &record.original {
            Some(bytes) => Action::Write(bytes.clone()),
            None => Action::Remove,
        }
    } else if let Some(bytes) = &seen {
        let text = text_of(path, Some(bytes))?;
        let written = String::from_utf8_lossy(&record.written);
        let restored = super::restore(&record.previous, text, &written).map_err(|error| {
            TakeoverError::Invalid {
                path: path.clone(),
                error,
            }
        })?;
        kept = restored.kept;
        if record.original.is_none() && super::is_empty(record.target, &restored.text) {
            Action::Remove
        } else if restored.text.as_bytes() == bytes.as_slice() {
            Action::Nothing
        } else {
            Action::Write(restored.text.into_bytes())
        }
    } else {
        // The user deleted the file meanwhile; that stands.
        Action::Nothing
    };
    Ok(ReleasePlan { seen, action, kept })
}

/// Carries out `action` on `path` if the file still holds `seen`.
pub fn commit(path: &Path, seen: &Option<Vec<u8>>, action: &Action) -> Result<(), TakeoverError> {
    if *action == Action::Nothing {
        return Ok(());
    }
    if read(path)? != *seen {
        return Err(TakeoverError::Changed {
            path: path.to_owned(),
        });
    }
    let result = match action {
        Action::Write(bytes) => atomic::write(path, bytes),
        Action::Remove => atomic::remove(path),
        Action::Nothing => Ok(()),
    };
    result.map_err(|source| TakeoverError::Io {
        what: "write",
        path: path.to_owned(),
        source,
    })
}

/// The directories above `path` that do not exist yet, innermost first.
fn missing_dirs(path: &Path) -> Vec<PathBuf> {
    path.ancestors()
        .skip(1)
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// Removes the directories Switchyard created for `record`'s file, now that
/// the file is gone, as far as they are empty.
pub fn remove_created_dirs(record: &FileRecord) {
    if record.path.exists() {
        return;
    }
    for dir in &record.created {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

pub(super) fn read(path: &Path) -> Result<Option<Vec<u8>>, TakeoverError> {
    atomic::read(path).map_err(|source| TakeoverError::Io {
        what: "read",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

//! Reading a configuration file and deciding what to write, against the
//! store's record of what the file was before Switchyard's first change.
//!
//! Planning and committing are separate so that the core can save the record
//! *between* them: the original is in the store before the file changes. A
//! commit writes only if the file still holds the bytes the plan was made
//! from, so an edit the user saves meanwhile is never overwritten.

use std::path::Path;

use super::{Previous, TakeoverError, atomic, text_of};
use crate::apps::App;
use crate::store::TakeoverRecord;

/// Pointing a file at the proxy: the record to save first, then the bytes to write.
#[derive(Debug)]
pub struct PointPlan {
    /// What the file held when planned (`None`: absent).
    pub seen: Option<Vec<u8>>,
    /// The record to save; `record.written` is what to write.
    pub record: TakeoverRecord,
    /// Whether the file must change at all.
    pub changed: bool,
}

/// Handing a file back.
#[derive(Debug)]
pub struct ReleasePlan {
    pub seen: Option<Vec<u8>>,
    pub action: Action,
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

/// Works out how to point `app`'s file at `url`. With a record (a takeover
/// already in place), its original and previous values are kept: they are
/// what the file was before the *first* change.
pub fn plan_point(
    app: App,
    path: &Path,
    url: &str,
    record: Option<&TakeoverRecord>,
) -> Result<PointPlan, TakeoverError> {
    let seen = read(path)?;
    let text = text_of(path, seen.as_deref())?;
    let (new, previous) = super::point(app, text, url).map_err(|error| TakeoverError::Invalid {
        path: path.to_owned(),
        error,
    })?;
    let record = match record {
        Some(old) => TakeoverRecord {
            // Still Switchyard's own difference only if nobody else wrote
            // since: the file is the original, or what we last wrote.
            clean: seen == old.original
                || (old.clean && seen.as_deref() == Some(old.written.as_slice())),
            written: new.into_bytes(),
            ..old.clone()
        },
        None => TakeoverRecord {
            app,
            path: path.to_owned(),
            original: seen.clone(),
            written: new.into_bytes(),
            previous: serde_json::to_string(&previous).map_err(|err| TakeoverError::Record {
                app,
                message: err.to_string(),
            })?,
            clean: true,
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
/// the owned keys go back to their previous values. A file that did not exist
/// goes away again if nothing but Switchyard's key was in it.
pub fn plan_release(record: &TakeoverRecord) -> Result<ReleasePlan, TakeoverError> {
    let path = &record.path;
    let seen = read(path)?;
    let action = if seen == record.original {
        Action::Nothing
    } else if record.clean && seen.as_deref() == Some(record.written.as_slice()) {
        match &record.original {
            Some(bytes) => Action::Write(bytes.clone()),
            None => Action::Remove,
        }
    } else if let Some(bytes) = &seen {
        let previous: Previous =
            serde_json::from_str(&record.previous).map_err(|err| TakeoverError::Record {
                app: record.app,
                message: err.to_string(),
            })?;
        let text = text_of(path, Some(bytes))?;
        let restored = super::restore(record.app, text, &previous).map_err(|error| {
            TakeoverError::Invalid {
                path: path.clone(),
                error,
            }
        })?;
        if record.original.is_none() && super::is_empty(record.app, &restored) {
            Action::Remove
        } else if restored.as_bytes() == bytes.as_slice() {
            Action::Nothing
        } else {
            Action::Write(restored.into_bytes())
        }
    } else {
        // The user deleted the file meanwhile; that stands.
        Action::Nothing
    };
    Ok(ReleasePlan { seen, action })
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

/// The URL `app`'s file points its CLI at, if any (read-only).
pub fn inspect(app: App, path: &Path) -> Result<Option<String>, TakeoverError> {
    let seen = read(path)?;
    let text = text_of(path, seen.as_deref())?;
    super::current_url(app, text).map_err(|error| TakeoverError::Invalid {
        path: path.to_owned(),
        error,
    })
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, TakeoverError> {
    atomic::read(path).map_err(|source| TakeoverError::Io {
        what: "read",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

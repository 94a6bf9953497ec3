//! Pointing and handing back all of one app's files: which files, with which
//! values, and in which order — the record is saved before any file changes,
//! every file is planned before any is written. Blocking: this runs on the
//! takeover thread (`actor.rs`), never on the daemon's core.

use std::path::PathBuf;

use super::env::{self, CallerEnv, CallerEnvExt};
use super::gemini_settings::{self, API_KEY, COMPUTE};
use super::plan::{self, Action, PointPlan};
use super::record::{AppRecord, FileRecord, Records};
use super::{TakeoverError, Target, gemini, proxy_url, text_of};
use crate::apps::App;
use crate::store::TakeoverRecord;

/// How often a plan is redone when the user saves a file mid-edit.
const ATTEMPTS: usize = 3;

/// Checks that `app`'s files can be pointed at `port` for `env`, writing nothing.
pub fn check(records: &Records, app: App, port: u16, env: &CallerEnv) -> Result<(), TakeoverError> {
    let old = records.load(app)?;
    let old = old.filter(|r| same_files(r, app, env));
    for (target, path, value) in wanted(app, env, &proxy_url(port), old.as_ref())? {
        plan::plan_point(target, &path, &value, file(old.as_ref(), target))?;
    }
    Ok(())
}

/// Points `app`'s files at its proxy on `port`; returns what happened, for the
/// reply. Without `env` (a restart, a port move), the recorded one is used.
/// A file that cannot be edited refuses with the file and line, and nothing
/// of it changes.
pub fn point(
    records: &Records,
    app: App,
    port: u16,
    env: Option<CallerEnv>,
) -> Result<String, TakeoverError> {
    let url = proxy_url(port);
    let mut old = records.load(app)?;
    let env = env
        .or_else(|| old.as_ref().map(|r| r.env.clone()))
        .unwrap_or_else(CallerEnv::current);
    let mut notes = Vec::new();
    if let Some(record) = old.take_if(|r| !same_files(r, app, &env)) {
        // Another HOME (or CODEX_HOME, …) than before: hand those files back
        // before taking these.
        notes.push(release_record(records, &record)?);
    }
    for _ in 0..ATTEMPTS {
        let plans = wanted(app, &env, &url, old.as_ref())?
            .into_iter()
            .map(|(target, path, value)| {
                plan::plan_point(target, &path, &value, file(old.as_ref(), target))
            })
            .collect::<Result<Vec<PointPlan>, _>>()?;
        let record = AppRecord {
            app,
            env: env.clone(),
            files: plans.iter().map(|p| p.record.clone()).collect(),
        };
        if old.as_ref() != Some(&record) {
            records.save(&record)?;
        }
        let mut wrote = Vec::new();
        let mut changed_meanwhile = false;
        for plan in plans.iter().filter(|p| p.changed) {
            let write = Action::Write(plan.record.written.clone());
            match plan::commit(&plan.record.path, &plan.seen, &write) {
                Ok(()) => wrote.push(plan),
                Err(TakeoverError::Changed { .. }) => {
                    changed_meanwhile = true;
                    break;
                }
                Err(err) => {
                    if wrote.is_empty() {
                        // No file changed: the record must say so again.
                        match &old {
                            Some(record) => records.save(record)?,
                            None => records.remove(app)?,
                        }
                    }
                    return Err(err);
                }
            }
        }
        if changed_meanwhile {
            old = Some(record);
            continue;
        }
        for plan in &plans {
            tracing::info!(%app, path = %plan.record.path.display(), changed = plan.changed, "takeover: pointed");
            notes.push(point_note(plan, &url));
        }
        return Ok(join(notes));
    }
    let path = config_main(app, &env)?;
    Err(TakeoverError::Changed { path })
}

/// Hands `app`'s files back if Switchyard holds them; returns a note for the
/// reply ("" when there was nothing to do). On failure the record stays.
pub fn release(records: &Records, app: App) -> Result<String, TakeoverError> {
    match records.load(app)? {
        Some(record) => release_record(records, &record),
        None => Ok(String::new()),
    }
}

/// Saves records an older Switchyard kept in its database as record files,
/// unless the app already has one; returns the apps imported.
pub fn import(records: &Records, legacy: Vec<TakeoverRecord>) -> Result<Vec<App>, TakeoverError> {
    let mut imported = Vec::new();
    for old in legacy {
        let app = old.app;
        if records.load(app)?.is_some() {
            continue;
        }
        let previous =
            serde_json::from_str(&old.previous).map_err(|err| TakeoverError::Record {
                app,
                message: err.to_string(),
            })?;
        let record = AppRecord {
            app,
            // The old daemon named the file from its own environment.
            env: CallerEnv::current(),
            files: vec![FileRecord {
                target: Target::main(app),
                path: old.path,
                original: old.original,
                written: old.written,
                previous,
                clean: old.clean,
                created: Vec::new(),
            }],
        };
        records.save(&record)?;
        imported.push(app);
    }
    Ok(imported)
}

fn release_record(records: &Records, record: &AppRecord) -> Result<String, TakeoverError> {
    let app = record.app;
    let mut notes = Vec::new();
    for file in &record.files {
        notes.push(release_file(file)?);
    }
    records.remove(app)?;
    Ok(join(notes))
}

fn release_file(file: &FileRecord) -> Result<String, TakeoverError> {
    for _ in 0..ATTEMPTS {
        let plan = plan::plan_release(file)?;
        match plan::commit(&file.path, &plan.seen, &plan.action) {
            Ok(()) => {}
            Err(TakeoverError::Changed { .. }) => continue,
            Err(err) => return Err(err),
        }
        plan::remove_created_dirs(file);
        tracing::info!(path = %file.path.display(), action = ?plan.action, kept = plan.kept.len(), "takeover: released");
        let path = file.path.display();
        let mut note = match plan.action {
            Action::Nothing if file.target != Target::main(target_app(file.target)) => {
                String::new()
            }
            Action::Nothing => format!("{path} needed no change"),
            Action::Write(_) => format!("{path} restored"),
            Action::Remove => format!("{path} removed (Switchyard had created it)"),
        };
        if !plan.kept.is_empty() {
            if note.is_empty() {
                note = format!("{path} handed back");
            }
            note.push_str(&format!(
                ", keeping the value you set while Switchyard held it: {}",
                plan.kept.join(", ")
            ));
        }
        return Ok(note);
    }
    Err(TakeoverError::Changed {
        path: file.path.clone(),
    })
}

/// The files to point, and the value each gets.
fn wanted(
    app: App,
    env: &CallerEnv,
    url: &str,
    old: Option<&AppRecord>,
) -> Result<Vec<(Target, PathBuf, String)>, TakeoverError> {
    let dir = env::config_dir(app, env)?;
    let main = Target::main(app);
    let mut files = vec![(main, dir.join(main.file_name()), url.to_owned())];
    if app == App::Gemini {
        let settings = dir.join(Target::GeminiSettings.file_name());
        let recorded = file(old, Target::GeminiSettings);
        let login = match gemini_login(env, &files[0].1, &settings)? {
            Some(login) => Some(login),
            // Pinned before: it stays in the record (and is put back if gone).
            None => recorded
                .and_then(|f| gemini_settings::selected(&String::from_utf8_lossy(&f.written)).ok())
                .flatten(),
        };
        if let Some(login) = login {
            files.push((Target::GeminiSettings, settings, login));
        }
    }
    Ok(files)
}

/// The login gemini-cli would pick from the environment, if the base URL in
/// `.env` would make it pick "gateway" instead (see `gemini_settings.rs`):
/// none selected in its settings, and the environment's choice is the API
/// key or compute credentials.
fn gemini_login(
    env: &CallerEnv,
    dotenv: &std::path::Path,
    settings: &std::path::Path,
) -> Result<Option<String>, TakeoverError> {
    let read = |path: &std::path::Path| -> Result<String, TakeoverError> {
        let bytes = plan::read(path)?;
        Ok(text_of(path, bytes.as_deref())?.to_owned())
    };
    let selected =
        gemini_settings::selected(&read(settings)?).map_err(|error| TakeoverError::Invalid {
            path: settings.to_owned(),
            error,
        })?;
    if selected.is_some() {
        return Ok(None);
    }
    let dotenv = read(dotenv)?;
    let flag = |name| env::flag(env, &dotenv, name);
    Ok(
        if flag("GOOGLE_GENAI_USE_GCA") || flag("GOOGLE_GENAI_USE_VERTEXAI") {
            None
        } else if env::is_set(env, &dotenv, "GEMINI_API_KEY") {
            Some(API_KEY.to_owned())
        } else if flag("CLOUD_SHELL") || flag("GEMINI_CLI_USE_COMPUTE_ADC") {
            Some(COMPUTE.to_owned())
        } else {
            None
        },
    )
}

fn point_note(plan: &PointPlan, url: &str) -> String {
    let path = plan.record.path.display();
    match (plan.record.target, plan.changed) {
        (Target::GeminiSettings, false) => String::new(),
        (Target::GeminiSettings, true) => format!(
            "{path} selects the login your environment chose ({}), which {} would otherwise turn into gemini-cli's \"gateway\" login",
            gemini_settings::selected(&String::from_utf8_lossy(&plan.record.written))
                .ok()
                .flatten()
                .unwrap_or_default(),
            gemini::KEY
        ),
        (_, true) => format!("{path} now points at {url}"),
        (_, false) => format!("{path} already points at {url}"),
    }
}

/// Whether `record`'s files are the ones `env` names.
fn same_files(record: &AppRecord, app: App, env: &CallerEnv) -> bool {
    let main = file(Some(record), Target::main(app)).map(|f| &f.path);
    config_main(app, env).is_ok_and(|path| main == Some(&path))
}

fn config_main(app: App, env: &CallerEnv) -> Result<PathBuf, TakeoverError> {
    super::config_path_in(app, env)
}

fn file(record: Option<&AppRecord>, target: Target) -> Option<&FileRecord> {
    record?.files.iter().find(|f| f.target == target)
}

fn target_app(target: Target) -> App {
    match target {
        Target::ClaudeSettings => App::Claude,
        Target::CodexConfig => App::Codex,
        Target::GeminiEnv | Target::GeminiSettings => App::Gemini,
    }
}

fn join(notes: Vec<String>) -> String {
    notes
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> CallerEnv {
        CallerEnv {
            vars: vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    /// The login pinned for `dotenv` and `settings` file contents and `vars`.
    fn pinned(vars: &[(&str, &str)], dotenv: &str, settings: Option<&str>) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let (env_file, settings_file) = (dir.path().join(".env"), dir.path().join("settings.json"));
        fs::write(&env_file, dotenv).unwrap();
        if let Some(settings) = settings {
            fs::write(&settings_file, settings).unwrap();
        }
        gemini_login(&env(vars), &env_file, &settings_file).unwrap()
    }

    #[test]
    fn gemini_s_login_is_pinned_only_where_the_base_url_would_change_it() {
        let api_key = Some(API_KEY.to_owned());
        // The login gemini-cli would pick from the environment.
        assert_eq!(pinned(&[("GEMINI_API_KEY", "1")], "", None), api_key);
        assert_eq!(pinned(&[], "GEMINI_API_KEY=k\n", None), api_key);
        assert_eq!(
            pinned(&[("CLOUD_SHELL", "true")], "", None),
            Some(COMPUTE.to_owned())
        );
        // Logins that rank above the base URL, or none at all: nothing to pin.
        assert_eq!(
            pinned(
                &[("GOOGLE_GENAI_USE_GCA", "true"), ("GEMINI_API_KEY", "1")],
                "",
                None
            ),
            None
        );
        assert_eq!(
            pinned(
                &[],
                "GOOGLE_GENAI_USE_VERTEXAI=true\nGEMINI_API_KEY=k\n",
                None
            ),
            None
        );
        assert_eq!(pinned(&[], "", None), None);
        // A login already selected is the user's.
        let selected = "{\"security\":{\"auth\":{\"selectedType\":\"vertex-ai\"}}}";
        assert_eq!(pinned(&[("GEMINI_API_KEY", "1")], "", Some(selected)), None);
        assert_eq!(
            pinned(&[("GEMINI_API_KEY", "1")], "", Some("{\"theme\":1}")),
            api_key
        );
    }

    #[test]
    fn every_file_of_an_app_is_pointed_and_handed_back_with_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path().join("records"));
        let home = dir.path().join("home");
        let caller = env(&[("HOME", home.to_str().unwrap()), ("GEMINI_API_KEY", "1")]);
        let note = point(&records, App::Gemini, 15723, Some(caller)).unwrap();
        assert!(
            note.contains(".env now points at http://127.0.0.1:15723"),
            "{note}"
        );
        let record = records.load(App::Gemini).unwrap().unwrap();
        let targets: Vec<_> = record.files.iter().map(|f| f.target).collect();
        assert_eq!(targets, [Target::GeminiEnv, Target::GeminiSettings]);
        // A port move needs no caller: the recorded environment names the files.
        let note = point(&records, App::Gemini, 16000, None).unwrap();
        assert!(
            note.contains("now points at http://127.0.0.1:16000"),
            "{note}"
        );
        let note = release(&records, App::Gemini).unwrap();
        assert!(
            note.contains("removed (Switchyard had created it)"),
            "{note}"
        );
        assert!(!home.join(".gemini").exists());
        assert_eq!(records.load(App::Gemini).unwrap(), None);
        assert_eq!(release(&records, App::Gemini).unwrap(), "");
    }
}

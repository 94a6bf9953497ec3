//! Unit tests of planning and committing against real files in a temp dir.

use std::fs;
use std::path::PathBuf;

use super::*;
use crate::apps::App;

const URL: &str = "http://127.0.0.1:15721";

fn settings(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(".claude/settings.json")
}

/// Points the file (as `apply` does: plan, save, commit); returns the record.
fn take(path: &Path, url: &str, record: Option<&FileRecord>) -> FileRecord {
    let plan = plan_point(Target::ClaudeSettings, path, url, record).unwrap();
    let write = Action::Write(plan.record.written.clone());
    commit(path, &plan.seen, &write).unwrap();
    plan.record
}

fn give_back(record: &FileRecord) {
    let plan = plan_release(record).unwrap();
    commit(&record.path, &plan.seen, &plan.action).unwrap();
    remove_created_dirs(record);
}

#[test]
fn an_absent_file_is_created_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    let record = take(&path, URL, None);
    assert_eq!(record.original, None);
    assert_eq!(record.created, [dir.path().join(".claude")]);
    assert_eq!(
        crate::takeover::inspect(App::Claude, &path)
            .unwrap()
            .as_deref(),
        Some(URL)
    );
    assert_eq!(plan_release(&record).unwrap().action, Action::Remove);
    give_back(&record);
    // The folder Switchyard made for it goes too.
    assert!(!path.exists() && !dir.path().join(".claude").exists());
}

#[test]
fn an_untouched_file_comes_back_byte_for_byte_even_after_a_port_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    let original = b"{\n   \"b\":1 ,\"a\" : [ 1,2 ]\n\n}\n\n".to_vec();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, &original).unwrap();
    let first = take(&path, URL, None);
    let second = take(&path, "http://127.0.0.1:16000", Some(&first));
    assert!(second.clean);
    assert_eq!(second.original.as_deref(), Some(original.as_slice()));
    assert_eq!(
        plan_release(&second).unwrap().action,
        Action::Write(original.clone())
    );
    give_back(&second);
    assert_eq!(fs::read(&path).unwrap(), original);
}

#[test]
fn a_user_edit_makes_the_release_surgical_and_survives() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    let record = take(&path, URL, None);
    let edited = String::from_utf8(record.written.clone()).unwrap().replacen(
        '{',
        "{\n  \"model\": \"opus\",",
        1,
    );
    fs::write(&path, &edited).unwrap();
    // A re-point now (say, a port change) no longer counts as clean.
    let record = take(&path, URL, Some(&record));
    assert!(!record.clean);
    give_back(&record);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\n  \"model\": \"opus\"\n}\n"
    );
}

#[test]
fn a_crash_before_the_first_write_leaves_nothing_to_undo() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "{\"a\": 1}").unwrap();
    // The record was saved, then the daemon died before writing the file.
    let planned = plan_point(Target::ClaudeSettings, &path, URL, None)
        .unwrap()
        .record;
    assert_eq!(plan_release(&planned).unwrap().action, Action::Nothing);
    // Re-applied on the next start, it is still clean.
    let record = take(&path, URL, Some(&planned));
    assert!(record.clean);
    give_back(&record);
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\": 1}");
}

#[test]
fn a_commit_never_overwrites_a_change_made_after_planning() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    let plan = plan_point(Target::ClaudeSettings, &path, URL, None).unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "{\"mine\": true}").unwrap();
    let write = Action::Write(plan.record.written.clone());
    let err = commit(&path, &plan.seen, &write).unwrap_err();
    assert!(matches!(err, TakeoverError::Changed { .. }), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"mine\": true}");
}

#[test]
fn a_malformed_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "{\n  \"a\": 1,\n}\n").unwrap();
    let err = plan_point(Target::ClaudeSettings, &path, URL, None).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}, line 3", path.display())),
        "{message}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1,\n}\n");
}

#[test]
fn a_folder_that_is_not_empty_when_the_file_goes_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/settings.json");
    let record = take(&path, URL, None);
    assert_eq!(
        record.created,
        [dir.path().join("a/b"), dir.path().join("a")]
    );
    fs::write(dir.path().join("a/mine"), "x").unwrap();
    give_back(&record);
    assert!(!dir.path().join("a/b").exists());
    assert!(dir.path().join("a/mine").exists());
}

#[test]
fn a_record_of_an_older_key_set_is_handed_back_and_pointed_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let original = "model = \"m\"\n";
    fs::write(&path, original).unwrap();
    // As an older Switchyard left it: its own provider, selected.
    let (old_text, old_previous) = crate::takeover::codex_legacy::point(original, URL).unwrap();
    fs::write(&path, &old_text).unwrap();
    let old = FileRecord {
        target: Target::CodexConfig,
        path: path.clone(),
        original: Some(original.as_bytes().to_vec()),
        written: old_text.into_bytes(),
        previous: crate::takeover::Previous::Toml(old_previous),
        clean: true,
        created: Vec::new(),
    };
    let plan = plan_point(Target::CodexConfig, &path, URL, Some(&old)).unwrap();
    assert!(plan.record.previous.is_current());
    assert!(plan.record.clean);
    let new = String::from_utf8(plan.record.written.clone()).unwrap();
    assert_eq!(new, format!("model = \"m\"\nopenai_base_url = \"{URL}\"\n"));
    commit(
        &path,
        &plan.seen,
        &Action::Write(plan.record.written.clone()),
    )
    .unwrap();
    give_back(&plan.record);
    assert_eq!(fs::read_to_string(&path).unwrap(), original);
}

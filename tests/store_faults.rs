//! The database under faults: a lost, emptied or damaged file is refused by
//! name (never silently re-created), a full disk is said and reconciled, a
//! clean stop leaves a `.db` that is whole on its own, and errors reach the
//! user once, in the daemon's own words.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::upstream::MockUpstream;
use common::{Home, wait_for};
use switchyard_daemon::protocol::{ErrorKind, ErrorReply, ServerMessage};

fn db(home: &Home) -> std::path::PathBuf {
    home.path().join("switchyard.db")
}

/// A home whose daemon has run once and stopped.
fn used_home() -> Home {
    let home = Home::new();
    home.start();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "mine",
        "--base-url",
        "https://a.example",
    ]);
    home.ok(&["daemon", "stop"]);
    home
}

fn start_fails(home: &Home) -> String {
    let out = home.run(&["daemon", "start"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "the daemon must refuse to start: {}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

#[test]
fn an_empty_database_is_refused_by_name_with_or_without_its_wal() {
    let home = used_home();
    std::fs::write(db(&home), b"").unwrap();
    let stderr = start_fails(&home);
    assert!(
        stderr.contains(&db(&home).display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("empty") && stderr.contains("backup"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::metadata(db(&home)).unwrap().len(),
        0,
        "left as it was"
    );
    std::fs::write(home.path().join("switchyard.db-wal"), b"leftover").unwrap();
    let stderr = start_fails(&home);
    assert!(stderr.contains("switchyard.db-wal"), "{stderr}");
}

#[test]
fn a_missing_database_is_refused_where_one_existed() {
    let home = used_home();
    std::fs::remove_file(db(&home)).unwrap();
    let stderr = start_fails(&home);
    assert!(stderr.contains("missing"), "{stderr}");
    assert!(!db(&home).exists(), "nothing was re-created");
    // The way out it names works.
    std::fs::remove_file(home.path().join("switchyard.db.marker")).unwrap();
    home.start();
    home.ok(&["daemon", "stop"]);
}

#[test]
fn damage_past_the_first_page_refuses_to_start_by_name() {
    let home = used_home();
    {
        let conn = rusqlite::Connection::open(db(&home)).unwrap();
        conn.execute_batch("PRAGMA journal_mode = DELETE").unwrap();
        let body = "x".repeat(400);
        for seq in 0..300 {
            conn.execute(
                "INSERT INTO events (epoch, seq, at_ms, body) VALUES (1, ?1, 0, ?2)",
                rusqlite::params![seq, body],
            )
            .unwrap();
        }
    }
    let mut bytes = std::fs::read(db(&home)).unwrap();
    let middle = bytes.len() / 4096 / 2 * 4096;
    bytes[middle..middle + 4096].fill(0xa5);
    std::fs::write(db(&home), &bytes).unwrap();
    let stderr = start_fails(&home);
    assert!(
        stderr.contains(&db(&home).display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(
        !stderr.contains("did not answer"),
        "the daemon's own error, not a timeout: {stderr}"
    );
}

#[test]
fn an_enable_whose_worker_would_have_no_provider_is_refused() {
    let home = Home::new();
    home.start();
    home.ok(&["provider", "remove", "claude", "anthropic"]);
    let out = home.run(&["enable", "claude"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no provider"), "{stderr}");
    assert_eq!(home.app("claude")["enabled"], false);
}

#[test]
fn a_clean_stop_leaves_the_db_whole_on_its_own() {
    let home = Home::new();
    home.start();
    home.ok(&[
        "provider",
        "add",
        "claude",
        "kept",
        "--base-url",
        "https://k.example",
    ]);
    home.ok(&["daemon", "stop"]);
    let wal = home.path().join("switchyard.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0,
        "the write-ahead log was checkpointed"
    );
    // A backup of the `.db` alone.
    let copy = tempfile::tempdir().unwrap();
    let backup = copy.path().join("backup.db");
    std::fs::copy(db(&home), &backup).unwrap();
    let conn = rusqlite::Connection::open(&backup).unwrap();
    let name: String = conn
        .query_row("SELECT name FROM providers WHERE name = 'kept'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "kept");
}

/// A daemon stand-in that answers the handshake with an error.
fn fake_daemon(home: &Home, message: &str) -> std::thread::JoinHandle<()> {
    std::fs::create_dir_all(home.path().join("run")).unwrap();
    let listener = UnixListener::bind(home.socket()).unwrap();
    let frame = postcard::to_stdvec(&ServerMessage::Error(ErrorReply::new(
        ErrorKind::Failed,
        message,
    )))
    .unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut out = (frame.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&frame);
        let _ = stream.write_all(&out);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        std::thread::sleep(Duration::from_millis(200));
    })
}

#[test]
fn the_daemon_s_error_is_printed_once() {
    let home = Home::new();
    let message = "the daemon is serving too many connections; try again";
    let fake = fake_daemon(&home, message);
    let out = home.run(&["status"]);
    fake.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
}

#[test]
fn start_says_why_the_daemon_could_not_start_instead_of_timing_out() {
    let home = Home::new();
    // Another process (no daemon) holds the lock: the daemon cannot start,
    // and no daemon will answer.
    std::fs::create_dir_all(home.path().join("run")).unwrap();
    let lock = std::fs::File::create(home.path().join("run/daemon.lock")).unwrap();
    lock.try_lock().unwrap();
    let began = std::time::Instant::now();
    let stderr = start_fails(&home);
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(!stderr.contains("did not answer"), "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(8), "no timeout wait");
    drop(lock);
}

/// A home on a small tmpfs of its own (root only). Fields drop in order:
/// the daemon is killed before the file system goes.
struct FullHome {
    home: Home,
    _mount: Mount,
}

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

impl FullHome {
    fn mount(mib: u32) -> Option<FullHome> {
        let home = Home::new();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(home.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let mount = Mount(home.path().to_owned());
        ok.then_some(FullHome {
            home,
            _mount: mount,
        })
    }
}

/// Fills the file system holding `dir` until a write fails.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    while file.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn a_full_disk_is_said_and_the_records_are_written_once_there_is_space() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: mounting a small tmpfs for a full disk needs root");
        return;
    }
    let Some(full) = FullHome::mount(16) else {
        println!("skipped: this machine does not let the test mount a tmpfs");
        return;
    };
    let home = &full.home;
    let upstream = MockUpstream::start();
    home.start();
    let port = home.route("claude", upstream.port);
    let filler = fill(home.path());
    // A setting still takes effect, and says it waits in memory.
    let out = home.ok(&["enable", "claude"]);
    assert!(out.contains("not saved to the database yet"), "{out}");
    // Traffic is served all the same.
    for _ in 0..20 {
        let (status, _) = common::http(port, "POST", "/v1/messages", "{}").unwrap();
        assert_eq!(status, 200);
    }
    wait_for(
        "status to say the store is not recording",
        Duration::from_secs(10),
        || {
            home.status()["daemon"]["not_recording"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("disk full"))
        },
    );
    let text = home.ok(&["status"]);
    assert!(text.contains("not recording: disk full"), "{text}");
    home.ok(&["restart", "claude"]);
    // Space comes back: everything held is written, and status says so.
    std::fs::remove_file(&filler).unwrap();
    wait_for("recording again", Duration::from_secs(10), || {
        home.status()["daemon"]["not_recording"].is_null()
    });
    // The requests served meanwhile were held in memory and are on record now.
    let rows = home.ok(&["requests", "--json", "--limit", "1000"]);
    assert_eq!(rows.lines().count(), 20, "{rows}");
    // Stopping on a full disk still writes what is held and closes every run.
    let filler = fill(home.path());
    home.ok(&["disable", "claude"]);
    home.ok(&["daemon", "stop"]);
    std::fs::remove_file(&filler).unwrap();
    let conn = rusqlite::Connection::open(db(home)).unwrap();
    let (runs, open): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE ended_at_ms IS NULL) FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(runs >= 2, "both runs of claude were recorded ({runs})");
    assert_eq!(open, 0, "no run is left open after a stop");
    let enabled: bool = conn
        .query_row("SELECT enabled FROM apps WHERE app = 'claude'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!enabled, "the last setting was saved");
    // Every event of that daemon run reached the journal, in order, no gap.
    let (count, max): (i64, i64) = conn
        .query_row(
            "SELECT count(*), max(seq) FROM events WHERE epoch = (SELECT max(epoch) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(count, max, "every event reached the journal");
    // The episode is in the log (written once there was space again).
    let log = std::fs::read_to_string(home.path().join("logs/switchyard.log")).unwrap();
    assert!(
        log.contains("recording again") && log.contains("disk full"),
        "{log}"
    );
}

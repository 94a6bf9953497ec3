//! Portability kept structural: no OS-specific API outside
//! `daemon/src/platform/`, where each one sits behind a signature every OS
//! implements. The source tree is scanned as text, so this holds on every
//! machine that runs the suite, whatever OS it is.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};

/// Text that means an API one OS has and another lacks, and why.
const PATTERNS: &[(&str, &str)] = &[
    (
        "/proc",
        "procfs is Linux's; macOS has none (use sysinfo or listeners)",
    ),
    ("/sys/", "sysfs is Linux's"),
    ("prctl", "process control is a Linux system call"),
    ("PR_SET_", "a prctl option (Linux)"),
    (
        "SO_PEERCRED",
        "Linux's peer-credentials option (macOS: LOCAL_PEERCRED)",
    ),
    ("PeerCredentials", "nix's SO_PEERCRED option (Linux)"),
    ("sock_diag", "Linux's socket diagnostics over netlink"),
    ("netlink", "netlink sockets are Linux's"),
    ("epoll", "Linux's readiness API (macOS: kqueue; use tokio)"),
    ("inotify", "Linux's file watch API"),
    ("signalfd", "Linux only"),
    ("eventfd", "Linux only"),
    ("timerfd", "Linux only"),
    ("memfd", "Linux only"),
    ("pidfd", "Linux only"),
    ("sched_setaffinity", "Linux only (CPU pinning)"),
    ("sched_getcpu", "Linux only"),
    ("accept4", "macOS has no accept4"),
    ("pipe2", "macOS has no pipe2"),
    ("dup3", "macOS has no dup3"),
    ("SOCK_CLOEXEC", "macOS has no SOCK_CLOEXEC socket flag"),
    ("SOCK_NONBLOCK", "macOS has no SOCK_NONBLOCK socket flag"),
    (
        "MSG_NOSIGNAL",
        "macOS has no MSG_NOSIGNAL (it has SO_NOSIGPIPE)",
    ),
    ("O_PATH", "Linux only"),
    ("os::linux", "std's Linux-only extensions"),
    ("LOCAL_PEERCRED", "macOS's peer-credentials option"),
    ("proc_pidinfo", "macOS's libproc"),
    ("libproc", "macOS's libproc"),
    ("kqueue", "the BSDs' and macOS's readiness API (use tokio)"),
    ("os::macos", "std's macOS-only extensions"),
    ("os::darwin", "std's macOS-only extensions"),
];

/// Where the Rust sources are, from the workspace root.
const ROOTS: &[&str] = &[
    "src",
    "daemon/src",
    "daemon/tests",
    "daemon/examples",
    "ui/src",
    "tests",
];

/// Left out of the scan, each for a reason.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "daemon/src/platform",
        "the one place OS-specific code belongs",
    ),
    (
        "tests/portable_source.rs",
        "this file: it lists the patterns",
    ),
    (
        "tests/benches",
        "benchmarks, not tests or shipped code: they read Linux's scheduler figures \
         (per-thread CPU time, the core a thread last ran on, RSS) and pin processes to \
         cores, to measure; `cargo bench` runs them on Linux only",
    ),
    (
        "tests/descriptors_linux.rs",
        "lowers a running daemon's descriptor limit with prlimit(1) and reads its open \
         descriptors and CPU time from /proc: only Linux lets one process do that to \
         another; the accept loop's back-off it tests is portable code",
    ),
    (
        "daemon/examples/proxy_bench.rs",
        "the proxy benchmark's driver (tests/benches/proxy.sh): reads per-thread CPU time \
         from /proc and pins processes to cores, as the benchmarks do",
    ),
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn excluded(relative: &Path) -> bool {
    EXCLUDED
        .iter()
        .any(|(prefix, _)| relative.starts_with(prefix))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Each line that names an OS-specific API, with the pattern it matched.
/// Comment lines are skipped: a comment may say what a crate does on Linux.
fn findings(text: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (pattern, why) in PATTERNS {
            if line.contains(pattern) {
                found.push((index + 1, *pattern, *why));
            }
        }
    }
    found
}

#[test]
fn no_os_specific_api_is_used_outside_the_platform_module() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    let scanned: Vec<PathBuf> = files
        .into_iter()
        .map(|f| f.strip_prefix(&root).unwrap().to_path_buf())
        .filter(|f| !excluded(f))
        .collect();
    // The scan reaches every crate's code (a wrong root would pass vacuously).
    for must in [
        "src/main.rs",
        "daemon/src/lock.rs",
        "daemon/src/supervisor/listener.rs",
        "ui/src/lib.rs",
        "tests/common/mod.rs",
    ] {
        assert!(
            scanned.iter().any(|f| f == Path::new(must)),
            "{must} is not scanned"
        );
    }
    let mut report = String::new();
    for file in &scanned {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (line, pattern, why) in findings(&text) {
            report.push_str(&format!("{}:{line}: `{pattern}`: {why}\n", file.display()));
        }
    }
    assert!(
        report.is_empty(),
        "OS-specific code outside daemon/src/platform/ (move it there, behind a function \
         every OS implements, or use a cross-platform crate):\n{report}"
    );
}

#[test]
fn the_patterns_catch_the_code_the_platform_module_holds() {
    let linux = std::fs::read_to_string(workspace().join("daemon/src/platform/linux.rs")).unwrap();
    let caught: Vec<&str> = findings(&linux).iter().map(|(_, p, _)| *p).collect();
    assert!(caught.contains(&"prctl"), "{caught:?}");
    assert!(caught.contains(&"/proc"), "{caught:?}");
    assert!(findings("    let x = std::fs::read(\"/proc/self/stat\");").len() == 1);
    assert!(findings("    // reads /proc/self/stat, as sysinfo does").is_empty());
    assert!(findings("    /// prctl(PR_SET_NAME) names the thread").is_empty());
}

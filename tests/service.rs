//! `switchyard service install|uninstall` through the real binary, in a fake
//! `$HOME`: the unit file's place and content, and idempotence.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
#![cfg(target_os = "linux")]

mod common;

use std::fs;

use common::{BIN, Home};

#[test]
fn service_install_writes_a_systemd_user_unit_and_uninstall_removes_it() {
    let home = Home::with_user_home();
    let unit = home.user().join(".config/systemd/user/switchyard.service");
    let out = home.ok(&["service", "install"]);
    assert!(out.contains(&format!("wrote {}", unit.display())), "{out}");
    assert!(
        out.contains("systemctl --user daemon-reload && systemctl --user enable --now switchyard")
    );
    let content = fs::read_to_string(&unit).unwrap();
    let exe = fs::canonicalize(BIN).unwrap();
    assert!(
        content.contains(&format!("\nExecStart=\"{}\" --daemon\n", exe.display())),
        "{content}"
    );
    let home_line = format!(
        "\nEnvironment=\"SWITCHYARD_HOME={}\"\n",
        home.path().display()
    );
    assert!(content.contains(&home_line), "{content}");
    assert!(
        content.contains("\nRestart=on-failure\nRestartSec=1\n"),
        "{content}"
    );
    assert!(content.contains("\nWantedBy=default.target\n"), "{content}");
    assert!(
        home.ok(&["service", "install"])
            .contains("already installed")
    );
    let out = home.ok(&["service", "uninstall"]);
    assert!(
        out.contains(&format!("removed {}", unit.display())),
        "{out}"
    );
    assert!(!unit.exists());
    assert!(home.ok(&["service", "uninstall"]).contains("not installed"));
}

#[test]
fn service_install_respects_xdg_config_home() {
    let home = Home::with_user_home();
    let config = home.path().join("xdg");
    let home = home.env("XDG_CONFIG_HOME", config.to_str().unwrap());
    home.ok(&["service", "install"]);
    assert!(config.join("systemd/user/switchyard.service").exists());
}

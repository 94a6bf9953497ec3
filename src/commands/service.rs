//! `switchyard service install|uninstall`: a login service that runs
//! `switchyard --daemon` and restarts it on failure — a systemd user unit on
//! Linux, a launchd agent on macOS. It only writes (or removes) the file and
//! says how to enable it; it never runs systemctl or launchctl itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr, eyre};
use switchyard_daemon::takeover::atomic;

use crate::cli::ServiceCommand;

/// The launchd label, also the agent file's name.
const LABEL: &str = "dev.switchyard.daemon";
/// Variables that change which files the daemon uses; a service started at
/// login would not otherwise see the values of the shell that installed it.
const CARRIED_ENV: [&str; 3] = ["SWITCHYARD_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Systemd,
    Launchd,
}

pub fn run(command: ServiceCommand) -> Result<ExitCode> {
    let manager = if cfg!(target_os = "macos") {
        Manager::Launchd
    } else {
        Manager::Systemd
    };
    let path = service_path(manager)?;
    match command {
        ServiceCommand::Install => install(manager, &path),
        ServiceCommand::Uninstall => uninstall(manager, &path),
    }
}

fn install(manager: Manager, path: &Path) -> Result<ExitCode> {
    let exe = std::env::current_exe().wrap_err("cannot find the switchyard executable")?;
    let env: Vec<(&str, String)> = CARRIED_ENV
        .iter()
        .filter_map(|var| Some((*var, std::env::var(var).ok().filter(|v| !v.is_empty())?)))
        .collect();
    let content = match manager {
        Manager::Systemd => systemd_unit(&exe, &env),
        Manager::Launchd => launchd_agent(&exe, &env),
    };
    if atomic::read(path)?.as_deref() == Some(content.as_bytes()) {
        println!("already installed: {} (unchanged)", path.display());
    } else {
        atomic::write(path, content.as_bytes())
            .wrap_err_with(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}:\n\n{content}", path.display());
    }
    match manager {
        Manager::Systemd => println!(
            "enable and start it with:\n  systemctl --user daemon-reload && systemctl --user enable --now switchyard"
        ),
        Manager::Launchd => println!(
            "load and start it with:\n  launchctl bootstrap gui/$(id -u) {}",
            path.display()
        ),
    }
    println!("provider keys given with --key-env must be in the service's environment too");
    if exe.components().any(|c| c.as_os_str() == "target") {
        println!(
            "note: {} is a build-tree binary; `cargo clean` would break the service. Install it (`cargo install --path .`) and run `service install` again from there.",
            exe.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn uninstall(manager: Manager, path: &Path) -> Result<ExitCode> {
    let existed = atomic::read(path)?.is_some();
    if manager == Manager::Systemd {
        // What `systemctl --user disable` would remove, so that no dangling
        // link is left behind.
        if let Some(dir) = path.parent() {
            atomic::remove(&dir.join("default.target.wants").join("switchyard.service"))?;
        }
    }
    atomic::remove(path).wrap_err_with(|| format!("cannot remove {}", path.display()))?;
    if !existed {
        println!("not installed: {} does not exist", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("removed {}", path.display());
    match manager {
        Manager::Systemd => println!(
            "stop a running service with:\n  systemctl --user stop switchyard && systemctl --user daemon-reload"
        ),
        Manager::Launchd => {
            println!("stop a running agent with:\n  launchctl bootout gui/$(id -u)/{LABEL}")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `$XDG_CONFIG_HOME/systemd/user/switchyard.service` (default
/// `~/.config/…`), or `~/Library/LaunchAgents/dev.switchyard.daemon.plist`.
fn service_path(manager: Manager) -> Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = || var("HOME").ok_or_else(|| eyre!("HOME is not set"));
    Ok(match manager {
        Manager::Systemd => {
            let config = match var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
                Some(dir) => dir,
                None => home()?.join(".config"),
            };
            config.join("systemd/user/switchyard.service")
        }
        Manager::Launchd => home()?.join(format!("Library/LaunchAgents/{LABEL}.plist")),
    })
}

fn systemd_unit(exe: &Path, env: &[(&str, String)]) -> String {
    let mut environment = String::new();
    for (var, value) in env {
        environment.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{var}={value}"), false)
        ));
    }
    format!(
        "# Written by `switchyard service install`; `switchyard service uninstall` removes it.
[Unit]
Description=Switchyard: local proxies for AI coding CLIs

[Service]
Type=simple
ExecStart={} --daemon
{environment}Restart=on-failure
RestartSec=1
# SIGTERM goes to the daemon alone, which drains and stops its workers itself.
KillMode=mixed
TimeoutStopSec=20

[Install]
WantedBy=default.target
",
        systemd_quote(&exe.to_string_lossy(), true)
    )
}

/// A double-quoted systemd word: `\` and `"` escaped and `%` doubled (no
/// specifier expansion). `$` is doubled only in command lines: systemd expands
/// variables in `ExecStart=`, while in `Environment=` `$` has no meaning.
fn systemd_quote(word: &str, command_line: bool) -> String {
    let mut escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    if command_line {
        escaped = escaped.replace('$', "$$");
    }
    format!("\"{escaped}\"")
}

fn launchd_agent(exe: &Path, env: &[(&str, String)]) -> String {
    let mut environment = String::new();
    if !env.is_empty() {
        environment.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (var, value) in env {
            environment.push_str(&format!(
                "\t\t<key>{var}</key>\n\t\t<string>{}</string>\n",
                xml_escape(value)
            ));
        }
        environment.push_str("\t</dict>\n");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `switchyard service install`; `switchyard service uninstall` removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{LABEL}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{}</string>
		<string>--daemon</string>
	</array>
{environment}	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ExitTimeOut</key>
	<integer>20</integer>
</dict>
</plist>
"#,
        xml_escape(&exe.to_string_lossy())
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_systemd_unit_runs_the_daemon_and_restarts_it_on_failure() {
        let unit = systemd_unit(
            Path::new("/opt/my tools/switchyard"),
            &[("SWITCHYARD_HOME", "/h/100%$x".into())],
        );
        assert!(
            unit.contains("\nExecStart=\"/opt/my tools/switchyard\" --daemon\n"),
            "{unit}"
        );
        assert!(
            unit.contains("\nEnvironment=\"SWITCHYARD_HOME=/h/100%%$x\"\n"),
            "{unit}"
        );
        for line in [
            "Restart=on-failure",
            "RestartSec=1",
            "KillMode=mixed",
            "WantedBy=default.target",
        ] {
            assert!(
                unit.contains(&format!("\n{line}\n")),
                "{line} missing:\n{unit}"
            );
        }
    }

    #[test]
    fn the_launchd_agent_keeps_the_daemon_alive_unless_it_exits_cleanly() {
        let agent = launchd_agent(Path::new("/Applications/A&B/switchyard"), &[]);
        assert!(agent.contains("<string>dev.switchyard.daemon</string>"));
        assert!(agent.contains(
            "<array>\n\t\t<string>/Applications/A&amp;B/switchyard</string>\n\t\t<string>--daemon</string>\n\t</array>"
        ));
        assert!(agent.contains("<key>RunAtLoad</key>\n\t<true/>"));
        assert!(agent.contains(
            "<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>"
        ));
        assert!(!agent.contains("EnvironmentVariables"));
        let agent = launchd_agent(Path::new("/s"), &[("CODEX_HOME", "/c".into())]);
        assert!(agent.contains("<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>CODEX_HOME</key>\n\t\t<string>/c</string>"));
    }
}

//! `switchyard service install|uninstall`: a login service that runs
//! `switchyard --daemon` and restarts it on failure — a systemd user unit on
//! Linux, a launchd agent on macOS. It only writes (or removes) the file and
//! says how to enable it; it never runs systemctl or launchctl itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr, eyre};
use switchyard_daemon::lifecycle::DETACHED_FLAG;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::takeover::atomic;

use crate::cli::ServiceCommand;

/// The launchd label, also the agent file's name.
const LABEL: &str = "dev.switchyard.daemon";
/// Variables a service started at login would not otherwise see with the
/// values of the shell that installed it: which files the daemon uses, its log
/// level, and how the workers reach providers (an outbound proxy, a corporate
/// CA bundle).
const CARRIED_ENV: [&str; 14] = [
    "SWITCHYARD_HOME",
    "SWITCHYARD_LOG",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

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
        Manager::Launchd => {
            let paths = Paths::from_env().wrap_err("cannot find Switchyard's directories")?;
            // launchd opens the output file before the daemon starts, so its
            // directory must already be there.
            paths
                .create_dirs()
                .wrap_err_with(|| format!("cannot create {}", paths.log_dir.display()))?;
            launchd_agent(&exe, &env, &paths.daemon_stderr_file())
        }
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

/// The launchd agent. The daemon runs detached from any terminal: it logs to
/// its own rotated log file only, and what still reaches stdout or stderr
/// (a panic, an error before logging starts) goes to `output`, the file a
/// daemon started by `daemon start` uses for the same.
fn launchd_agent(exe: &Path, env: &[(&str, String)], output: &Path) -> String {
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
		<string>{exe}</string>
		<string>--daemon</string>
		<string>{DETACHED_FLAG}</string>
	</array>
{environment}	<key>StandardOutPath</key>
	<string>{output}</string>
	<key>StandardErrorPath</key>
	<string>{output}</string>
	<key>RunAtLoad</key>
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
        exe = xml_escape(&exe.to_string_lossy()),
        output = xml_escape(&output.to_string_lossy()),
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

    /// The agent as launchd reads it: parsed as a property list.
    fn parse_agent(env: &[(&str, String)]) -> plist::Dictionary {
        let agent = launchd_agent(
            Path::new("/Applications/A&B <1>/switchyard"),
            env,
            Path::new("/Users/me/Library/Application Support/switchyard/logs/daemon.stderr"),
        );
        plist::Value::from_reader_xml(agent.as_bytes())
            .unwrap_or_else(|err| panic!("not a property list ({err}):\n{agent}"))
            .into_dictionary()
            .expect("a dictionary at the top")
    }

    fn strings(value: &plist::Value) -> Vec<&str> {
        let array = value.as_array().expect("an array");
        array
            .iter()
            .map(|v| v.as_string().expect("a string"))
            .collect()
    }

    #[test]
    fn the_launchd_agent_is_a_property_list_that_keeps_the_daemon_alive_and_logs_to_a_file() {
        let agent = parse_agent(&[]);
        let key = |k: &str| {
            agent
                .get(k)
                .unwrap_or_else(|| panic!("{k} missing: {agent:?}"))
        };
        assert_eq!(key("Label").as_string(), Some(LABEL));
        assert_eq!(
            strings(key("ProgramArguments")),
            ["/Applications/A&B <1>/switchyard", "--daemon", "--detached"]
        );
        assert_eq!(key("RunAtLoad").as_boolean(), Some(true));
        // Restarted whenever it stops without meaning to (a crash, a kill),
        // not after `switchyard daemon stop`.
        let keep_alive = key("KeepAlive")
            .as_dictionary()
            .expect("KeepAlive is a dict");
        assert_eq!(
            keep_alive
                .get("SuccessfulExit")
                .and_then(|v| v.as_boolean()),
            Some(false)
        );
        assert_eq!(keep_alive.len(), 1, "{keep_alive:?}");
        let log = "/Users/me/Library/Application Support/switchyard/logs/daemon.stderr";
        assert_eq!(key("StandardOutPath").as_string(), Some(log));
        assert_eq!(key("StandardErrorPath").as_string(), Some(log));
        assert_eq!(key("ExitTimeOut").as_unsigned_integer(), Some(20));
        assert!(agent.get("EnvironmentVariables").is_none(), "{agent:?}");
    }

    #[test]
    fn the_launchd_agent_carries_the_environment_the_daemon_needs() {
        let env = [
            ("SWITCHYARD_HOME", "/Users/me/s&y <home>".to_owned()),
            ("HTTPS_PROXY", "http://proxy.corp:3128".to_owned()),
            ("SSL_CERT_FILE", "/etc/corp-ca.pem".to_owned()),
        ];
        let agent = parse_agent(&env);
        let vars = agent
            .get("EnvironmentVariables")
            .and_then(|v| v.as_dictionary())
            .expect("EnvironmentVariables is a dict");
        assert_eq!(vars.len(), env.len(), "{vars:?}");
        for (var, value) in &env {
            assert_eq!(
                vars.get(var).and_then(|v| v.as_string()),
                Some(value.as_str())
            );
        }
    }
}

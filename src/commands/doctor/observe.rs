//! Reading what the doctor judges: each CLI's files, read-only, as the CLI
//! would find them from this shell (its environment, its working folder).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use switchyard_daemon::apps::App;
use switchyard_daemon::takeover;

use super::login::{File, Files};

/// `app`'s files, or why they cannot even be located.
pub fn files(app: App) -> Result<Files, String> {
    let main = takeover::config_path(app).map_err(|e| e.to_string())?;
    let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
    Ok(match app {
        App::Claude => {
            let credentials = dir.join(".credentials.json");
            Files::Claude {
                settings: read(&main),
                credentials: credentials.exists().then_some(credentials),
            }
        }
        App::Codex => Files::Codex {
            config: read(&main),
            auth: read(&dir.join("auth.json")),
        },
        App::Gemini => {
            let home = dir.parent().unwrap_or(Path::new("/")).to_owned();
            let user = dir.join("settings.json");
            let mut settings = vec![read(&user)];
            let cwd = std::env::current_dir().ok();
            if let Some(cwd) = &cwd {
                let workspace = cwd.join(".gemini/settings.json");
                if workspace != user {
                    settings.push(read(&workspace));
                }
            }
            let env_file = cwd
                .and_then(|cwd| gemini_env_file(&cwd, &home))
                .map(|path| read(&path));
            Files::Gemini {
                settings,
                env_file,
                home_env: main,
            }
        }
    })
}

fn read(path: &Path) -> File {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("cannot read {}: {err}", path.display())),
    };
    File {
        path: path.to_owned(),
        text,
    }
}

/// The one `.env` Gemini CLI loads when started in `cwd` (gemini-cli 0.61
/// `findEnvFile`, in a trusted folder): `.gemini/.env` or `.env` in `cwd`
/// and each folder above it, then `~/.gemini/.env`, then `~/.env`.
fn gemini_env_file(cwd: &Path, home: &Path) -> Option<PathBuf> {
    let first = cwd.ancestors().find_map(|dir| {
        [dir.join(".gemini/.env"), dir.join(".env")]
            .into_iter()
            .find(|p| p.is_file())
    });
    first.or_else(|| {
        [home.join(".gemini/.env"), home.join(".env")]
            .into_iter()
            .find(|p| p.is_file())
    })
}

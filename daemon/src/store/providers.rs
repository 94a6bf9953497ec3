//! The `providers` table: each app's ordered upstreams, their API format, model
//! map and credentials (one key, or a pool of them).

use rusqlite::params;

use super::{Pending, Store, StoreError};
use crate::apps::{App, AuthStyle};
use crate::translate::Format;

/// One key of a provider, as stored: where it comes from, never shown.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKey {
    /// Read from this environment variable of the daemon.
    Env(String),
    /// Kept in the store.
    Stored(String),
}

/// How a provider authenticates, as stored.
#[derive(Clone, PartialEq, Eq)]
pub enum ProviderAuth {
    Passthrough,
    /// One key or more; with several, a key that is rate limited, out of quota
    /// or refused rests and the next one is used.
    Keys(Vec<ProviderKey>),
}

impl std::fmt::Debug for ProviderAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ProviderAuth {
    /// A description safe to show anywhere: never a key.
    pub fn describe(&self) -> String {
        match self {
            ProviderAuth::Passthrough => "passthrough".into(),
            ProviderAuth::Keys(keys) if keys.len() == 1 => match &keys[0] {
                ProviderKey::Env(var) => format!("env:{var}"),
                ProviderKey::Stored(_) => "stored".into(),
            },
            ProviderAuth::Keys(keys) => format!("pool of {}", keys.len()),
        }
    }

    /// Each key's label, in order: `env:VAR` for a variable, `stored` (or
    /// `stored-2`, `stored-3`, … in a pool) for a stored key. What a request
    /// record names, never the key.
    pub fn labels(&self) -> Vec<String> {
        let ProviderAuth::Keys(keys) = self else {
            return Vec::new();
        };
        let mut stored = 0;
        keys.iter()
            .map(|key| match key {
                ProviderKey::Env(var) => format!("env:{var}"),
                ProviderKey::Stored(_) => {
                    stored += 1;
                    if stored == 1 {
                        "stored".to_owned()
                    } else {
                        format!("stored-{stored}")
                    }
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRow {
    pub app: App,
    pub name: String,
    pub base_url: String,
    pub auth: ProviderAuth,
    pub priority: i64,
    pub enabled: bool,
    /// What the provider speaks; `None`: the app's own format.
    pub format: Option<Format>,
    /// The key's header; `None`: the format's usual one.
    pub auth_style: Option<AuthStyle>,
    /// `pattern=model` rules, first match wins.
    pub model_map: Vec<String>,
    pub max_output_tokens: Option<u64>,
    /// The preset it was added from.
    pub preset: Option<String>,
}

impl ProviderRow {
    /// A passthrough provider of the app's own format.
    pub fn plain(app: App, name: &str, base_url: &str, auth: ProviderAuth) -> ProviderRow {
        ProviderRow {
            app,
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            auth,
            priority: 0,
            enabled: true,
            format: None,
            auth_style: None,
            model_map: Vec::new(),
            max_output_tokens: None,
            preset: None,
        }
    }

    /// The format it speaks, the app's own when none was given.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(Format::of_app(self.app))
    }
}

fn read_auth(
    kind: &str,
    key_env: Option<String>,
    key: Option<String>,
    keys: Option<String>,
) -> ProviderAuth {
    match kind {
        "env" => ProviderAuth::Keys(vec![ProviderKey::Env(key_env.unwrap_or_default())]),
        "stored" => ProviderAuth::Keys(vec![ProviderKey::Stored(key.unwrap_or_default())]),
        "pool" => ProviderAuth::Keys(
            keys.and_then(|k| serde_json::from_str(&k).ok())
                .unwrap_or_default(),
        ),
        _ => ProviderAuth::Passthrough,
    }
}

impl Store {
    /// An app's providers (or every app's), by app then priority then name.
    pub async fn providers(&self, app: Option<App>) -> Result<Vec<ProviderRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT app, name, base_url, auth, key_env, key, priority, enabled,
                        format, auth_style, model_map, max_output_tokens, preset, keys
                 FROM providers WHERE ?1 IS NULL OR app = ?1
                 ORDER BY app, priority, name",
            )?;
            let rows = stmt.query_map(params![app.map(App::name)], |row| {
                let auth = read_auth(
                    &row.get::<_, String>(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(13)?,
                );
                Ok((
                    row.get::<_, String>(0)?,
                    ProviderRow {
                        app: App::Claude,
                        name: row.get(1)?,
                        base_url: row.get(2)?,
                        auth,
                        priority: row.get(6)?,
                        enabled: row.get(7)?,
                        format: row
                            .get::<_, Option<String>>(8)?
                            .and_then(|f| f.parse().ok()),
                        auth_style: row
                            .get::<_, Option<String>>(9)?
                            .and_then(|s| AuthStyle::parse(&s)),
                        model_map: row
                            .get::<_, Option<String>>(10)?
                            .map(|m| m.lines().map(str::to_owned).collect())
                            .unwrap_or_default(),
                        max_output_tokens: row
                            .get::<_, Option<i64>>(11)?
                            .and_then(|n| u64::try_from(n).ok()),
                        preset: row.get(12)?,
                    },
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (app, mut row) = row?;
                if let Ok(app) = app.parse::<App>() {
                    row.app = app;
                    out.push(row);
                }
            }
            out.sort_by(|a, b| (a.app, a.priority, &a.name).cmp(&(b.app, b.priority, &b.name)));
            Ok(out)
        })
        .await
    }

    /// Inserts or replaces a provider (enabled, at the row's priority).
    pub fn upsert_provider(&self, row: ProviderRow) -> Pending {
        self.save("provider add", move |tx| {
            let (kind, key_env, key, keys) = match &row.auth {
                ProviderAuth::Passthrough => ("passthrough", None, None, None),
                ProviderAuth::Keys(keys) if keys.len() == 1 => match &keys[0] {
                    ProviderKey::Env(var) => ("env", Some(var.as_str()), None, None),
                    ProviderKey::Stored(key) => ("stored", None, Some(key.as_str()), None),
                },
                ProviderAuth::Keys(keys) => (
                    "pool",
                    None,
                    None,
                    Some(serde_json::to_string(keys).unwrap_or_default()),
                ),
            };
            let model_map = (!row.model_map.is_empty()).then(|| row.model_map.join("\n"));
            tx.execute(
                "INSERT INTO providers (app, name, base_url, auth, key_env, key, priority, enabled,
                    format, auth_style, model_map, max_output_tokens, preset, keys)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (app, name) DO UPDATE SET base_url = ?3, auth = ?4,
                   key_env = ?5, key = ?6, priority = ?7, enabled = 1, format = ?8,
                   auth_style = ?9, model_map = ?10, max_output_tokens = ?11,
                   preset = ?12, keys = ?13",
                params![
                    row.app.name(),
                    row.name,
                    row.base_url,
                    kind,
                    key_env,
                    key,
                    row.priority,
                    row.format.map(Format::name),
                    row.auth_style.map(AuthStyle::name),
                    model_map,
                    row.max_output_tokens.map(|n| n.min(i64::MAX as u64) as i64),
                    row.preset,
                    keys,
                ],
            )
            .map(drop)
        })
    }

    /// Removes a provider (none of that name: nothing happens).
    pub fn remove_provider(&self, app: App, name: String) -> Pending {
        self.save("provider remove", move |tx| {
            tx.execute(
                "DELETE FROM providers WHERE app = ?1 AND name = ?2",
                params![app.name(), name],
            )
            .map(drop)
        })
    }

    /// Makes `name` the app's first provider (none of that name: nothing happens).
    pub fn promote_provider(&self, app: App, name: String) -> Pending {
        self.save("provider use", move |tx| {
            // Renumber 0, 1, 2… with `name` first and the rest in their
            // order, so priorities stay small however often `use` runs.
            let order: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT name FROM providers WHERE app = ?1
                     ORDER BY name <> ?2, priority, name",
                )?;
                stmt.query_map(params![app.name(), name], |row| row.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for (priority, provider) in order.iter().enumerate() {
                tx.execute(
                    "UPDATE providers SET priority = ?3 WHERE app = ?1 AND name = ?2",
                    params![app.name(), provider, priority as i64],
                )?;
            }
            Ok(())
        })
    }
}

//! The `providers` table: each app's ordered upstreams and their credentials.

use rusqlite::params;

use super::{Pending, Store, StoreError};
use crate::apps::App;

/// How a provider authenticates, as stored.
#[derive(Clone, PartialEq, Eq)]
pub enum ProviderAuth {
    Passthrough,
    Env(String),
    Stored(String),
}

impl std::fmt::Debug for ProviderAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ProviderAuth {
    /// A description safe to show anywhere: never the key.
    pub fn describe(&self) -> String {
        match self {
            ProviderAuth::Passthrough => "passthrough".into(),
            ProviderAuth::Env(var) => format!("env:{var}"),
            ProviderAuth::Stored(_) => "stored".into(),
        }
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
}

impl Store {
    /// An app's providers (or every app's), by app then priority then name.
    pub async fn providers(&self, app: Option<App>) -> Result<Vec<ProviderRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT app, name, base_url, auth, key_env, key, priority, enabled
                 FROM providers WHERE ?1 IS NULL OR app = ?1
                 ORDER BY app, priority, name",
            )?;
            let rows = stmt.query_map(params![app.map(App::name)], |row| {
                let auth = match row.get::<_, String>(3)?.as_str() {
                    "env" => {
                        ProviderAuth::Env(row.get::<_, Option<String>>(4)?.unwrap_or_default())
                    }
                    "stored" => {
                        ProviderAuth::Stored(row.get::<_, Option<String>>(5)?.unwrap_or_default())
                    }
                    _ => ProviderAuth::Passthrough,
                };
                Ok((
                    row.get::<_, String>(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    auth,
                    row.get(6)?,
                    row.get(7)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (app, name, base_url, auth, priority, enabled) = row?;
                if let Ok(app) = app.parse::<App>() {
                    out.push(ProviderRow {
                        app,
                        name,
                        base_url,
                        auth,
                        priority,
                        enabled,
                    });
                }
            }
            out.sort_by(|a, b| (a.app, a.priority, &a.name).cmp(&(b.app, b.priority, &b.name)));
            Ok(out)
        })
        .await
    }

    /// Inserts or replaces a provider. Without a priority it goes last.
    pub fn upsert_provider(
        &self,
        row_app: App,
        name: String,
        base_url: String,
        auth: ProviderAuth,
        priority: Option<i64>,
    ) -> Pending {
        self.save("provider add", move |tx| {
            let priority = match priority {
                Some(p) => p,
                None => tx.query_row(
                    "SELECT COALESCE(MAX(priority) + 1, 0) FROM providers WHERE app = ?1",
                    params![row_app.name()],
                    |row| row.get(0),
                )?,
            };
            let (kind, key_env, key) = match &auth {
                ProviderAuth::Passthrough => ("passthrough", None, None),
                ProviderAuth::Env(var) => ("env", Some(var), None),
                ProviderAuth::Stored(key) => ("stored", None, Some(key)),
            };
            tx.execute(
                "INSERT INTO providers (app, name, base_url, auth, key_env, key, priority, enabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)
                 ON CONFLICT (app, name) DO UPDATE SET base_url = ?3, auth = ?4,
                   key_env = ?5, key = ?6, priority = ?7, enabled = 1",
                params![row_app.name(), name, base_url, kind, key_env, key, priority],
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

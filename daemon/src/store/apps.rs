//! The `apps` table: each app's desired state.

use rusqlite::params;

use super::{Pending, Store, StoreError};
use crate::apps::App;

/// One app's desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub app: App,
    pub enabled: bool,
    pub port: u16,
    pub takeover: bool,
    /// Supervision overrides as JSON (see `Policy::with_overrides`).
    pub policy: Option<String>,
}

impl Store {
    /// Every known app, in [`App::ALL`] order.
    pub async fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare("SELECT app, enabled, port, takeover, policy FROM apps")?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, u16>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut apps = Vec::new();
            for row in rows {
                let (name, enabled, port, takeover, policy) = row?;
                // Rows for apps this version does not know are kept, not shown.
                if let Ok(app) = name.parse::<App>() {
                    apps.push(AppRow {
                        app,
                        enabled,
                        port,
                        takeover,
                        policy,
                    });
                }
            }
            apps.sort_by_key(|row| row.app);
            Ok(apps)
        })
        .await
    }

    pub fn set_enabled(&self, app: App, enabled: bool, takeover: bool) -> Pending {
        self.save("app enabled", move |tx| {
            tx.execute(
                "UPDATE apps SET enabled = ?2, takeover = ?3 WHERE app = ?1",
                params![app.name(), enabled, takeover],
            )
            .map(drop)
        })
    }

    pub fn set_port(&self, app: App, port: u16) -> Pending {
        self.save("app port", move |tx| {
            tx.execute(
                "UPDATE apps SET port = ?2 WHERE app = ?1",
                params![app.name(), port],
            )
            .map(drop)
        })
    }
}

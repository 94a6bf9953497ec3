//! The core's copy of every provider: read from the store once at start and
//! changed by the same rules as the store's rows (`store/providers.rs`), so
//! worker configurations and `provider list` never wait on the disk.

use crate::apps::App;
use crate::protocol::ProviderInfo;
use crate::store::{ProviderAuth, ProviderRow};

pub(super) struct Providers {
    /// By app, then priority, then name: the order requests try them in.
    rows: Vec<ProviderRow>,
}

impl Providers {
    pub fn new(mut rows: Vec<ProviderRow>) -> Providers {
        sort(&mut rows);
        Providers { rows }
    }

    /// `app`'s providers in order.
    pub fn of(&self, app: App) -> impl Iterator<Item = &ProviderRow> {
        self.rows.iter().filter(move |row| row.app == app)
    }

    /// Adds or replaces a provider (enabled); without a priority it goes last.
    /// Returns the priority it got.
    pub fn upsert(
        &mut self,
        app: App,
        name: &str,
        base_url: &str,
        auth: &ProviderAuth,
        priority: Option<i64>,
    ) -> i64 {
        let priority = priority.unwrap_or_else(|| {
            self.of(app)
                .map(|row| row.priority)
                .max()
                .map_or(0, |p| p + 1)
        });
        self.rows
            .retain(|row| !(row.app == app && row.name == name));
        self.rows.push(ProviderRow {
            app,
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            auth: auth.clone(),
            priority,
            enabled: true,
        });
        sort(&mut self.rows);
        priority
    }

    /// False when `app` has no provider called `name`.
    pub fn remove(&mut self, app: App, name: &str) -> bool {
        let before = self.rows.len();
        self.rows
            .retain(|row| !(row.app == app && row.name == name));
        self.rows.len() != before
    }

    /// Puts `name` first and renumbers `app`'s providers 0, 1, 2… keeping the
    /// others' order; false when there is no such provider.
    pub fn promote(&mut self, app: App, name: &str) -> bool {
        if !self.of(app).any(|row| row.name == name) {
            return false;
        }
        let mut order: Vec<(bool, i64, String)> = self
            .of(app)
            .map(|row| (row.name != name, row.priority, row.name.clone()))
            .collect();
        order.sort();
        for row in self.rows.iter_mut().filter(|row| row.app == app) {
            if let Some(position) = order.iter().position(|(_, _, n)| *n == row.name) {
                row.priority = position as i64;
            }
        }
        sort(&mut self.rows);
        true
    }

    /// Every provider as clients see it: no key, the first enabled one of
    /// each app marked active.
    pub fn infos(&self) -> Vec<ProviderInfo> {
        let mut infos: Vec<ProviderInfo> = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let active = row.enabled && !infos.iter().any(|i| i.app == row.app && i.enabled);
            infos.push(ProviderInfo {
                app: row.app,
                name: row.name.clone(),
                base_url: row.base_url.clone(),
                auth: row.auth.describe(),
                priority: row.priority,
                enabled: row.enabled,
                active,
            });
        }
        infos
    }
}

impl Providers {
    /// `app`'s providers as clients see them, in order.
    pub fn infos_of(&self, app: App) -> Vec<ProviderInfo> {
        self.infos().into_iter().filter(|i| i.app == app).collect()
    }
}

fn sort(rows: &mut [ProviderRow]) {
    rows.sort_by(|a, b| (a.app, a.priority, &a.name).cmp(&(b.app, b.priority, &b.name)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(providers: &Providers, app: App) -> Vec<(String, i64)> {
        providers
            .of(app)
            .map(|r| (r.name.clone(), r.priority))
            .collect()
    }

    #[test]
    fn mirrors_the_store_rules_for_add_remove_and_use() {
        let mut p = Providers::new(Vec::new());
        let pass = ProviderAuth::Passthrough;
        assert_eq!(p.upsert(App::Claude, "a", "https://a", &pass, None), 0);
        assert_eq!(p.upsert(App::Claude, "b", "https://b", &pass, None), 1);
        assert_eq!(
            p.upsert(App::Claude, "c", "https://c", &pass, Some(-10)),
            -10
        );
        assert_eq!(p.upsert(App::Codex, "x", "https://x", &pass, None), 0);
        assert_eq!(
            names(&p, App::Claude),
            [("c".into(), -10), ("a".into(), 0), ("b".into(), 1)]
        );
        assert!(p.promote(App::Claude, "b"));
        assert_eq!(
            names(&p, App::Claude),
            [("b".into(), 0), ("c".into(), 1), ("a".into(), 2)]
        );
        assert!(!p.promote(App::Claude, "nope"));
        assert!(p.remove(App::Claude, "c"));
        assert!(!p.remove(App::Claude, "c"));
        let infos = p.infos();
        let active: Vec<_> = infos
            .iter()
            .filter(|i| i.active)
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(active, ["b", "x"]);
    }
}

//! The core's copy of every provider: read from the store once at start and
//! changed by the same rules as the store's rows (`store/providers.rs`), so
//! worker configurations and `provider list` never wait on the disk.

use crate::apps::App;
use crate::protocol::ProviderInfo;
use crate::store::ProviderRow;

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
    /// Returns the row as kept, with the priority it got.
    pub fn upsert(&mut self, mut row: ProviderRow, priority: Option<i64>) -> ProviderRow {
        row.priority = priority.unwrap_or_else(|| {
            self.of(row.app)
                .map(|r| r.priority)
                .max()
                .map_or(0, |p| p + 1)
        });
        row.enabled = true;
        self.rows
            .retain(|r| !(r.app == row.app && r.name == row.name));
        self.rows.push(row.clone());
        sort(&mut self.rows);
        row
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
                format: row.format(),
                model_map: row.model_map.clone(),
                keys: row.auth.labels(),
                preset: row.preset.clone(),
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
    use crate::store::ProviderAuth;

    fn names(providers: &Providers, app: App) -> Vec<(String, i64)> {
        providers
            .of(app)
            .map(|r| (r.name.clone(), r.priority))
            .collect()
    }

    #[test]
    fn mirrors_the_store_rules_for_add_remove_and_use() {
        let mut p = Providers::new(Vec::new());
        let mut add = |app, name: &str, priority| {
            let row = ProviderRow::plain(app, name, "https://a", ProviderAuth::Passthrough);
            p.upsert(row, priority).priority
        };
        assert_eq!(add(App::Claude, "a", None), 0);
        assert_eq!(add(App::Claude, "b", None), 1);
        assert_eq!(add(App::Claude, "c", Some(-10)), -10);
        assert_eq!(add(App::Codex, "x", None), 0);
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

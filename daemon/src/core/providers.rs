//! Provider requests (add, remove, use) and the worker configuration built
//! from the core's copy of the providers. Keys are resolved here, on their way
//! to a worker, and go nowhere else.

use std::sync::Arc;

use super::{Core, Outcome, saved_then};
use crate::apps::App;
use crate::apps::AuthStyle;
use crate::presets::{Preset, PresetAuth};
use crate::protocol::state::EventKind;
use crate::protocol::worker::{WorkerConfig, WorkerKey, WorkerProvider};
use crate::protocol::{AuthSpec, ErrorKind, ErrorReply, PresetInfo, ProviderSpec, Reply};
use crate::store::{ProviderAuth, ProviderKey, ProviderRow};
use crate::supervisor::AppCommand;
use crate::translate::{Format, ModelMap, can_serve};

/// Default upstream limits, sent to every worker.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
const FIRST_BYTE_TIMEOUT_MS: u64 = 300_000;
const IDLE_TIMEOUT_MS: u64 = 300_000;
const MAX_BUFFERED_BODY: u64 = 32 << 20;
const BODY_BUDGET: u64 = 256 << 20;

impl Core {
    /// Every app's proxy port: where no provider may point.
    pub(super) fn own_ports(&self) -> Vec<u16> {
        self.snapshot.apps.iter().map(|a| a.port).collect()
    }

    /// The app's enabled providers in order, with keys resolved.
    pub(super) fn worker_config(&self, app: App) -> WorkerConfig {
        let providers = self
            .providers
            .of(app)
            .filter(|row| row.enabled)
            .filter_map(|row| worker_provider(app, row))
            .collect();
        WorkerConfig {
            providers,
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            first_byte_timeout_ms: FIRST_BYTE_TIMEOUT_MS,
            idle_timeout_ms: IDLE_TIMEOUT_MS,
            max_buffered_body: MAX_BUFFERED_BODY,
            body_budget: BODY_BUDGET,
            own_ports: self.own_ports(),
        }
    }

    /// The provider the worker tries first: the first one `worker_config`
    /// keeps (a provider whose key variable is unset is skipped there).
    pub(super) fn first_provider(&self, app: App) -> Option<String> {
        let config = self.worker_config(app);
        config.providers.into_iter().next().map(|p| p.name)
    }

    /// Why `app` cannot be enabled: no provider it could send a request to.
    pub(super) fn no_usable_provider(&self, app: App) -> ErrorReply {
        let skipped: Vec<String> = self
            .providers
            .of(app)
            .filter(|row| row.enabled)
            .map(|row| format!("{} ({})", row.name, row.auth.describe()))
            .collect();
        let why = if skipped.is_empty() {
            "it has no provider".to_owned()
        } else {
            format!(
                "none of its providers can be used ({}: their key variables are not set in the daemon's environment)",
                skipped.join(", ")
            )
        };
        ErrorReply::new(
            ErrorKind::Conflict,
            format!(
                "{app} was not enabled: {why}, so every request would fail; add one with `switchyard provider add {app} NAME --base-url URL`, then enable it again"
            ),
        )
    }

    /// The presets (of one app, or all) as clients see them.
    pub(super) fn preset_infos(&self, app: Option<App>) -> Vec<PresetInfo> {
        self.presets
            .all()
            .iter()
            .filter(|p| app.is_none_or(|app| p.apps.contains(&app)))
            .map(preset_info)
            .collect()
    }

    pub(super) fn provider_add(&mut self, spec: ProviderSpec) -> Outcome {
        match self.try_provider_add(spec) {
            Ok(outcome) => outcome,
            Err(err) => Outcome::Now(Err(err)),
        }
    }

    fn try_provider_add(&mut self, spec: ProviderSpec) -> Result<Outcome, ErrorReply> {
        validate_name(&spec.name)?;
        let app = spec.app;
        let existing = self
            .providers
            .of(app)
            .find(|row| row.name == spec.name)
            .map(|row| (row.priority, row.base_url.clone()));
        if let (Some((priority, url)), false) = (&existing, spec.replace) {
            let name = &spec.name;
            return Err(ErrorReply::new(
                ErrorKind::Conflict,
                format!(
                    "{app} already has a provider named {name} ({url}, priority {priority}); nothing changed. To change it in place, add --replace; to move it, `switchyard provider use {app} {name}`"
                ),
            ));
        }
        let preset = match &spec.preset {
            None => None,
            Some(id) => Some(self.preset_for(app, id)?),
        };
        let base_url = spec
            .base_url
            .clone()
            .or_else(|| preset.as_ref().map(|p| p.base_url.clone()))
            .ok_or_else(|| bad("give the provider's address with --base-url URL, or start from a preset with --preset ID (`switchyard provider presets`)"))?;
        validate_base_url(&base_url)?;
        if let Some(port) = crate::proxy::own_port(&base_url, &self.own_ports()) {
            return Err(bad(format!(
                "{base_url} points back at Switchyard's own proxy port {port}: every request would be sent to Switchyard again, in a loop. Give the provider's own address (`switchyard status` lists Switchyard's ports)"
            )));
        }
        let format = spec
            .format
            .or(preset.as_ref().map(|p| p.format))
            .unwrap_or(Format::of_app(app));
        let own = Format::of_app(app);
        if !can_serve(own, format) {
            return Err(bad(format!(
                "{app} speaks {own} and cannot use a {format} provider: Switchyard translates {own} to openai-chat only; give --format {own} or --format openai-chat"
            )));
        }
        let model_map = if spec.model_map.is_empty() {
            preset
                .as_ref()
                .map(|p| p.model_map.rules().iter().map(|r| r.to_string()).collect())
                .unwrap_or_default()
        } else {
            spec.model_map.clone()
        };
        let parsed = ModelMap::parse_all(model_map.iter().map(String::as_str))
            .map_err(|e| bad(e.to_string()))?;
        let model_map: Vec<String> = parsed.rules().iter().map(|r| r.to_string()).collect();
        let mut keys = Vec::new();
        for auth in std::iter::once(spec.auth.clone()).chain(spec.extra_keys.iter().cloned()) {
            if let Some(key) = provider_key(auth)? {
                keys.push(key);
            }
        }
        if keys.is_empty()
            && let Some(var) = preset.as_ref().and_then(|p| p.key_env.clone())
        {
            keys.push(ProviderKey::Env(var));
        }
        let auth = if keys.is_empty() {
            ProviderAuth::Passthrough
        } else {
            ProviderAuth::Keys(keys)
        };
        let auth_style = preset.as_ref().and_then(|p| match p.auth {
            PresetAuth::XApiKey => Some(AuthStyle::XApiKey),
            PresetAuth::Bearer => Some(AuthStyle::Bearer),
            PresetAuth::GoogApiKey => Some(AuthStyle::GoogApiKey),
            PresetAuth::None => None,
        });
        let described = auth.describe();
        let unset: Vec<String> = match &auth {
            ProviderAuth::Keys(keys) => keys
                .iter()
                .filter_map(|k| match k {
                    ProviderKey::Env(var) if std::env::var_os(var).is_none_or(|v| v.is_empty()) => {
                        Some(var.clone())
                    }
                    _ => None,
                })
                .collect(),
            ProviderAuth::Passthrough => Vec::new(),
        };
        let warning = if unset.is_empty() {
            String::new()
        } else {
            format!(
                "; note: {} not set in the daemon's environment, so {} skipped until set (set it, then `switchyard daemon restart`)",
                unset.join(", "),
                if unset.len() == 1 {
                    "that key is"
                } else {
                    "those keys are"
                }
            )
        };
        let row = ProviderRow {
            app,
            name: spec.name.clone(),
            base_url: base_url.clone(),
            auth,
            priority: 0,
            enabled: true,
            format: (format != own || spec.format.is_some() || preset.is_some()).then_some(format),
            auth_style,
            model_map,
            max_output_tokens: preset.as_ref().and_then(|p| p.max_output_tokens),
            preset: preset.as_ref().map(|p| p.id.clone()),
        };
        // The same row in memory and in the store: the priority is decided here.
        // Replaced in place: its place in the order stays unless one is given.
        let priority = spec.priority.or(existing.as_ref().map(|(p, _)| *p));
        let row = self.providers.upsert(row, priority);
        let saved = self.store.upsert_provider(row);
        self.providers_changed(app);
        let translated = if format == own {
            String::new()
        } else {
            format!(", {format}, translated from {own}")
        };
        let text = format!(
            "provider {} {verb} {app} ({base_url}{translated}, {described}){warning}",
            spec.name,
            verb = if existing.is_some() {
                "replaced in"
            } else {
                "added to"
            }
        );
        Ok(saved_then(saved, Ok(Reply::Done(text))))
    }

    fn preset_for(&self, app: App, id: &str) -> Result<Preset, ErrorReply> {
        let Some(preset) = self.presets.get(id) else {
            let ids: Vec<&str> = self.presets.for_app(app).map(|p| p.id.as_str()).collect();
            return Err(ErrorReply::new(
                ErrorKind::NotFound,
                format!(
                    "there is no preset {id:?}; presets for {app}: {} (`switchyard provider presets {app}`)",
                    ids.join(", ")
                ),
            ));
        };
        if !preset.apps.contains(&app) {
            let apps: Vec<&str> = preset.apps.iter().map(|a| a.name()).collect();
            return Err(bad(format!(
                "preset {id:?} is not for {app} (it suits {}); see `switchyard provider presets {app}`",
                apps.join(", ")
            )));
        }
        Ok(preset.clone())
    }

    pub(super) fn provider_remove(&mut self, app: App, name: String) -> Outcome {
        if !self.providers.remove(app, &name) {
            return Outcome::Now(Err(not_found(app, &name)));
        }
        let saved = self.store.remove_provider(app, name.clone());
        let text = match self.providers_changed(app) {
            Some(_) => format!("provider {name} removed from {app}"),
            None => format!(
                "provider {name} removed from {app}; note: {app} has no usable provider left, so its requests get 502 until one is added (`switchyard provider add {app} NAME --base-url URL`)"
            ),
        };
        saved_then(saved, Ok(Reply::Done(text)))
    }

    pub(super) fn provider_use(&mut self, app: App, name: String) -> Outcome {
        if !self.providers.promote(app, &name) {
            return Outcome::Now(Err(not_found(app, &name)));
        }
        let saved = self.store.promote_provider(app, name.clone());
        let first = self.providers_changed(app);
        let text = match first {
            Some(first) if first == name => format!("{app} now sends requests to {name} first"),
            // Promoted, but its key is missing: say who actually goes first.
            Some(first) => format!(
                "{name} is now first in {app}'s order, but it is skipped while its key is unavailable, so requests go to {first} first (`switchyard provider list {app}`)"
            ),
            None => format!(
                "{name} is now first in {app}'s order, but it is skipped while its key is unavailable, and {app} has no other usable provider"
            ),
        };
        saved_then(saved, Ok(Reply::Done(text)))
    }

    /// Tells the running worker (if any) and every client about the new order;
    /// returns the provider requests now try first.
    fn providers_changed(&mut self, app: App) -> Option<String> {
        self.provider_infos
            .send_replace(Arc::new(self.providers.infos()));
        self.emit(EventKind::ProvidersChanged {
            app,
            providers: self.providers.infos_of(app),
        });
        let config = self.worker_config(app);
        let provider = config.providers.first().map(|p| p.name.clone());
        if self.app_state(app).is_some_and(|s| s.provider != provider) {
            self.emit(EventKind::ProviderSelected {
                app,
                provider: provider.clone(),
            });
        }
        self.send(app, AppCommand::Config(config));
        provider
    }
}

/// One provider as its worker gets it, keys resolved; `None` when it has keys
/// but none of them is available.
fn worker_provider(app: App, row: &ProviderRow) -> Option<WorkerProvider> {
    let format = row.format();
    // Decided here, once, so the worker never compares URLs.
    let official = matches!(row.auth, ProviderAuth::Passthrough)
        && format == Format::of_app(app)
        && app.is_official_base_url(&row.base_url);
    let mut keys = Vec::new();
    if let ProviderAuth::Keys(sources) = &row.auth {
        for (source, label) in sources.iter().zip(row.auth.labels()) {
            match source {
                ProviderKey::Stored(key) => keys.push(WorkerKey {
                    label,
                    key: key.clone(),
                }),
                ProviderKey::Env(var) => match std::env::var(var) {
                    Ok(key) if is_header_value(&key) => keys.push(WorkerKey { label, key }),
                    Ok(key) if !key.is_empty() => {
                        tracing::warn!(%app, provider = %row.name, %var,
                            "key skipped: its variable holds characters a header cannot carry");
                    }
                    _ => {
                        tracing::warn!(%app, provider = %row.name, %var,
                            "key skipped: its variable is not set in the daemon's environment");
                    }
                },
            }
        }
        if keys.is_empty() {
            tracing::warn!(%app, provider = %row.name, "provider skipped: none of its keys is available");
            return None;
        }
    }
    Some(WorkerProvider {
        name: row.name.clone(),
        base_url: row.base_url.clone(),
        keys,
        format,
        auth_style: row.auth_style.unwrap_or(AuthStyle::of_format(format)),
        model_map: row.model_map.clone(),
        max_output_tokens: row.max_output_tokens,
        official,
    })
}

/// A key as given to `provider add`, checked; `None` for passthrough.
fn provider_key(auth: AuthSpec) -> Result<Option<ProviderKey>, ErrorReply> {
    Ok(match auth {
        AuthSpec::Passthrough => None,
        AuthSpec::KeyEnv(var) => {
            if var.is_empty() || var.contains('=') || var.chars().any(char::is_control) {
                return Err(bad(format!("{var:?} is not an environment variable name")));
            }
            Some(ProviderKey::Env(var))
        }
        AuthSpec::StoredKey(key) => {
            let key = key.trim().to_owned();
            if key.is_empty() {
                return Err(bad("the key given on stdin is empty"));
            }
            if !is_header_value(&key) {
                return Err(bad(
                    "the key given on stdin has line breaks or control characters inside; give one key per line",
                ));
            }
            Some(ProviderKey::Stored(key))
        }
    })
}

fn preset_info(p: &Preset) -> PresetInfo {
    PresetInfo {
        id: p.id.clone(),
        name: p.name.clone(),
        apps: p.apps.clone(),
        base_url: p.base_url.clone(),
        format: p.format,
        auth: match p.auth {
            PresetAuth::XApiKey => "x-api-key",
            PresetAuth::Bearer => "bearer",
            PresetAuth::GoogApiKey => "goog-api-key",
            PresetAuth::None => "none",
        }
        .to_owned(),
        key_env: p.key_env.clone(),
        model_map: p.model_map.rules().iter().map(|r| r.to_string()).collect(),
        docs: p.docs.clone(),
        note: p.note.clone(),
    }
}

fn bad(message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(ErrorKind::BadRequest, message)
}

fn not_found(app: App, name: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorKind::NotFound,
        format!("{app} has no provider named {name:?}; see `switchyard provider list {app}`"),
    )
}

/// Whether `key` can travel in an HTTP header (what the worker will put it in).
fn is_header_value(key: &str) -> bool {
    http::HeaderValue::from_str(key).is_ok()
}

fn validate_name(name: &str) -> Result<(), ErrorReply> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{name:?} is not a valid provider name: use 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// An absolute http(s) URL with a host, no query and no fragment.
pub fn validate_base_url(url: &str) -> Result<(), ErrorReply> {
    let invalid = |why: &str| {
        bad(format!(
            "{url:?} is not a valid base URL: {why} (example: https://api.example.com/v1)"
        ))
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid("it does not parse"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(invalid("it must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(invalid("it must not have a query or fragment"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid(
            "it must not carry a user or password; give keys with --key-env or --key-stdin",
        ));
    }
    // `http::Uri` keeps an out-of-range port as text; refuse it here.
    if let Some(authority) = uri.authority() {
        let host_end = authority.as_str().rfind(']').unwrap_or(0);
        if let Some((_, port)) = authority.as_str()[host_end..].rsplit_once(':')
            && !matches!(port.parse::<u16>(), Ok(p) if p > 0)
        {
            return Err(invalid("its port must be a number from 1 to 65535"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_validated() {
        assert!(validate_base_url("https://api.example.com/v1").is_ok());
        assert!(validate_base_url("http://127.0.0.1:9000").is_ok());
        for bad in [
            "ftp://x",
            "not a url",
            "https://",
            "http://h/?q=1",
            "/relative",
            "https://a.example/\u{1b}[31m",
            "https://a.example/x\ny",
        ] {
            assert!(validate_base_url(bad).is_err(), "{bad}");
        }
    }
}

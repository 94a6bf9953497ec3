//! Provider requests (add, remove, use) and the worker configuration built
//! from the core's copy of the providers. Keys are resolved here, on their way
//! to a worker, and go nowhere else.

use std::sync::Arc;

use super::{Core, Outcome, saved_then};
use crate::apps::App;
use crate::protocol::state::EventKind;
use crate::protocol::worker::{WorkerConfig, WorkerProvider};
use crate::protocol::{AuthSpec, ErrorKind, ErrorReply, ProviderSpec, Reply};
use crate::store::ProviderAuth;
use crate::supervisor::AppCommand;

/// Default upstream limits, sent to every worker.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
const FIRST_BYTE_TIMEOUT_MS: u64 = 300_000;
const IDLE_TIMEOUT_MS: u64 = 300_000;
const MAX_BUFFERED_BODY: u64 = 32 << 20;
const BODY_BUDGET: u64 = 256 << 20;

impl Core {
    /// The app's enabled providers in order, with keys resolved.
    pub(super) fn worker_config(&self, app: App) -> WorkerConfig {
        let providers = self
            .providers
            .of(app)
            .filter(|row| row.enabled)
            .cloned()
            .filter_map(|row| {
                // Decided here, once, so the worker never compares URLs.
                let official = matches!(row.auth, ProviderAuth::Passthrough)
                    && app.is_official_base_url(&row.base_url);
                let key = match row.auth {
                    ProviderAuth::Passthrough => None,
                    ProviderAuth::Stored(key) => Some(key),
                    ProviderAuth::Env(var) => match std::env::var(&var) {
                        Ok(key) if is_header_value(&key) => Some(key),
                        Ok(key) if !key.is_empty() => {
                            tracing::warn!(%app, provider = %row.name, %var,
                                "provider skipped: its key variable holds characters a header cannot carry");
                            return None;
                        }
                        _ => {
                            tracing::warn!(%app, provider = %row.name, %var,
                                "provider skipped: its key variable is not set in the daemon's environment");
                            return None;
                        }
                    },
                };
                Some(WorkerProvider { name: row.name, base_url: row.base_url, key, official })
            })
            .collect();
        WorkerConfig {
            providers,
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            first_byte_timeout_ms: FIRST_BYTE_TIMEOUT_MS,
            idle_timeout_ms: IDLE_TIMEOUT_MS,
            max_buffered_body: MAX_BUFFERED_BODY,
            body_budget: BODY_BUDGET,
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

    pub(super) fn provider_add(&mut self, spec: ProviderSpec) -> Outcome {
        match self.try_provider_add(spec) {
            Ok(outcome) => outcome,
            Err(err) => Outcome::Now(Err(err)),
        }
    }

    fn try_provider_add(&mut self, spec: ProviderSpec) -> Result<Outcome, ErrorReply> {
        validate_name(&spec.name)?;
        validate_base_url(&spec.base_url)?;
        let existing = self
            .providers
            .of(spec.app)
            .find(|row| row.name == spec.name)
            .map(|row| (row.priority, row.base_url.clone()));
        if let (Some((priority, url)), false) = (&existing, spec.replace) {
            let (app, name) = (spec.app, &spec.name);
            return Err(ErrorReply::new(
                ErrorKind::Conflict,
                format!(
                    "{app} already has a provider named {name} ({url}, priority {priority}); nothing changed. To change it in place, add --replace; to move it, `switchyard provider use {app} {name}`"
                ),
            ));
        }
        // Replaced in place: its place in the order stays unless one is given.
        let wanted_priority = spec.priority.or(existing.as_ref().map(|(p, _)| *p));
        let auth = match spec.auth {
            AuthSpec::Passthrough => ProviderAuth::Passthrough,
            AuthSpec::KeyEnv(var) => {
                if var.is_empty() || var.contains('=') || var.chars().any(char::is_control) {
                    return Err(bad(format!("{var:?} is not an environment variable name")));
                }
                ProviderAuth::Env(var)
            }
            AuthSpec::StoredKey(key) => {
                let key = key.trim().to_owned();
                if key.is_empty() {
                    return Err(bad("the key given on stdin is empty"));
                }
                if !is_header_value(&key) {
                    return Err(bad(
                        "the key given on stdin has line breaks or control characters inside; give the key alone",
                    ));
                }
                ProviderAuth::Stored(key)
            }
        };
        let described = auth.describe();
        let warning = match &auth {
            ProviderAuth::Env(var) if std::env::var_os(var).is_none_or(|v| v.is_empty()) => {
                format!(
                    "; note: {var} is not set in the daemon's environment, so this provider is skipped until it is (set it, then `switchyard daemon restart`)"
                )
            }
            _ => String::new(),
        };
        // The same row in memory and in the store: the priority is decided here.
        let priority =
            self.providers
                .upsert(spec.app, &spec.name, &spec.base_url, &auth, wanted_priority);
        let saved = self.store.upsert_provider(
            spec.app,
            spec.name.clone(),
            spec.base_url.clone(),
            auth,
            Some(priority),
        );
        self.providers_changed(spec.app);
        let verb = if existing.is_some() {
            "replaced in"
        } else {
            "added to"
        };
        let text = format!(
            "provider {} {verb} {} ({}, {described}){warning}",
            spec.name, spec.app, spec.base_url
        );
        Ok(saved_then(saved, Ok(Reply::Done(text))))
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

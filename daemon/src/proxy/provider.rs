//! The validated, ready-to-use form of a [`ProxyConfig`]: parsed base URLs, prebuilt
//! `Host` and credential headers, a route and a breaker per provider. Requests read
//! it through a `watch` channel, so a config swap never blocks the data path.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use std::time::{Duration, Instant};

use super::breaker::Breaker;
use super::client::Upstream;
use super::config::{BreakerPolicy, Credential, ProviderConfig, ProxyConfig, Timeouts};
use super::cooling::Cooling;
use super::error::ProxyError;
use super::headers::credential_header;
use super::limits::ClientLimits;
use super::official;
use super::target::{Dest, Official, Target};
use crate::apps::{App, AuthStyle, OfficialRoute};
use crate::translate::{Format, ModelMap};

/// The config requests run with.
pub(crate) struct Active {
    /// Whose API this is: error bodies the proxy writes take its shape.
    pub(crate) app: App,
    pub(crate) providers: Vec<Provider>,
    pub(crate) timeouts: Timeouts,
    pub(crate) max_buffered_body: usize,
    pub(crate) policy: BreakerPolicy,
    pub(crate) limits: ClientLimits,
}

pub(crate) struct Provider {
    pub(crate) name: String,
    base_url: String,
    /// Where its requests go: the base URL (for an official provider, the
    /// default route's upstream).
    target: Target,
    /// Its keys in order (a pool when several); empty passes the client's
    /// own headers through.
    pub(crate) keys: Vec<Key>,
    pub(crate) breaker: Arc<Breaker>,
    /// Set while the provider's `Retry-After` runs; carried across config
    /// swaps like the breaker.
    pub(crate) cooling: Arc<Cooling>,
    /// Set for the app's official provider: it routes each request by its
    /// credential and path. Boxed: most providers have none.
    official: Option<Box<Official>>,
    /// Set when requests are not passed through as they are: another API
    /// format (translated), or a model map. Boxed: most providers have none.
    pub(crate) api: Option<Box<Api>>,
    /// Set when the base URL points back at one of Switchyard's own ports:
    /// never sent a request.
    pub(crate) loops_to: Option<u16>,
}

/// One key of a provider.
pub(crate) struct Key {
    /// What request records name (`env:VAR`, `stored-2`): never the key.
    pub(crate) label: Arc<str>,
    pub(crate) header: (HeaderName, HeaderValue),
    /// Set while the key rests (a 429, an exhausted quota, a 401).
    pub(crate) rest: Arc<Cooling>,
}

/// How requests to a provider differ from the client's.
pub(crate) struct Api {
    pub(crate) client: Format,
    pub(crate) upstream: Format,
    pub(crate) model_map: ModelMap,
    pub(crate) max_output_tokens: Option<u64>,
}

impl Api {
    pub(crate) fn translates(&self) -> bool {
        self.client != self.upstream
    }
}

/// Which key a request to a provider takes.
pub(crate) enum KeyPick<'a> {
    /// Passthrough: the client's own credentials.
    None,
    Key(&'a Key),
    /// Every key is resting; the soonest is back after this long.
    AllResting(Duration),
}

impl Active {
    /// Validates `config`. Breakers of providers that keep their name and base URL
    /// carry over from `previous`, so a config push does not forget an outage.
    pub(crate) fn build(
        config: ProxyConfig,
        previous: Option<&Active>,
        upstream: &Upstream,
    ) -> Result<Active, ProxyError> {
        let mut providers = Vec::with_capacity(config.providers.len());
        for p in config.providers {
            let (base, base_path) = parse_base(&p)?;
            let route = upstream.route(&base, config.timeouts.connect);
            let target = Target::new(&base, base_path, route)
                .ok_or_else(|| invalid(&p, "the host is not a valid Host header"))?;
            let client = Format::of_app(config.app);
            let format = p.format.unwrap_or(client);
            let style = p.auth_style.unwrap_or(AuthStyle::of_format(format));
            let old = previous.and_then(|prev| {
                prev.providers
                    .iter()
                    .find(|old| old.name == p.name && old.base_url == p.base_url)
            });
            let labelled: Vec<(String, &String)> = match &p.credential {
                Credential::Passthrough => Vec::new(),
                Credential::Key(key) => vec![("key".to_owned(), key)],
                Credential::Pool(keys) => keys.iter().map(|(l, k)| (l.clone(), k)).collect(),
            };
            let mut keys = Vec::with_capacity(labelled.len());
            for (label, key) in labelled {
                let header =
                    credential_header(style, key).ok_or_else(|| ProxyError::InvalidKey {
                        provider: p.name.clone(),
                    })?;
                let rest = old
                    .and_then(|old| old.keys.iter().find(|k| *k.label == *label))
                    .map_or_else(Arc::default, |k| Arc::clone(&k.rest));
                keys.push(Key {
                    label: label.into(),
                    header,
                    rest,
                });
            }
            // A configured key is an API key: nothing to route by; nor is a
            // provider of another format.
            let official = (p.official && keys.is_empty() && format == client)
                .then(|| Official::build(config.app, upstream, config.timeouts.connect))
                .map(Box::new);
            let api = (format != client || !p.model_map.is_empty()).then(|| {
                Box::new(Api {
                    client,
                    upstream: format,
                    model_map: p.model_map.clone(),
                    max_output_tokens: p.max_output_tokens,
                })
            });
            let breaker =
                old.map_or_else(|| Arc::new(Breaker::new()), |old| Arc::clone(&old.breaker));
            let cooling = old.map_or_else(Arc::default, |old| Arc::clone(&old.cooling));
            providers.push(Provider {
                loops_to: super::loops::own_port(&p.base_url, &config.own_ports),
                name: p.name,
                base_url: p.base_url,
                target,
                keys,
                breaker,
                cooling,
                official,
                api,
            });
        }
        Ok(Active {
            app: config.app,
            providers,
            timeouts: config.timeouts,
            max_buffered_body: config.max_buffered_body,
            policy: config.breaker,
            limits: config.limits,
        })
    }
}

impl Provider {
    /// The first key that is not resting (or none, for passthrough).
    pub(crate) fn pick_key(&self, now: Instant) -> KeyPick<'_> {
        if self.keys.is_empty() {
            return KeyPick::None;
        }
        let mut soonest = Duration::MAX;
        for key in &self.keys {
            match key.rest.left(now) {
                None => return KeyPick::Key(key),
                Some(left) => soonest = soonest.min(left),
            }
        }
        KeyPick::AllResting(soonest)
    }

    /// Where this request goes, and the official route it takes (`None` for a
    /// provider that is not official). For most providers, a borrow of its one
    /// upstream: nothing is looked at.
    pub(crate) fn target_for(
        &self,
        headers: &HeaderMap,
        path: &str,
    ) -> (Dest<'_>, Option<OfficialRoute>) {
        let Some(official) = &self.official else {
            return (Dest::Shared(&self.target), None);
        };
        let route = official::select(official.app, headers, path);
        let target = match route {
            OfficialRoute::ApiKey | OfficialRoute::OAuth => Some(Dest::Shared(&self.target)),
            OfficialRoute::Vertex => official.vertex_target(path).map(Box::new).map(Dest::Own),
            _ => official
                .fixed
                .iter()
                .find(|(r, _)| *r == route)
                .map(|(_, t)| Dest::Shared(t)),
        };
        match target {
            Some(target) => (target, Some(route)),
            // A location that is no host name: the default route, whose
            // upstream says what is wrong with the request.
            None => (Dest::Shared(&self.target), Some(OfficialRoute::ApiKey)),
        }
    }
}

fn invalid(p: &ProviderConfig, reason: &str) -> ProxyError {
    ProxyError::InvalidBaseUrl {
        provider: p.name.clone(),
        url: p.base_url.clone(),
        reason: reason.to_owned(),
    }
}

/// Parses and checks a base URL; returns it and its path without a trailing slash.
fn parse_base(p: &ProviderConfig) -> Result<(Uri, String), ProxyError> {
    let uri: Uri = p
        .base_url
        .trim()
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(p, &e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid(p, "the scheme must be http or https")),
    }
    let Some(authority) = uri.authority() else {
        return Err(invalid(p, "it has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(invalid(
            p,
            "credentials belong in the key setting, not the URL",
        ));
    }
    if authority.host().is_empty() {
        return Err(invalid(p, "it has no host"));
    }
    if uri.query().is_some() {
        return Err(invalid(p, "it must not have a query string"));
    }
    let base_path = uri.path().trim_end_matches('/').to_owned();
    Ok((uri, base_path))
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;

//! The validated, ready-to-use form of a [`ProxyConfig`]: parsed base URLs, prebuilt
//! `Host` and credential headers, a route and a breaker per provider. Requests read
//! it through a `watch` channel, so a config swap never blocks the data path.

use std::ops::Deref;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use std::time::{Duration, Instant};

use super::breaker::Breaker;
use super::client::{Route, Upstream};
use super::config::{BreakerPolicy, Credential, ProviderConfig, ProxyConfig, Timeouts};
use super::cooling::Cooling;
use super::error::ProxyError;
use super::headers::credential_header;
use super::limits::ClientLimits;
use super::official;
use crate::apps::{self, App, AuthStyle, OfficialRoute};
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

/// One upstream: where a request is sent and how it leaves the machine.
pub(crate) struct Target {
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path without a trailing slash (`""` for a bare host).
    base_path: String,
    /// `Host` for this upstream: its authority as written in the base URL.
    pub(crate) host: HeaderValue,
    pub(crate) route: Route,
}

/// The other upstreams of an official provider.
struct Official {
    app: App,
    /// Routes whose upstream is fixed and not the base URL (ChatGPT, Code Assist).
    fixed: Vec<(OfficialRoute, Target)>,
    /// How Vertex AI hosts are reached; the host itself comes from the path.
    /// (Decided once for `aiplatform.googleapis.com`: a `NO_PROXY` naming one
    /// regional host alone is not told apart.)
    vertex: Option<Route>,
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

/// The upstream one request goes to: a provider's own, or (Vertex) one built
/// for the request. A pointer either way: it lives in every request's future,
/// where a whole `Target` would be copied with it.
pub(crate) enum Dest<'a> {
    Shared(&'a Target),
    Own(Box<Target>),
}

impl Deref for Dest<'_> {
    type Target = Target;

    fn deref(&self) -> &Target {
        match self {
            Dest::Shared(target) => target,
            Dest::Own(target) => target,
        }
    }
}

impl Target {
    fn new(base: &Uri, base_path: String, route: Route) -> Option<Target> {
        let scheme = base.scheme()?.clone();
        let authority = base.authority()?.clone();
        let host = HeaderValue::from_str(authority.as_str()).ok()?;
        Some(Target {
            scheme,
            authority,
            base_path,
            host,
            route,
        })
    }

    /// `base + path_and_query`: `http://h/v1` + `/responses?x=1` → `http://h/v1/responses?x=1`.
    /// For a base URL without a path the client's own path is reused as it is
    /// (no copy, no second parse).
    pub(crate) fn uri_for(
        &self,
        path_and_query: Option<&PathAndQuery>,
    ) -> Result<Uri, http::Error> {
        let root = PathAndQuery::from_static("/");
        let path_and_query = path_and_query.unwrap_or(&root);
        let joined = if self.base_path.is_empty() {
            path_and_query.clone()
        } else {
            let mut joined =
                String::with_capacity(self.base_path.len() + path_and_query.as_str().len());
            joined.push_str(&self.base_path);
            joined.push_str(path_and_query.as_str());
            PathAndQuery::try_from(joined)?
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(joined);
        Ok(Uri::from_parts(parts)?)
    }
}

impl Official {
    fn build(app: App, upstream: &Upstream, connect: std::time::Duration) -> Official {
        let target = |url: &str| {
            let base: Uri = url.parse().ok()?;
            let path = base.path().trim_end_matches('/').to_owned();
            let route = upstream.route(&base, connect);
            Target::new(&base, path, route)
        };
        let fixed = [OfficialRoute::ChatGpt, OfficialRoute::CodeAssist]
            .into_iter()
            .filter(|r| routes_of(app).contains(r))
            .filter_map(|r| Some((r, target(r.base_url()?)?)))
            .collect();
        let vertex = routes_of(app)
            .contains(&OfficialRoute::Vertex)
            .then(|| target("https://aiplatform.googleapis.com").map(|t| t.route))
            .flatten();
        Official { app, fixed, vertex }
    }

    fn vertex_target(&self, path: &str) -> Option<Target> {
        let base: Uri = apps::vertex_base_url(official::vertex_location(path)?)?
            .parse()
            .ok()?;
        Target::new(&base, String::new(), self.vertex.clone()?)
    }
}

/// The routes an app's official provider knows.
fn routes_of(app: App) -> &'static [OfficialRoute] {
    match app {
        App::Claude => &[OfficialRoute::ApiKey, OfficialRoute::OAuth],
        App::Codex => &[OfficialRoute::ApiKey, OfficialRoute::ChatGpt],
        App::Gemini => &[
            OfficialRoute::ApiKey,
            OfficialRoute::CodeAssist,
            OfficialRoute::Vertex,
        ],
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
mod tests {
    use super::*;
    use hyper_util::client::proxy::matcher::Matcher;

    fn provider(url: &str, credential: Credential) -> ProviderConfig {
        ProviderConfig {
            name: "p".into(),
            base_url: url.into(),
            credential,
            ..ProviderConfig::default()
        }
    }

    fn build(urls: &[&str]) -> Result<Active, ProxyError> {
        let upstream = Upstream::new(Matcher::builder().build());
        let providers = urls
            .iter()
            .map(|u| provider(u, Credential::Passthrough))
            .collect();
        Active::build(ProxyConfig::new(App::Codex, providers), None, &upstream)
    }

    #[test]
    fn joins_base_path_and_request_target() -> Result<(), Box<dyn std::error::Error>> {
        let active = build(&["http://h:8/v1", "https://api.example/", "http://h/a/b/"])?;
        let target = PathAndQuery::from_static("/responses?x=1");
        let joined: Vec<String> = active
            .providers
            .iter()
            .map(|p| p.target.uri_for(Some(&target)).map(|u| u.to_string()))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            joined,
            [
                "http://h:8/v1/responses?x=1",
                "https://api.example/responses?x=1",
                "http://h/a/b/responses?x=1"
            ]
        );
        // A request without a path goes to the base URL itself.
        assert_eq!(
            active.providers[0].target.uri_for(None)?.to_string(),
            "http://h:8/v1/"
        );
        assert_eq!(
            active.providers[1].target.uri_for(None)?.to_string(),
            "https://api.example/"
        );
        assert_eq!(active.providers[0].target.host, "h:8");
        assert_eq!(active.providers[1].target.host, "api.example");
        Ok(())
    }

    #[test]
    fn rejects_unusable_base_urls() {
        for bad in [
            "ftp://h",
            "/just/a/path",
            "http://user:pw@h",
            "http://h/v1?x=1",
            "not a url",
            "",
        ] {
            assert!(
                matches!(build(&[bad]), Err(ProxyError::InvalidBaseUrl { .. })),
                "{bad:?} accepted"
            );
        }
        let upstream = Upstream::new(Matcher::builder().build());
        let config = ProxyConfig::new(
            App::Claude,
            vec![provider("http://h", Credential::Key("bad\nkey".into()))],
        );
        let err = Active::build(config, None, &upstream)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("API key") && !e.contains("bad")));
    }

    /// Where an official provider sends a request, as `scheme://host/path`.
    fn routed(active: &Active, headers: &[(&'static str, &'static str)], path: &str) -> String {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_static(v));
        }
        let (target, route) = active.providers[0].target_for(&h, path);
        let target_path = PathAndQuery::try_from(path).ok();
        let uri = target
            .uri_for(target_path.as_ref())
            .map(|u| u.to_string())
            .unwrap_or_default();
        format!(
            "{} {uri} host={:?}",
            route.map_or("-", |r| r.name()),
            target.host
        )
    }

    #[test]
    fn official_providers_route_by_credential_and_path() -> Result<(), ProxyError> {
        let upstream = Upstream::new(Matcher::builder().build());
        let official = |app: App, credential| {
            let mut p = provider(app.official_base_url(), credential);
            p.official = true;
            Active::build(ProxyConfig::new(app, vec![p]), None, &upstream)
        };
        let codex = official(App::Codex, Credential::Passthrough)?;
        assert_eq!(
            routed(&codex, &[("authorization", "Bearer sk-1")], "/responses"),
            "api-key https://api.openai.com/v1/responses host=\"api.openai.com\""
        );
        assert_eq!(
            routed(
                &codex,
                &[("chatgpt-account-id", "a")],
                "/models?client_version=1"
            ),
            "chatgpt https://chatgpt.com/backend-api/codex/models?client_version=1 host=\"chatgpt.com\""
        );
        let claude = official(App::Claude, Credential::Passthrough)?;
        assert_eq!(
            routed(&claude, &[("authorization", "Bearer oat")], "/v1/messages"),
            "oauth https://api.anthropic.com/v1/messages host=\"api.anthropic.com\""
        );
        let gemini = official(App::Gemini, Credential::Passthrough)?;
        assert_eq!(
            routed(&gemini, &[], "/v1internal:streamGenerateContent?alt=sse"),
            "code-assist https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse host=\"cloudcode-pa.googleapis.com\""
        );
        assert_eq!(
            routed(
                &gemini,
                &[],
                "/v1beta1/projects/p/locations/us-east5/publishers/google/models/m:generateContent"
            ),
            "vertex https://us-east5-aiplatform.googleapis.com/v1beta1/projects/p/locations/us-east5/publishers/google/models/m:generateContent host=\"us-east5-aiplatform.googleapis.com\""
        );
        // A location that is no host name takes the default route.
        assert!(
            routed(&gemini, &[], "/v1/projects/p/locations/a.b/x").starts_with(
                "api-key https://generativelanguage.googleapis.com/v1/projects/p/locations/a.b/x"
            )
        );
        // A keyed official provider is an API-key provider: no routing.
        let keyed = official(App::Codex, Credential::Key("sk-k".into()))?;
        assert!(
            routed(&keyed, &[("chatgpt-account-id", "a")], "/responses")
                .starts_with("- https://api.openai.com/v1/responses")
        );
        // Not official: the base URL, whatever the credential.
        let plain = build(&["http://h:8/v1"])?;
        assert_eq!(
            routed(&plain, &[("chatgpt-account-id", "a")], "/responses"),
            "- http://h:8/v1/responses host=\"h:8\""
        );
        Ok(())
    }
}

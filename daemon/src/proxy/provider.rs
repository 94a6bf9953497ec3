//! The validated, ready-to-use form of a [`ProxyConfig`]: parsed base URLs, prebuilt
//! `Host` and credential headers, a route and a breaker per provider. Requests read
//! it through a `watch` channel, so a config swap never blocks the data path.

use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Uri};

use super::breaker::Breaker;
use super::client::{Route, Upstream};
use super::config::{BreakerPolicy, Credential, ProviderConfig, ProxyConfig, Timeouts};
use super::error::ProxyError;
use super::headers::credential_header;
use super::limits::ClientLimits;

/// The config requests run with.
pub(crate) struct Active {
    pub(crate) providers: Vec<Provider>,
    pub(crate) timeouts: Timeouts,
    pub(crate) max_buffered_body: usize,
    pub(crate) policy: BreakerPolicy,
    pub(crate) limits: ClientLimits,
}

pub(crate) struct Provider {
    pub(crate) name: String,
    base_url: String,
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path without a trailing slash (`""` for a bare host).
    base_path: String,
    /// `Host` for this provider: its authority as written in the base URL.
    pub(crate) host: HeaderValue,
    /// Set for [`Credential::Key`]; `None` passes the client's own headers through.
    pub(crate) credential: Option<(HeaderName, HeaderValue)>,
    pub(crate) breaker: Arc<Breaker>,
    pub(crate) route: Route,
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
            let (Some(scheme), Some(authority)) =
                (base.scheme().cloned(), base.authority().cloned())
            else {
                return Err(invalid(&p, "it must be absolute (scheme://host)"));
            };
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|_| invalid(&p, "the host is not a valid Host header"))?;
            let credential = match &p.credential {
                Credential::Passthrough => None,
                Credential::Key(key) => Some(
                    credential_header(config.app.auth_style(), key).ok_or_else(|| {
                        ProxyError::InvalidKey {
                            provider: p.name.clone(),
                        }
                    })?,
                ),
            };
            let breaker = previous
                .and_then(|prev| {
                    prev.providers
                        .iter()
                        .find(|old| old.name == p.name && old.base_url == p.base_url)
                })
                .map_or_else(|| Arc::new(Breaker::new()), |old| Arc::clone(&old.breaker));
            let route = upstream.route(&base, config.timeouts.connect);
            providers.push(Provider {
                name: p.name,
                base_url: p.base_url,
                scheme,
                authority,
                base_path,
                host,
                credential,
                breaker,
                route,
            });
        }
        Ok(Active {
            providers,
            timeouts: config.timeouts,
            max_buffered_body: config.max_buffered_body,
            policy: config.breaker,
            limits: config.limits,
        })
    }
}

impl Provider {
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
    use crate::apps::App;
    use hyper_util::client::proxy::matcher::Matcher;

    fn provider(url: &str, credential: Credential) -> ProviderConfig {
        ProviderConfig {
            name: "p".into(),
            base_url: url.into(),
            credential,
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
            .map(|p| p.uri_for(Some(&target)).map(|u| u.to_string()))
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
            active.providers[0].uri_for(None)?.to_string(),
            "http://h:8/v1/"
        );
        assert_eq!(
            active.providers[1].uri_for(None)?.to_string(),
            "https://api.example/"
        );
        assert_eq!(active.providers[0].host, "h:8");
        assert_eq!(active.providers[1].host, "api.example");
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
}

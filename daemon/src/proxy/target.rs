//! Where a provider's requests go: its upstream ([`Target`]: scheme, authority,
//! base path, `Host`, route), and for an app's official provider the other
//! upstreams it routes to by credential and path.

use std::ops::Deref;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Uri};

use super::client::{Route, Upstream};
use super::official;
use crate::apps::{self, App, OfficialRoute};

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
pub(super) struct Official {
    pub(super) app: App,
    /// Routes whose upstream is fixed and not the base URL (ChatGPT, Code Assist).
    pub(super) fixed: Vec<(OfficialRoute, Target)>,
    /// How Vertex AI hosts are reached; the host itself comes from the path.
    /// (Decided once for `aiplatform.googleapis.com`: a `NO_PROXY` naming one
    /// regional host alone is not told apart.)
    vertex: Option<Route>,
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
    pub(super) fn new(base: &Uri, base_path: String, route: Route) -> Option<Target> {
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
    pub(super) fn build(app: App, upstream: &Upstream, connect: std::time::Duration) -> Official {
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

    pub(super) fn vertex_target(&self, path: &str) -> Option<Target> {
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

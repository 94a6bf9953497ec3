//! The browser guard: a web page must never be able to spend the user's keys through
//! the local proxy. Browsers send `Origin` on cross-origin requests that may read
//! the answer, and fetch metadata (`Sec-Fetch-Site`, `Sec-Fetch-Mode`) on every
//! request, including the cross-site "no-cors" GETs that carry no `Origin`; a
//! DNS-rebinding page reaches us with its own name in `Host` (or in an
//! absolute-form request target). CLIs do none of that, with one wrinkle: Node's
//! built-in `fetch` (undici) sends `Sec-Fetch-Mode: cors` on every request, alone,
//! where a browser always sends `Sec-Fetch-Site` and `Sec-Fetch-Dest` beside it.

use http::header::{self, HeaderMap, HeaderName};
use http::{HeaderValue, Uri};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");

/// Why a request was refused with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Origin,
    /// Fetch metadata says a browser sent it.
    Browser,
    Host,
    /// An absolute-form request target (`GET http://host:port/…`) names another host.
    Target,
}

impl Rejection {
    pub(crate) fn message(self, port: u16) -> String {
        match self {
            Rejection::Origin => "requests with an Origin header (from web browsers) are refused: \
                                  this proxy only serves local command-line clients"
                .to_owned(),
            Rejection::Browser => "requests a web browser sent (Sec-Fetch-Site/Sec-Fetch-Mode) \
                                   are refused: this proxy only serves local command-line clients"
                .to_owned(),
            Rejection::Host => format!(
                "the Host header must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port}"
            ),
            Rejection::Target => format!(
                "the request target's host must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port}"
            ),
        }
    }
}

/// The accepted `Host` values for one listener, computed once per `serve`.
#[derive(Debug)]
pub(crate) struct Guard {
    port: u16,
    allowed: [String; 3],
}

impl Guard {
    pub(crate) fn new(port: u16) -> Self {
        Guard {
            port,
            allowed: [
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ],
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn check(&self, target: &Uri, headers: &HeaderMap) -> Result<(), Rejection> {
        if headers.contains_key(header::ORIGIN) {
            return Err(Rejection::Origin);
        }
        if from_browser(headers) {
            return Err(Rejection::Browser);
        }
        // Exactly one Host, and it must be a loopback name with our port: two Host
        // headers would let a confused upstream pick the other one.
        let mut hosts = headers.get_all(header::HOST).iter();
        let (Some(host), None) = (hosts.next(), hosts.next()) else {
            return Err(Rejection::Host);
        };
        if !self.allows(host.as_bytes()) {
            return Err(Rejection::Host);
        }
        // Origin-form targets (`/v1/messages`) have no authority: one branch.
        match target.authority() {
            Some(authority) if !self.allows(authority.as_str().as_bytes()) => {
                Err(Rejection::Target)
            }
            _ => Ok(()),
        }
    }

    fn allows(&self, host: &[u8]) -> bool {
        self.allowed
            .iter()
            .any(|ok| ok.as_bytes().eq_ignore_ascii_case(host))
    }
}

/// Whether fetch metadata says a browser sent the request: a cross-site or
/// same-site request, or a browser's navigation, no-cors or CORS request.
/// `Sec-Fetch-Mode: cors` alone is Node's `fetch`, not a browser.
fn from_browser(headers: &HeaderMap) -> bool {
    let browser_mode =
        |mode: &HeaderValue| matches!(mode.as_bytes(), b"navigate" | b"no-cors" | b"cors");
    let mode = headers.get(SEC_FETCH_MODE);
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        // Only browsers send Sec-Fetch-Site.
        return matches!(site.as_bytes(), b"cross-site" | b"same-site")
            || mode.is_some_and(browser_mode);
    }
    match mode.map(HeaderValue::as_bytes) {
        Some(b"navigate" | b"no-cors") => true,
        Some(b"cors") => headers.contains_key(SEC_FETCH_DEST),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn origin_form() -> Uri {
        Uri::from_static("/v1/messages")
    }

    fn with_host(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(host) {
            h.insert(header::HOST, v);
        }
        h
    }

    #[test]
    fn loopback_hosts_with_our_port_pass() {
        let g = Guard::new(15721);
        for ok in [
            "127.0.0.1:15721",
            "localhost:15721",
            "LOCALHOST:15721",
            "[::1]:15721",
        ] {
            assert_eq!(g.check(&origin_form(), &with_host(ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_hosts_ports_origins_and_duplicates_are_refused() {
        let g = Guard::new(15721);
        for bad in [
            "evil.example:15721",
            "127.0.0.1:80",
            "localhost",
            "127.0.0.1",
            "",
        ] {
            assert_eq!(
                g.check(&origin_form(), &with_host(bad)),
                Err(Rejection::Host),
                "{bad:?}"
            );
        }
        assert_eq!(
            g.check(&origin_form(), &HeaderMap::new()),
            Err(Rejection::Host)
        );

        let mut two = with_host("localhost:15721");
        two.append(header::HOST, HeaderValue::from_static("evil:15721"));
        assert_eq!(g.check(&origin_form(), &two), Err(Rejection::Host));

        let mut origin = with_host("localhost:15721");
        origin.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert_eq!(g.check(&origin_form(), &origin), Err(Rejection::Origin));
    }

    fn with_fetch_metadata(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = with_host("127.0.0.1:15721");
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn browsers_are_told_apart_from_node_fetch_by_fetch_metadata() {
        let g = Guard::new(15721);
        let refused = [
            // A cross-site <img>/no-cors GET: no Origin at all.
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "no-cors"),
                ("sec-fetch-dest", "image"),
            ][..],
            &[("sec-fetch-site", "same-site"), ("sec-fetch-mode", "cors")],
            &[
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-mode", "cors"),
            ],
            &[("sec-fetch-site", "none"), ("sec-fetch-mode", "navigate")],
            &[("sec-fetch-site", "cross-site")],
            &[("sec-fetch-mode", "navigate")],
            &[("sec-fetch-mode", "no-cors")],
            &[("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")],
        ];
        for pairs in refused {
            let headers = with_fetch_metadata(pairs);
            assert_eq!(
                g.check(&origin_form(), &headers),
                Err(Rejection::Browser),
                "{pairs:?}"
            );
        }
        // What Node's fetch (Gemini CLI, Claude Code's SDK) sends on every request.
        let node = with_fetch_metadata(&[("sec-fetch-mode", "cors")]);
        assert_eq!(g.check(&origin_form(), &node), Ok(()));
        let user_typed = with_fetch_metadata(&[("sec-fetch-site", "none")]);
        assert_eq!(g.check(&origin_form(), &user_typed), Ok(()));
    }

    #[test]
    fn absolute_form_targets_are_checked_like_host() {
        let g = Guard::new(15721);
        let headers = with_host("127.0.0.1:15721");
        for ok in [
            "http://127.0.0.1:15721/v1/messages",
            "http://LOCALHOST:15721/v1/messages",
        ] {
            assert_eq!(g.check(&Uri::from_static(ok), &headers), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example:15721/v1/messages",
            "http://127.0.0.1:15721@evil.example/v1/messages",
            "http://127.0.0.1/v1/messages",
        ] {
            assert_eq!(
                g.check(&Uri::from_static(bad), &headers),
                Err(Rejection::Target),
                "{bad}"
            );
        }
    }
}

//! Header surgery between the client and the upstream: strip hop-by-hop headers
//! (they describe one connection, not the message), point `Host` at the provider,
//! and swap in a configured key. Everything else passes through untouched.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::apps::AuthStyle;

/// Headers that only mean something on a single connection (RFC 9110 §7.6.1), plus
/// `Expect`: the proxy already answered any `100-continue` itself while reading the
/// body, so the upstream must not wait for a second one.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

/// Client auth headers that a configured key replaces, whatever the app's style, so
/// the user's own credential never reaches a provider it was not meant for.
const CLIENT_AUTH: [HeaderName; 3] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-goog-api-key"),
];

/// Removes hop-by-hop headers: the fixed list, `Keep-Alive`, every `Proxy-*`, and any
/// header the `Connection` header names. One pass over the names; most messages
/// have none of these, and then nothing is hashed, removed or allocated.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    let mut has_connection = false;
    for name in headers.keys() {
        has_connection |= name == header::CONNECTION;
        if is_hop_by_hop(name) {
            doomed.push(name.clone());
        }
    }
    if has_connection {
        for value in headers.get_all(header::CONNECTION) {
            let Ok(text) = value.to_str() else { continue };
            for token in text.split(',') {
                if let Ok(name) = HeaderName::from_bytes(token.trim().as_bytes()) {
                    doomed.push(name);
                }
            }
        }
    }
    for name in &doomed {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    let s = name.as_str();
    HOP_BY_HOP.contains(name) || s == "keep-alive" || s.starts_with("proxy-")
}

/// The header a configured key goes in, built once per config with the value marked
/// sensitive (hyper and `http` then never print it).
pub(crate) fn credential_header(style: AuthStyle, key: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match style {
        AuthStyle::XApiKey => (HeaderName::from_static("x-api-key"), key.to_owned()),
        AuthStyle::Bearer => (header::AUTHORIZATION, format!("Bearer {key}")),
        AuthStyle::GoogApiKey => (HeaderName::from_static("x-goog-api-key"), key.to_owned()),
    };
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// Removes the client's credentials (for a provider of another vendor).
pub(crate) fn strip_client_auth(headers: &mut HeaderMap) {
    for name in &CLIENT_AUTH {
        headers.remove(name);
    }
}

/// Replaces the client's credentials with the provider's key.
pub(crate) fn inject_credential(headers: &mut HeaderMap, credential: &(HeaderName, HeaderValue)) {
    for name in &CLIENT_AUTH {
        headers.remove(name);
    }
    headers.insert(credential.0.clone(), credential.1.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) else {
                panic!("bad test header {k}: {v}");
            };
            h.append(k, v);
        }
        h
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("proxy-authorization", "Basic abc"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-foo"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-custom", "kept"),
            ("anthropic-version", "2023-06-01"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["anthropic-version", "x-custom"]);
    }

    #[test]
    fn key_replaces_every_client_auth_header() {
        for (style, name, value) in [
            (AuthStyle::XApiKey, "x-api-key", "k1"),
            (AuthStyle::Bearer, "authorization", "Bearer k1"),
            (AuthStyle::GoogApiKey, "x-goog-api-key", "k1"),
        ] {
            let mut h = map(&[
                ("authorization", "Bearer client"),
                ("x-api-key", "client"),
                ("x-goog-api-key", "client"),
            ]);
            let cred = credential_header(style, "k1");
            assert!(cred.as_ref().is_some_and(|c| c.1.is_sensitive()));
            if let Some(cred) = cred {
                inject_credential(&mut h, &cred);
            }
            assert_eq!(h.len(), 1, "{style:?}: {h:?}");
            assert_eq!(h.get(name).and_then(|v| v.to_str().ok()), Some(value));
        }
        assert!(credential_header(AuthStyle::Bearer, "bad\nkey").is_none());
    }
}

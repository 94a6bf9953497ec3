//! The headers of one request and of its response, as the inspector shows
//! them: `name: value` lines with every secret masked, bounded per direction.
//! Written once per direction on the data path into one `String` (no map, no
//! per-header allocation), carried on the request's record to the store only.

use http::HeaderMap;

/// At most this many headers per direction; the rest are counted in a marker.
pub(crate) const MAX_HEADERS: usize = 64;
/// At most this many bytes of lines per direction (the marker comes on top).
pub(crate) const MAX_BYTES: usize = 4096;

/// Names whose values are always secrets, whatever they look like.
const SECRET_NAMES: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "cookie",
    "set-cookie",
];

/// Whether a header (lower-case name, as `http` keeps them) carries a secret:
/// the known ones, and any whose name says key, token, secret or auth.
pub(crate) fn is_secret(name: &str) -> bool {
    SECRET_NAMES.contains(&name)
        || ["key", "token", "secret", "auth", "session"]
            .iter()
            .any(|word| name.contains(word))
}

/// A secret's value as shown: an `Authorization` scheme word kept (`Bearer`),
/// then `sk-…abcd` (a short prefix up to its first `-`, and the last four
/// characters) for a long token, `<masked>` for anything short or a cookie.
/// Never more than 4 + 8 characters of the secret.
pub(crate) fn mask(name: &str, value: &str, out: &mut String) {
    if name.ends_with("cookie") {
        out.push_str("<masked>");
        return;
    }
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, token))
            if scheme.len() <= 16 && scheme.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            (Some(scheme), token.trim())
        }
        _ => (None, value.trim()),
    };
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push(' ');
    }
    // A short value shows too large a share of itself in four characters.
    if token.len() < 20 || !token.is_ascii() {
        out.push_str("<masked>");
        return;
    }
    let prefix = token[..8].find('-').map_or("", |at| &token[..=at]);
    out.push_str(prefix);
    out.push('…');
    out.push_str(&token[token.len() - 4..]);
}

/// `headers` as lines, secrets masked: at most [`MAX_HEADERS`] lines and
/// [`MAX_BYTES`] bytes, then a marker saying how many were left out.
pub(crate) fn capture(headers: &HeaderMap) -> String {
    let mut out = String::with_capacity(headers.len() * 40);
    let mut shown = 0;
    for (name, value) in headers {
        if shown == MAX_HEADERS {
            break;
        }
        let name = name.as_str();
        let before = out.len();
        out.push_str(name);
        out.push_str(": ");
        let value = String::from_utf8_lossy(value.as_bytes());
        if is_secret(name) {
            mask(name, &value, &mut out);
        } else {
            out.push_str(&value);
        }
        out.push('\n');
        if out.len() > MAX_BYTES {
            out.truncate(before);
            break;
        }
        shown += 1;
    }
    // `len` counts values, as the loop does.
    let left = headers.len() - shown;
    if left > 0 {
        use std::fmt::Write;
        let _ = writeln!(out, "… {left} more not shown");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn count_lines(text: &str) -> usize {
        text.lines().count()
    }

    fn masked(name: &str, value: &str) -> String {
        let mut out = String::new();
        mask(name, value, &mut out);
        out
    }

    #[test]
    fn secrets_are_named_by_list_and_by_word() {
        for name in [
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "api-key",
            "cookie",
            "set-cookie",
            "proxy-authorization",
            "x-auth-token",
            "x-client-secret",
            "openai-session",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in [
            "content-type",
            "keep-alive",
            "anthropic-version",
            "user-agent",
        ] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn masks_keep_the_scheme_a_prefix_and_four_characters_at_most() {
        let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789WXYZ";
        assert_eq!(masked("x-api-key", key), "sk-…WXYZ");
        assert_eq!(
            masked("authorization", &format!("Bearer {key}")),
            "Bearer sk-…WXYZ"
        );
        assert_eq!(
            masked("x-goog-api-key", "AIzaSyAbcdefghijklmnopqrstu1234"),
            "…1234"
        );
        assert_eq!(masked("authorization", "Bearer short"), "Bearer <masked>");
        assert_eq!(masked("cookie", &format!("session={key}")), "<masked>");
        assert_eq!(masked("x-api-key", "ключ-ключ-ключ-ключ-ключ"), "<masked>");
    }

    #[test]
    fn capture_never_holds_a_secret_and_says_what_it_left_out() {
        let key = "sk-proj-SECRETSECRETSECRETSECRET9876";
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
        headers.insert(
            "x-my-token",
            HeaderValue::from_static("tok_0123456789abcdefghij"),
        );
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let text = capture(&headers);
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains("0123456789"), "{text}");
        assert_eq!(
            text,
            "authorization: Bearer sk-…9876\nx-my-token: …ghij\ncontent-type: application/json\n"
        );

        let mut many = HeaderMap::new();
        for i in 0..100 {
            many.insert(
                http::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        let text = capture(&many);
        assert_eq!(count_lines(&text), MAX_HEADERS + 1);
        assert!(text.ends_with("… 36 more not shown\n"), "{text}");

        let mut big = HeaderMap::new();
        let long = "x".repeat(1000);
        for i in 0..10 {
            big.insert(
                http::HeaderName::from_bytes(format!("x-big{i}").as_bytes()).unwrap(),
                HeaderValue::from_str(&long).unwrap(),
            );
        }
        let text = capture(&big);
        assert!(text.len() <= MAX_BYTES + 40, "{}", text.len());
        assert!(text.ends_with("… 6 more not shown\n"), "{text}");
    }
}

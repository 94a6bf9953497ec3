//! A provider whose URL points back at one of Switchyard's own proxy ports would
//! send each request to itself, again and again, until connections run out.
//! `provider add` refuses such a URL and the worker refuses to forward to one
//! (a port can change after the provider was added).

use http::Uri;

/// The own port `base_url` points at, if it names a loopback host (`127.0.0.0/8`,
/// `localhost`, `::1`, or the unspecified address, which also reaches us) at
/// one of `own_ports`. A URL without a port means the scheme's default.
pub fn own_port(base_url: &str, own_ports: &[u16]) -> Option<u16> {
    let uri: Uri = base_url.trim().parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    if !loopback {
        return None;
    }
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })?;
    own_ports.contains(&port).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_at_our_ports_are_loops() {
        let ours = [15721, 15722, 80];
        for url in [
            "http://127.0.0.1:15721",
            "http://localhost:15722/v1",
            "http://[::1]:15721/",
            "http://127.1.2.3:15721",
            "http://0.0.0.0:15722",
            "http://LOCALHOST",
        ] {
            assert!(own_port(url, &ours).is_some(), "{url}");
        }
        for url in [
            "http://127.0.0.1:11434/v1",
            "https://api.example.com:15721",
            "https://localhost",
            "not a url",
        ] {
            assert_eq!(own_port(url, &ours), None, "{url}");
        }
    }
}

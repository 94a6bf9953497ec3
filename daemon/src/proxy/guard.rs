//! The browser guard: a web page must never be able to spend the user's keys through
//! the local proxy. Browsers always send `Origin` on cross-origin requests, and a
//! DNS-rebinding page reaches us with its own name in `Host`; CLIs do neither.

use http::header::{self, HeaderMap};

/// Why a request was refused with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Origin,
    Host,
}

impl Rejection {
    pub(crate) fn message(self, port: u16) -> String {
        match self {
            Rejection::Origin => "requests with an Origin header (from web browsers) are refused: \
                                  this proxy only serves local command-line clients"
                .to_owned(),
            Rejection::Host => format!(
                "the Host header must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port}"
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

    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        if headers.contains_key(header::ORIGIN) {
            return Err(Rejection::Origin);
        }
        // Exactly one Host, and it must be a loopback name with our port: two Host
        // headers would let a confused upstream pick the other one.
        let mut hosts = headers.get_all(header::HOST).iter();
        let (Some(host), None) = (hosts.next(), hosts.next()) else {
            return Err(Rejection::Host);
        };
        let host = host.as_bytes();
        if self
            .allowed
            .iter()
            .any(|ok| ok.as_bytes().eq_ignore_ascii_case(host))
        {
            Ok(())
        } else {
            Err(Rejection::Host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
            assert_eq!(g.check(&with_host(ok)), Ok(()), "{ok}");
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
            assert_eq!(g.check(&with_host(bad)), Err(Rejection::Host), "{bad:?}");
        }
        assert_eq!(g.check(&HeaderMap::new()), Err(Rejection::Host));

        let mut two = with_host("localhost:15721");
        two.append(header::HOST, HeaderValue::from_static("evil:15721"));
        assert_eq!(g.check(&two), Err(Rejection::Host));

        let mut origin = with_host("localhost:15721");
        origin.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert_eq!(g.check(&origin), Err(Rejection::Origin));
    }
}

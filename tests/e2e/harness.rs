//! The harness itself, without any CLI (these run in `cargo test
//! --workspace`): the CONNECT proxy tunnels listed hosts to the TLS mock and
//! refuses the rest, forwards plain forward-proxy requests, and the mock
//! answers in each API's streaming shape over the test CA's certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::support::connect::ConnectProxy;
use crate::support::mock::Mock;
use crate::support::tls::{OFFICIAL_HOSTS, TestCa};

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Reads the proxy's answer to CONNECT: the head up to the blank line.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).expect("read head") == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn client(ca: &TestCa) -> Arc<ClientConfig> {
    let pem = std::fs::read_to_string(&ca.pem_path).expect("CA PEM");
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(der).expect("CA DER");
    let mut roots = RootCertStore::empty();
    roots.add(der.into()).expect("add CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[test]
fn the_connect_proxy_tunnels_official_hosts_to_the_tls_mock_and_refuses_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new(dir.path());
    let mock = Mock::answering("harness reply", ca.server.clone());
    let proxy = ConnectProxy::tunnelling(&OFFICIAL_HOSTS, mock.tls_port, mock.port);

    let mut refused = connect(proxy.port);
    refused
        .write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .expect("write");
    assert!(read_head(&mut refused).starts_with("HTTP/1.1 403"));

    let mut tcp = connect(proxy.port);
    tcp.write_all(b"CONNECT us-central1-aiplatform.googleapis.com:443 HTTP/1.1\r\n\r\n")
        .expect("write");
    let head = read_head(&mut tcp);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let host = "us-central1-aiplatform.googleapis.com";
    let name = ServerName::try_from(host).expect("name");
    let tls = rustls::ClientConnection::new(client(&ca), name).expect("TLS client");
    let mut tls = rustls::StreamOwned::new(tls, tcp);
    let body = r#"{"contents":[]}"#;
    write!(
        tls,
        "POST /v1/projects/p/locations/us-central1/publishers/google/models/m:streamGenerateContent?alt=sse HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/event-stream"), "{response}");
    assert!(response.contains(r#"data: {"candidates""#), "{response}");
    assert!(response.contains("harness reply"), "{response}");

    let seen = mock.seen_at(":streamGenerateContent");
    assert_eq!(seen.len(), 1, "{}", mock.log());
    assert!(seen[0].tls && seen[0].host == host, "{:?}", seen[0]);
    assert_eq!(proxy.targets(), ["example.com:443", &format!("{host}:443")]);
}

#[test]
fn forward_proxy_requests_for_listed_hosts_reach_the_plain_mock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new(dir.path());
    let mock = Mock::answering("forwarded reply", ca.server.clone());
    let proxy = ConnectProxy::tunnelling(&["api.openai.com"], mock.tls_port, mock.port);
    let body = r#"{"model":"m","stream":true,"messages":[]}"#;
    let mut tcp = connect(proxy.port);
    write!(
        tcp,
        "POST https://api.openai.com/v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    let _ = tcp.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#""delta":{"content":"forwarded reply"}"#),
        "{response}"
    );
    assert!(response.contains("data: [DONE]"), "{response}");
    let seen = mock.seen_at("/v1/chat/completions");
    assert!(
        !seen[0].tls && seen[0].host == "api.openai.com",
        "{:?}",
        seen[0]
    );

    let mut refused = connect(proxy.port);
    refused
        .write_all(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .expect("write");
    assert!(read_head(&mut refused).starts_with("HTTP/1.1 403"));
}

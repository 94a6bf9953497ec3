//! The inspector's detail through the real daemon and worker: a request that
//! carries an API key, a bearer token and a cookie, proxied to a canned
//! upstream, is on record with its queue time and its headers, which the
//! daemon answers to `RequestDetail` masked. The secrets appear nowhere:
//! not in the answer, not in `requests --json`, not in any byte of the
//! database (WAL included) or the log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::canned::Canned;
use common::{Home, wait_for};
use serde_json::Value;
use switchyard_daemon::apps::App;
use switchyard_daemon::client::Client;
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::requests::{Headers, RequestKey};
use switchyard_daemon::protocol::{Reply, Request};

const API_KEY: &str = "sk-ant-api03-Q7secretKEYmiddlePART0123456789abcdWXYZ";
const BEARER: &str = "sk-proj-BEARERsecretMIDDLE9876543210zyxwTUVW";
const COOKIE: &str = "session=COOKIEsecretVALUE55555";

/// Sends one request with the secrets to 127.0.0.1:`port`; returns the status.
fn send(port: u16, path: &str) -> u16 {
    let body = r#"{"model":"claude-canned-1","max_tokens":5,"messages":[]}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         x-api-key: {API_KEY}\r\nAuthorization: Bearer {BEARER}\r\nCookie: {COOKIE}\r\n\
         X-Inspect-Marker: visible-42\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The secrets, whole and by their middles (a mask shows at most an end).
fn assert_no_secret(what: &str, bytes: &[u8]) {
    for secret in [
        API_KEY,
        BEARER,
        COOKIE,
        "secretKEYmiddle",
        "BEARERsecret",
        "COOKIEsecret",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{what} holds {secret}"
        );
    }
}

fn detail(home: &Home, key: RequestKey) -> Option<Headers> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let paths = Paths::under(home.path().to_path_buf());
        let mut client = Client::connect(&paths, "test").await.unwrap();
        match client.request(Request::RequestDetail(key)).await.unwrap() {
            Reply::RequestDetail(headers) => headers.map(|h| *h),
            other => panic!("not a detail: {other:?}"),
        }
    })
}

#[test]
fn headers_are_on_record_masked_and_no_secret_reaches_the_disk() {
    let upstream = Canned::start();
    let home = Home::new();
    home.start();
    let port = home.route("claude", upstream.port);
    home.ok(&["enable", "claude"]);
    let mut status = 0;
    wait_for("the proxy to answer", Duration::from_secs(20), || {
        status = send(port, "/v1/messages");
        status == 200
    });

    let mut row = Value::Null;
    wait_for("the request on record", Duration::from_secs(20), || {
        let out = home.ok(&["requests", "--json", "--app", "claude"]);
        assert_no_secret("requests --json", out.as_bytes());
        match out.lines().rev().find(|l| l.contains("\"status\":200")) {
            Some(line) => {
                row = serde_json::from_str(line).unwrap();
                true
            }
            None => false,
        }
    });
    assert!(row["queue_ms"].is_u64(), "queue_ms on record: {row}");
    assert!(
        row["queue_ms"].as_u64() <= row["latency_ms"].as_u64(),
        "{row}"
    );

    let key = RequestKey {
        app: App::Claude,
        time_ms: row["time_ms"].as_u64().unwrap(),
        method: row["method"].as_str().unwrap().to_owned(),
        path: row["path"].as_str().unwrap().to_owned(),
        latency_ms: row["latency_ms"].as_u64().unwrap(),
    };
    let headers = detail(&home, key.clone()).expect("headers on record");
    let request = &headers.request;
    assert!(
        request.contains("x-inspect-marker: visible-42\n"),
        "{request}"
    );
    assert!(
        request.contains("content-type: application/json\n"),
        "{request}"
    );
    assert!(request.contains("x-api-key: sk-…WXYZ\n"), "{request}");
    assert!(
        request.contains("authorization: Bearer sk-…TUVW\n"),
        "{request}"
    );
    assert!(request.contains("cookie: <masked>\n"), "{request}");
    assert!(
        headers.response.contains("content-type: application/json"),
        "{}",
        headers.response
    );
    assert_no_secret("the detail", format!("{headers:?}").as_bytes());

    // Another request's key finds nothing.
    let missing = RequestKey {
        time_ms: key.time_ms + 1,
        ..key
    };
    assert_eq!(detail(&home, missing), None);

    // Nothing under the home — database, its WAL, the log — holds a secret.
    let mut files = vec![home.path().to_path_buf()];
    let mut marker_stored = false;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert_no_secret(&path.display().to_string(), &bytes);
            marker_stored |= bytes.windows(10).any(|w| w == b"visible-42");
        }
    }
    assert!(
        marker_stored,
        "the headers were read from a file under the home"
    );
}

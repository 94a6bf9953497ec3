//! Bad input on the daemon socket: each gets a clear error (where a frame can
//! carry one) and a closed connection, while the daemon and other clients
//! carry on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::Home;
use switchyard_daemon::protocol::{
    ClientMessage, ErrorKind, PROTOCOL_VERSION, Request, ServerMessage,
};

fn connect(home: &Home) -> UnixStream {
    let stream = UnixStream::connect(home.socket()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn send(stream: &mut UnixStream, msg: &ClientMessage) {
    let payload = postcard::to_stdvec(msg).expect("encode");
    stream.write_all(&frame(&payload)).expect("write");
}

/// Reads one frame, or `None` when the daemon closed the connection.
fn read(stream: &mut UnixStream) -> Option<ServerMessage> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut payload).ok()?;
    Some(postcard::from_bytes(&payload).expect("decodable server frame"))
}

fn expect_error(stream: &mut UnixStream, kind: ErrorKind, needle: &str) {
    match read(stream) {
        Some(ServerMessage::Error(err)) => {
            assert_eq!(err.kind, kind, "{err:?}");
            assert!(
                err.message.contains(needle),
                "{:?} should mention {needle:?}",
                err.message
            );
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    assert!(
        read(stream).is_none(),
        "the connection is closed after the error"
    );
}

fn hello(stream: &mut UnixStream) {
    send(
        stream,
        &ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: "test".into(),
        },
    );
    assert!(matches!(read(stream), Some(ServerMessage::Welcome { .. })));
}

fn assert_daemon_healthy(home: &Home) {
    assert!(
        home.run(&["status"]).status.success(),
        "the daemon still answers"
    );
}

#[test]
fn garbage_bytes_get_an_error_and_a_close() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    expect_error(&mut stream, ErrorKind::BadRequest, "limit");
    assert_daemon_healthy(&home);
}

#[test]
fn a_two_gib_length_prefix_is_refused_at_once() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    stream
        .write_all(&(2u32 << 30).to_le_bytes())
        .expect("write");
    expect_error(&mut stream, ErrorKind::BadRequest, "1048576");
    assert_daemon_healthy(&home);
}

#[test]
fn an_undecodable_frame_names_the_protocol() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    stream
        .write_all(&frame(&[0xff, 0xff, 0xff, 0xff, 0xff]))
        .expect("write");
    expect_error(&mut stream, ErrorKind::BadRequest, "undecodable");
    assert_daemon_healthy(&home);
}

#[test]
fn a_truncated_frame_then_hang_up_leaves_the_daemon_serving() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    let payload = postcard::to_stdvec(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        client: "t".into(),
    })
    .expect("encode");
    let full = frame(&payload);
    stream.write_all(&full[..full.len() - 2]).expect("write");
    drop(stream);
    assert_daemon_healthy(&home);
}

#[test]
fn an_unknown_request_is_refused() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    hello(&mut stream);
    // ClientMessage::Request (variant 1), id 7, request variant 99: from a future version.
    stream.write_all(&frame(&[1, 7, 99])).expect("write");
    expect_error(&mut stream, ErrorKind::BadRequest, "unknown request");
    assert_daemon_healthy(&home);
}

#[test]
fn another_protocol_version_is_named_in_the_error() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    send(
        &mut stream,
        &ClientMessage::Hello {
            protocol: 999,
            client: "future".into(),
        },
    );
    expect_error(
        &mut stream,
        ErrorKind::VersionMismatch,
        &format!("protocol 999, this daemon speaks protocol {PROTOCOL_VERSION}"),
    );
    assert_daemon_healthy(&home);
}

#[test]
fn a_request_before_hello_is_refused() {
    let home = Home::new();
    home.start();
    let mut stream = connect(&home);
    send(
        &mut stream,
        &ClientMessage::Request {
            id: 1,
            request: Request::Status,
        },
    );
    expect_error(&mut stream, ErrorKind::BadRequest, "Hello");
}

#[test]
fn a_silent_client_is_timed_out_without_blocking_others() {
    let home = Home::new();
    home.start();
    let mut silent = connect(&home);
    // Meanwhile others are served at once.
    assert_daemon_healthy(&home);
    expect_error(&mut silent, ErrorKind::Timeout, "no Hello");
}

#[test]
fn two_hundred_connections_at_once() {
    let home = Home::new();
    home.start();
    let mut streams: Vec<UnixStream> = (0..200).map(|_| connect(&home)).collect();
    for stream in &mut streams {
        send(
            stream,
            &ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                client: "many".into(),
            },
        );
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        assert!(matches!(read(stream), Some(ServerMessage::Welcome { .. })));
        send(
            stream,
            &ClientMessage::Request {
                id: i as u64,
                request: Request::Ping,
            },
        );
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        match read(stream) {
            Some(ServerMessage::Response { id, result: Ok(_) }) => assert_eq!(id, i as u64),
            other => panic!("connection {i}: {other:?}"),
        }
    }
    assert_daemon_healthy(&home);
}

#[test]
fn a_client_of_another_uid_is_refused_and_logged() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let home = Home::new();
    home.start();
    // Open the door that the 0700 directory normally shuts, so the peer
    // check itself is what refuses.
    use std::os::unix::fs::PermissionsExt;
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(home.path(), open.clone()).expect("chmod home");
    std::fs::set_permissions(home.path().join("run"), open.clone()).expect("chmod run");
    std::fs::set_permissions(home.socket(), open).expect("chmod socket");
    let hello = frame(
        &postcard::to_stdvec(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            client: "other".into(),
        })
        .expect("encode"),
    );
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\ns.sendall(bytes({:?}))\ns.settimeout(10)\nd=b''\nwhile True:\n  c=s.recv(4096)\n  if not c: break\n  d+=c\nsys.stdout.write(d.decode('latin1'))\n",
        home.socket().display().to_string(),
        hello
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .uid(65534)
        .gid(65534)
        .output();
    let Ok(out) = out else {
        eprintln!("skipped: python3 is not available");
        return;
    };
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        reply.contains("uid 65534 may not use it"),
        "stdout {reply:?} stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        home.ok(&["logs"])
            .contains("refused a client of another user")
    );
    assert_daemon_healthy(&home);
}

/// Issue 16, bug 10: completions offer what a person types, never the
/// internals (`--daemon`, `--detached`, `worker`), in every shell.
#[test]
fn completions_hide_the_internals() {
    let home = common::Home::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = home.ok(&["completions", shell]);
        // `service install`'s description names the command it writes.
        let script = script.replace("switchyard --daemon", "");
        for hidden in ["--detached", "--daemon", "worker"] {
            assert!(!script.contains(hidden), "{shell} offers {hidden}");
        }
        for shown in ["enable", "takeover", "base-url", "presets"] {
            assert!(script.contains(shown), "{shell} lacks {shown}");
        }
    }
}

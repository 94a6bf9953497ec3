//! Sends N requests (`Ping`, or `Status` with `--status`) to the daemon of
//! `$SWITCHYARD_HOME` over one connection, as raw frames, and exits: a fixed
//! load for counting the daemon's instructions per request under callgrind,
//! which gives the same figure on a busy machine as on a quiet one.
//!
//! ```sh
//! SWITCHYARD_HOME=/tmp/h valgrind --tool=callgrind target/release/switchyard --daemon &
//! SWITCHYARD_HOME=/tmp/h target/release/examples/daemon_pings 10000
//! SWITCHYARD_HOME=/tmp/h target/release/switchyard daemon stop
//! ```

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;

use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::{ClientMessage, PROTOCOL_VERSION, Request};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let mut count: usize = 1;
    let mut request = Request::Ping;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--status" => request = Request::Status,
            n => count = n.parse().map_err(|e| format!("count {n:?}: {e}"))?,
        }
    }
    let paths = Paths::from_env()?;
    let mut daemon = UnixStream::connect(paths.socket())
        .map_err(|e| format!("no daemon at {}: {e}", paths.socket().display()))?;
    let mut replies = BufReader::new(daemon.try_clone()?);
    daemon.write_all(&frame(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        client: "daemon_pings".into(),
    })?)?;
    read_frame(&mut replies)?;
    let request = frame(&ClientMessage::Request { id: 1, request })?;
    for _ in 0..count {
        daemon.write_all(&request)?;
        read_frame(&mut replies)?;
    }
    Ok(())
}

fn frame(msg: &ClientMessage) -> Result<Vec<u8>, BoxError> {
    let payload = postcard::to_stdvec(msg)?;
    let mut frame = u32::try_from(payload.len())?.to_le_bytes().to_vec();
    frame.extend_from_slice(&payload);
    Ok(frame)
}

fn read_frame(replies: &mut BufReader<UnixStream>) -> Result<(), BoxError> {
    let mut len = [0u8; 4];
    replies.read_exact(&mut len)?;
    let mut payload = vec![0u8; u32::from_le_bytes(len) as usize];
    replies.read_exact(&mut payload)?;
    Ok(())
}

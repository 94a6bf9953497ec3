//! A mock upstream on 127.0.0.1 that answers every API format with canned
//! responses reporting known usage, so tests can check that what Switchyard
//! records equals, to the token, what the upstream said.
//!
//! The format comes from the path (`…/messages`: Anthropic, `…/responses`:
//! OpenAI Responses, `…/chat/completions`: Chat Completions,
//! `…:generateContent` / `…:streamGenerateContent`: Gemini); the query's
//! `mode=` picks the shape:
//!
//! | mode | answer |
//! |---|---|
//! | `json` | one JSON body with usage |
//! | `sse` | an event stream with usage where that vendor puts it |
//! | `json-gzip`, `sse-gzip` | the same, `Content-Encoding: gzip`, the compressed bytes split across frames |
//! | `cut` | the stream's first event, then the connection breaks mid-body |
//! | `hang` | the stream's first event, then silence (for a client that leaves) |
//! | `malformed` | an event stream whose usage event is broken JSON |
//! | `absurd` | a JSON body whose counts are negative and above 2^53 |
//! | `nonjson` | `application/json` that is not JSON |

use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The tokens each canned answer reports, normalised as Switchyard records
/// them: (input, output, cache read, cache write, reasoning).
pub type Expected = (u64, u64, u64, u64, Option<u64>);

/// Anthropic: `input_tokens` 11 (cache excluded already), output 22, cache
/// read 44, cache write 33; no reasoning count.
pub const ANTHROPIC: Expected = (11, 22, 44, 33, None);
/// Responses: input 100 of which 40 cached, output 50 of which 20 reasoning.
pub const RESPONSES: Expected = (60, 50, 40, 0, Some(20));
/// Chat Completions: prompt 70 of which 30 cached, completion 25 of which 5 reasoning.
pub const CHAT: Expected = (40, 25, 30, 0, Some(5));
/// Gemini: prompt 90 of which 10 cached, candidates 31 plus 9 thoughts (last report).
pub const GEMINI: Expected = (80, 40, 10, 0, Some(9));

pub struct Canned {
    pub port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl Canned {
    pub fn start() -> Canned {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind canned upstream");
        let port = listener.local_addr().expect("addr").port();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        |req: Request<hyper::body::Incoming>| async move {
                            let path = req.uri().path().to_owned();
                            let mode = req
                                .uri()
                                .query()
                                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("mode=")))
                                .unwrap_or("json")
                                .to_owned();
                            // Read the request body before answering.
                            let _ = req.into_body().collect().await;
                            Ok::<_, Infallible>(answer(&path, &mode))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Canned {
            port,
            _runtime: runtime,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Vendor {
    Anthropic,
    Responses,
    Chat,
    Gemini,
}

impl Vendor {
    fn of(path: &str) -> Vendor {
        if path.ends_with("/messages") {
            Vendor::Anthropic
        } else if path.ends_with("/responses") {
            Vendor::Responses
        } else if path.ends_with("/chat/completions") {
            Vendor::Chat
        } else {
            Vendor::Gemini
        }
    }

    /// A complete JSON answer.
    pub fn json(self) -> String {
        match self {
            Vendor::Anthropic => r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-canned-1","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":11,"cache_creation_input_tokens":33,"cache_read_input_tokens":44,"output_tokens":22}}"#.to_owned(),
            Vendor::Responses => r#"{"id":"resp_1","object":"response","model":"gpt-canned","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":150}}"#.to_owned(),
            Vendor::Chat => r#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-canned","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":70,"completion_tokens":25,"total_tokens":95,"prompt_tokens_details":{"cached_tokens":30},"completion_tokens_details":{"reasoning_tokens":5}}}"#.to_owned(),
            Vendor::Gemini => r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":90,"candidatesTokenCount":31,"cachedContentTokenCount":10,"thoughtsTokenCount":9,"totalTokenCount":130},"modelVersion":"gemini-canned"}"#.to_owned(),
        }
    }

    /// An event stream, one string per event.
    pub fn events(self) -> Vec<String> {
        let e = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
        let d = |data: &str| format!("data: {data}\n\n");
        match self {
            Vendor::Anthropic => vec![
                e(
                    "message_start",
                    r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-canned-1","content":[],"usage":{"input_tokens":11,"cache_creation_input_tokens":33,"cache_read_input_tokens":44,"output_tokens":1}}}"#,
                ),
                e(
                    "content_block_start",
                    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                ),
                e(
                    "content_block_delta",
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi, the usage is {\"output_tokens\":999}"}}"#,
                ),
                e(
                    "content_block_stop",
                    r#"{"type":"content_block_stop","index":0}"#,
                ),
                e(
                    "message_delta",
                    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":22}}"#,
                ),
                e("message_stop", r#"{"type":"message_stop"}"#),
            ],
            Vendor::Responses => vec![
                e(
                    "response.created",
                    r#"{"type":"response.created","response":{"id":"resp_1","model":"gpt-canned","usage":null}}"#,
                ),
                e(
                    "response.output_text.delta",
                    r#"{"type":"response.output_text.delta","delta":"hi"}"#,
                ),
                e(
                    "response.completed",
                    r#"{"type":"response.completed","response":{"id":"resp_1","model":"gpt-canned","usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":150}}}"#,
                ),
            ],
            Vendor::Chat => vec![
                d(
                    r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-canned","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}],"usage":null}"#,
                ),
                d(
                    r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-canned","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
                ),
                // The `stream_options.include_usage` chunk: no choices, the usage.
                d(
                    r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-canned","choices":[],"usage":{"prompt_tokens":70,"completion_tokens":25,"total_tokens":95,"prompt_tokens_details":{"cached_tokens":30},"completion_tokens_details":{"reasoning_tokens":5}}}"#,
                ),
                d("[DONE]"),
            ],
            Vendor::Gemini => vec![
                d(
                    r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"h"}]}}],"usageMetadata":{"promptTokenCount":90,"candidatesTokenCount":1,"cachedContentTokenCount":10},"modelVersion":"gemini-canned"}"#,
                ),
                d(
                    r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"i"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":90,"candidatesTokenCount":31,"cachedContentTokenCount":10,"thoughtsTokenCount":9,"totalTokenCount":130},"modelVersion":"gemini-canned"}"#,
                ),
            ],
        }
    }

    /// The whole body a `mode` answers with (before any compression).
    pub fn body(self, mode: &str) -> Vec<u8> {
        match mode {
            "sse" | "sse-gzip" => self.events().concat().into_bytes(),
            "malformed" => {
                let mut events = self.events();
                // The event that carries the (final) usage, broken mid-object.
                let at = match self {
                    Vendor::Anthropic => 4,
                    Vendor::Responses => 2,
                    Vendor::Chat => 2,
                    Vendor::Gemini => 1,
                };
                events[at] = events[at].replacen("\"usage", "\"usage\":{\"oops\"", 1);
                events.concat().into_bytes()
            }
            "absurd" => self
                .json()
                .replace(":11,", ":-11,")
                .replace(":100,", ":-100,")
                .replace(":70,", ":9007199254740993,")
                .replace(":90,", ":-90,")
                .into_bytes(),
            "nonjson" => b"this is not JSON {\"usage\": at all".to_vec(),
            _ => self.json().into_bytes(),
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

type Chunk = Result<Frame<Bytes>, std::io::Error>;

fn answer(path: &str, mode: &str) -> Response<BoxBody<Bytes, std::io::Error>> {
    let vendor = Vendor::of(path);
    let sse = matches!(mode, "sse" | "sse-gzip" | "cut" | "hang" | "malformed");
    let chunks: Vec<Vec<u8>> = match mode {
        "sse" | "malformed" => vendor
            .body(mode)
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect(),
        "json-gzip" | "sse-gzip" => {
            // Compressed bytes in three frames split at arbitrary points.
            let packed = gzip(&vendor.body(mode));
            let third = packed.len() / 3;
            vec![
                packed[..third].to_vec(),
                packed[third..2 * third].to_vec(),
                packed[2 * third..].to_vec(),
            ]
        }
        "cut" | "hang" => vec![vendor.events()[0].clone().into_bytes()],
        _ => vec![vendor.body(mode)],
    };
    let ending: Option<Chunk> = match mode {
        "cut" => Some(Err(std::io::Error::other("cut on purpose"))),
        _ => None,
    };
    let hang = mode == "hang";
    let frames = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::io::Error>(Frame::data(Bytes::from(c)))),
    );
    let tail = futures::stream::unfold((ending, hang), |(ending, hang)| async move {
        if hang {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return None;
        }
        ending.map(|e| (e, (None, false)))
    });
    // A small pause between frames, so they travel as separate reads.
    let paced = futures::StreamExt::then(
        futures::StreamExt::chain(frames, tail),
        |frame| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            frame
        },
    );
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(paced)));
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        if sse {
            "text/event-stream"
        } else {
            "application/json"
        }
        .parse()
        .expect("header"),
    );
    if mode.ends_with("gzip") {
        headers.insert("content-encoding", "gzip".parse().expect("header"));
    }
    response
}

/// One blocking HTTP/1.1 request to 127.0.0.1:`port` (closing the
/// connection after): the status and the body exactly as received,
/// de-chunked.
pub fn request(port: u16, path: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad head: {head}")))?;
    let rest = &raw[end + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Ok((status, body))
}

/// The data of a chunked body (as much as arrived).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size else { break };
        rest = &rest[line_end + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// The gzip-decoded form of `bytes`, to compare with what was sent.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
    out
}

//! The benchmark yardstick: the least a WAMP echo server on serverwamp's
//! own stack can do.
//!
//! It speaks just enough WAMP to serve `bench.echo`: HELLO is answered
//! with WELCOME, every CALL with a RESULT carrying the call's own args and
//! kwargs, GOODBYE with GOODBYE. There are no sessions, realms, routing
//! tables, handlers, outbound queues or writer tasks: one task per
//! connection reads a frame, decodes it, encodes the answer and writes it.
//! Everything it does use is what serverwamp uses: tokio, tokio-tungstenite
//! with the same buffer settings as serverwamp's `WebSocketSettings`
//! defaults (4 KiB read and write buffers, 16 MiB message and frame
//! limits), and the `serverwamp::protocol` codecs with the same validation.
//! Like serverwamp, answers are fed to the socket and flushed once no
//! received frame is waiting.
//!
//! ```text
//! cargo run --release --example echo_baseline -- --listen 127.0.0.1:0
//! ```
//!
//! prints `listening on ws://127.0.0.1:PORT/ws`. By default the WebSocket
//! handshake is tokio-tungstenite's own (`accept_hdr_async`) on the TCP
//! socket; `--via-hyper` instead upgrades through a hyper HTTP/1.1
//! connection as serverwamp does under axum, so that the cost of the
//! upgraded (boxed) I/O can be told apart from the cost of serverwamp.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use futures_util::{FutureExt, SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serverwamp::protocol::id::random_id;
use serverwamp::protocol::message::{
    ErrorMessage, Goodbye, MessageType, Payload, ResultDetails, ResultMessage, ValidationRules,
    Welcome, WelcomeDetails,
};
use serverwamp::protocol::well_known::{close, error};
use serverwamp::protocol::{Codec, Dict, Message, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as WsRequest};
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Bytes, Utf8Bytes};

/// The one procedure this server answers.
const PROCEDURE: &str = "bench.echo";

/// Command line of the baseline server.
#[derive(Parser, Debug)]
#[command(about = "Minimal WAMP echo server: the yardstick for serverwamp benchmarks")]
struct Options {
    /// Address to serve WebSocket (`/ws`) on; port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Upgrade through hyper's HTTP/1.1 server (as serverwamp under axum)
    /// instead of tokio-tungstenite's own handshake.
    #[arg(long)]
    via_hyper: bool,
    /// Leave Nagle's algorithm on (no TCP_NODELAY). By default accepted
    /// sockets get TCP_NODELAY, as serverwamp's own listener (the demo's)
    /// gives them: the two then send alike. With Nagle, pipelined 4 KiB
    /// answers go out in fewer, larger segments.
    #[arg(long)]
    nagle: bool,
    /// Tokio worker threads (default: the CPUs this process may use).
    #[arg(long)]
    threads: Option<usize>,
}

/// serverwamp's `WebSocketSettings` defaults (src/transport/websocket.rs).
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(16 * 1024 * 1024))
        .max_frame_size(Some(16 * 1024 * 1024))
}

/// The codec of the first WAMP subprotocol the client offers.
fn negotiate(headers: &HeaderMap) -> Option<Codec> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|item| Codec::from_subprotocol(item.trim()))
}

/// Reports a problem on stderr.
#[allow(clippy::print_stderr)] // reason: diagnostics of a command-line tool
fn warn(message: &str) {
    eprintln!("echo_baseline: {message}");
}

/// Serves WAMP on an open WebSocket until the client leaves.
async fn serve_wamp<S>(mut ws: WebSocketStream<S>, mut codec: Codec)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let rules = ValidationRules::default();
    let text = codec.serialization().is_text();
    let mut inbox = Vec::new();
    let mut unflushed = false;
    let mut ready = None;
    loop {
        let next = match ready.take() {
            Some(next) => next,
            None => {
                if unflushed {
                    if ws.flush().await.is_err() {
                        return;
                    }
                    unflushed = false;
                }
                ws.next().await
            }
        };
        let frame = match next {
            Some(Ok(frame)) => frame,
            Some(Err(_)) | None => return,
        };
        let bytes = match frame {
            tungstenite::Message::Text(text) => Bytes::from(text),
            tungstenite::Message::Binary(data) => data,
            // tungstenite answers pings and closes by itself.
            _ => continue,
        };
        if codec.decode_frame(&bytes, &rules, &mut inbox).is_err() {
            return;
        }
        let mut goodbye = false;
        for message in inbox.drain(..) {
            let Some(reply) = answer(message, &mut goodbye) else {
                continue;
            };
            let mut out = Vec::with_capacity(bytes.len() + 16);
            if codec.encode_frame(&reply, &mut out).is_err() {
                return;
            }
            let frame = if text {
                match String::from_utf8(out) {
                    Ok(out) => tungstenite::Message::Text(Utf8Bytes::from(out)),
                    Err(_) => return,
                }
            } else {
                tungstenite::Message::Binary(Bytes::from(out))
            };
            if ws.feed(frame).await.is_err() {
                return;
            }
            unflushed = true;
        }
        if goodbye {
            let _ = ws.close(None).await;
            return;
        }
        if unflushed {
            ready = ws.next().now_or_never();
        }
    }
}

/// The reply to one message, if any; sets `goodbye` when the client left.
fn answer(message: Message, goodbye: &mut bool) -> Option<Message> {
    match message {
        Message::Hello(hello) => {
            let session = random_id();
            let mut dealer = Dict::new();
            dealer.insert("features".to_owned(), Value::Dict(Dict::new()));
            let mut roles = Dict::new();
            roles.insert("dealer".to_owned(), Value::Dict(dealer));
            Some(Message::Welcome(Welcome {
                session,
                details: WelcomeDetails {
                    realm: Some(hello.realm),
                    roles: Some(roles),
                    agent: Some("serverwamp-echo-baseline".to_owned()),
                    authid: Some(session.to_string()),
                    authrole: Some("anonymous".to_owned()),
                    authmethod: Some("anonymous".to_owned()),
                    authprovider: Some("static".to_owned()),
                    ..WelcomeDetails::default()
                },
            }))
        }
        Message::Call(call) if call.procedure == PROCEDURE => {
            Some(Message::Result(ResultMessage {
                request: call.request,
                details: ResultDetails::default(),
                payload: call.payload,
            }))
        }
        Message::Call(call) => Some(Message::Error(ErrorMessage {
            request_type: MessageType::Call,
            request: call.request,
            details: Default::default(),
            error: error::NO_SUCH_PROCEDURE.to_owned(),
            payload: Payload::default(),
        })),
        Message::Goodbye(_) => {
            *goodbye = true;
            Some(Message::Goodbye(Goodbye {
                details: Default::default(),
                reason: close::GOODBYE_AND_OUT.to_owned(),
            }))
        }
        _ => None,
    }
}

/// One connection, with tokio-tungstenite's own handshake.
async fn serve_direct(stream: TcpStream) {
    let mut chosen = None;
    // reason: the callback's signature is tungstenite's `Callback`.
    #[allow(clippy::result_large_err)]
    let callback = |request: &WsRequest, mut response: tungstenite::handshake::server::Response| {
        let Some(codec) = negotiate(request.headers()) else {
            let mut refusal = ErrorResponse::new(Some("no WAMP subprotocol offered".to_owned()));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        };
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(codec.subprotocol()),
        );
        chosen = Some(codec);
        Ok(response)
    };
    let accepted =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(websocket_config()))
            .await;
    match (accepted, chosen) {
        (Ok(ws), Some(codec)) => serve_wamp(ws, codec).await,
        (Err(e), _) => warn(&format!("handshake failed: {e}")),
        (Ok(_), None) => warn("handshake accepted without a subprotocol"),
    }
}

/// The HTTP side of `--via-hyper`: answers the upgrade and serves WAMP on
/// the upgraded connection in a task of its own.
fn upgrade(mut request: Request<Incoming>) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    let codec = negotiate(request.headers());
    let accept = request
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| derive_accept_key(key.as_bytes()))
        .and_then(|accept| HeaderValue::try_from(accept).ok());
    let (Some(codec), Some(accept)) = (codec, accept) else {
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(websocket_config()),
                )
                .await;
                serve_wamp(ws, codec).await;
            }
            Err(e) => warn(&format!("upgrade failed: {e}")),
        }
    });
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(codec.subprotocol()),
    );
    response
}

/// One connection, upgraded through hyper.
async fn serve_hyper(stream: TcpStream) {
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        Ok::<_, Infallible>(upgrade(request))
    });
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        warn(&format!("HTTP connection failed: {e}"));
    }
}

#[allow(clippy::print_stdout)] // reason: the contract's "listening on" line
async fn run(options: Options) -> std::io::Result<()> {
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on ws://{addr}/ws");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait and go on.
                warn(&format!("accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if !options.nagle {
            let _ = stream.set_nodelay(true);
        }
        if options.via_hyper {
            tokio::spawn(serve_hyper(stream));
        } else {
            tokio::spawn(serve_direct(stream));
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = options.threads {
        builder.worker_threads(threads.clamp(1, 64));
    }
    let result = builder
        .build()
        .and_then(|runtime| runtime.block_on(run(options)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

//! The one-port listener over real sockets on 127.0.0.1 (and a Unix
//! socket): RawSocket, WebSocket and plain HTTP side by side, told apart by
//! their first byte, and what garbage and silence do.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serde_json::json;
use serverwamp::protocol::message::ValidationRules;
use serverwamp::protocol::{Message, Serialization, Value};
use serverwamp::rpc::{RpcResult, RpcRouteSet};
use serverwamp::transport::listener::{self, ServeOptions, Server};
use serverwamp::{Application, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test waits for anything it expects.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What a session knows of its transport, for the tests to check.
async fn transport_info(session: Session) -> RpcResult {
    let transport = session.transport();
    RpcResult::new()
        .kwarg("kind", format!("{:?}", transport.kind()))
        .kwarg("peer", transport.peer_address().to_string())
        .kwarg("secure", transport.is_secure())
        .kwarg("path", transport.path().to_owned())
}

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes.route("transport.info", transport_info);
    let mut app = Application::new();
    app.add_routes(routes);
    app
}

/// A fallback answering `GET /health` with `ok` and anything else with 404.
async fn health(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = if request.uri().path() == "/health" {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::NOT_FOUND, "no such page")
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    Ok(response)
}

/// Serves the test application on a free port.
async fn start(options: ServeOptions) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(listener::serve(app(), listener, options));
    addr
}

/// A WAMP client over any transport.
trait Wamp {
    async fn send(&mut self, message: serde_json::Value);
    /// The next message; `None` once the connection is closed.
    async fn recv(&mut self) -> Option<Message>;

    /// HELLO, and the router's answer.
    async fn hello(&mut self, realm: &str) -> Message {
        self.send(json!([1, realm, {"roles": {"caller": {}}}]))
            .await;
        self.recv().await.expect("an answer to HELLO")
    }

    /// Calls `transport.info`; its keyword results.
    async fn transport_info(&mut self) -> serde_json::Map<String, serde_json::Value> {
        self.send(json!([48, 7, {}, "transport.info"])).await;
        match self.recv().await {
            Some(Message::Result(result)) => {
                assert_eq!(result.request.get(), 7);
                let kwargs = result.payload.kwargs().expect("keyword results");
                kwargs
                    .iter()
                    .map(|(key, value)| (key.clone(), json_of(value)))
                    .collect()
            }
            other => panic!("expected RESULT, got {other:?}"),
        }
    }
}

fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::Str(text) => json!(text),
        Value::Bool(flag) => json!(flag),
        other => json!(format!("{other:?}")),
    }
}

fn welcome(message: &Message) {
    assert!(
        matches!(message, Message::Welcome(_)),
        "expected WELCOME, got {message:?}"
    );
}

/// A RawSocket client.
struct RawClient<S> {
    stream: S,
    serialization: Serialization,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawClient<S> {
    /// Performs the handshake: receive up to 16 MiB (length 0xF), in
    /// `serialization` (spec, "RawSocket Transport": 1 JSON, 2 MsgPack,
    /// 3 CBOR).
    async fn connect(mut stream: S, serialization: Serialization) -> Self {
        let code = match serialization {
            Serialization::Json => 1,
            Serialization::MsgPack => 2,
            Serialization::Cbor => 3,
        };
        stream
            .write_all(&[0x7F, 0xF0 | code, 0, 0])
            .await
            .expect("send the handshake");
        let mut reply = [0; 4];
        tokio::time::timeout(TIMEOUT, stream.read_exact(&mut reply))
            .await
            .expect("a handshake reply in time")
            .expect("a handshake reply");
        assert_eq!(reply[0], 0x7F, "{reply:02x?}");
        assert_eq!(
            reply[1] & 0x0F,
            code,
            "the serializer is echoed: {reply:02x?}"
        );
        RawClient {
            stream,
            serialization,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wamp for RawClient<S> {
    async fn send(&mut self, message: serde_json::Value) {
        let mut payload = Vec::new();
        self.serialization
            .encode_into(&message, &mut payload)
            .expect("the message encodes");
        let length = u32::try_from(payload.len()).expect("a short message");
        let mut frame = length.to_be_bytes().to_vec();
        frame[0] = 0; // a regular WAMP message
        frame.extend_from_slice(&payload);
        self.stream.write_all(&frame).await.expect("send a frame");
    }

    async fn recv(&mut self) -> Option<Message> {
        loop {
            let mut header = [0; 4];
            tokio::time::timeout(TIMEOUT, self.stream.read_exact(&mut header))
                .await
                .expect("a frame in time")
                .ok()?;
            let length = u32::from_be_bytes([0, header[1], header[2], header[3]]);
            let mut payload = vec![0; usize::try_from(length).expect("a length")];
            self.stream.read_exact(&mut payload).await.ok()?;
            if header[0] & 0x07 != 0 {
                continue; // a PING or PONG
            }
            let message = self
                .serialization
                .decode(&payload, &ValidationRules::default())
                .expect("the router's message decodes");
            return Some(message);
        }
    }
}

/// A WebSocket client speaking `wamp.2.json`.
struct WsClient<S> {
    ws: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsClient<S> {
    async fn connect(stream: S, url: &str) -> Self {
        let mut request = url.into_client_request().expect("a request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("wamp.2.json"),
        );
        let (ws, response) =
            tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
                .await
                .expect("a WebSocket handshake in time")
                .expect("the WebSocket handshake succeeds");
        assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "wamp.2.json");
        WsClient { ws }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wamp for WsClient<S> {
    async fn send(&mut self, message: serde_json::Value) {
        self.ws
            .send(WsMessage::text(message.to_string()))
            .await
            .expect("send a frame");
    }

    async fn recv(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("a frame in time");
            let data = match frame? {
                Ok(WsMessage::Text(text)) => text.as_bytes().to_vec(),
                Ok(WsMessage::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            };
            let message = Serialization::Json
                .decode(&data, &ValidationRules::default())
                .expect("the router's message decodes");
            return Some(message);
        }
    }
}

/// Sends an HTTP/1.1 request on `stream`; the status code and body.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut response = Vec::new();
    // A TLS peer may end without close_notify; what arrived is enough.
    let _ = tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("a response in time");
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
}

/// Whether the server closes `stream` (EOF or reset) within `within`;
/// whatever it sends first is ignored.
async fn closed_within<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) -> bool {
    let mut sink = [0; 1024];
    tokio::time::timeout(within, async {
        while let Ok(1..) = stream.read(&mut sink).await {}
    })
    .await
    .is_ok()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

#[tokio::test]
async fn rawsocket_websocket_and_http_share_one_port() {
    let addr = start(ServeOptions::new().fallback(tower::service_fn(health))).await;

    let mut raw = RawClient::connect(connect(addr).await, Serialization::Json).await;
    welcome(&raw.hello("realm1").await);
    let info = raw.transport_info().await;
    assert_eq!(info["kind"], "RawSocket");
    assert_eq!(info["peer"], "127.0.0.1");
    assert_eq!(info["secure"], false);

    let mut msgpack = RawClient::connect(connect(addr).await, Serialization::MsgPack).await;
    welcome(&msgpack.hello("realm1").await);
    let mut cbor = RawClient::connect(connect(addr).await, Serialization::Cbor).await;
    welcome(&cbor.hello("realm1").await);

    let mut ws = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&ws.hello("realm1").await);
    let info = ws.transport_info().await;
    assert_eq!(info["kind"], "WebSocket");
    assert_eq!(
        info["peer"], "127.0.0.1",
        "the listener passes the peer address"
    );
    assert_eq!(info["path"], "/ws");
    assert_eq!(info["secure"], false);

    assert_eq!(
        http_get(connect(addr).await, "/health").await,
        (200, "ok".to_owned())
    );
    assert_eq!(http_get(connect(addr).await, "/nope").await.0, 404);
    // The WebSocket path without an upgrade: the WebSocket service answers.
    assert_eq!(http_get(connect(addr).await, "/ws").await.0, 426);

    // Every session is still up.
    assert_eq!(raw.transport_info().await["kind"], "RawSocket");
    assert_eq!(ws.transport_info().await["kind"], "WebSocket");
}

#[tokio::test]
async fn without_a_fallback_other_paths_are_not_found() {
    let addr = start(ServeOptions::new().websocket_path("/wamp")).await;
    let (status, body) = http_get(connect(addr).await, "/health").await;
    assert_eq!(status, 404);
    assert_eq!(body, "not found\n");
    assert_eq!(http_get(connect(addr).await, "/ws").await.0, 404);

    let mut ws = WsClient::connect(connect(addr).await, &format!("ws://{addr}/wamp?x=1")).await;
    welcome(&ws.hello("realm1").await);
    assert_eq!(ws.transport_info().await["path"], "/wamp");
}

#[tokio::test]
async fn a_failing_fallback_answers_500() {
    let failing = tower::service_fn(|_: Request<Incoming>| async {
        Err::<Response<Full<Bytes>>, _>(std::io::Error::other("broken"))
    });
    let addr = start(ServeOptions::new().fallback(failing)).await;
    assert_eq!(http_get(connect(addr).await, "/anything").await.0, 500);
}

#[tokio::test]
async fn an_axum_router_can_be_the_fallback() {
    let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let addr = start(ServeOptions::new().fallback(router)).await;
    assert_eq!(
        http_get(connect(addr).await, "/health").await,
        (200, "ok".to_owned())
    );
    assert_eq!(http_get(connect(addr).await, "/nope").await.0, 404);
    let mut ws = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&ws.hello("realm1").await);
}

#[tokio::test]
async fn garbage_and_silence_close_only_their_own_connection() {
    let addr = start(
        ServeOptions::new()
            .fallback(tower::service_fn(health))
            .first_byte_timeout(Duration::from_millis(300)),
    )
    .await;
    let mut ws = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&ws.hello("realm1").await);
    let mut raw = RawClient::connect(connect(addr).await, Serialization::Json).await;
    welcome(&raw.hello("realm1").await);

    // Says nothing: closed after the first-byte timeout.
    let mut silent = connect(addr).await;
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);

    // Connects and leaves at once.
    drop(connect(addr).await);

    // Binary garbage, and a line that is no HTTP request.
    for garbage in [
        &b"\x00\xff\xfe\x01 garbage\r\n\r\n"[..],
        b"HELLO WAMP\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let mut stream = connect(addr).await;
        stream.write_all(garbage).await.expect("send garbage");
        assert!(closed_within(&mut stream, TIMEOUT).await, "{garbage:?}");
    }

    // The RawSocket magic, then an invalid handshake: refused and closed.
    let mut stream = connect(addr).await;
    stream
        .write_all(&[0x7F, 0x00, 0x12, 0x34])
        .await
        .expect("send a handshake");
    assert!(closed_within(&mut stream, TIMEOUT).await);

    // The RawSocket magic alone: closed after the RawSocket handshake
    // timeout (10 s by default) at the latest; the others go on meanwhile.
    let mut magic_only = connect(addr).await;
    magic_only.write_all(&[0x7F]).await.expect("send the magic");

    assert_eq!(ws.transport_info().await["kind"], "WebSocket");
    assert_eq!(raw.transport_info().await["kind"], "RawSocket");
    let mut again = RawClient::connect(connect(addr).await, Serialization::Json).await;
    welcome(&again.hello("realm1").await);
    assert_eq!(http_get(connect(addr).await, "/health").await.0, 200);
    drop(magic_only);
}

#[tokio::test]
async fn servers_share_one_rawsocket_connection_limit() {
    let server = Server::new(
        app(),
        ServeOptions::new().rawsocket(
            serverwamp::transport::rawsocket::RawSocketSettings::new().max_connections(1),
        ),
    );
    let first = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (first_addr, second_addr) = (
        first.local_addr().expect("address"),
        second.local_addr().expect("address"),
    );
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(first).await }
    });
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(second).await }
    });

    let mut raw = RawClient::connect(connect(first_addr).await, Serialization::Json).await;
    welcome(&raw.hello("realm1").await);

    // The second listener's RawSocket client is over the limit: error 4.
    let mut refused = connect(second_addr).await;
    refused
        .write_all(&[0x7F, 0xF1, 0, 0])
        .await
        .expect("send the handshake");
    let mut reply = [0; 4];
    refused.read_exact(&mut reply).await.expect("a reply");
    assert_eq!(reply, [0x7F, 0x40, 0, 0]);

    // WebSocket is not counted.
    let mut ws = WsClient::connect(
        connect(second_addr).await,
        &format!("ws://{second_addr}/ws"),
    )
    .await;
    welcome(&ws.hello("realm1").await);
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_serves_both_transports() {
    let path = std::env::temp_dir().join(format!(
        "serverwamp-listener-{}-{}.sock",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_nanos()
    ));
    let listener = tokio::net::UnixListener::bind(&path).expect("bind a Unix socket");
    tokio::spawn(listener::serve(app(), listener, ServeOptions::new()));

    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connect");
    let mut raw = RawClient::connect(stream, Serialization::Json).await;
    welcome(&raw.hello("realm1").await);
    let info = raw.transport_info().await;
    assert_eq!(info["kind"], "RawSocket");
    assert_eq!(info["peer"], "unix:");

    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connect");
    let mut ws = WsClient::connect(stream, "ws://localhost/ws").await;
    welcome(&ws.hello("realm1").await);
    let info = ws.transport_info().await;
    assert_eq!(info["kind"], "WebSocket");
    assert_eq!(info["peer"], "unknown");

    let _ = std::fs::remove_file(&path);
}

/// Sends a WebSocket upgrade request (WAMP JSON) with extra header lines
/// and returns the response's status code.
async fn upgrade_status(addr: SocketAddr, extra: &str) -> u16 {
    let mut stream = connect(addr).await;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: wamp.2.json\r\n{extra}\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut head = vec![0; 12];
    stream.read_exact(&mut head).await.expect("a status line");
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .expect("a status code")
}

#[tokio::test]
async fn half_a_request_is_closed_after_the_header_deadline() {
    let addr = start(ServeOptions::new().header_read_timeout(Duration::from_millis(300))).await;
    let mut slow = connect(addr).await;
    slow.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("send half a request");
    let started = std::time::Instant::now();
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Others are served meanwhile and after.
    let mut ws = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&ws.hello("realm1").await);
}

#[tokio::test]
async fn connections_over_the_applications_limits_are_refused_before_the_upgrade() {
    let mut app = app();
    app.set_limits(serverwamp::Limits::new().max_sessions_per_peer(Some(1)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(listener::serve(app.clone(), listener, ServeOptions::new()));

    let mut first = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&first.hello("realm1").await);
    // The same peer address again: 503 for WebSocket, error 4 for RawSocket.
    assert_eq!(upgrade_status(addr, "").await, 503);
    let mut refused = connect(addr).await;
    refused
        .write_all(&[0x7F, 0xF1, 0, 0])
        .await
        .expect("send the handshake");
    let mut reply = [0; 4];
    refused.read_exact(&mut reply).await.expect("a reply");
    assert_eq!(reply, [0x7F, 0x40, 0, 0]);
    assert_eq!(app.stats().refused, 2);
    // Once the first leaves, there is room again.
    first.send(json!([6, {}, "wamp.close.close_realm"])).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = WsClient::connect(connect(addr).await, &format!("ws://{addr}/ws")).await;
    welcome(&again.hello("realm1").await);
}

#[tokio::test]
async fn cross_origin_upgrades_lose_their_cookies_or_are_refused() {
    use serverwamp::auth::{Authenticated, NewSession};
    use serverwamp::transport::OriginPolicy;
    let mut app = app();
    app.realm("cookies")
        .add_transport_authenticator(|s: NewSession| async move {
            (s.transport().cookie("myName") == Some("Jeff"))
                .then(|| Authenticated::anonymous().authid("Jeff"))
        });
    app.set_origin_policy(OriginPolicy::new().allow_origin("https://app.example"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(listener::serve(app.clone(), listener, ServeOptions::new()));

    // Joins the cookie realm with the cookie and `origin` (if any); the
    // first message back.
    let join = |origin: Option<String>| async move {
        let mut request = format!("ws://{addr}/ws")
            .into_client_request()
            .expect("a request");
        let headers = request.headers_mut();
        headers.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("wamp.2.json"),
        );
        headers.insert("Cookie", HeaderValue::from_static("myName=Jeff"));
        if let Some(origin) = origin {
            headers.insert("Origin", origin.parse().expect("a header"));
        }
        let (ws, _) = tokio_tungstenite::client_async(request, connect(addr).await)
            .await
            .expect("the handshake");
        let mut client = WsClient { ws };
        client
            .send(json!([1, "cookies", {"roles": {"caller": {}}}]))
            .await;
        client.recv().await.expect("an answer")
    };
    // No Origin (a program), the server's own origin, an allowed one: in.
    for origin in [
        None,
        Some(format!("http://{addr}")),
        Some("https://app.example".to_owned()),
    ] {
        let answer = join(origin.clone()).await;
        assert!(
            matches!(answer, Message::Welcome(_)),
            "{origin:?}: {answer:?}"
        );
    }
    // Another page's: its cookies do not count.
    let answer = join(Some("https://evil.example".to_owned())).await;
    let Message::Abort(abort) = answer else {
        panic!("expected ABORT, got {answer:?}")
    };
    assert_eq!(abort.reason, "wamp.error.authentication_failed");

    // Refused outright when the policy says so.
    app.set_origin_policy(OriginPolicy::new().refuse_cross_origin(true));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let strict = listener.local_addr().expect("local address");
    tokio::spawn(listener::serve(app, listener, ServeOptions::new()));
    assert_eq!(
        upgrade_status(strict, "Origin: https://evil.example\r\n").await,
        403
    );
    assert_eq!(
        upgrade_status(strict, &format!("Origin: http://{strict}\r\n")).await,
        101
    );
}

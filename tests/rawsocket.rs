//! WAMP over RawSocket on real sockets: TCP on 127.0.0.1 and Unix domain
//! sockets in a temporary directory. The client here is written from the
//! spec's byte layouts, independently of the server's own framing code.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use serverwamp::protocol::{Serialization, Value};
use serverwamp::rpc::{Args, Params, RpcRouteSet};
use serverwamp::transport::rawsocket::{self, RawSocketServer, RawSocketSettings};
use serverwamp::transport::{PeerAddress, TransportKind};
use serverwamp::{Application, Session};
use support::{matches, value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a test waits for bytes it expects.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Frame types (spec, "Framing").
const MESSAGE: u8 = 0;
const PING: u8 = 1;
const PONG: u8 = 2;

/// The serializer IDs of the handshake, with their serializations.
const SERIALIZERS: [(u8, Serialization); 3] = [
    (1, Serialization::Json),
    (2, Serialization::MsgPack),
    (3, Serialization::Cbor),
];

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes
        .route("math.add", |Params(p): Params<AddParams>| async move {
            p.number1 + p.number2
        })
        .route("echo", |Args(args): Args<Vec<Value>>| async move { args })
        .route("transport", |session: Session| async move {
            let transport = session.transport();
            let peer = match transport.peer_address() {
                PeerAddress::Ip(addr) => format!("ip {}", addr.ip()),
                PeerAddress::Unix(_) => "unix".to_owned(),
                _ => "other".to_owned(),
            };
            vec![
                Value::Bool(transport.kind() == TransportKind::RawSocket),
                Value::Str(peer),
            ]
        });
    let mut app = Application::new();
    app.add_routes(routes);
    app
}

/// Serves `app` over RawSocket on a free port of 127.0.0.1.
async fn serve(app: Application, settings: RawSocketSettings) -> (SocketAddr, RawSocketServer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let server = RawSocketServer::new(app, settings);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (addr, server)
}

/// A RawSocket client speaking one serialization, written from the spec.
struct Client<S> {
    stream: S,
    serialization: Serialization,
}

impl Client<TcpStream> {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream,
            serialization: Serialization::Json,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Sends a handshake request and returns the router's reply.
    async fn handshake(&mut self, request: [u8; 4]) -> [u8; 4] {
        self.stream
            .write_all(&request)
            .await
            .expect("handshake sent");
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> [u8; 4] {
        let mut reply = [0; 4];
        tokio::time::timeout(RECEIVE_TIMEOUT, self.stream.read_exact(&mut reply))
            .await
            .expect("the handshake reply arrives in time")
            .expect("a 4-octet handshake reply");
        reply
    }

    /// Handshakes for serializer `id` with the largest maximum length and
    /// expects the default success reply.
    async fn open(&mut self, id: u8, serialization: Serialization) {
        self.serialization = serialization;
        let reply = self.handshake([0x7F, 0xF0 | id, 0, 0]).await;
        assert_eq!(reply, [0x7F, 0xF0 | id, 0, 0], "serializer {id}");
    }

    async fn send_frame(&mut self, kind: u8, payload: &[u8]) {
        let length = u32::try_from(payload.len()).expect("a short payload");
        let [_, a, b, c] = length.to_be_bytes();
        let mut frame = vec![kind, a, b, c];
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.expect("frame sent");
    }

    fn encode(&self, message: &serde_json::Value) -> Vec<u8> {
        let mut out = Vec::new();
        self.serialization
            .encode_into(&value(message), &mut out)
            .expect("the message encodes");
        out
    }

    async fn send(&mut self, message: serde_json::Value) {
        let payload = self.encode(&message);
        self.send_frame(MESSAGE, &payload).await;
    }

    /// The next frame's type and payload; `None` once the router closed
    /// the connection.
    async fn recv_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        tokio::time::timeout(RECEIVE_TIMEOUT, async {
            let mut prefix = [0; 4];
            if self.stream.read_exact(&mut prefix).await.is_err() {
                return None;
            }
            let [first, a, b, c] = prefix;
            assert_eq!(first & 0xF0, 0, "reserved bits in {prefix:02x?}");
            let mut length = u32::from_be_bytes([0, a, b, c]);
            if first & 0x08 != 0 {
                length += 1 << 24;
            }
            let mut payload = vec![0; usize::try_from(length).expect("a length")];
            self.stream.read_exact(&mut payload).await.ok()?;
            Some((first & 0x07, payload))
        })
        .await
        .expect("a frame or the close arrives in time")
    }

    /// The next WAMP message, skipping PINGs (unanswered).
    async fn recv(&mut self) -> Option<Value> {
        loop {
            let (kind, payload) = self.recv_frame().await?;
            if kind == MESSAGE {
                let message = self
                    .serialization
                    .decode_value(&payload)
                    .expect("the router's message decodes");
                return Some(message);
            }
        }
    }

    async fn expect(&mut self, expected: serde_json::Value) -> Value {
        let actual = self
            .recv()
            .await
            .unwrap_or_else(|| panic!("expected {expected}, the connection closed"));
        assert!(
            matches(&expected, &actual),
            "[{}] expected {expected}\n      got {actual}",
            self.serialization
        );
        actual
    }

    /// Asserts that the router closes the connection without sending
    /// anything more.
    async fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(RECEIVE_TIMEOUT, self.stream.read_to_end(&mut rest))
            .await
            .expect("the router closes in time")
            .ok();
        assert!(rest.is_empty(), "expected the close, got {rest:02x?}");
    }

    async fn join(&mut self) {
        self.send(json!([1, "realm1", {"roles": {"caller": {}}}]))
            .await;
        self.expect(json!([2, "<id>", {"realm": "realm1"}])).await;
    }
}

/// Waits until the server counts `n` connections.
async fn wait_for_connections(server: &RawSocketServer, n: usize) {
    tokio::time::timeout(RECEIVE_TIMEOUT, async {
        while server.connection_count() != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} connections, expected {n}", server.connection_count()));
}

#[tokio::test]
async fn each_serializer_handshakes_joins_and_calls() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    for (id, serialization) in SERIALIZERS {
        let mut c = Client::connect(addr).await;
        c.open(id, serialization).await;
        c.join().await;
        c.send(json!([48, 1, {}, "math.add", [1, 2]])).await;
        c.expect(json!([50, 1, {}, [3]])).await;
        c.send(json!([48, 2, {}, "math.add", [], {"number1": 1.5, "number2": 2}]))
            .await;
        c.expect(json!([50, 2, {}, [3.5]])).await;
        c.send(json!([48, 3, {}, "transport"])).await;
        c.expect(json!([50, 3, {}, [true, "ip 127.0.0.1"]])).await;
        c.send(json!([48, 4, {}, "no.such"])).await;
        c.expect(json!([8, 48, 4, {}, "wamp.error.no_such_procedure", "*"]))
            .await;
        c.send(json!([6, {}, "wamp.close.close_realm"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    }
}

#[tokio::test]
async fn binary_values_travel_in_every_serializer() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    for (id, serialization) in SERIALIZERS {
        let mut c = Client::connect(addr).await;
        c.open(id, serialization).await;
        c.join().await;
        let args = Value::List(vec![
            Value::Bytes(vec![0, 1, 254, 255].into()),
            Value::Str("żółw".into()),
            Value::Int(-7),
            Value::Null,
        ]);
        let call = Value::List(vec![
            Value::UInt(48),
            Value::UInt(1),
            Value::Dict(Default::default()),
            Value::Str("echo".into()),
            args.clone(),
        ]);
        let mut payload = Vec::new();
        serialization.encode_into(&call, &mut payload).unwrap();
        c.send_frame(MESSAGE, &payload).await;
        let result = c.recv().await.expect("a RESULT");
        assert_eq!(result.as_list().unwrap()[3], args, "[{serialization}]");
    }
}

#[tokio::test]
async fn a_client_may_send_hello_before_the_reply_arrives() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    let mut c = Client::connect(addr).await;
    c.serialization = Serialization::MsgPack;
    let hello = c.encode(&json!([1, "realm1", {"roles": {"caller": {}}}]));
    let mut bytes = vec![0x7F, 0x72, 0, 0, 0, 0, 0];
    bytes.push(u8::try_from(hello.len()).unwrap());
    bytes.extend(hello);
    c.stream.write_all(&bytes).await.unwrap();
    assert_eq!(c.read_reply().await, [0x7F, 0xF2, 0, 0]);
    c.expect(json!([2, "<id>", {"realm": "realm1"}])).await;
}

#[tokio::test]
async fn the_routers_maximum_length_is_its_setting() {
    let settings = RawSocketSettings::new().max_message_length_exponent(16);
    let (addr, _server) = serve(app(), settings).await;
    // Whatever the client accepts, the router announces 2^16 (LLLL = 7).
    for (request, reply) in [
        ([0x7F, 0x01, 0, 0], [0x7F, 0x71, 0, 0]),
        ([0x7F, 0xF3, 0, 0], [0x7F, 0x73, 0, 0]),
    ] {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.handshake(request).await, reply);
    }
}

#[tokio::test]
async fn a_bad_magic_octet_is_closed_without_a_reply() {
    let (addr, server) = serve(app(), RawSocketSettings::new()).await;
    let mut c = Client::connect(addr).await;
    c.stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    c.expect_closed().await;
    wait_for_connections(&server, 0).await;
}

#[tokio::test]
async fn unsupported_serializers_get_error_1() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    // 0 is illegal, 4 (UBJSON) and 5 (FlatBuffers) are not spoken here, 9
    // is reserved.
    for id in [0, 4, 5, 9] {
        let mut c = Client::connect(addr).await;
        assert_eq!(
            c.handshake([0x7F, 0xF0 | id, 0, 0]).await,
            [0x7F, 0x10, 0, 0],
            "serializer {id}"
        );
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn reserved_handshake_bits_get_error_3() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    for request in [[0x7F, 0xF1, 0x01, 0], [0x7F, 0xF1, 0, 0x80]] {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.handshake(request).await, [0x7F, 0x30, 0, 0]);
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn a_client_accepting_too_little_gets_error_2() {
    let settings = RawSocketSettings::new().min_client_max_length_exponent(12);
    let (addr, _server) = serve(app(), settings).await;
    // LLLL = 2: 2 KiB, below the 4 KiB asked for.
    let mut c = Client::connect(addr).await;
    assert_eq!(c.handshake([0x7F, 0x21, 0, 0]).await, [0x7F, 0x20, 0, 0]);
    c.expect_closed().await;
    // LLLL = 3: 4 KiB will do.
    let mut c = Client::connect(addr).await;
    assert_eq!(c.handshake([0x7F, 0x31, 0, 0]).await, [0x7F, 0xF1, 0, 0]);
    c.join().await;
}

#[tokio::test]
async fn past_the_connection_limit_clients_get_error_4() {
    let settings = RawSocketSettings::new().max_connections(1);
    let (addr, server) = serve(app(), settings).await;
    let mut first = Client::connect(addr).await;
    first.open(1, Serialization::Json).await;
    first.join().await;
    assert_eq!(server.connection_count(), 1);

    let mut second = Client::connect(addr).await;
    assert_eq!(
        second.handshake([0x7F, 0xF1, 0, 0]).await,
        [0x7F, 0x40, 0, 0]
    );
    second.expect_closed().await;

    // The first is served on, and once it leaves there is room again.
    first.send(json!([48, 1, {}, "math.add", [2, 2]])).await;
    first.expect(json!([50, 1, {}, [4]])).await;
    drop(first);
    wait_for_connections(&server, 0).await;
    let mut third = Client::connect(addr).await;
    third.open(2, Serialization::MsgPack).await;
    third.join().await;
}

#[tokio::test]
async fn a_handshake_that_never_comes_times_out() {
    let settings = RawSocketSettings::new().handshake_timeout(Duration::from_millis(100));
    let (addr, server) = serve(app(), settings).await;
    let mut c = Client::connect(addr).await;
    // Half a handshake, then nothing.
    c.stream.write_all(&[0x7F, 0xF1]).await.unwrap();
    c.expect_closed().await;
    wait_for_connections(&server, 0).await;
}

#[tokio::test]
async fn pings_are_answered_with_their_payload() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    for (id, serialization) in SERIALIZERS {
        let mut c = Client::connect(addr).await;
        c.open(id, serialization).await;
        // Before a session, and inside one.
        c.send_frame(PING, b"").await;
        assert_eq!(c.recv_frame().await, Some((PONG, vec![])));
        c.join().await;
        let payload = b"are you there?\x00\xff".to_vec();
        c.send_frame(PING, &payload).await;
        assert_eq!(c.recv_frame().await, Some((PONG, payload)));
        // Two in a row get two answers; a PONG gets none.
        c.send_frame(PONG, b"unasked").await;
        c.send_frame(PING, b"1").await;
        c.send_frame(PING, b"2").await;
        assert_eq!(c.recv_frame().await, Some((PONG, b"1".to_vec())));
        assert_eq!(c.recv_frame().await, Some((PONG, b"2".to_vec())));
        c.send(json!([48, 1, {}, "math.add", [1, 1]])).await;
        c.expect(json!([50, 1, {}, [2]])).await;
    }
}

#[tokio::test]
async fn a_frame_over_the_routers_maximum_closes_the_connection() {
    let settings = RawSocketSettings::new().max_message_length_exponent(9);
    let app = app();
    let (addr, server) = serve(app.clone(), settings).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.handshake([0x7F, 0xF1, 0, 0]).await, [0x7F, 0x01, 0, 0]);
    c.join().await;
    // Exactly 512 octets is allowed.
    let mut call = c.encode(&json!([48, 1, {}, "echo", [""]]));
    let filler = 512 - call.len();
    call = c.encode(&json!([48, 1, {}, "echo", ["x".repeat(filler)]]));
    assert_eq!(call.len(), 512);
    c.send_frame(MESSAGE, &call).await;
    c.expect(json!([50, 1, {}, "*"])).await;
    // 513 octets: the prefix alone fails the connection.
    c.stream.write_all(&[0x00, 0x00, 0x02, 0x01]).await.unwrap();
    c.expect_closed().await;
    wait_for_connections(&server, 0).await;
    assert_eq!(app.session_count(), 0);
}

#[tokio::test]
async fn reserved_frame_bits_and_types_close_the_connection() {
    let (addr, server) = serve(app(), RawSocketSettings::new()).await;
    for prefix in [[0x10, 0, 0, 0], [0x03, 0, 0, 0], [0x07, 0, 0, 1]] {
        let mut c = Client::connect(addr).await;
        c.open(1, Serialization::Json).await;
        c.join().await;
        c.stream.write_all(&prefix).await.unwrap();
        c.expect_closed().await;
    }
    wait_for_connections(&server, 0).await;
}

#[tokio::test]
async fn a_result_over_the_clients_maximum_is_answered_with_an_error() {
    let (addr, _server) = serve(app(), RawSocketSettings::new()).await;
    let mut c = Client::connect(addr).await;
    c.serialization = Serialization::Cbor;
    // LLLL = 0: the client accepts 512 octets.
    assert_eq!(c.handshake([0x7F, 0x03, 0, 0]).await, [0x7F, 0xF3, 0, 0]);
    c.join().await;
    c.send(json!([48, 1, {}, "echo", ["x".repeat(600)]])).await;
    c.send(json!([48, 2, {}, "echo", ["small"]])).await;
    // The first RESULT would be over 512 octets: the caller gets an ERROR
    // instead of waiting forever, and the session goes on.
    c.expect(json!([
        8,
        48,
        1,
        {},
        "wamp.error.payload_size_exceeded",
        "*"
    ]))
    .await;
    c.expect(json!([50, 2, {}, ["small"]])).await;
}

#[tokio::test]
async fn shutdown_says_goodbye_over_rawsocket() {
    let app = app();
    let (addr, _server) = serve(app.clone(), RawSocketSettings::new()).await;
    let mut c = Client::connect(addr).await;
    c.open(3, Serialization::Cbor).await;
    c.join().await;
    let closing = tokio::spawn({
        let app = app.clone();
        async move { app.close_sessions(Duration::from_secs(3)).await }
    });
    c.expect(json!([6, {}, "wamp.close.system_shutdown"])).await;
    c.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    tokio::time::timeout(RECEIVE_TIMEOUT, closing)
        .await
        .expect("the sessions close in time")
        .unwrap();
    c.expect_closed().await;
}

fn keepalive_app(closed: &std::sync::Arc<AtomicUsize>) -> Application {
    let mut app = app();
    app.set_keepalive(Duration::from_millis(50), Duration::from_millis(250));
    let closed = closed.clone();
    app.add_session_close_handler(move || {
        let closed = closed.clone();
        async move {
            closed.fetch_add(1, Ordering::SeqCst);
        }
    });
    app
}

#[tokio::test]
async fn with_keepalive_pings_a_silent_client_is_closed() {
    let closed = std::sync::Arc::new(AtomicUsize::new(0));
    let app = keepalive_app(&closed);
    let settings = RawSocketSettings::new().keepalive_pings(true);
    let (addr, _server) = serve(app.clone(), settings).await;

    // A client that reads but never answers is closed, its session ended.
    let mut silent = Client::connect(addr).await;
    silent.open(2, Serialization::MsgPack).await;
    silent.join().await;
    loop {
        match silent.recv_frame().await {
            Some((PING, _)) => {}
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    assert_eq!(closed.load(Ordering::SeqCst), 1);
    assert_eq!(app.session_count(), 0);

    // One that answers PINGs stays.
    let mut c = Client::connect(addr).await;
    c.open(1, Serialization::Json).await;
    c.join().await;
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
    while tokio::time::Instant::now() < deadline {
        let (kind, payload) = c.recv_frame().await.expect("a PING");
        assert_eq!(kind, PING);
        pings += 1;
        c.send_frame(PONG, &payload).await;
    }
    assert!(pings >= 5, "{pings} pings");
    assert_eq!(app.session_count(), 1);
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_keepalive_pings_a_quiet_client_stays() {
    let closed = std::sync::Arc::new(AtomicUsize::new(0));
    let app = keepalive_app(&closed);
    let (addr, _server) = serve(app.clone(), RawSocketSettings::new()).await;
    let mut c = Client::connect(addr).await;
    c.open(1, Serialization::Json).await;
    c.join().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.session_count(), 1);
    assert_eq!(closed.load(Ordering::SeqCst), 0);
    // Nothing was sent meanwhile: the next frame is the RESULT.
    c.send(json!([48, 1, {}, "math.add", [1, 1]])).await;
    assert_eq!(c.recv_frame().await.map(|(kind, _)| kind), Some(MESSAGE));
}

#[tokio::test]
async fn serve_connection_serves_a_stream_from_another_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app();
    let serving = tokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        rawsocket::serve_connection(app, stream, PeerAddress::Ip(peer), RawSocketSettings::new())
            .await
    });
    let mut c = Client::connect(addr).await;
    c.open(2, Serialization::MsgPack).await;
    c.join().await;
    c.send(json!([48, 1, {}, "transport"])).await;
    c.expect(json!([50, 1, {}, [true, "ip 127.0.0.1"]])).await;
    c.send(json!([6, {}, "wamp.close.close_realm"])).await;
    c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    drop(c);
    serving.await.unwrap().expect("a session was served");
}

#[cfg(unix)]
#[tokio::test]
async fn unix_sockets_serve_every_serializer() {
    use tokio::net::{UnixListener, UnixStream};

    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "serverwamp-rawsocket-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wamp.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(rawsocket::serve(app(), listener, RawSocketSettings::new()));

    for (id, serialization) in SERIALIZERS {
        let stream = UnixStream::connect(&path).await.unwrap();
        let mut c = Client {
            stream,
            serialization: Serialization::Json,
        };
        c.open(id, serialization).await;
        c.join().await;
        c.send(json!([48, 1, {}, "math.add", [20, 22]])).await;
        c.expect(json!([50, 1, {}, [42]])).await;
        c.send(json!([48, 2, {}, "transport"])).await;
        c.expect(json!([50, 2, {}, [true, "unix"]])).await;
        c.send_frame(PING, b"unix").await;
        assert_eq!(c.recv_frame().await, Some((PONG, b"unix".to_vec())));
    }

    let mut c = Client {
        stream: UnixStream::connect(&path).await.unwrap(),
        serialization: Serialization::Json,
    };
    assert_eq!(c.handshake([0x7F, 0xF4, 0, 0]).await, [0x7F, 0x10, 0, 0]);
    c.expect_closed().await;

    server.abort();
    let _ = server.await;
    std::fs::remove_dir_all(&dir).unwrap();
}

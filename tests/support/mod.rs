//! Transcript testing: a WAMP client talking to an application through the
//! real WebSocket service, in process (hyper over an in-memory pipe), in
//! any serialization.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serverwamp::Application;
use serverwamp::protocol::codec::batched::{split_json_batch, split_length_prefixed_batch};
use serverwamp::protocol::{Codec, Serialization, Value};
use tokio::io::DuplexStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Every subprotocol a transcript runs over.
pub const SUBPROTOCOLS: [&str; 5] = [
    "wamp.2.json",
    "wamp.2.msgpack",
    "wamp.2.cbor",
    "wamp.2.json.batched",
    "wamp.2.msgpack.batched",
];

/// How long a transcript waits for a message it expects.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A test client speaking one subprotocol.
pub struct Client {
    ws: WebSocketStream<DuplexStream>,
    codec: Codec,
    /// Messages received in a batch but not yet read.
    pending: std::collections::VecDeque<Value>,
}

/// Builds a `Value` from JSON notation; strings `"b64:..."` stand for bytes.
pub fn value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().expect("a number"))
            }
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(value).collect()),
        serde_json::Value::Object(map) => {
            Value::Dict(map.iter().map(|(k, v)| (k.clone(), value(v))).collect())
        }
    }
}

/// Whether `actual` matches `expected`: equal, where the string `"*"`
/// matches anything and `"<id>"` any ID, and a dict in `expected` need only
/// hold the keys it names ("at least these details").
pub fn matches(expected: &serde_json::Value, actual: &Value) -> bool {
    match (expected, actual) {
        (serde_json::Value::String(s), _) if s == "*" => true,
        (serde_json::Value::String(s), Value::UInt(n)) if s == "<id>" => {
            (1..=(1u64 << 53)).contains(n)
        }
        (serde_json::Value::Array(e), Value::List(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (serde_json::Value::Object(e), Value::Dict(a)) => e
            .iter()
            .all(|(k, e)| a.get(k).is_some_and(|a| matches(e, a))),
        (serde_json::Value::Number(e), Value::Float(a)) => e.as_f64() == Some(*a),
        (e, a) => value(e) == *a,
    }
}

impl Client {
    /// Connects to `app` through its WebSocket service.
    pub async fn connect(app: &Application, subprotocol: &str) -> Client {
        Self::connect_with(app, subprotocol, &[]).await
    }

    /// Connects with extra request headers (cookies, ...).
    pub async fn connect_with(
        app: &Application,
        subprotocol: &str,
        headers: &[(&str, &str)],
    ) -> Client {
        let (server_io, client_io) = tokio::io::duplex(256 * 1024);
        let service = TowerToHyperService::new(app.websocket_service());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server_io), service)
                .with_upgrades()
                .await;
        });
        let mut request = "ws://localhost/ws"
            .into_client_request()
            .expect("a request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            subprotocol.parse().expect("a header"),
        );
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        let (ws, response) = tokio_tungstenite::client_async(request, client_io)
            .await
            .expect("the WebSocket handshake succeeds");
        assert_eq!(
            response.headers()["Sec-WebSocket-Protocol"],
            subprotocol,
            "the server agrees to the subprotocol"
        );
        Client {
            ws,
            codec: Codec::from_subprotocol(subprotocol).expect("a WAMP subprotocol"),
            pending: Default::default(),
        }
    }

    /// The client's serialization.
    pub fn serialization(&self) -> Serialization {
        self.codec.serialization()
    }

    /// Sends a message written in JSON notation.
    pub async fn send(&mut self, message: serde_json::Value) {
        let mut frame = Vec::new();
        self.codec
            .encode_frame(&value(&message), &mut frame)
            .expect("the message encodes");
        self.send_raw(frame).await;
    }

    /// Sends a message unless the connection is gone; whether it was sent.
    pub async fn try_send(&mut self, message: serde_json::Value) -> bool {
        let mut frame = Vec::new();
        self.codec
            .encode_frame(&value(&message), &mut frame)
            .expect("the message encodes");
        self.try_send_raw(frame).await
    }

    /// Sends raw frame bytes unless the connection is gone.
    pub async fn try_send_raw(&mut self, frame: Vec<u8>) -> bool {
        let message = if self.codec.serialization().is_text() {
            WsMessage::text(String::from_utf8_lossy(&frame).into_owned())
        } else {
            WsMessage::binary(frame)
        };
        self.ws.send(message).await.is_ok()
    }

    /// Sends raw frame bytes.
    pub async fn send_raw(&mut self, frame: Vec<u8>) {
        let message = if self.codec.serialization().is_text() {
            WsMessage::text(String::from_utf8(frame).expect("JSON is UTF-8"))
        } else {
            WsMessage::binary(frame)
        };
        self.ws.send(message).await.expect("the frame is sent");
    }

    /// The next message, or `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<Value> {
        if let Some(v) = self.pending.pop_front() {
            return Some(v);
        }
        loop {
            let frame = tokio::time::timeout(RECEIVE_TIMEOUT, self.ws.next())
                .await
                .expect("a message arrives in time");
            let data = match frame {
                None | Some(Err(_)) => return None,
                Some(Ok(WsMessage::Text(t))) => {
                    assert!(
                        self.codec.serialization().is_text(),
                        "text frame for a binary codec"
                    );
                    t.as_bytes().to_vec()
                }
                Some(Ok(WsMessage::Binary(b))) => {
                    assert!(
                        !self.codec.serialization().is_text(),
                        "binary frame for JSON"
                    );
                    b.to_vec()
                }
                Some(Ok(WsMessage::Close(_))) => return None,
                Some(Ok(_)) => continue,
            };
            let serialization = self.codec.serialization();
            let records: Vec<Vec<u8>> = if !self.codec.is_batched() {
                vec![data]
            } else if serialization == Serialization::Json {
                split_json_batch(&data)
                    .map(|r| r.expect("a well-formed batch").to_vec())
                    .collect()
            } else {
                split_length_prefixed_batch(&data)
                    .map(|r| r.expect("a well-formed batch").to_vec())
                    .collect()
            };
            for record in records {
                let v = serialization
                    .decode_value(&record)
                    .expect("the server's message decodes");
                self.pending.push_back(v);
            }
            if let Some(v) = self.pending.pop_front() {
                return Some(v);
            }
        }
    }

    /// Receives the next message and asserts it matches `expected`.
    pub async fn expect(&mut self, expected: serde_json::Value) -> Value {
        let actual = self
            .recv()
            .await
            .unwrap_or_else(|| panic!("expected {expected}, the connection closed"));
        assert!(
            matches(&expected, &actual),
            "[{}] expected {expected}\n      got {actual}",
            self.codec.subprotocol()
        );
        actual
    }

    /// Asserts that the server closes the connection next.
    pub async fn expect_closed(&mut self) {
        if let Some(v) = self.recv().await {
            panic!("expected the connection to close, got {v}");
        }
    }

    /// Says HELLO to `realm` and expects WELCOME; returns the session ID.
    pub async fn join(&mut self, realm: &str) -> u64 {
        self.send(serde_json::json!([1, realm, {"roles": {"caller": {}, "subscriber": {}}}]))
            .await;
        let welcome = self
            .expect(serde_json::json!([2, "<id>", {"realm": realm}]))
            .await;
        welcome
            .as_list()
            .and_then(|l| l[1].as_u64())
            .expect("a session ID")
    }
}

/// Serves `service` on every path of a free 127.0.0.1 port with plain hyper,
/// telling it each connection's peer address.
pub async fn serve_with_hyper(
    service: serverwamp::transport::websocket::WebSocketService,
) -> std::net::SocketAddr {
    use serverwamp::transport::websocket::ConnectionAddr;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.expect("accept");
            let service = tower::util::MapRequest::new(
                service.clone(),
                move |mut request: http::Request<_>| {
                    request.extensions_mut().insert(ConnectionAddr(peer));
                    request
                },
            );
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .await;
            });
        }
    });
    addr
}

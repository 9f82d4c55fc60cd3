//! The one-port listener over TLS on 127.0.0.1, with certificates made
//! here with rcgen: a CA, a server certificate for `localhost` and
//! 127.0.0.1, and client certificates that transport authenticators read.

#![cfg(feature = "tls")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;
use serverwamp::auth::{Authenticated, NewSession};
use serverwamp::protocol::message::ValidationRules;
use serverwamp::protocol::{Message, Serialization, Value};
use serverwamp::rpc::{RpcResult, RpcRouteSet};
use serverwamp::transport::listener::{self, ServeOptions};
use serverwamp::transport::tls::TlsConfig;
use serverwamp::transport::tls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use serverwamp::transport::tls::rustls::{self, ClientConfig, RootCertStore};
use serverwamp::{Application, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test waits for anything it expects.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The certificates of a test: one CA, a server and two clients, one of
/// them issued by another CA the server does not trust.
struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
    client: Identity,
    stranger: Identity,
}

/// A certificate and its key.
struct Identity {
    certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

fn new_ca(name: &str) -> (CertificateDer<'static>, String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("a CA key");
    let certificate = params.self_signed(&key).expect("a CA certificate");
    (
        certificate.der().clone(),
        certificate.pem(),
        Issuer::new(params, key),
    )
}

fn issue(
    issuer: &Issuer<'static, KeyPair>,
    names: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (Identity, String, String) {
    let mut params = CertificateParams::new(names).expect("parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("a key");
    let certificate = params.signed_by(&key, issuer).expect("a certificate");
    let pem = (certificate.pem(), key.serialize_pem());
    let identity = Identity {
        certificate: certificate.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    };
    (identity, pem.0, pem.1)
}

fn pki() -> Pki {
    let (ca, ca_pem, issuer) = new_ca("serverwamp test CA");
    let (_, server_pem, server_key_pem) = issue(
        &issuer,
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, _, _) = issue(
        &issuer,
        Vec::new(),
        "device-1",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (_, _, other_issuer) = new_ca("some other CA");
    let (stranger, _, _) = issue(
        &other_issuer,
        Vec::new(),
        "stranger",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca,
        ca_pem,
        server_pem,
        server_key_pem,
        client,
        stranger,
    }
}

/// What a session knows of its transport, for the tests to check.
async fn transport_info(session: Session) -> RpcResult {
    let transport = session.transport();
    RpcResult::new()
        .kwarg("kind", format!("{:?}", transport.kind()))
        .kwarg("secure", transport.is_secure())
        .kwarg("certificate", transport.peer_certificate().is_some())
        .kwarg("authid", session.authid().to_owned())
}

/// The test application: `realm1` open to all, `certs` only to clients
/// whose certificate is `device`.
fn app(device: &CertificateDer<'static>) -> Application {
    let mut routes = RpcRouteSet::new();
    routes.route("transport.info", transport_info);
    let mut app = Application::new();
    app.add_routes(routes);
    let device = Bytes::copy_from_slice(device.as_ref());
    app.realm("certs")
        .add_transport_authenticator(move |session: NewSession| {
            let device = device.clone();
            async move {
                let presented = session.transport().peer_certificate()?;
                (presented == device.as_ref())
                    .then(|| Authenticated::anonymous().authid("device-1"))
            }
        });
    app
}

/// Serves the test application over TLS on a free port.
async fn start(pki: &Pki, tls: TlsConfig, options: ServeOptions) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let health = tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let options = options
        .tls(tls.build().expect("a TLS configuration"))
        .fallback(health);
    tokio::spawn(listener::serve(
        app(&pki.client.certificate),
        listener,
        options,
    ));
    addr
}

fn server_tls(pki: &Pki) -> TlsConfig {
    TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key_pem.as_bytes())
        .expect("the server's PEM")
}

/// A TLS client trusting the test CA, presenting `identity` if given.
fn connector(pki: &Pki, identity: Option<&Identity>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).expect("the CA is a trust anchor");
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots);
    let config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(vec![identity.certificate.clone()], identity.key())
            .expect("a client certificate"),
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    addr: SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("a server name");
    tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("a TLS handshake in time")
}

/// A WAMP client over any transport.
trait Wamp {
    async fn send(&mut self, message: serde_json::Value);
    /// The next message; `None` once the connection is closed.
    async fn recv(&mut self) -> Option<Message>;

    /// HELLO, and the router's answer (`None` if the connection closed).
    async fn hello(&mut self, realm: &str) -> Option<Message> {
        self.send(json!([1, realm, {"roles": {"caller": {}}}]))
            .await;
        self.recv().await
    }

    /// Calls `transport.info`; its keyword results.
    async fn transport_info(&mut self) -> serde_json::Map<String, serde_json::Value> {
        self.send(json!([48, 7, {}, "transport.info"])).await;
        match self.recv().await {
            Some(Message::Result(result)) => {
                let kwargs = result.payload.kwargs().expect("keyword results");
                kwargs
                    .iter()
                    .map(|(key, value)| {
                        let value = match value {
                            Value::Str(text) => json!(text),
                            Value::Bool(flag) => json!(flag),
                            other => json!(format!("{other:?}")),
                        };
                        (key.clone(), value)
                    })
                    .collect()
            }
            other => panic!("expected RESULT, got {other:?}"),
        }
    }
}

fn welcome(message: Option<Message>) -> Message {
    match message {
        Some(message @ Message::Welcome(_)) => message,
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

/// A RawSocket client speaking JSON.
struct RawClient<S> {
    stream: S,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawClient<S> {
    async fn connect(mut stream: S) -> Self {
        stream
            .write_all(&[0x7F, 0xF1, 0, 0])
            .await
            .expect("send the handshake");
        let mut reply = [0; 4];
        tokio::time::timeout(TIMEOUT, stream.read_exact(&mut reply))
            .await
            .expect("a handshake reply in time")
            .expect("a handshake reply");
        assert_eq!(reply, [0x7F, 0xF1, 0, 0]);
        RawClient { stream }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wamp for RawClient<S> {
    async fn send(&mut self, message: serde_json::Value) {
        let payload = message.to_string().into_bytes();
        let length = u32::try_from(payload.len()).expect("a short message");
        let mut frame = length.to_be_bytes().to_vec();
        frame[0] = 0;
        frame.extend_from_slice(&payload);
        self.stream.write_all(&frame).await.expect("send a frame");
    }

    async fn recv(&mut self) -> Option<Message> {
        let mut header = [0; 4];
        tokio::time::timeout(TIMEOUT, self.stream.read_exact(&mut header))
            .await
            .expect("a frame in time")
            .ok()?;
        let length = u32::from_be_bytes([0, header[1], header[2], header[3]]);
        let mut payload = vec![0; usize::try_from(length).expect("a length")];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(
            Serialization::Json
                .decode(&payload, &ValidationRules::default())
                .expect("the router's message decodes"),
        )
    }
}

/// A WebSocket client speaking `wamp.2.json`.
struct WsClient<S> {
    ws: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsClient<S> {
    async fn connect(stream: S) -> Self {
        let mut request = "wss://localhost/ws"
            .into_client_request()
            .expect("a request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("wamp.2.json"),
        );
        let (ws, _) =
            tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
                .await
                .expect("a WebSocket handshake in time")
                .expect("the WebSocket handshake succeeds");
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
            return Some(
                Serialization::Json
                    .decode(&data, &ValidationRules::default())
                    .expect("the router's message decodes"),
            );
        }
    }
}

/// Whether the server closes `stream` (EOF, reset or a TLS alert) within
/// `within`.
async fn closed_within<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) -> bool {
    let mut sink = [0; 1024];
    tokio::time::timeout(within, async {
        while let Ok(1..) = stream.read(&mut sink).await {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn websocket_rawsocket_and_http_over_tls() {
    let pki = pki();
    let options = ServeOptions::new().first_byte_timeout(Duration::from_millis(500));
    let addr = start(&pki, server_tls(&pki), options).await;
    let anonymous = connector(&pki, None);

    let mut wss = WsClient::connect(tls_connect(addr, &anonymous).await.expect("TLS")).await;
    welcome(wss.hello("realm1").await);
    let info = wss.transport_info().await;
    assert_eq!(info["kind"], "WebSocket");
    assert_eq!(info["secure"], true);
    assert_eq!(info["certificate"], false);

    let mut raw = RawClient::connect(tls_connect(addr, &anonymous).await.expect("TLS")).await;
    welcome(raw.hello("realm1").await);
    let info = raw.transport_info().await;
    assert_eq!(info["kind"], "RawSocket");
    assert_eq!(info["secure"], true);
    assert_eq!(info["certificate"], false);

    let mut https = tls_connect(addr, &anonymous).await.expect("TLS");
    https
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send a request");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, https.read_to_end(&mut response))
        .await
        .expect("a response in time");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    // Plain text on the TLS port, and a client that never starts TLS:
    // closed, and the sessions go on.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    assert!(closed_within(&mut plain, TIMEOUT).await);
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    // TLS, then silence.
    let mut silent = tls_connect(addr, &anonymous).await.expect("TLS");
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);

    assert_eq!(wss.transport_info().await["secure"], true);
    assert_eq!(raw.transport_info().await["kind"], "RawSocket");
}

#[tokio::test]
async fn a_client_certificate_reaches_transport_authenticators() {
    let pki = pki();
    let tls = server_tls(&pki)
        .client_ca_pem(pki.ca_pem.as_bytes())
        .expect("the CA's PEM");
    let addr = start(&pki, tls, ServeOptions::new()).await;
    let device = connector(&pki, Some(&pki.client));
    let anonymous = connector(&pki, None);

    // With the certificate: admitted, as the authenticator says.
    let mut wss = WsClient::connect(tls_connect(addr, &device).await.expect("TLS")).await;
    match welcome(wss.hello("certs").await) {
        Message::Welcome(welcome) => {
            assert_eq!(welcome.details.authid.as_deref(), Some("device-1"));
            assert_eq!(welcome.details.authmethod.as_deref(), Some("transport"));
        }
        _ => unreachable!(),
    }
    let info = wss.transport_info().await;
    assert_eq!(info["secure"], true);
    assert_eq!(info["certificate"], true);
    assert_eq!(info["authid"], "device-1");

    // Without one: the TLS handshake succeeds (certificates are optional)
    // but the realm refuses the session.
    let mut wss = WsClient::connect(tls_connect(addr, &anonymous).await.expect("TLS")).await;
    match wss.hello("certs").await {
        Some(Message::Abort(abort)) => {
            assert_eq!(abort.reason, "wamp.error.authentication_failed");
        }
        other => panic!("expected ABORT, got {other:?}"),
    }
    // An open realm still admits it.
    let mut wss = WsClient::connect(tls_connect(addr, &anonymous).await.expect("TLS")).await;
    welcome(wss.hello("realm1").await);

    // A certificate from a CA the server does not trust: no TLS session.
    let stranger = connector(&pki, Some(&pki.stranger));
    if let Ok(mut stream) = tls_connect(addr, &stranger).await {
        // TLS 1.3: the client learns of the refusal on its first read.
        let _ = stream.write_all(&[0x7F, 0xF1, 0, 0]).await;
        let mut reply = [0; 4];
        let read = tokio::time::timeout(TIMEOUT, stream.read_exact(&mut reply)).await;
        assert!(matches!(read, Ok(Err(_))), "{read:?}");
    }

    // The same over RawSocket.
    let mut raw = RawClient::connect(tls_connect(addr, &device).await.expect("TLS")).await;
    welcome(raw.hello("certs").await);
    let info = raw.transport_info().await;
    assert_eq!(info["kind"], "RawSocket");
    assert_eq!(info["secure"], true);
    assert_eq!(info["certificate"], true);
    assert_eq!(info["authid"], "device-1");
    let mut raw = RawClient::connect(tls_connect(addr, &anonymous).await.expect("TLS")).await;
    match raw.hello("certs").await {
        Some(Message::Abort(abort)) => {
            assert_eq!(abort.reason, "wamp.error.authentication_failed");
        }
        other => panic!("expected ABORT, got {other:?}"),
    }
}

#[tokio::test]
async fn required_client_certificates_refuse_clients_without_one() {
    let pki = pki();
    let tls = server_tls(&pki)
        .client_ca_pem(pki.ca_pem.as_bytes())
        .expect("the CA's PEM")
        .require_client_certificate(true);
    let addr = start(&pki, tls, ServeOptions::new()).await;

    let anonymous = connector(&pki, None);
    if let Ok(mut stream) = tls_connect(addr, &anonymous).await {
        let _ = stream.write_all(&[0x7F, 0xF1, 0, 0]).await;
        let mut reply = [0; 4];
        let read = tokio::time::timeout(TIMEOUT, stream.read_exact(&mut reply)).await;
        assert!(matches!(read, Ok(Err(_))), "{read:?}");
    }

    let device = connector(&pki, Some(&pki.client));
    let mut wss = WsClient::connect(tls_connect(addr, &device).await.expect("TLS")).await;
    welcome(wss.hello("certs").await);
    let mut raw = RawClient::connect(tls_connect(addr, &device).await.expect("TLS")).await;
    welcome(raw.hello("realm1").await);
}

//! WAMP over WebSocket, as a tower [`Service`] that performs the upgrade
//! itself.
//!
//! [`WebSocketService`] answers the HTTP request that opens a WebSocket:
//! it validates the RFC 6455 opening handshake, negotiates a WAMP
//! subprotocol (`wamp.2.json`, `wamp.2.msgpack`, …), answers
//! `101 Switching Protocols` and serves the WAMP session on the upgraded
//! connection in a task of its own. Requests that are not a usable WAMP
//! upgrade get a short plain-text error response instead.
//!
//! It mounts in axum with `Router::route_service` and runs on plain hyper
//! (through `hyper_util::service::TowerToHyperService`); the connection must
//! be served by hyper with HTTP/1.1 upgrades enabled (axum's `serve` does
//! this; with hyper's own builders call `.with_upgrades()` or use
//! `hyper_util::server::conn::auto::Builder::serve_connection_with_upgrades`).
//!
//! # The peer's address
//!
//! An HTTP request does not carry the peer's address, so the service reads
//! it from a request extension: [`ConnectionAddr`], which a plain-hyper
//! accept loop inserts per connection, or (feature `axum`, on by default)
//! axum's `ConnectInfo<SocketAddr>`, which axum inserts when the router is
//! served with `into_make_service_with_connect_info::<SocketAddr>()`:
//!
//! ```no_run
//! use std::net::SocketAddr;
//!
//! use axum::routing::get;
//! use serverwamp::Application;
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Application::new();
//! let router = axum::Router::new()
//!     .route_service("/ws", app.websocket_service())
//!     .route("/health", get(|| async { "ok" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // Without `_with_connect_info`, sessions' peer address is `Unknown`.
//! axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! [`WebSocketService::peer_address_from`] replaces the lookup, to read a
//! reverse proxy's header, say.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use http::header::{
    CONNECTION, CONTENT_TYPE, COOKIE, HeaderName, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::TokioIo;
use serverwamp_protocol::Codec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tower_service::Service;

use crate::engine::Engine;
use crate::link::{
    FrameReader, FrameWriter, PeerAddress, TransportError, TransportInfo, TransportKind,
};

/// The only WebSocket protocol version there is (RFC 6455, section 4.1).
const WEBSOCKET_VERSION: &str = "13";

/// The address of the peer of an HTTP connection, as a request extension.
///
/// A server that is not axum inserts it into every request of a connection
/// so that [`WebSocketService`] can put it in the session's
/// [`TransportInfo`]; without it the peer address is
/// [`PeerAddress::Unknown`]. From the `hyper` example, per accepted
/// connection:
///
/// ```
/// # use std::net::SocketAddr;
/// use http::Request;
/// use hyper::body::Incoming;
/// use serverwamp::Application;
/// use serverwamp::transport::websocket::{ConnectionAddr, WebSocketService};
///
/// # let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
/// let service = WebSocketService::new(Application::new());
/// // let (stream, peer) = listener.accept().await?;
/// let service = tower::util::MapRequest::new(service, move |mut request: Request<Incoming>| {
///     request.extensions_mut().insert(ConnectionAddr(peer));
///     request
/// });
/// let service = hyper_util::service::TowerToHyperService::new(service);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionAddr(pub SocketAddr);

/// Limits and buffer sizes of WebSocket connections.
///
/// The defaults are chosen for many mostly idle sessions, each holding as
/// little memory as it can (see [`WebSocketSettings::read_buffer_size`]).
///
/// ```
/// use serverwamp::transport::websocket::WebSocketSettings;
///
/// let settings = WebSocketSettings::new().max_message_size(1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketSettings {
    max_message_size: usize,
    max_frame_size: usize,
    read_buffer_size: usize,
    write_buffer_size: usize,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        WebSocketSettings {
            max_message_size: 16 * 1024 * 1024,
            max_frame_size: 16 * 1024 * 1024,
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
        }
    }
}

impl WebSocketSettings {
    /// The default settings: 16 MiB messages and frames, 4 KiB read and
    /// write buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest message a peer may send, in bytes, counting all the
    /// frames of a fragmented message (default 16 MiB). A larger message
    /// ends the connection with close code 1009 (Message Too Big).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The largest single frame a peer may send, in bytes of payload
    /// (default 16 MiB).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The read buffer of each connection, in bytes (default 4 KiB).
    ///
    /// Every connection allocates it up front and keeps it while idle, so
    /// it dominates the memory of an idle session: tungstenite's own
    /// default of 128 KiB would cost 128 KiB per connection. 4 KiB is what
    /// small WAMP messages need; a larger message is still received whole,
    /// only in more, smaller reads. Raise it for a few connections that
    /// receive a lot of data.
    #[must_use]
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// How many bytes of outgoing frames are gathered before they are
    /// written to the socket (default 4 KiB); a flush always writes
    /// everything.
    ///
    /// The session feeds each outgoing frame and flushes once its queue is
    /// empty, so a burst of small messages (an event fanned out, several
    /// results) leaves in one write instead of one write each. The buffer
    /// only grows while a burst is being written, so 4 KiB keeps that
    /// saving without tungstenite's default of 128 KiB. `0` writes every
    /// frame as soon as it is fed.
    #[must_use]
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    fn to_config(self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            // tungstenite panics unless the maximum write buffer is larger
            // than the target one, and the maximum is unlimited (usize::MAX).
            .write_buffer_size(self.write_buffer_size.min(usize::MAX - 1))
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}

/// Reads the peer's address from a WebSocket upgrade request.
type PeerAddressFn = fn(&http::request::Parts) -> Option<SocketAddr>;

/// The default [`PeerAddressFn`]: the [`ConnectionAddr`] extension, else
/// (feature `axum`) axum's `ConnectInfo<SocketAddr>`.
fn connection_addr_extension(request: &http::request::Parts) -> Option<SocketAddr> {
    if let Some(&ConnectionAddr(addr)) = request.extensions.get::<ConnectionAddr>() {
        return Some(addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = request
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}

/// Says once per process that sessions cannot know their peer's address,
/// and how to fix it: peer-address authenticators refuse such sessions.
fn warn_unknown_peer_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "a WebSocket upgrade carries no peer address, so sessions see PeerAddress::Unknown: \
             under axum, serve with into_make_service_with_connect_info::<SocketAddr>(); \
             with plain hyper, insert a ConnectionAddr extension per connection"
        );
    });
}

/// A tower [`Service`] that upgrades HTTP requests to WebSocket connections
/// and serves WAMP sessions of an [`Application`](crate::Application) on them.
///
/// Each accepted connection runs in its own tokio task; the service's
/// response future completes as soon as the handshake response is ready.
///
/// ```
/// use serverwamp::Application;
/// use serverwamp::transport::websocket::WebSocketService;
///
/// let app = Application::new();
/// let router: axum::Router = axum::Router::new()
///     .route_service("/ws", WebSocketService::new(app.clone()));
/// ```
///
/// Responses:
/// - `101 Switching Protocols` for a valid upgrade that offers a WAMP
///   subprotocol; the first one in the client's order of preference that
///   this library speaks is chosen.
/// - `426 Upgrade Required` for a request that is not a WebSocket upgrade,
///   or that asks for a WebSocket version other than 13.
/// - `400 Bad Request` for a malformed upgrade, or one that offers no WAMP
///   subprotocol (the body lists those supported).
/// - `500 Internal Server Error` when the HTTP server cannot hand over the
///   connection (it is not hyper, or not HTTP/1.1).
#[derive(Clone)]
pub struct WebSocketService {
    engine: Engine,
    settings: WebSocketSettings,
    peer_address: PeerAddressFn,
}

impl fmt::Debug for WebSocketService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WebSocketService {
    /// A service for `app` with the default [`WebSocketSettings`], reading
    /// the peer's address from the [`ConnectionAddr`] extension.
    pub fn new(app: impl Into<Engine>) -> Self {
        WebSocketService {
            engine: app.into(),
            settings: WebSocketSettings::default(),
            peer_address: connection_addr_extension,
        }
    }

    /// Replaces the connection limits and buffer sizes.
    #[must_use]
    pub fn with_config(mut self, settings: WebSocketSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Replaces how the peer's address is found in the upgrade request
    /// (by default, the [`ConnectionAddr`] extension or axum's
    /// `ConnectInfo<SocketAddr>`). Returning `None` records the address as
    /// [`PeerAddress::Unknown`].
    ///
    /// Behind a reverse proxy that you trust to set `X-Forwarded-For`:
    ///
    /// ```
    /// # use serverwamp::Application;
    /// # use serverwamp::transport::websocket::WebSocketService;
    /// # let app = Application::new();
    /// let service = WebSocketService::new(app).peer_address_from(|request| {
    ///     let forwarded = request.headers.get("x-forwarded-for")?.to_str().ok()?;
    ///     let ip: std::net::IpAddr = forwarded.split(',').next()?.trim().parse().ok()?;
    ///     Some(std::net::SocketAddr::new(ip, 0))
    /// });
    /// ```
    #[must_use]
    pub fn peer_address_from(
        mut self,
        find: fn(&http::request::Parts) -> Option<SocketAddr>,
    ) -> Self {
        self.peer_address = find;
        self
    }

    /// Validates the handshake and, when it succeeds, starts the connection
    /// task; returns the response either way.
    fn upgrade(&self, mut request: http::request::Parts) -> Response<WebSocketBody> {
        let codec = match check_handshake(&request) {
            Ok(codec) => codec,
            Err(rejection) => {
                tracing::debug!(
                    status = %rejection.status,
                    reason = rejection.body,
                    "rejected WebSocket upgrade"
                );
                return rejection.into_response(request.version);
            }
        };

        let Some(accept) = request
            .headers
            .get(SEC_WEBSOCKET_KEY)
            .map(|key| derive_accept_key(key.as_bytes()))
            .and_then(|accept| HeaderValue::try_from(accept).ok())
        else {
            // check_handshake made sure the key is there.
            return text_response(StatusCode::INTERNAL_SERVER_ERROR, "handshake failed\n");
        };

        let Some(on_upgrade) = request.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            tracing::warn!(
                "WebSocket upgrade request without hyper's OnUpgrade extension: \
                 the connection must be served by hyper over HTTP/1.1"
            );
            return text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this server connection cannot be upgraded to WebSocket\n",
            );
        };

        let peer = match (self.peer_address)(&request) {
            Some(addr) => PeerAddress::Ip(addr),
            None => {
                warn_unknown_peer_once();
                PeerAddress::Unknown
            }
        };
        let info = transport_info(&request, peer);
        let engine = self.engine.clone();
        let config = self.settings.to_config();
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "WebSocket upgrade failed (is the hyper connection served with upgrades?)"
                    );
                    return;
                }
            };
            let (reader, writer) = websocket_halves(
                TokioIo::new(upgraded),
                config,
                codec.serialization().is_text(),
            )
            .await;
            engine.serve(info, codec, reader, writer).await;
        });

        let mut response = Response::new(WebSocketBody::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(codec.subprotocol()),
        );
        response
    }
}

impl<B> Service<Request<B>> for WebSocketService {
    type Response = Response<WebSocketBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<WebSocketBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // An upgrade request has no body worth reading (RFC 6455 section
        // 4.1 makes it a GET); drop it at once.
        let (parts, _body) = request.into_parts();
        ready(Ok(self.upgrade(parts)))
    }
}

/// The body of [`WebSocketService`]'s responses: empty for `101 Switching
/// Protocols`, a short plain-text explanation for errors.
#[derive(Debug, Default)]
pub struct WebSocketBody {
    data: Option<Bytes>,
}

impl WebSocketBody {
    fn empty() -> Self {
        WebSocketBody { data: None }
    }

    fn text(text: impl Into<Bytes>) -> Self {
        let data: Bytes = text.into();
        WebSocketBody {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl hyper::body::Body for WebSocketBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}

/// A refused handshake: the status and text of the error response.
#[derive(Debug, PartialEq, Eq)]
struct Rejection {
    status: StatusCode,
    body: String,
}

impl Rejection {
    fn bad_request(body: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            body: body.into(),
        }
    }

    /// The error response to a request of HTTP version `version`.
    fn into_response(self, version: Version) -> Response<WebSocketBody> {
        let status = self.status;
        let mut response = text_response(status, self.body);
        if status == StatusCode::UPGRADE_REQUIRED {
            let headers = response.headers_mut();
            // RFC 9110 section 15.5.22: a 426 response names the protocol
            // to upgrade to in `Upgrade`, which section 7.8 pairs with
            // `Connection: Upgrade`. Both are HTTP/1 connection headers,
            // forbidden in HTTP/2 (RFC 9113 section 8.2.2).
            if version <= Version::HTTP_11 {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            }
            // RFC 6455 section 4.4: and the WebSocket versions we speak.
            headers.insert(
                SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(WEBSOCKET_VERSION),
            );
        }
        response
    }
}

fn text_response(status: StatusCode, body: impl Into<Bytes>) -> Response<WebSocketBody> {
    let mut response = Response::new(WebSocketBody::text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The supported subprotocols as a comma-separated list, for error texts.
fn supported_subprotocols() -> String {
    Codec::SUBPROTOCOLS.join(", ")
}

/// Checks the opening handshake (RFC 6455, section 4.2.1) and picks the
/// codec of the negotiated subprotocol.
fn check_handshake(request: &http::request::Parts) -> Result<Codec, Rejection> {
    if !has_token(&request.headers, &UPGRADE, "websocket") {
        return Err(Rejection {
            status: StatusCode::UPGRADE_REQUIRED,
            body: format!(
                "This endpoint speaks WAMP over WebSocket: connect with a WebSocket client \
                 offering one of the subprotocols {}.\n",
                supported_subprotocols()
            ),
        });
    }
    if request.method != Method::GET {
        return Err(Rejection::bad_request(
            "A WebSocket upgrade must be a GET request.\n",
        ));
    }
    if request.version != Version::HTTP_11 {
        return Err(Rejection::bad_request(
            "A WebSocket upgrade must be an HTTP/1.1 request.\n",
        ));
    }
    if !has_token(&request.headers, &CONNECTION, "upgrade") {
        return Err(Rejection::bad_request(
            "A WebSocket upgrade needs a `Connection: Upgrade` header.\n",
        ));
    }
    // RFC 6455 section 4.4: an unknown version is answered with the
    // versions the server speaks, which `Rejection::into_response` adds to
    // every 426.
    let version = request.headers.get(SEC_WEBSOCKET_VERSION);
    if version.is_none_or(|version| version.as_bytes() != WEBSOCKET_VERSION.as_bytes()) {
        return Err(Rejection {
            status: StatusCode::UPGRADE_REQUIRED,
            body: "Only WebSocket version 13 is supported (`Sec-WebSocket-Version: 13`).\n"
                .to_owned(),
        });
    }
    let mut keys = request.headers.get_all(SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) if is_valid_key(key.as_bytes()) => {}
        _ => {
            return Err(Rejection::bad_request(
                "A WebSocket upgrade needs one `Sec-WebSocket-Key` header holding 16 \
                 base64-encoded bytes.\n",
            ));
        }
    }
    negotiate_subprotocol(&request.headers).ok_or_else(|| {
        Rejection::bad_request(format!(
            "No supported WAMP subprotocol offered: offer one of {} in the \
             `Sec-WebSocket-Protocol` header.\n",
            supported_subprotocols()
        ))
    })
}

/// Whether a comma-separated header (all its occurrences) holds `token`,
/// compared ASCII case-insensitively, as `Connection: keep-alive, Upgrade`
/// holds `upgrade`.
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    list_items(headers, name).any(|item| item.eq_ignore_ascii_case(token))
}

/// The non-empty items of a comma-separated header, over all its
/// occurrences, trimmed. Values that are not visible ASCII are skipped.
fn list_items<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Whether a `Sec-WebSocket-Key` is the base64 encoding of 16 bytes: 22
/// base64 digits then `==` (RFC 6455, section 4.2.1, item 5).
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/')
}

/// The codec of the first subprotocol the client offers that has one.
///
/// RFC 6455 section 4.1 has the client list subprotocols "ordered by
/// preference", so the client's order decides, not ours.
fn negotiate_subprotocol(headers: &HeaderMap) -> Option<Codec> {
    list_items(headers, &SEC_WEBSOCKET_PROTOCOL).find_map(Codec::from_subprotocol)
}

/// What a session may know of the upgrade request that opened it.
fn transport_info(request: &http::request::Parts, peer: PeerAddress) -> TransportInfo {
    let mut cookies = HashMap::new();
    let cookie_values = request
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok());
    for value in cookie_values {
        // Malformed pairs are skipped rather than failing the connection: a
        // browser sends whatever other applications on the host have set.
        for cookie in cookie::Cookie::split_parse(value).flatten() {
            // RFC 6265 section 5.4: a browser lists cookies with longer
            // paths first, so the first of a name is the most specific.
            cookies
                .entry(cookie.name().to_owned())
                .or_insert_with(|| cookie.value().to_owned());
        }
    }
    TransportInfo {
        kind: TransportKind::WebSocket,
        peer,
        path: request.uri.path().to_owned(),
        query: request.uri.query().map(str::to_owned),
        headers: detached(&request.headers),
        cookies,
        peer_certificate: request
            .extensions
            .get::<TlsConnection>()
            .and_then(|tls| tls.peer_certificate.clone()),
        secure: request.extensions.get::<TlsConnection>().is_some(),
    }
}

/// A request extension that a server terminating TLS inserts for each
/// request of a TLS connection, so sessions know they are encrypted and
/// transport authenticators see the client's certificate
/// ([`TransportInfo::peer_certificate`]).
#[derive(Debug, Clone, Default)]
pub struct TlsConnection {
    /// The client's certificate in DER, if it presented one.
    pub peer_certificate: Option<Bytes>,
}

/// A copy of `headers` that owns its bytes. hyper's header values are
/// slices of its whole read buffer; keeping them for a session's lifetime
/// would keep that buffer (some 16 KiB) alive for every idle connection.
fn detached(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut owned =
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        owned.set_sensitive(value.is_sensitive());
        let name =
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        copy.append(name, owned);
    }
    copy
}

/// Builds the WebSocket on an upgraded connection and splits it into the
/// session's reader and writer.
async fn websocket_halves<S>(
    io: S,
    config: WebSocketConfig,
    text: bool,
) -> (WebSocketReader<S>, WebSocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (sink, stream) = stream.split();
    let close_code = Arc::new(AtomicU16::new(0));
    (
        WebSocketReader {
            stream,
            done: false,
            close_code: Arc::clone(&close_code),
            last_heard: std::time::Instant::now(),
        },
        WebSocketWriter {
            sink,
            text,
            close_code,
        },
    )
}

/// The receiving half of a WebSocket connection.
///
/// Pings are answered inside tungstenite while it reads: it queues the pong
/// and writes it through the shared stream on this or the next read, or on
/// the writer's next flush, whichever comes first.
struct WebSocketReader<S> {
    stream: SplitStream<WebSocketStream<S>>,
    /// Set once the connection ended or failed: nothing more is read.
    done: bool,
    /// The close code the writer sends when the session closes, set when
    /// reading fails (0: none, a normal close).
    close_code: Arc<AtomicU16>,
    /// When the peer last sent anything (a pong included).
    last_heard: std::time::Instant,
}

impl<S> WebSocketReader<S> {
    fn fail(&mut self, code: CloseCode, error: &tungstenite::Error) -> TransportError {
        self.done = true;
        self.close_code.store(code.into(), Ordering::Relaxed);
        let detail = format!("WebSocket: {error}");
        match code {
            CloseCode::Size => TransportError::too_large(detail),
            CloseCode::Protocol | CloseCode::Invalid => TransportError::protocol(detail),
            _ => TransportError::io(detail),
        }
    }
}

impl<S> FrameReader for WebSocketReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn next_frame(&mut self) -> Option<Result<Bytes, TransportError>> {
        use tungstenite::Error;
        use tungstenite::error::ProtocolError;

        while !self.done {
            let Some(message) = self.stream.next().await else {
                self.done = true;
                return None;
            };
            self.last_heard = std::time::Instant::now();
            match message {
                Ok(Message::Text(text)) => return Some(Ok(Bytes::from(text))),
                Ok(Message::Binary(data)) => return Some(Ok(data)),
                // Pongs are queued by tungstenite itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                // tungstenite has queued the close reply; reading on writes
                // it and then ends the stream, completing the handshake
                // even if the session never closes.
                Ok(Message::Close(_)) => {}
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => {
                    self.done = true;
                }
                // A peer that vanishes without a close frame (a killed
                // browser tab) has closed the connection all the same.
                Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    tracing::debug!("WebSocket peer closed without a close frame");
                    self.done = true;
                }
                Err(error @ Error::Capacity(_)) => {
                    return Some(Err(self.fail(CloseCode::Size, &error)));
                }
                Err(error @ Error::Utf8(_)) => {
                    return Some(Err(self.fail(CloseCode::Invalid, &error)));
                }
                Err(error @ Error::Protocol(_)) => {
                    return Some(Err(self.fail(CloseCode::Protocol, &error)));
                }
                Err(error) => return Some(Err(self.fail(CloseCode::Error, &error))),
            }
        }
        None
    }

    fn last_heard(&self) -> Option<std::time::Instant> {
        Some(self.last_heard)
    }
}

/// The sending half of a WebSocket connection.
struct WebSocketWriter<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    /// Whether frames go out as text (JSON) rather than binary.
    text: bool,
    close_code: Arc<AtomicU16>,
}

fn write_error(error: &tungstenite::Error) -> TransportError {
    TransportError::io(format!("WebSocket: {error}"))
}

impl<S> FrameWriter for WebSocketWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn feed(&mut self, frame: Bytes) -> Result<(), TransportError> {
        // WAMP spec, "WebSocket Transport": with `wamp.2.json` all messages
        // are text, with the binary serializations all are binary.
        let message = if self.text {
            let text = Utf8Bytes::try_from(frame).map_err(|error| {
                TransportError::unwritable(format!("a JSON frame is not valid UTF-8: {error}"))
            })?;
            Message::Text(text)
        } else {
            Message::Binary(frame)
        };
        self.sink.feed(message).await.map_err(|e| write_error(&e))
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        self.sink.flush().await.map_err(|e| write_error(&e))
    }

    async fn close(&mut self) {
        let code = match self.close_code.load(Ordering::Relaxed) {
            0 => CloseCode::Normal,
            code => CloseCode::from(code),
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::default(),
        };
        // Errors mean the connection is already gone, which is what closing
        // wants; the close frame is skipped if the peer closed first.
        if let Err(error) = self.sink.send(Message::Close(Some(frame))).await {
            tracing::trace!(%error, "WebSocket close frame not sent");
        }
        let _ = self.sink.close().await;
    }

    async fn ping(&mut self) -> Result<(), TransportError> {
        self.sink
            .send(Message::Ping(Bytes::new()))
            .await
            .map_err(|e| write_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_request() -> http::request::Builder {
        Request::get("/ws")
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "Upgrade")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(SEC_WEBSOCKET_PROTOCOL, "wamp.2.json")
    }

    fn parts(builder: http::request::Builder) -> http::request::Parts {
        builder.body(()).unwrap().into_parts().0
    }

    fn headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn connection_tokens_are_a_case_insensitive_list() {
        for value in [
            "Upgrade",
            "upgrade",
            "keep-alive, Upgrade",
            "keep-alive,UPGRADE ",
        ] {
            let map = headers(&[(CONNECTION, value)]);
            assert!(has_token(&map, &CONNECTION, "upgrade"), "{value}");
        }
        let split = headers(&[(CONNECTION, "keep-alive"), (CONNECTION, "Upgrade")]);
        assert!(has_token(&split, &CONNECTION, "upgrade"));
        for value in ["keep-alive", "upgrade-insecure", "up grade", ""] {
            let map = headers(&[(CONNECTION, value)]);
            assert!(!has_token(&map, &CONNECTION, "upgrade"), "{value}");
        }
        assert!(!has_token(&HeaderMap::new(), &CONNECTION, "upgrade"));
    }

    #[test]
    fn subprotocol_follows_the_clients_preference() {
        let pick = |pairs: &[(HeaderName, &'static str)]| {
            negotiate_subprotocol(&headers(pairs)).map(|codec| codec.subprotocol())
        };
        let p = SEC_WEBSOCKET_PROTOCOL;
        assert_eq!(pick(&[(p.clone(), "wamp.2.json")]), Some("wamp.2.json"));
        assert_eq!(
            pick(&[(p.clone(), "wamp.2.msgpack, wamp.2.json")]),
            Some("wamp.2.msgpack")
        );
        assert_eq!(
            pick(&[(p.clone(), "foo,wamp.2.cbor.batched ,wamp.2.json")]),
            Some("wamp.2.cbor.batched")
        );
        assert_eq!(
            pick(&[(p.clone(), "foo"), (p.clone(), "wamp.2.cbor, wamp.2.json")]),
            Some("wamp.2.cbor")
        );
        assert_eq!(pick(&[(p.clone(), "foo, wamp.2.xml, WAMP.2.JSON")]), None);
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn a_valid_upgrade_negotiates_a_codec() {
        let codec = check_handshake(&parts(upgrade_request())).unwrap();
        assert_eq!(codec.subprotocol(), "wamp.2.json");
        let codec = check_handshake(&parts(
            upgrade_request().header(CONNECTION, "keep-alive, upgrade"),
        ))
        .unwrap();
        assert_eq!(codec.subprotocol(), "wamp.2.json");
    }

    #[test]
    fn malformed_upgrades_are_refused() {
        let status = |builder| check_handshake(&parts(builder)).unwrap_err().status;

        assert_eq!(status(Request::get("/ws")), StatusCode::UPGRADE_REQUIRED);
        let mut post = upgrade_request();
        post = post.method(Method::POST);
        assert_eq!(status(post), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(upgrade_request().version(Version::HTTP_10)),
            StatusCode::BAD_REQUEST
        );

        let without = |name: HeaderName| {
            let mut request = parts(upgrade_request());
            request.headers.remove(name);
            check_handshake(&request).unwrap_err()
        };
        assert_eq!(without(CONNECTION).status, StatusCode::BAD_REQUEST);
        assert_eq!(
            without(SEC_WEBSOCKET_VERSION).status,
            StatusCode::UPGRADE_REQUIRED
        );
        assert_eq!(without(SEC_WEBSOCKET_KEY).status, StatusCode::BAD_REQUEST);
        let no_protocol = without(SEC_WEBSOCKET_PROTOCOL);
        assert_eq!(no_protocol.status, StatusCode::BAD_REQUEST);
        for subprotocol in Codec::SUBPROTOCOLS {
            assert!(
                no_protocol.body.contains(subprotocol),
                "{}",
                no_protocol.body
            );
        }

        let with = |name: HeaderName, value: &'static str| {
            let mut request = parts(upgrade_request());
            request
                .headers
                .insert(name, HeaderValue::from_static(value));
            check_handshake(&request).unwrap_err().status
        };
        assert_eq!(
            with(SEC_WEBSOCKET_VERSION, "8"),
            StatusCode::UPGRADE_REQUIRED
        );
        assert_eq!(with(SEC_WEBSOCKET_KEY, "short=="), StatusCode::BAD_REQUEST);
        assert_eq!(
            with(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ!="),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(with(SEC_WEBSOCKET_PROTOCOL, "foo"), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(upgrade_request().header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")),
            StatusCode::BAD_REQUEST,
            "two keys"
        );
    }

    #[test]
    fn rejections_become_text_responses() {
        let response = check_handshake(&parts(Request::get("/ws")))
            .unwrap_err()
            .into_response(Version::HTTP_11);
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()[UPGRADE], "websocket");
        assert_eq!(response.headers()[SEC_WEBSOCKET_VERSION], "13");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert!(!hyper::body::Body::is_end_stream(response.body()));

        let h2 = check_handshake(&parts(Request::get("/ws").version(Version::HTTP_2)))
            .unwrap_err()
            .into_response(Version::HTTP_2);
        assert_eq!(h2.status(), StatusCode::UPGRADE_REQUIRED);
        assert!(!h2.headers().contains_key(CONNECTION));
        assert!(!h2.headers().contains_key(UPGRADE));
    }

    #[test]
    fn the_service_needs_a_hyper_connection_to_upgrade() {
        let mut service = WebSocketService::new(Engine::default());
        let request = upgrade_request().body(()).unwrap();
        let response = service.upgrade(request.into_parts().0);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = futures_util::FutureExt::now_or_never(
            service.call(Request::get("/ws").body(()).unwrap()),
        )
        .unwrap()
        .unwrap();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    }

    #[test]
    fn transport_info_keeps_the_request() {
        let addr: SocketAddr = "192.0.2.7:4321".parse().unwrap();
        let request = parts(
            upgrade_request()
                .uri("/ws/v1?token=abc&x=1")
                .header(COOKIE, "a=1; myName=Jeff; malformed; =nameless")
                .header(COOKIE, "second=2; a=shadowed")
                .header("x-custom", "yes")
                .extension(ConnectionAddr(addr)),
        );
        let peer =
            connection_addr_extension(&request).map_or(PeerAddress::Unknown, PeerAddress::Ip);
        let info = transport_info(&request, peer);

        assert_eq!(info.kind(), TransportKind::WebSocket);
        assert_eq!(info.peer_address(), &PeerAddress::Ip(addr));
        assert_eq!(info.path(), "/ws/v1");
        assert_eq!(info.query(), Some("token=abc&x=1"));
        assert_eq!(info.headers()["x-custom"], "yes");
        assert_eq!(info.headers()[SEC_WEBSOCKET_PROTOCOL], "wamp.2.json");
        assert_eq!(info.cookie("a"), Some("1"));
        assert_eq!(info.cookie("myName"), Some("Jeff"));
        assert_eq!(info.cookie("second"), Some("2"));
        assert_eq!(info.cookies().len(), 3, "{:?}", info.cookies());
    }

    #[test]
    fn transport_info_without_query_cookies_or_address() {
        let request = parts(upgrade_request());
        let peer =
            connection_addr_extension(&request).map_or(PeerAddress::Unknown, PeerAddress::Ip);
        let info = transport_info(&request, peer);
        assert_eq!(info.peer_address(), &PeerAddress::Unknown);
        assert_eq!(info.path(), "/ws");
        assert_eq!(info.query(), None);
        assert!(info.cookies().is_empty());
    }

    #[test]
    fn settings_make_a_valid_config() {
        let config = WebSocketSettings::new().to_config();
        assert_eq!(config.read_buffer_size, 4096);
        assert_eq!(config.write_buffer_size, 4096);
        assert_eq!(config.max_message_size, Some(16 << 20));
        let config = WebSocketSettings::new()
            .write_buffer_size(usize::MAX)
            .max_frame_size(10)
            .to_config();
        assert!(config.max_write_buffer_size > config.write_buffer_size);
        assert_eq!(config.max_frame_size, Some(10));
    }

    /// A server reader and writer and a client on the other end of an
    /// in-memory pipe.
    async fn pair(
        settings: WebSocketSettings,
        text: bool,
    ) -> (
        WebSocketReader<tokio::io::DuplexStream>,
        WebSocketWriter<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let (reader, writer) = websocket_halves(server, settings.to_config(), text).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (reader, writer, client)
    }

    #[tokio::test]
    async fn text_and_binary_frames_are_data() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        client.send(Message::text("[1]")).await.unwrap();
        client
            .send(Message::binary(&b"\x91\x01"[..]))
            .await
            .unwrap();
        assert_eq!(reader.next_frame().await.unwrap().unwrap(), "[1]");
        assert_eq!(
            reader.next_frame().await.unwrap().unwrap(),
            &b"\x91\x01"[..]
        );
    }

    #[tokio::test]
    async fn json_goes_out_as_text_and_others_as_binary() {
        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), true).await;
        writer.feed(Bytes::from_static(b"[2]")).await.unwrap();
        writer.feed(Bytes::from_static(b"[3]")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("[2]"));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("[3]"));
        assert!(writer.feed(Bytes::from_static(b"\xff")).await.is_err());

        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), false).await;
        writer.feed(Bytes::from_static(b"\x91\x02")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(&b"\x91\x02"[..])
        );
    }

    #[tokio::test]
    async fn pings_are_answered_while_reading() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        let reading = tokio::spawn(async move { reader.next_frame().await.map(Result::unwrap) });
        client.send(Message::Ping("hi".into())).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Pong("hi".into())
        );
        client.send(Message::text("[4]")).await.unwrap();
        assert_eq!(reading.await.unwrap().unwrap(), "[4]");
    }

    #[tokio::test]
    async fn a_close_frame_ends_the_reader_and_is_answered() {
        let (mut reader, _writer, mut client) = pair(WebSocketSettings::new(), true).await;
        client.close(None).await.unwrap();
        assert!(reader.next_frame().await.is_none());
        assert!(reader.next_frame().await.is_none());
        // The reader wrote the close reply, which ends the client's stream.
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
    }

    #[tokio::test]
    async fn a_session_close_sends_a_normal_close_frame() {
        let (_reader, mut writer, mut client) = pair(WebSocketSettings::new(), true).await;
        writer.close().await;
        let Some(Ok(Message::Close(Some(frame)))) = client.next().await else {
            panic!("expected a close frame");
        };
        assert_eq!(frame.code, CloseCode::Normal);
    }

    #[tokio::test]
    async fn a_too_large_message_fails_once_and_closes_with_1009() {
        let settings = WebSocketSettings::new().max_message_size(16);
        let (mut reader, mut writer, mut client) = pair(settings, false).await;
        client.send(Message::binary(vec![0u8; 64])).await.unwrap();
        assert!(reader.next_frame().await.unwrap().is_err());
        assert!(reader.next_frame().await.is_none());
        writer.close().await;
        let Some(Ok(Message::Close(Some(frame)))) = client.next().await else {
            panic!("expected a close frame");
        };
        assert_eq!(frame.code, CloseCode::Size);
    }

    #[tokio::test]
    async fn a_vanished_peer_ends_the_reader() {
        let (mut reader, _writer, client) = pair(WebSocketSettings::new(), true).await;
        drop(client);
        assert!(reader.next_frame().await.is_none());
    }
}

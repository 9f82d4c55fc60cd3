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

mod handshake;
mod info;
mod stream;

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use http::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tower_service::Service;

pub use self::handshake::WebSocketBody;
use self::handshake::{check_handshake, switching_protocols, text_response};
use self::info::{PeerAddressFn, peer_address};
pub(crate) use self::info::{connection_addr_extension, transport_info};
use crate::engine::Engine;

/// The address of the peer of an HTTP connection, as a request extension.
///
/// A server that is not axum inserts it into every request of a connection
/// so that [`WebSocketService`] can put it in the session's
/// [`TransportInfo`](super::TransportInfo); without it the peer address is
/// [`PeerAddress::Unknown`](super::PeerAddress::Unknown). From the `hyper` example, per accepted
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

/// A request extension that a server terminating TLS inserts for each
/// request of a TLS connection, so sessions know they are encrypted and
/// transport authenticators see the client's certificate
/// ([`TransportInfo::peer_certificate`](super::TransportInfo::peer_certificate)).
#[derive(Debug, Clone, Default)]
pub struct TlsConnection {
    /// The client's certificate in DER, if it presented one.
    pub peer_certificate: Option<Bytes>,
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
    /// [`PeerAddress::Unknown`](super::PeerAddress::Unknown).
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

        let peer = peer_address(self.peer_address, &request);
        let policy = self.engine.origin_policy();
        let header = |name| request.headers.get(name).and_then(|v| v.to_str().ok());
        let secure = request.extensions.get::<TlsConnection>().is_some();
        let cross_origin = policy.is_cross_origin(
            header(http::header::ORIGIN),
            header(http::header::HOST),
            secure,
        );
        if cross_origin && policy.refuses_cross_origin() {
            tracing::debug!(
                origin = header(http::header::ORIGIN),
                "refused a cross-origin upgrade"
            );
            return text_response(
                StatusCode::FORBIDDEN,
                "WebSocket upgrades from this origin are not accepted.\n",
            );
        }
        // Limits apply before the upgrade: a refused client gets a plain
        // HTTP answer it can understand.
        let Some(admission) = self.engine.admit(&peer) else {
            return text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server holds as many WAMP connections as it may; try again later.\n",
            );
        };

        let Some(response) = switching_protocols(&request, codec) else {
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

        let mut info = transport_info(&request, peer);
        info.cross_origin = cross_origin;
        let engine = self.engine.clone();
        let config = self.settings.to_config();
        // Built with combinators rather than one async block: each stage's
        // state takes the same place in the task (an async block would keep
        // slots for the values it moves on), and every idle connection
        // keeps this task.
        let text = codec.serialization().is_text();
        let connect = async move {
            match on_upgrade.await {
                Ok(upgraded) => Some(stream::halves(TokioIo::new(upgraded), config, text).await),
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "WebSocket upgrade failed (is the hyper connection served with upgrades?)"
                    );
                    None
                }
            }
        };
        let task = connect
            .then(move |halves| match halves {
                Some((reader, writer)) => Either::Left(engine.serve(info, codec, reader, writer)),
                None => Either::Right(ready(())),
            })
            .map(move |()| drop(admission));
        tokio::spawn(task);

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

#[cfg(test)]
mod tests {
    use http::header::{
        CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
    };

    use super::*;

    /// A valid upgrade request offering `wamp.2.json`, to build on.
    pub(super) fn upgrade_request() -> http::request::Builder {
        Request::get("/ws")
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "Upgrade")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(SEC_WEBSOCKET_PROTOCOL, "wamp.2.json")
    }

    /// The head of a request, as the service sees it.
    pub(super) fn parts(builder: http::request::Builder) -> http::request::Parts {
        builder.body(()).unwrap().into_parts().0
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
}

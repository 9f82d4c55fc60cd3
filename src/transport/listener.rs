//! One port for everything: RawSocket, WebSocket and plain HTTP on the same
//! listener, with or without TLS, for applications that have no web
//! framework of their own.
//!
//! Each accepted connection is told apart by its first byte, as Crossbar's
//! "universal transport" does: `0x7F` opens a RawSocket handshake, anything
//! else is HTTP. HTTP requests for the WebSocket path (`/ws` by default)
//! are upgraded to WAMP-over-WebSocket; any other request goes to an
//! optional fallback service (a health check, static files, an
//! `axum::Router`), or gets `404 Not Found`.
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use serverwamp::Application;
//! use serverwamp::transport::listener::{self, ServeOptions};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Application::new();
//! // Every path but `/ws` lands here.
//! let health = tower::service_fn(|request: Request<Incoming>| async move {
//!     let status = if request.uri().path() == "/health" {
//!         StatusCode::OK
//!     } else {
//!         StatusCode::NOT_FOUND
//!     };
//!     let mut response = Response::new(Full::new(Bytes::from_static(b"ok\n")));
//!     *response.status_mut() = status;
//!     Ok::<_, Infallible>(response)
//! });
//! let options = ServeOptions::new().fallback(health);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // WAMP clients connect to ws://127.0.0.1:8080/ws or rs://127.0.0.1:8080.
//! listener::serve(app, listener, options).await
//! # }
//! ```
//!
//! With `ServeOptions::tls` (feature `tls`, on by default) every
//! connection first completes a TLS handshake, and sessions of both
//! transports are [`TransportInfo::is_secure`]; the client's certificate,
//! when it presents one, reaches transport authenticators as
//! [`TransportInfo::peer_certificate`]. Build the configuration with
//! `transport::tls::TlsConfig`.
//!
//! Requests to the fallback carry the peer's address as a
//! [`ConnectionAddr`] extension and, over TLS, a [`TlsConnection`]
//! extension, like those to the WebSocket path.
//!
//! # Robustness
//!
//! A connection that sends nothing is closed after
//! [`ServeOptions::first_byte_timeout`] (10 s by default; the TLS
//! handshake counts against it too). Malformed input only ever closes its
//! own connection, and errors accepting one connection do not stop the
//! accept loop. Connections are served each in a task of their own;
//! RawSocket connections count against
//! [`RawSocketSettings::max_connections`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tower_service::Service;

use crate::engine::Engine;
use crate::link::{PeerAddress, TransportInfo, TransportKind};
use crate::transport::rawsocket::{RawSocketServer, RawSocketSettings};
use crate::transport::websocket::{
    ConnectionAddr, TlsConnection, WebSocketService, WebSocketSettings,
};
use crate::transport::{Listener, accept_loop};

/// The first octet of every RawSocket handshake. Spec, "RawSocket
/// Transport": no HTTP request can start with it, so RawSocket "can be run
/// e.g. on the same TCP listening port as WAMP-over-WebSocket".
const RAWSOCKET_MAGIC: u8 = 0x7F;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every HTTP response the listener sends.
type Body = UnsyncBoxBody<Bytes, BoxError>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A type-erased fallback service.
type Fallback = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<Response<Body>> + Send + Sync>;

/// What a [`Server`] serves and how: TLS, the WebSocket path, the fallback
/// for other HTTP requests and the transports' settings.
///
/// ```
/// use std::time::Duration;
///
/// use serverwamp::transport::listener::ServeOptions;
/// use serverwamp::transport::rawsocket::RawSocketSettings;
///
/// let options = ServeOptions::new()
///     .websocket_path("/wamp")
///     .rawsocket(RawSocketSettings::new().max_connections(1_000))
///     .first_byte_timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct ServeOptions {
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    websocket_path: Arc<str>,
    fallback: Option<Fallback>,
    rawsocket: RawSocketSettings,
    websocket: WebSocketSettings,
    first_byte_timeout: Duration,
    header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            #[cfg(feature = "tls")]
            tls: None,
            websocket_path: Arc::from("/ws"),
            fallback: None,
            rawsocket: RawSocketSettings::default(),
            websocket: WebSocketSettings::default(),
            first_byte_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ServeOptions");
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls.is_some());
        debug
            .field("websocket_path", &self.websocket_path)
            .field("fallback", &self.fallback.is_some())
            .field("rawsocket", &self.rawsocket)
            .field("websocket", &self.websocket)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish()
    }
}

impl ServeOptions {
    /// The defaults: no TLS, WebSocket on `/ws`, `404 Not Found` for other
    /// paths, default RawSocket and WebSocket settings, 10 s for the first
    /// byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves every connection over TLS with this rustls configuration
    /// (see [`TlsConfig`](crate::transport::tls::TlsConfig) to build one).
    ///
    /// Both transports then run inside TLS: `wss://` for WebSocket, and
    /// RawSocket over TLS. The client's certificate, if it presents one
    /// that the configuration's verifier accepts, becomes
    /// [`TransportInfo::peer_certificate`] of the sessions of both
    /// transports (which are [`TransportInfo::is_secure`]) and reaches the
    /// fallback as the [`TlsConnection`] extension.
    ///
    /// ```no_run
    /// use serverwamp::transport::listener::ServeOptions;
    /// use serverwamp::transport::tls::TlsConfig;
    ///
    /// # fn run() -> Result<(), serverwamp::transport::tls::TlsError> {
    /// let options = ServeOptions::new().tls(TlsConfig::from_pem_files("cert.pem", "key.pem")?.build()?);
    /// # let _ = options;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, config: Arc<tokio_rustls::rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }

    /// The HTTP path whose requests are WebSocket upgrades (default `/ws`);
    /// compared with the request's path exactly, without its query.
    #[must_use]
    pub fn websocket_path(mut self, path: impl Into<String>) -> Self {
        self.websocket_path = Arc::from(path.into());
        self
    }

    /// Serves HTTP requests for other paths than the WebSocket path with
    /// `service`, in place of `404 Not Found`.
    ///
    /// Any tower service of `Request<hyper::body::Incoming>` will do: an
    /// `axum::Router`, a `tower::service_fn`. An error it returns becomes
    /// `500 Internal Server Error`.
    ///
    /// ```
    /// use serverwamp::transport::listener::ServeOptions;
    ///
    /// let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    /// let options = ServeOptions::new().fallback(router);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn fallback<S, B>(mut self, service: S) -> Self
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.fallback = Some(Arc::new(move |request| {
            let mut service = service.clone();
            Box::pin(async move {
                let ready: Result<(), BoxError> = std::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Into::into);
                let response = match ready {
                    Ok(()) => service.call(request).await.map_err(Into::into),
                    Err(error) => Err(error),
                };
                match response {
                    Ok(response) => response.map(|body| body.map_err(Into::into).boxed_unsync()),
                    Err(error) => {
                        tracing::warn!(%error, "the fallback service failed");
                        text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
                    }
                }
            })
        }));
        self
    }

    /// The RawSocket settings (message length, connection limit, handshake
    /// timeout).
    #[must_use]
    pub fn rawsocket(mut self, settings: RawSocketSettings) -> Self {
        self.rawsocket = settings;
        self
    }

    /// The WebSocket settings (message size, buffers).
    #[must_use]
    pub fn websocket(mut self, settings: WebSocketSettings) -> Self {
        self.websocket = settings;
        self
    }

    /// How long a new connection has to complete its TLS handshake, when
    /// TLS is on, and send its first byte (default 10 s). A connection
    /// that has not is closed.
    #[must_use]
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = timeout;
        self
    }

    /// How long an HTTP/1 client has to send the headers of each request
    /// (default 10 s): a client that sends half a request and stops
    /// (slowloris) is closed then. The WebSocket upgrade is such a request;
    /// once it is done the application's HELLO deadline
    /// ([`Limits::hello_timeout`](crate::Limits::hello_timeout)) takes over.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }
}

/// Serves an [`Application`](crate::Application) over RawSocket, WebSocket and plain HTTP on
/// listeners and connections of its own, as [`ServeOptions`] say.
///
/// [`serve`] makes one for a single listener; make one yourself to serve
/// several listeners (one RawSocket connection limit spans them) or
/// connections accepted elsewhere:
///
/// ```no_run
/// use serverwamp::Application;
/// use serverwamp::transport::listener::{ServeOptions, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let server = Server::new(Application::new(), ServeOptions::new());
/// let v4 = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let v6 = tokio::net::TcpListener::bind("[::1]:8080").await?;
/// tokio::try_join!(server.serve(v4), server.serve(v6))?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    rawsocket: RawSocketServer,
    websocket: WebSocketService,
    http: auto::Builder<TokioExecutor>,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    websocket_path: Arc<str>,
    fallback: Option<Fallback>,
    first_byte_timeout: Duration,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Server");
        #[cfg(feature = "tls")]
        debug.field("tls", &self.inner.tls.is_some());
        debug
            .field("websocket_path", &self.inner.websocket_path)
            .field("fallback", &self.inner.fallback.is_some())
            .field("rawsocket", &self.inner.rawsocket)
            .field("first_byte_timeout", &self.inner.first_byte_timeout)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server for `app` with these options, serving nothing yet.
    pub fn new(app: impl Into<Engine>, options: ServeOptions) -> Self {
        let engine: Engine = app.into();
        let mut http = auto::Builder::new(TokioExecutor::new());
        // With a timer, hyper closes HTTP/1 connections that take too long
        // to send a request's headers.
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout);
        http.http2().timer(TokioTimer::new());
        Server {
            inner: Arc::new(Inner {
                rawsocket: RawSocketServer::new(engine.clone(), options.rawsocket),
                websocket: WebSocketService::new(engine).with_config(options.websocket),
                http,
                #[cfg(feature = "tls")]
                tls: options.tls,
                websocket_path: options.websocket_path,
                fallback: options.fallback,
                first_byte_timeout: options.first_byte_timeout,
            }),
        }
    }

    /// Accepts connections from `listener` (a `tokio::net::TcpListener`,
    /// a `tokio::net::UnixListener` or any other [`Listener`]) until the
    /// returned future is dropped, serving each in a task of its own as
    /// [`Server::serve_connection`] does, with the peer's address the
    /// listener reports. Over TCP, sessions see the peer as
    /// [`PeerAddress::Ip`]; over a Unix domain socket, RawSocket sessions
    /// see [`PeerAddress::Unix`] with the client socket's path (most often
    /// empty) and WebSocket sessions see [`PeerAddress::Unknown`].
    ///
    /// Dropping the future stops accepting; connections already accepted
    /// go on, and [`Application::close_sessions`](crate::Application::close_sessions) ends their sessions.
    ///
    /// # Errors
    /// Only if the listener cannot accept at all (`EINVAL`). Errors about
    /// one connection are skipped, and others (out of file descriptors)
    /// are logged and retried after a second.
    pub async fn serve(&self, listener: impl Listener) -> io::Result<()> {
        accept_loop(listener, |stream, peer| self.spawn_connection(stream, peer)).await
    }

    /// Serves one connection accepted elsewhere: the TLS handshake if TLS
    /// is configured, then RawSocket or HTTP by its first byte, until
    /// either side closes it. `peer` is what sessions see as the peer's
    /// address; an [`PeerAddress::Ip`] also reaches HTTP requests as the
    /// [`ConnectionAddr`] extension.
    ///
    /// ```no_run
    /// use serverwamp::Application;
    /// use serverwamp::transport::PeerAddress;
    /// use serverwamp::transport::listener::{ServeOptions, Server};
    ///
    /// # async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    /// let server = Server::new(Application::new(), ServeOptions::new());
    /// let (stream, addr) = listener.accept().await?;
    /// tokio::spawn(async move { server.serve_connection(stream, PeerAddress::Ip(addr)).await });
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The connection sent nothing in time ([`io::ErrorKind::TimedOut`]),
    /// its TLS handshake failed, its RawSocket handshake was refused (see
    /// [`RawSocketServer::serve_connection`]) or HTTP failed on it. A
    /// connection closed before it sent anything, and one whose session
    /// ran, however it ended, are `Ok(())`.
    pub async fn serve_connection<S>(&self, stream: S, peer: PeerAddress) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let deadline = Instant::now() + self.inner.first_byte_timeout;
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.inner.tls {
            // Each stage boxed, here and in `sniff`: the connection's task
            // then holds only the stage it is in (spawning copies a task
            // whole, and a RawSocket session lives in it).
            let accepting = Box::pin(tokio::time::timeout_at(deadline, acceptor.accept(stream)));
            let stream = accepting
                .await
                .map_err(|_| timed_out("no TLS handshake in time"))??;
            let (_, connection) = stream.get_ref();
            // The first certificate is the client's own; the rest is its
            // chain. The verifier has already checked it.
            let peer_certificate = connection
                .peer_certificates()
                .and_then(<[_]>::first)
                .map(|certificate| Bytes::copy_from_slice(certificate.as_ref()));
            let tls = TlsConnection { peer_certificate };
            let sniffing = Box::pin(self.sniff(stream, peer, Some(tls), deadline));
            return sniffing.await;
        }
        self.sniff(stream, peer, None, deadline).await
    }

    fn spawn_connection<S>(&self, stream: S, peer: PeerAddress)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        tokio::spawn(async move {
            let shown = peer.clone();
            if let Err(error) = server.serve_connection(stream, peer).await {
                tracing::debug!(peer = %shown, %error, "connection not served");
            }
        });
    }

    /// Reads the first byte and hands the connection, that byte put back,
    /// to RawSocket or HTTP.
    async fn sniff<S>(
        &self,
        mut stream: S,
        peer: PeerAddress,
        tls: Option<TlsConnection>,
        deadline: Instant,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut first = [0; 1];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut first))
            .await
            .map_err(|_| timed_out("nothing received in time"))??;
        if read == 0 {
            return Ok(());
        }
        let stream = Prefixed::new(first[0], stream);
        if first[0] == RAWSOCKET_MAGIC {
            let mut info = TransportInfo::new(TransportKind::RawSocket, peer);
            if let Some(TlsConnection { peer_certificate }) = tls {
                info = info.with_tls(peer_certificate);
            }
            let serving = Box::pin(
                self.inner
                    .rawsocket
                    .serve_connection_with_info(stream, info),
            );
            serving.await
        } else {
            let service = HttpService {
                inner: Arc::clone(&self.inner),
                addr: match peer {
                    PeerAddress::Ip(addr) => Some(addr),
                    _ => None,
                },
                tls,
            };
            let serving = Box::pin(
                self.inner
                    .http
                    .serve_connection_with_upgrades(TokioIo::new(stream), service),
            );
            serving.await.map_err(io::Error::other)
        }
    }
}

/// Serves `app` on a listener (TCP, Unix domain socket or any other
/// [`Listener`]) until the returned future is dropped: RawSocket, WebSocket
/// and HTTP on the one port. See [`Server::serve`] and the
/// [module documentation](self).
///
/// ```no_run
/// use serverwamp::Application;
/// use serverwamp::transport::listener::{self, ServeOptions};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// listener::serve(Application::new(), listener, ServeOptions::new()).await
/// # }
/// ```
///
/// On a Unix domain socket:
///
/// ```no_run
/// # use serverwamp::Application;
/// # use serverwamp::transport::listener::{self, ServeOptions};
/// # #[cfg(unix)]
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::UnixListener::bind("/run/myapp/wamp.sock")?;
/// listener::serve(Application::new(), listener, ServeOptions::new()).await
/// # }
/// ```
///
/// # Errors
/// Only if the listener cannot accept at all.
pub async fn serve(
    app: impl Into<Engine>,
    listener: impl Listener,
    options: ServeOptions,
) -> io::Result<()> {
    Server::new(app, options).serve(listener).await
}

/// The hyper service of one HTTP connection: the WebSocket path to the
/// WebSocket service, the rest to the fallback.
struct HttpService {
    inner: Arc<Inner>,
    addr: Option<SocketAddr>,
    tls: Option<TlsConnection>,
}

impl hyper::service::Service<Request<Incoming>> for HttpService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(addr) = self.addr {
            request.extensions_mut().insert(ConnectionAddr(addr));
        }
        if let Some(tls) = &self.tls {
            request.extensions_mut().insert(tls.clone());
        }
        if request.uri().path() == &*self.inner.websocket_path {
            let Ok(response) = self.inner.websocket.clone().call(request).into_inner();
            let response = response.map(|body| body.map_err(|never| match never {}).boxed_unsync());
            return Box::pin(std::future::ready(Ok(response)));
        }
        match &self.inner.fallback {
            Some(fallback) => {
                let response = fallback(request);
                Box::pin(async move { Ok(response.await) })
            }
            None => Box::pin(std::future::ready(Ok(text_response(
                StatusCode::NOT_FOUND,
                "not found\n",
            )))),
        }
    }
}

fn text_response(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn timed_out(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, message)
}

/// A stream whose first byte, already read to choose the protocol, is
/// read again before the rest.
#[derive(Debug)]
struct Prefixed<S> {
    first: Option<u8>,
    inner: S,
}

impl<S> Prefixed<S> {
    fn new(first: u8, inner: S) -> Self {
        Prefixed {
            first: Some(first),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() > 0
            && let Some(byte) = this.first.take()
        {
            buf.put_slice(&[byte]);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn prefixed_reads_its_byte_first_and_writes_through() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"ello").await.unwrap();
        drop(client);
        let mut stream = Prefixed::new(b'h', server);
        let mut empty = [0; 0];
        assert_eq!(stream.read(&mut empty).await.unwrap(), 0);
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "hello");

        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Prefixed::new(0, server);
        stream.write_all(b"out").await.unwrap();
        stream.flush().await.unwrap();
        stream.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"out");
    }

    #[test]
    fn options_default_and_debug() {
        let options = ServeOptions::new();
        assert_eq!(&*options.websocket_path, "/ws");
        assert_eq!(options.first_byte_timeout, Duration::from_secs(10));
        let debug = format!("{:?}", options.websocket_path("/wamp"));
        assert!(debug.contains("/wamp"), "{debug}");
        let server = Server::new(Engine::default(), ServeOptions::new());
        assert!(format!("{server:?}").contains("Server"));
    }
}

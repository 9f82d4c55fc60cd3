//! WAMP over RawSocket: length-prefixed frames over TCP, Unix domain
//! sockets or any other reliable byte stream (spec, "RawSocket Transport").
//!
//! A RawSocket connection opens with a 4-octet handshake in which the
//! client names its serializer (JSON, MessagePack or CBOR here) and the
//! longest message it accepts, and the router answers with the longest
//! message *it* accepts; then each message travels as a 4-octet prefix
//! (type and length) and its payload. The transport answers PINGs itself.
//!
//! Serve an [`Application`](crate::Application) on a TCP listener, beside its WebSocket
//! service or alone:
//!
//! ```no_run
//! use serverwamp::Application;
//! use serverwamp::transport::rawsocket::{self, RawSocketSettings};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Application::new();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! // Accepts until the future is dropped (or its task aborted).
//! tokio::spawn(rawsocket::serve(app.clone(), listener, RawSocketSettings::new()));
//! # Ok(())
//! # }
//! ```
//!
//! [`serve`] takes any [`Listener`]: a Unix domain socket's
//! (`tokio::net::UnixListener`) as well, or one of your own. With streams
//! accepted elsewhere (TLS, say), hand each to [`serve_connection`], or to
//! [`RawSocketServer::serve_connection`] for a connection limit that spans
//! them.
//!
//! # Limits
//!
//! - Messages: the router announces [`RawSocketSettings::max_message_length_exponent`]
//!   (16 MiB by default); a client frame over it fails the connection.
//!   Messages for the client longer than the maximum *it* announced are
//!   dropped, with a warning in the log: the spec forbids sending them.
//! - Connections: past [`RawSocketSettings::max_connections`], a client's
//!   handshake is answered with error 4 (maximum connection count reached).
//! - Handshake: a client has [`RawSocketSettings::handshake_timeout`] to send
//!   its 4 octets.
//!
//! PINGs from clients are always answered. The router's own keepalive
//! PINGs are off unless [`RawSocketSettings::keepalive_pings`] turns them
//! on: autobahn-python's clients cannot answer them.

mod framing;
mod handshake;
mod stream;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serverwamp_protocol::Codec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use self::handshake::{Accepted, MAX_LENGTH_EXPONENT, MIN_LENGTH_EXPONENT, Refusal, Rejection};
use crate::engine::Engine;
use crate::link::{PeerAddress, TransportInfo, TransportKind};
use crate::transport::{Listener, accept_loop};

/// How long a client over the connection limit may take to send its
/// handshake before it is closed without the error reply (at most the
/// configured handshake timeout): such connections should not linger.
const OVER_LIMIT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a refused connection gets for its error reply and close.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Limits of RawSocket connections.
///
/// ```
/// use std::time::Duration;
///
/// use serverwamp::transport::rawsocket::RawSocketSettings;
///
/// let settings = RawSocketSettings::new()
///     .max_message_length_exponent(20) // clients may send up to 1 MiB
///     .max_connections(1_000)
///     .handshake_timeout(Duration::from_secs(5));
/// assert_eq!(settings.max_message_length(), 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSocketSettings {
    max_message_length_exponent: u8,
    min_client_max_length_exponent: u8,
    max_connections: usize,
    handshake_timeout: Duration,
    keepalive_pings: bool,
}

impl Default for RawSocketSettings {
    fn default() -> Self {
        RawSocketSettings {
            max_message_length_exponent: MAX_LENGTH_EXPONENT,
            min_client_max_length_exponent: MIN_LENGTH_EXPONENT,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            keepalive_pings: false,
        }
    }
}

impl RawSocketSettings {
    /// The default settings: messages up to 16 MiB, clients of any maximum
    /// length, 10,000 connections, 10 s for the handshake, no keepalive
    /// pings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest message a client may send, as a power of two: 2^`exponent`
    /// octets, announced in the handshake reply (default 24, 16 MiB).
    ///
    /// A handshake can only state 2^9 (512 octets) to 2^24 (16 MiB), so
    /// `exponent` is clamped to 9..=24. A client frame over the limit fails
    /// the connection, before its payload is buffered.
    #[must_use]
    pub fn max_message_length_exponent(mut self, exponent: u8) -> Self {
        self.max_message_length_exponent = exponent.clamp(MIN_LENGTH_EXPONENT, MAX_LENGTH_EXPONENT);
        self
    }

    /// The longest message a client may send, in octets: 2 to the power of
    /// [`RawSocketSettings::max_message_length_exponent`].
    pub fn max_message_length(&self) -> usize {
        1 << self.max_message_length_exponent
    }

    /// Refuses clients that cannot receive messages of 2^`exponent` octets
    /// (handshake error 2, maximum message length unacceptable); clamped
    /// to 9..=24. The default, 9, accepts every client.
    ///
    /// Every client must at least receive WELCOME, which with its roles is
    /// a few hundred octets; raise this when an application's results
    /// would not fit a small client's limit (they would be dropped).
    #[must_use]
    pub fn min_client_max_length_exponent(mut self, exponent: u8) -> Self {
        self.min_client_max_length_exponent =
            exponent.clamp(MIN_LENGTH_EXPONENT, MAX_LENGTH_EXPONENT);
        self
    }

    /// The smallest receive limit a client may announce, in octets.
    fn min_client_max_length(&self) -> usize {
        1 << self.min_client_max_length_exponent
    }

    /// How many connections are served at once, handshakes included
    /// (default 10,000). One more is answered with handshake error 4
    /// (maximum connection count reached) and closed.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// How long a new connection has to complete its handshake (default
    /// 10 s); a client that sends nothing is closed after it.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Whether RawSocket connections take part in the application's
    /// keepalive ([`Application::set_keepalive`](crate::Application::set_keepalive)): each tick sends a PING,
    /// and a client silent past the timeout, PONGs included, is closed.
    /// Off by default.
    ///
    /// Why off: the spec has every peer answer a PING, but autobahn-python
    /// (26.10), the reference client, does not. Its asyncio client fails
    /// the connection on a PING, and its Twisted one reads the frame prefix
    /// as a plain 32-bit length and drops the connection as oversized. A
    /// router that pings would disconnect them every interval. Turn it on
    /// for clients that answer PINGs. Either way, PINGs from clients are
    /// answered.
    #[must_use]
    pub fn keepalive_pings(mut self, enabled: bool) -> Self {
        self.keepalive_pings = enabled;
        self
    }
}

/// Serves an [`Application`](crate::Application) over RawSocket, counting every connection it
/// serves against one [`RawSocketSettings::max_connections`] limit.
///
/// The free functions [`serve`] and [`serve_connection`] each make one;
/// make one yourself to serve several listeners under one limit, or
/// streams accepted elsewhere:
///
/// ```no_run
/// use serverwamp::Application;
/// use serverwamp::transport::PeerAddress;
/// use serverwamp::transport::rawsocket::{RawSocketServer, RawSocketSettings};
///
/// # async fn run() -> std::io::Result<()> {
/// let server = RawSocketServer::new(Application::new(), RawSocketSettings::new());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
/// loop {
///     let (stream, addr) = listener.accept().await?;
///     // A TLS acceptor would wrap `stream` here.
///     let server = server.clone();
///     tokio::spawn(async move {
///         if let Err(error) = server.serve_connection(stream, PeerAddress::Ip(addr)).await {
///             eprintln!("RawSocket connection from {addr} refused: {error}");
///         }
///     });
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct RawSocketServer {
    engine: Engine,
    settings: RawSocketSettings,
    /// One permit per connection being served.
    connections: Arc<Semaphore>,
    /// How many permits there are.
    max_connections: usize,
}

impl fmt::Debug for RawSocketServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSocketServer")
            .field("settings", &self.settings)
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl RawSocketServer {
    /// A server for `app` with these settings, serving no connection yet.
    pub fn new(app: impl Into<Engine>, settings: RawSocketSettings) -> Self {
        let max_connections = settings.max_connections.min(Semaphore::MAX_PERMITS);
        RawSocketServer {
            engine: app.into(),
            settings,
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
        }
    }

    /// The server's settings.
    pub fn settings(&self) -> &RawSocketSettings {
        &self.settings
    }

    /// How many connections are being served (handshakes included).
    pub fn connection_count(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }

    /// Accepts connections from `listener` (a `tokio::net::TcpListener`,
    /// a `tokio::net::UnixListener` or any other [`Listener`]) until the
    /// returned future is dropped, serving each in a task of its own: the
    /// handshake (within [`RawSocketSettings::handshake_timeout`]), then the
    /// WAMP session. Sessions see the peer as the listener reports it: TCP
    /// peers as [`PeerAddress::Ip`], Unix domain socket peers as
    /// [`PeerAddress::Unix`] with the client socket's path, most often
    /// empty (an unnamed socket).
    ///
    /// Dropping the future stops accepting; connections already accepted go
    /// on, and [`Application::close_sessions`](crate::Application::close_sessions) ends their sessions.
    ///
    /// # Errors
    /// Only if the listener cannot accept at all (`EINVAL`). Errors about
    /// one connection are skipped, and others (out of file descriptors)
    /// are logged and retried after a second.
    pub async fn serve(&self, listener: impl Listener) -> io::Result<()> {
        accept_loop(listener, |stream, peer| {
            let info = TransportInfo::new(TransportKind::RawSocket, peer);
            self.spawn_connection(stream, info);
        })
        .await
    }

    /// Serves one connection: the handshake, then the WAMP session until
    /// either side closes it. `peer` is what sessions see as
    /// [`TransportInfo::peer_address`].
    ///
    /// The connection counts against the server's connection limit while
    /// it is served; over the limit it gets handshake error 4.
    ///
    /// # Errors
    /// When no session started: the handshake did not arrive in time
    /// ([`io::ErrorKind::TimedOut`]), was not a RawSocket handshake or was
    /// refused with an error reply ([`io::ErrorKind::InvalidData`]), the
    /// connection limit was reached ([`io::ErrorKind::QuotaExceeded`]), or
    /// reading or writing the handshake failed. A session that ran returns
    /// `Ok(())`, however it ended.
    pub async fn serve_connection<S>(&self, stream: S, peer: PeerAddress) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let info = TransportInfo::new(TransportKind::RawSocket, peer);
        self.serve_connection_with_info(stream, info).await
    }

    /// Serves one connection as [`RawSocketServer::serve_connection`] does,
    /// with the [`TransportInfo`] its sessions see made by the caller: a
    /// listener that terminates TLS adds what it learnt of the connection.
    ///
    /// ```no_run
    /// # use serverwamp::Application;
    /// # use serverwamp::transport::rawsocket::{RawSocketServer, RawSocketSettings};
    /// use serverwamp::transport::{PeerAddress, TransportInfo, TransportKind};
    ///
    /// # async fn run(server: RawSocketServer, stream: tokio::net::TcpStream) -> std::io::Result<()> {
    /// let addr = stream.peer_addr()?;
    /// let info = TransportInfo::new(TransportKind::RawSocket, PeerAddress::Ip(addr));
    /// server.serve_connection_with_info(stream, info).await
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`RawSocketServer::serve_connection`].
    pub async fn serve_connection_with_info<S>(
        &self,
        stream: S,
        info: TransportInfo,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        self.serve_halves(read, write, info).await
    }

    fn spawn_connection<S>(&self, stream: S, info: TransportInfo)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        tokio::spawn(async move {
            let peer = info.peer_address().to_string();
            if let Err(error) = server.serve_connection_with_info(stream, info).await {
                tracing::debug!(%peer, %error, "RawSocket connection not served");
            }
        });
    }

    async fn serve_halves<R, W>(
        &self,
        mut read: R,
        mut write: W,
        info: TransportInfo,
    ) -> io::Result<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        // This server's own limit, then the application's (its
        // `Limits::max_sessions` and `max_sessions_per_peer`): a client over
        // either gets error 4, maximum connection count reached.
        let permit = Arc::clone(&self.connections).try_acquire_owned().ok();
        let admission = permit
            .as_ref()
            .and_then(|_| self.engine.admit(info.peer_address()));
        let permit = permit.filter(|_| admission.is_some());
        let timeout = match permit {
            Some(_) => self.settings.handshake_timeout,
            None => self
                .settings
                .handshake_timeout
                .min(OVER_LIMIT_HANDSHAKE_TIMEOUT),
        };
        let handshake = self.handshake(&mut read, &mut write, permit.is_some());
        let outcome = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "no RawSocket handshake in time")
            })??;
        let accepted = match outcome {
            Ok(accepted) => accepted,
            Err(refusal) => {
                // Bounded on its own: the handshake timeout is about the
                // client's request, not about our goodbye.
                let _ =
                    tokio::time::timeout(REFUSAL_LINGER, refuse(&mut read, &mut write, refusal))
                        .await;
                let kind = match refusal {
                    Refusal::MaxConnections => io::ErrorKind::QuotaExceeded,
                    _ => io::ErrorKind::InvalidData,
                };
                return Err(io::Error::new(
                    kind,
                    format!("RawSocket handshake refused: {}", refusal.description()),
                ));
            }
        };
        let (reader, writer) = stream::halves(
            read,
            write,
            self.settings.max_message_length(),
            accepted.client_max_length,
            self.settings.keepalive_pings,
        );
        let codec = Codec::new(accepted.serialization);
        self.engine.serve(info, codec, reader, writer).await;
        drop((permit, admission));
        Ok(())
    }

    /// Reads the client's handshake request and, when it is accepted (and
    /// `admitted` under the connection limit), sends the success reply;
    /// otherwise says why the client is refused.
    async fn handshake<R, W>(
        &self,
        read: &mut R,
        write: &mut W,
        admitted: bool,
    ) -> io::Result<Result<Accepted, Refusal>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut request = [0; 4];
        read.read_exact(&mut request).await?;
        match handshake::negotiate(request, &self.settings) {
            // Spec: "If the first octet differs from 0x7F, it is not a
            // WAMP-over-RawSocket request. Unless the Router also supports
            // other transports on the connecting port [...], the Router
            // MUST fail the connection": no reply, it would mean nothing.
            Err(Rejection::NotRawSocket(first)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a RawSocket handshake (first octet {first:#04x})"),
            )),
            Err(Rejection::Refused(refusal)) => Ok(Err(refusal)),
            Ok(accepted) if admitted => {
                write.write_all(&accepted.reply).await?;
                write.flush().await?;
                Ok(Ok(accepted))
            }
            Ok(_) => Ok(Err(Refusal::MaxConnections)),
        }
    }
}

/// Sends an error reply and closes the connection; the caller bounds it
/// in time.
async fn refuse<R, W>(read: &mut R, write: &mut W, refusal: Refusal)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if write.write_all(&refusal.reply()).await.is_err() {
        return;
    }
    let _ = write.shutdown().await;
    // Whatever the client sent after its handshake is read and discarded
    // until it closes too (or the caller's time runs out): closing with
    // unread data makes the kernel reset the connection, which can destroy
    // the reply before the client reads it.
    let mut discard = [0; 256];
    while let Ok(1..) = read.read(&mut discard).await {}
}

/// Serves `app` over RawSocket on a listener (TCP, Unix domain socket or
/// any other [`Listener`]) until the returned future is dropped: see
/// [`RawSocketServer::serve`].
///
/// ```no_run
/// use serverwamp::Application;
/// use serverwamp::transport::rawsocket::{self, RawSocketSettings};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
/// rawsocket::serve(Application::new(), listener, RawSocketSettings::new()).await
/// # }
/// ```
///
/// On a Unix domain socket:
///
/// ```no_run
/// # use serverwamp::Application;
/// # use serverwamp::transport::rawsocket::{self, RawSocketSettings};
/// # #[cfg(unix)]
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::UnixListener::bind("/run/myapp/wamp.sock")?;
/// rawsocket::serve(Application::new(), listener, RawSocketSettings::new()).await
/// # }
/// ```
///
/// # Errors
/// Only if the listener cannot accept at all.
pub async fn serve(
    app: impl Into<Engine>,
    listener: impl Listener,
    settings: RawSocketSettings,
) -> io::Result<()> {
    RawSocketServer::new(app, settings).serve(listener).await
}

/// Serves `app` over RawSocket on one connection accepted elsewhere (a TLS
/// stream, say): the handshake, then the session until either side closes
/// it. See [`RawSocketServer::serve_connection`], whose server also keeps
/// a connection limit across calls; this function serves one connection,
/// so [`RawSocketSettings::max_connections`] does not apply.
///
/// ```no_run
/// use serverwamp::Application;
/// use serverwamp::transport::PeerAddress;
/// use serverwamp::transport::rawsocket::{RawSocketSettings, serve_connection};
///
/// # async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// let app = Application::new();
/// let (stream, addr) = listener.accept().await?;
/// tokio::spawn(serve_connection(app.clone(), stream, PeerAddress::Ip(addr), RawSocketSettings::new()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`RawSocketServer::serve_connection`].
pub async fn serve_connection<S>(
    app: impl Into<Engine>,
    stream: S,
    peer: PeerAddress,
    settings: RawSocketSettings,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    RawSocketServer::new(app, settings)
        .serve_connection(stream, peer)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_clamps() {
        let settings = RawSocketSettings::default();
        assert_eq!(settings.max_message_length(), 16 << 20);
        assert_eq!(settings.min_client_max_length(), 512);
        assert_eq!(settings.max_connections, 10_000);
        assert_eq!(settings.handshake_timeout, Duration::from_secs(10));
        assert!(!settings.keepalive_pings);

        let settings = RawSocketSettings::new()
            .max_message_length_exponent(30)
            .min_client_max_length_exponent(2);
        assert_eq!(settings.max_message_length(), 1 << 24);
        assert_eq!(settings.min_client_max_length(), 512);
        let settings = RawSocketSettings::new()
            .max_message_length_exponent(0)
            .min_client_max_length_exponent(99);
        assert_eq!(settings.max_message_length(), 512);
        assert_eq!(settings.min_client_max_length(), 1 << 24);
    }

    #[test]
    fn the_connection_limit_is_counted_in_permits() {
        let server = RawSocketServer::new(
            Engine::default(),
            RawSocketSettings::new().max_connections(usize::MAX),
        );
        assert_eq!(server.connection_count(), 0);
        let permit = Arc::clone(&server.connections).try_acquire_owned().unwrap();
        assert_eq!(server.connection_count(), 1);
        drop(permit);
        assert_eq!(server.connection_count(), 0);
        assert!(format!("{server:?}").contains("RawSocketServer"));
    }

    #[tokio::test]
    async fn handshakes_over_an_in_memory_pipe() {
        let server = RawSocketServer::new(Engine::default(), RawSocketSettings::new());
        let (mut client, stream) = tokio::io::duplex(1024);
        let serving = tokio::spawn({
            let server = server.clone();
            async move { server.serve_connection(stream, PeerAddress::Unknown).await }
        });
        client.write_all(&[0x7F, 0xF3, 0, 0]).await.unwrap();
        let mut reply = [0; 4];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, [0x7F, 0xF3, 0, 0]);
        assert_eq!(server.connection_count(), 1);
        drop(client);
        serving.await.unwrap().unwrap();
        assert_eq!(server.connection_count(), 0);

        let (mut client, stream) = tokio::io::duplex(1024);
        let serving = tokio::spawn({
            let server = server.clone();
            async move { server.serve_connection(stream, PeerAddress::Unknown).await }
        });
        client.write_all(&[0x7F, 0xF5, 0, 0]).await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, [0x7F, 0x10, 0, 0]);
        drop(client);
        let error = serving.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}

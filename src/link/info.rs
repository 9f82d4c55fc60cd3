//! What a handler or authenticator may know about a connection.

use std::collections::HashMap;
use std::net::SocketAddr;

use http::HeaderMap;

/// The kind of transport a session arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// WAMP over WebSocket.
    WebSocket,
    /// WAMP over RawSocket (TCP or Unix).
    RawSocket,
    /// A request through the HTTP bridge (`serverwamp::bridge`): a session
    /// that lives for one HTTP request.
    Http,
    /// A call forwarded by another node of the cluster, whose session
    /// lives there (see [`Application::share_procedure`](crate::Application::share_procedure)).
    Backplane,
    /// A call the application made itself
    /// ([`Application::call`](crate::Application::call)); no client.
    Application,
}

impl TransportKind {
    /// The kind's name, as the session meta API reports it: `websocket`,
    /// `rawsocket`, `http`, `backplane` or `application`.
    ///
    /// ```
    /// use serverwamp::transport::TransportKind;
    /// assert_eq!(TransportKind::WebSocket.as_str(), "websocket");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::RawSocket => "rawsocket",
            TransportKind::Http => "http",
            TransportKind::Backplane => "backplane",
            TransportKind::Application => "application",
        }
    }
}

/// The address of the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerAddress {
    /// An IP peer.
    Ip(SocketAddr),
    /// A Unix domain socket peer (its path, often empty).
    Unix(String),
    /// The transport did not say.
    Unknown,
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddress::Ip(addr) => write!(f, "{}", addr.ip()),
            PeerAddress::Unix(path) => write!(f, "unix:{path}"),
            PeerAddress::Unknown => f.write_str("unknown"),
        }
    }
}

/// Facts about the connection a session arrived on: the peer's address and,
/// for WebSocket, the HTTP request that opened it.
#[derive(Debug, Clone)]
pub struct TransportInfo {
    pub(crate) kind: TransportKind,
    pub(crate) peer: PeerAddress,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) cookies: HashMap<String, String>,
    /// The client's TLS certificate (DER), when it presented one.
    pub(crate) peer_certificate: Option<bytes::Bytes>,
    /// Whether the connection is encrypted with TLS.
    pub(crate) secure: bool,
    /// Whether a web page of another origin opened it (see
    /// [`OriginPolicy`](crate::transport::OriginPolicy)).
    pub(crate) cross_origin: bool,
}

impl TransportInfo {
    /// Info for a connection that has no HTTP request (RawSocket, tests).
    pub fn new(kind: TransportKind, peer: PeerAddress) -> Self {
        TransportInfo {
            kind,
            peer,
            path: String::new(),
            query: None,
            headers: HeaderMap::new(),
            cookies: HashMap::new(),
            peer_certificate: None,
            secure: false,
            cross_origin: false,
        }
    }

    /// The same info for a TLS connection, with the client's certificate
    /// (DER) if it presented one.
    #[must_use]
    pub fn with_tls(mut self, peer_certificate: Option<bytes::Bytes>) -> Self {
        self.secure = true;
        self.peer_certificate = peer_certificate;
        self
    }

    /// The client's TLS certificate in DER, if it presented one; transport
    /// authenticators may identify the client by it.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }

    /// Whether the connection is encrypted with TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether a web page of another origin than the server's (and not on
    /// the allow-list of the [`OriginPolicy`](crate::transport::OriginPolicy))
    /// opened the connection. Transport authenticators do not run for such
    /// sessions: their cookies are the browser's, not the page's.
    pub fn is_cross_origin(&self) -> bool {
        self.cross_origin
    }

    /// The `Origin` header of the WebSocket upgrade: the web page that
    /// opened the connection, if a browser did.
    pub fn origin(&self) -> Option<&str> {
        self.headers.get(http::header::ORIGIN)?.to_str().ok()
    }

    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// The peer's address.
    pub fn peer_address(&self) -> &PeerAddress {
        &self.peer
    }

    /// The request path of the WebSocket upgrade, e.g. `/ws`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string of the WebSocket upgrade, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The HTTP headers of the WebSocket upgrade.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The cookies sent with the WebSocket upgrade, by name.
    pub fn cookies(&self) -> &HashMap<String, String> {
        &self.cookies
    }

    /// One cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }
}

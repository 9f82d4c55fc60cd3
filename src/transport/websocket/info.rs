//! What a session knows of the upgrade request that opened it: the
//! [`TransportInfo`] built from the request (path, query, headers,
//! cookies, TLS) and the peer's address looked up in its extensions.

use std::collections::HashMap;
use std::net::SocketAddr;

use http::HeaderMap;
use http::header::COOKIE;

use super::{ConnectionAddr, TlsConnection};
use crate::link::{PeerAddress, TransportInfo, TransportKind};

/// Reads the peer's address from a WebSocket upgrade request.
pub(super) type PeerAddressFn = fn(&http::request::Parts) -> Option<SocketAddr>;

/// The default [`PeerAddressFn`]: the [`ConnectionAddr`] extension, else
/// (feature `axum`) axum's `ConnectInfo<SocketAddr>`.
pub(crate) fn connection_addr_extension(request: &http::request::Parts) -> Option<SocketAddr> {
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

/// The peer's address as `find` reads it from the upgrade request, or
/// [`PeerAddress::Unknown`] (said once per process in the log).
pub(super) fn peer_address(find: PeerAddressFn, request: &http::request::Parts) -> PeerAddress {
    match find(request) {
        Some(addr) => PeerAddress::Ip(addr),
        None => {
            warn_unknown_peer_once();
            PeerAddress::Unknown
        }
    }
}

/// What a session may know of the upgrade request that opened it.
pub(crate) fn transport_info(request: &http::request::Parts, peer: PeerAddress) -> TransportInfo {
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
        cross_origin: false,
    }
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

#[cfg(test)]
mod tests {
    use http::header::SEC_WEBSOCKET_PROTOCOL;

    use super::*;
    use crate::transport::websocket::tests::{parts, upgrade_request};

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
}

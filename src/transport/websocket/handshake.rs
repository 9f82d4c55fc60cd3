//! The opening handshake (RFC 6455, section 4.2): the checks an upgrade
//! request must pass, the WAMP subprotocol negotiated from the client's
//! offer, and the responses: `101 Switching Protocols`, or a short
//! plain-text rejection.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_TYPE, HeaderName, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Version};
use hyper::body::{Frame, SizeHint};
use serverwamp_protocol::Codec;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The only WebSocket protocol version there is (RFC 6455, section 4.1).
const WEBSOCKET_VERSION: &str = "13";

/// The body of [`WebSocketService`](super::WebSocketService)'s responses: empty for `101 Switching
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
pub(super) struct Rejection {
    pub(super) status: StatusCode,
    pub(super) body: String,
}

impl Rejection {
    fn bad_request(body: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            body: body.into(),
        }
    }

    /// The error response to a request of HTTP version `version`.
    pub(super) fn into_response(self, version: Version) -> Response<WebSocketBody> {
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

pub(super) fn text_response(status: StatusCode, body: impl Into<Bytes>) -> Response<WebSocketBody> {
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
pub(super) fn check_handshake(request: &http::request::Parts) -> Result<Codec, Rejection> {
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

/// The `101 Switching Protocols` response that accepts `request`'s upgrade
/// with `codec`'s subprotocol; `None` when the request has no
/// `Sec-WebSocket-Key`, which [`check_handshake`] rules out.
pub(super) fn switching_protocols(
    request: &http::request::Parts,
    codec: Codec,
) -> Option<Response<WebSocketBody>> {
    let accept = request
        .headers
        .get(SEC_WEBSOCKET_KEY)
        .map(|key| derive_accept_key(key.as_bytes()))
        .and_then(|accept| HeaderValue::try_from(accept).ok())?;
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
    Some(response)
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;
    use crate::transport::websocket::tests::{parts, upgrade_request};

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
}

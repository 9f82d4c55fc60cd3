//! The HTTP bridge: calls and publications over plain HTTP `POST`, served
//! by a realm's own procedures and topic routes, with its authentication
//! and authorizer (feature `axum`). See the guide's
//! [HTTP bridge](crate::guide::http_bridge) chapter for the wire format and
//! the status of each error.
//!
//! ```
//! use serverwamp::Application;
//! use serverwamp::bridge::HttpBridge;
//! use serverwamp::rpc::RpcRouteSet;
//!
//! let mut math = RpcRouteSet::new();
//! math.route("math.add", |serverwamp::rpc::Args((a, b)): serverwamp::rpc::Args<(f64, f64)>| async move { a + b });
//! let mut app = Application::new();
//! app.add_routes(math);
//! // POST /bridge/call/math.add {"realm": "realm1", "args": [1, 2]} → {"args": [3.0], "kwargs": {}}
//! let router: axum::Router = axum::Router::new()
//!     .route_service("/ws", app.websocket_service())
//!     .nest("/bridge", HttpBridge::new(&app).router());
//! ```

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::StatusCode;
use http_body_util::BodyExt;
use serde::Deserialize;
use serverwamp_protocol::id::random_id;
use serverwamp_protocol::message::{Authenticate, CallOptions, Payload};
use serverwamp_protocol::uri::validate_uri;
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Codec, Dict, List, MatchPolicy, Serialization, Value};
use tracing::Instrument;

use crate::auth::{Action, AuthAbort, Authorization, Challenger, NewSession, authenticate};
use crate::broker::Publication;
use crate::engine::Engine;
use crate::handler::Arguments;
use crate::link::{PeerAddress, TransportKind};
use crate::outbound::Outbound;
use crate::pubsub::{Topic, TopicContext};
use crate::realm::RealmView;
use crate::rpc::{CallContext, Progress, RpcResult};
use crate::session::{AuthDetails, ControlSlot, Session, SessionParts};
use crate::{Application, WampError};

/// The largest request body the bridge reads by default: 1 MiB.
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Calls and publications over HTTP for an [`Application`]: `POST
/// /call/{uri}` and `POST /publish/{uri}` with JSON bodies, as an axum
/// [`Router`](axum::Router) to mount where you like.
///
/// Each request is one short-lived session of its realm: authenticated by
/// the realm's transport authenticators (cookies, headers, the peer's
/// address) or, for realms with ticket authentication, by an
/// `Authorization: Ticket <authid>:<ticket>` header (or HTTP Basic with the
/// authid and ticket); asked of the realm's
/// authorizer; and served by the same handler a WAMP client's CALL would
/// reach.
#[derive(Clone, Debug)]
pub struct HttpBridge {
    engine: Engine,
    body_limit: usize,
}

impl HttpBridge {
    /// A bridge to `app`'s realms and handlers as configured now.
    pub fn new(app: &Application) -> Self {
        HttpBridge {
            engine: Engine::from(app),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The largest request body accepted, in bytes (default 1 MiB); a
    /// larger one gets `413 Payload Too Large`.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The router: `POST /call/{uri}` and `POST /publish/{uri}`. Nest it
    /// under a prefix (`Router::nest("/bridge", bridge.router())`) or merge
    /// it into your own.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        axum::Router::new()
            .route("/call/{uri}", axum::routing::post(call))
            .route("/publish/{uri}", axum::routing::post(publish))
            .with_state(Arc::new(self.clone()))
    }
}

/// A request body: everything optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    args: List,
    #[serde(default)]
    kwargs: Dict,
    #[serde(default)]
    realm: Option<String>,
}

/// `?realm=...`
#[derive(Deserialize, Default)]
struct Query {
    realm: Option<String>,
}

/// An answer that is not a result: its status and JSON body.
struct Failure {
    status: StatusCode,
    error: Box<WampError>,
}

impl Failure {
    fn new(error: WampError) -> Self {
        Failure {
            status: status_of(&error.uri),
            error: Box::new(error),
        }
    }

    fn bad_request(status: StatusCode, message: impl Into<String>) -> Self {
        Failure {
            status,
            error: Box::new(WampError::invalid_argument(message.into())),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let WampError { uri, args, kwargs } = *self.error;
        let mut body = Dict::new();
        body.insert("error".to_owned(), Value::Str(uri));
        body.insert("args".to_owned(), Value::List(args));
        body.insert("kwargs".to_owned(), Value::Dict(kwargs));
        json_response(self.status, &Value::Dict(body))
    }
}

/// The HTTP status of an ERROR URI (the table in the guide).
fn status_of(uri: &str) -> StatusCode {
    match uri {
        error::NO_SUCH_PROCEDURE | error::NO_SUCH_REALM => StatusCode::NOT_FOUND,
        error::INVALID_ARGUMENT | error::INVALID_URI => StatusCode::BAD_REQUEST,
        error::NOT_AUTHORIZED => StatusCode::FORBIDDEN,
        error::AUTHENTICATION_FAILED | error::NO_MATCHING_AUTH_METHOD => StatusCode::UNAUTHORIZED,
        error::TIMEOUT => StatusCode::GATEWAY_TIMEOUT,
        crate::backplane::NODE_UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "a bridge answer cannot be written as JSON");
            let body = serde_json::json!({
                "error": error::RUNTIME_ERROR,
                "args": ["the answer has no JSON form"],
                "kwargs": {},
            });
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(http::header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// A request's session, authenticated and ready, with what a handler
/// needs beside it.
struct Caller {
    session: Session,
    realm: RealmView,
    args: List,
    kwargs: Dict,
    control: Arc<ControlSlot>,
}

impl Drop for Caller {
    fn drop(&mut self) {
        self.control.close();
    }
}

async fn call(
    State(bridge): State<Arc<HttpBridge>>,
    Path(uri): Path<String>,
    request: Request,
) -> Response {
    crate::observe::call();
    let span = tracing::info_span!(
        "bridge_call",
        procedure = %uri,
        authid = tracing::field::Empty
    );
    match serve_call(&bridge, uri, request).instrument(span).await {
        Ok(result) => {
            let mut body = Dict::new();
            body.insert("args".to_owned(), Value::List(result.args));
            body.insert("kwargs".to_owned(), Value::Dict(result.kwargs));
            json_response(StatusCode::OK, &Value::Dict(body))
        }
        Err(failure) => {
            crate::observe::call_error(&failure.error.uri);
            failure.into_response()
        }
    }
}

async fn serve_call(
    bridge: &HttpBridge,
    procedure: String,
    request: Request,
) -> Result<RpcResult, Failure> {
    check_uri(bridge, &procedure)?;
    let caller = Caller::open(bridge, request).await?;
    authorize(&caller, Action::Call, &procedure).await?;
    let Some(handler) = caller.realm.procedure(&procedure).cloned() else {
        return Err(Failure::new(WampError::no_such_procedure(&procedure)));
    };
    let config = &bridge.engine.config;
    let context = CallContext {
        session: caller.session.clone(),
        request: crate::rpc::Request {
            id: random_id(),
            procedure,
            options: CallOptions::default(),
        },
        arguments: Arguments::new(
            caller.args.clone(),
            caller.kwargs.clone(),
            config.snake_case_kwargs,
        ),
        state: config.state.clone(),
        progress: Progress::new(None),
    };
    // The boxed handler guards extraction and the handler against panics.
    let outcome = handler
        .call(context, "procedure")
        .await
        .final_result()
        .await;
    outcome.map_err(Failure::new)
}

async fn publish(
    State(bridge): State<Arc<HttpBridge>>,
    Path(uri): Path<String>,
    request: Request,
) -> Response {
    let span = tracing::info_span!(
        "bridge_publish",
        topic = %uri,
        authid = tracing::field::Empty
    );
    match serve_publish(&bridge, uri, request).instrument(span).await {
        Ok(publication) => {
            let mut body = Dict::new();
            body.insert("publication".to_owned(), Value::UInt(publication));
            json_response(StatusCode::OK, &Value::Dict(body))
        }
        Err(failure) => failure.into_response(),
    }
}

async fn serve_publish(bridge: &HttpBridge, uri: String, request: Request) -> Result<u64, Failure> {
    check_uri(bridge, &uri)?;
    let caller = Caller::open(bridge, request).await?;
    authorize(&caller, Action::Publish, &uri).await?;
    let config = &bridge.engine.config;
    if let Some(handler) = caller.realm.publish_route(&uri).cloned() {
        let cx = TopicContext {
            session: caller.session.clone(),
            topic: Topic {
                uri: Arc::from(uri.as_str()),
                policy: MatchPolicy::Exact,
            },
            state: config.state.clone(),
            subscribe_options: None,
            publish_options: None,
            arguments: Arguments::new(
                caller.args.clone(),
                caller.kwargs.clone(),
                config.snake_case_kwargs,
            ),
        };
        return match handler.call(cx, "publish").await {
            Ok(()) => Ok(random_id().get()),
            Err(err) => Err(Failure::new(err)),
        };
    }
    if caller.realm.is_open_broker() {
        let broker = bridge.engine.brokers.get_or_create(
            caller.realm.name(),
            config.slow_subscribers,
            config.relay.as_ref(),
        );
        let payload = Payload::new(caller.args.clone(), caller.kwargs.clone());
        let report = broker.publish(Publication::new(&uri, payload));
        return Ok(report.publication.get());
    }
    Err(Failure::new(
        WampError::new(error::NOT_AUTHORIZED)
            .arg(format!("publications to {uri:?} are not accepted")),
    ))
}

/// Refuses a URI that the application's URI rules refuse.
fn check_uri(bridge: &HttpBridge, uri: &str) -> Result<(), Failure> {
    if validate_uri(uri, bridge.engine.config.rules.uris, MatchPolicy::Exact).is_err() {
        return Err(Failure::new(
            WampError::new(error::INVALID_URI).arg(format!("{uri:?} is not a valid URI")),
        ));
    }
    Ok(())
}

/// Asks the realm's authorizer, if it has one; a failing or panicking
/// authorizer denies.
async fn authorize(caller: &Caller, action: Action, uri: &str) -> Result<(), Failure> {
    let Some(Authorization { authorizer, .. }) = caller.realm.authorization().cloned() else {
        return Ok(());
    };
    let decision = authorizer.authorize(caller.session.clone(), action, uri.to_owned());
    let allowed = AssertUnwindSafe(decision)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(%action, uri, "an authorizer panicked; denying");
            false
        });
    if allowed {
        Ok(())
    } else {
        Err(Failure::new(
            WampError::new(error::NOT_AUTHORIZED)
                .arg(format!("not authorized to {action} {uri:?}")),
        ))
    }
}

/// `Authorization: Ticket <authid>:<ticket>`, or HTTP Basic with the
/// authid as user name and the ticket as password: the authid and ticket.
fn ticket_credentials(headers: &http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("ticket") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        String::from_utf8(decoded).ok()?
    } else {
        return None;
    };
    let (authid, ticket) = pair.split_once(':')?;
    Some((authid.to_owned(), ticket.to_owned()))
}

impl Caller {
    /// Reads the request and authenticates its session.
    async fn open(bridge: &HttpBridge, request: Request) -> Result<Self, Failure> {
        let (parts, body) = request.into_parts();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Only JSON: a browser cannot send it to another origin without a
        // CORS preflight, so a page of another site cannot make calls with
        // the user's cookies.
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(Failure::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON, with Content-Type: application/json",
            ));
        }
        let bytes = match http_body_util::Limited::new(body, bridge.body_limit)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Failure::bad_request(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is over {} bytes", bridge.body_limit),
                ));
            }
            Err(e) => {
                return Err(Failure::bad_request(
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {e}"),
                ));
            }
        };
        let body: Body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Body::default()
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                Failure::bad_request(
                    StatusCode::BAD_REQUEST,
                    format!("the request body is not a valid bridge request: {e}"),
                )
            })?
        };
        let query: Query = parts
            .uri
            .query()
            .and_then(serde_urlencoded_realm)
            .unwrap_or_default();
        let Some(realm_name) = body.realm.or(query.realm) else {
            return Err(Failure::bad_request(
                StatusCode::BAD_REQUEST,
                "name the realm: \"realm\" in the body, or ?realm= in the URL",
            ));
        };
        let config = &bridge.engine.config;
        if validate_uri(&realm_name, config.rules.uris, MatchPolicy::Exact).is_err() {
            return Err(Failure::new(
                WampError::new(error::INVALID_URI)
                    .arg(format!("{realm_name:?} is not a valid realm name")),
            ));
        }
        let Some(realm) = bridge.engine.resolve_realm(&realm_name) else {
            return Err(Failure::new(
                WampError::new(error::NO_SUCH_REALM).arg(format!("no realm named {realm_name:?}")),
            ));
        };

        let policy = &config.origin_policy;
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let secure = parts
            .extensions
            .get::<crate::transport::websocket::TlsConnection>()
            .is_some();
        let cross_origin = policy.is_cross_origin(
            header(http::header::ORIGIN),
            header(http::header::HOST),
            secure,
        );
        if cross_origin && policy.refuses_cross_origin() {
            return Err(Failure::new(
                WampError::new(error::NOT_AUTHORIZED).arg("requests from this origin are refused"),
            ));
        }
        let peer = crate::transport::websocket::connection_addr_extension(&parts)
            .map_or(PeerAddress::Unknown, PeerAddress::Ip);
        let mut transport = crate::transport::websocket::transport_info(&parts, peer);
        transport.kind = TransportKind::Http;
        transport.cross_origin = cross_origin;
        let transport = Arc::new(transport);

        // A ticket in the Authorization header answers the realm's ticket
        // CHALLENGE before it is asked; without one, no challenge-response
        // method can run, and the realm's transport authenticators decide.
        let credentials = ticket_credentials(&parts.headers);
        let hello = NewSession {
            realm: realm_name.clone(),
            session: random_id(),
            authid: credentials.as_ref().map(|(authid, _)| authid.clone()),
            authrole: None,
            authmethods: if credentials.is_some() {
                vec!["ticket".to_owned()]
            } else {
                Vec::new()
            },
            authextra: Dict::new(),
            transport: transport.clone(),
            // An HTTP request is no callee.
            features: crate::dealer::PeerFeatures::default(),
        };
        let (outbound, queue) =
            Outbound::channel(Codec::new(Serialization::Json), None, config.outbound_bytes);
        let (answers, receiver) = tokio::sync::mpsc::channel(1);
        if let Some((_, ticket)) = credentials {
            let _ = answers.try_send(Authenticate {
                signature: ticket,
                extra: Default::default(),
            });
        }
        // A second CHALLENGE finds no answer: the flow fails at once.
        drop(answers);
        let challenger = Challenger {
            outbound: outbound.clone(),
            answers: receiver,
            pending: Arc::default(),
        };
        let running = authenticate(realm.authentication(), hello.clone(), challenger);
        let outcome = tokio::time::timeout(
            config.auth_timeout,
            AssertUnwindSafe(running).catch_unwind(),
        )
        .await;
        // Nothing this session queues reaches anyone: sends fail from now.
        drop(queue);
        let outcome = match outcome {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(abort))) => return Err(auth_refused(abort)),
            Ok(Err(_)) => {
                tracing::error!("an authenticator panicked");
                return Err(auth_refused(AuthAbort::failed()));
            }
            Err(_) => return Err(auth_refused(AuthAbort::failed())),
        };
        let control = Arc::new(ControlSlot::default());
        let broker = bridge.engine.brokers.get_or_create(
            realm.name(),
            config.slow_subscribers,
            config.relay.as_ref(),
        );
        let session = Session::new(
            SessionParts {
                id: hello.session,
                realm: realm_name,
                auth: AuthDetails {
                    authid: outcome.authid,
                    authrole: outcome.authrole,
                    authmethod: outcome.authmethod,
                    authprovider: outcome.authprovider,
                },
                identity: outcome.authenticated.identity,
                transport,
                outbound,
                control: control.clone(),
            },
            &broker,
        );
        tracing::Span::current().record("authid", session.authid());
        Ok(Caller {
            session,
            realm,
            args: body.args,
            kwargs: body.kwargs,
            control,
        })
    }
}

/// The answer to a request whose authentication failed: 401 with the
/// abort's URI and message.
fn auth_refused(abort: AuthAbort) -> Failure {
    crate::observe::auth_failure();
    tracing::debug!(reason = %abort.uri, "bridge authentication refused");
    Failure {
        status: StatusCode::UNAUTHORIZED,
        error: Box::new(WampError::new(abort.uri).arg(abort.message)),
    }
}

/// The `realm` parameter of a query string.
fn serde_urlencoded_realm(query: &str) -> Option<Query> {
    let realm = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "realm").then(|| percent_decode(value))
    })?;
    Some(Query {
        realm: Some(realm?),
    })
}

/// Decodes `%XX` escapes and `+`; `None` for invalid escapes or UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(status_of(error::NO_SUCH_PROCEDURE), StatusCode::NOT_FOUND);
        assert_eq!(status_of(error::INVALID_ARGUMENT), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(error::NOT_AUTHORIZED), StatusCode::FORBIDDEN);
        assert_eq!(
            status_of(error::AUTHENTICATION_FAILED),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of("app.error.anything"),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn ticket_header() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Ticket alice:sec:ret"),
        );
        assert_eq!(
            ticket_credentials(&headers),
            Some(("alice".to_owned(), "sec:ret".to_owned()))
        );
        // alice:secret123
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Basic YWxpY2U6c2VjcmV0MTIz"),
        );
        assert_eq!(
            ticket_credentials(&headers),
            Some(("alice".to_owned(), "secret123".to_owned()))
        );
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Basic !!!"),
        );
        assert_eq!(ticket_credentials(&headers), None);
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(ticket_credentials(&headers), None);
    }

    #[test]
    fn query_realm() {
        assert_eq!(
            serde_urlencoded_realm("a=1&realm=my%2Erealm+x").and_then(|q| q.realm),
            Some("my.realm x".to_owned())
        );
        assert!(serde_urlencoded_realm("realm=%zz").is_none());
        assert!(serde_urlencoded_realm("x=1").is_none());
    }
}

//! The WAMP meta API of a realm that serves it (spec, "Session Meta API",
//! "Subscription Meta API", "Registration Meta API", "Session Testament"):
//! the `wamp.session.*`, `wamp.subscription.*` and `wamp.registration.*`
//! procedures, answered here without a handler, and the meta events. Nothing here runs in a realm without the meta API.

use std::time::{SystemTime, UNIX_EPOCH};

use serverwamp_protocol::message::{
    Call, EventDetails, Message, MessageType, Payload, PublishOptions,
};
use serverwamp_protocol::uri::validate_uri;
use serverwamp_protocol::well_known::{close, error};
use serverwamp_protocol::{Dict, Id, List, MatchPolicy, Value};

use super::auth::not_authorized;
use super::{Connection, Flow, Phase};
use crate::WampError;
use crate::auth::Action;
use crate::broker::{Audience, Broker, Publication, SubscriptionInfo};
use crate::dealer::RegistrationInfo;
use crate::session::Session;

/// The most testaments one session may hold; more would let a client grow
/// the server's memory without bound.
pub(super) const MAX_TESTAMENTS: usize = 64;

/// An event a session asked to be published when it ends.
pub(super) struct Testament {
    /// The `detached` scope (else `destroyed`).
    detached: bool,
    topic: String,
    payload: Payload,
    options: PublishOptions,
}

/// The positional and keyword results of a meta procedure.
type MetaResult = Result<(List, Dict), WampError>;

impl Connection {
    /// A call to a `wamp.` procedure in a realm serving the meta API,
    /// already authorized: answered at once.
    pub(super) async fn on_meta_call(&mut self, call: Call) -> Flow {
        let request = call.request;
        let outcome = match call.payload {
            Payload::Args { args, kwargs } => {
                Box::pin(self.meta_procedure(&call.procedure, args, kwargs)).await
            }
            Payload::Transparent(_) => Err(WampError::invalid_argument(
                "payload passthru mode is not supported",
            )),
        };
        let message = match outcome {
            Ok((args, kwargs)) => Message::result(request, Payload::new(args, kwargs), false),
            Err(err) => err.to_call_error(request),
        };
        self.outbound.send_message(&message).await;
        Flow::Continue
    }

    async fn meta_procedure(&mut self, procedure: &str, args: List, kwargs: Dict) -> MetaResult {
        let Phase::Open(open) = &self.phase else {
            return Err(WampError::new(error::NO_SUCH_PROCEDURE));
        };
        let me = open.session.clone();
        let broker = open.broker.clone();
        let in_realm = || self.engine.registry.in_realm(me.realm()).into_iter();
        let one = |value: Value| Ok((vec![value], Dict::new()));
        match procedure {
            "wamp.session.count" | "wamp.session.list" => {
                let roles = optional_strings(&args, 0, "filter_authroles")?;
                let ids: List = in_realm()
                    .filter(|s| {
                        roles
                            .as_ref()
                            .is_none_or(|r| r.iter().any(|r| r == s.authrole()))
                    })
                    .map(|s| id_value(s.id()))
                    .collect();
                if procedure == "wamp.session.count" {
                    one(Value::UInt(ids.len() as u64))
                } else {
                    one(Value::List(ids))
                }
            }
            "wamp.session.get" => {
                let id = id_arg(&args, 0, "session")?;
                match in_realm().find(|s| s.id() == id) {
                    Some(session) => one(Value::Dict(session_details(&session))),
                    None => Err(no_such_session(id)),
                }
            }
            "wamp.session.kill" => {
                let id = id_arg(&args, 0, "session")?;
                let (reason, message) = self.close_reason(&kwargs)?;
                // Spec: a session may not kill itself; no *other* session
                // has its ID.
                match in_realm().find(|s| s.id() == id && s.id() != me.id()) {
                    Some(session) => {
                        session.close(reason, message);
                        Ok((List::new(), Dict::new()))
                    }
                    None => Err(no_such_session(id)),
                }
            }
            "wamp.session.kill_by_authid"
            | "wamp.session.kill_by_authrole"
            | "wamp.session.kill_all" => {
                let wanted = match procedure {
                    "wamp.session.kill_all" => None,
                    _ => Some(string_arg(&args, 0, "authid or authrole")?),
                };
                let (reason, message) = self.close_reason(&kwargs)?;
                let by_authid = procedure == "wamp.session.kill_by_authid";
                let killed: List = in_realm()
                    .filter(|s| s.id() != me.id())
                    .filter(|s| match &wanted {
                        None => true,
                        Some(w) if by_authid => s.authid() == w,
                        Some(w) => s.authrole() == w,
                    })
                    .map(|s| {
                        // Spec: closing all sessions of the realm publishes
                        // no session meta events and no testaments.
                        if wanted.is_none() {
                            s.inner.control.quiet();
                        }
                        s.close(reason.clone(), message.clone());
                        id_value(s.id())
                    })
                    .collect();
                if by_authid {
                    one(Value::List(killed))
                } else {
                    one(Value::UInt(killed.len() as u64))
                }
            }
            "wamp.session.add_testament" => {
                Box::pin(self.add_testament(args, kwargs)).await?;
                Ok((List::new(), Dict::new()))
            }
            "wamp.session.flush_testaments" => {
                let detached = scope(&kwargs)?;
                if let Phase::Open(open) = &mut self.phase {
                    open.testaments.retain(|t| t.detached != detached);
                }
                Ok((List::new(), Dict::new()))
            }
            "wamp.subscription.list" => {
                let [exact, prefix, wildcard] = broker.subscription_ids();
                let ids = |ids: Vec<Id>| Value::List(ids.into_iter().map(id_value).collect());
                let mut lists = Dict::new();
                lists.insert("exact".to_owned(), ids(exact));
                lists.insert("prefix".to_owned(), ids(prefix));
                lists.insert("wildcard".to_owned(), ids(wildcard));
                one(Value::Dict(lists))
            }
            "wamp.subscription.lookup" => {
                let topic = string_arg(&args, 0, "topic")?;
                let policy = match_option(&args)?;
                one(broker.lookup(&topic, policy).map_or(Value::Null, id_value))
            }
            "wamp.subscription.match" => {
                let topic = string_arg(&args, 0, "topic")?;
                let ids = broker.matching(&topic);
                // Spec: null when nothing matches.
                if ids.is_empty() {
                    one(Value::Null)
                } else {
                    one(Value::List(ids.into_iter().map(id_value).collect()))
                }
            }
            "wamp.subscription.get" => {
                let id = id_arg(&args, 0, "subscription")?;
                match broker.subscription(id) {
                    Some(info) => one(Value::Dict(subscription_details(&info))),
                    None => Err(no_such_subscription(id)),
                }
            }
            "wamp.subscription.list_subscribers" | "wamp.subscription.count_subscribers" => {
                let id = id_arg(&args, 0, "subscription")?;
                let Some(subscribers) = broker.subscribers(id) else {
                    return Err(no_such_subscription(id));
                };
                if procedure == "wamp.subscription.count_subscribers" {
                    one(Value::UInt(subscribers.len() as u64))
                } else {
                    one(Value::List(subscribers.into_iter().map(id_value).collect()))
                }
            }
            _ if procedure.starts_with("wamp.registration.") => {
                self.registration_procedure(procedure, &args)
            }
            _ => Err(WampError::no_such_procedure(procedure)),
        }
    }

    /// The registration meta procedures. A realm without client callees
    /// has no registrations: its lists are empty and its lookups null.
    fn registration_procedure(&self, procedure: &str, args: &List) -> MetaResult {
        let Phase::Open(open) = &self.phase else {
            return Err(WampError::new(error::NO_SUCH_PROCEDURE));
        };
        let dealer = open.dealer.as_ref();
        let one = |value: Value| Ok((vec![value], Dict::new()));
        let ids = |ids: Vec<Id>| Value::List(ids.into_iter().map(id_value).collect());
        match procedure {
            "wamp.registration.list" => {
                let [exact, prefix, wildcard] =
                    dealer.map(|d| d.ids_by_policy()).unwrap_or_default();
                let mut lists = Dict::new();
                lists.insert("exact".to_owned(), ids(exact));
                lists.insert("prefix".to_owned(), ids(prefix));
                lists.insert("wildcard".to_owned(), ids(wildcard));
                one(Value::Dict(lists))
            }
            "wamp.registration.lookup" => {
                let uri = string_arg(args, 0, "procedure")?;
                let policy = match_option(args)?;
                let found = dealer.and_then(|d| d.lookup(&uri, policy));
                one(found.map_or(Value::Null, id_value))
            }
            "wamp.registration.match" => {
                let uri = string_arg(args, 0, "procedure")?;
                let found = dealer.and_then(|d| d.best_match(&uri));
                one(found.map_or(Value::Null, id_value))
            }
            "wamp.registration.get" => {
                let id = id_arg(args, 0, "registration")?;
                match dealer.and_then(|d| d.registration(id)) {
                    Some(info) => one(Value::Dict(registration_details(&info))),
                    None => Err(no_such_registration(id)),
                }
            }
            "wamp.registration.list_callees" | "wamp.registration.count_callees" => {
                let id = id_arg(args, 0, "registration")?;
                let Some(callees) = dealer.and_then(|d| d.callees(id)) else {
                    return Err(no_such_registration(id));
                };
                if procedure == "wamp.registration.count_callees" {
                    one(Value::UInt(callees.len() as u64))
                } else {
                    one(ids(callees))
                }
            }
            _ => Err(WampError::no_such_procedure(procedure)),
        }
    }

    /// The `reason` and `message` keyword arguments of a kill (spec:
    /// `wamp.close.killed` and no message by default).
    fn close_reason(&self, kwargs: &Dict) -> Result<(String, Option<String>), WampError> {
        let reason = match kwargs.get("reason") {
            None | Some(Value::Null) => close::KILLED.to_owned(),
            Some(Value::Str(reason)) => {
                validate_uri(reason, self.config.rules.uris, MatchPolicy::Exact)
                    .map_err(|e| WampError::new(error::INVALID_URI).arg(format!("reason: {e}")))?;
                reason.clone()
            }
            Some(_) => {
                return Err(WampError::new(error::INVALID_URI).arg("reason must be a URI string"));
            }
        };
        let message = match kwargs.get("message") {
            None | Some(Value::Null) => None,
            Some(Value::Str(message)) => Some(message.clone()),
            Some(_) => return Err(WampError::invalid_argument("message must be a string")),
        };
        Ok((reason, message))
    }

    /// `wamp.session.add_testament`: topic, args, kwargs; keyword
    /// arguments `publish_options` and `scope`.
    async fn add_testament(&mut self, args: List, kwargs: Dict) -> Result<(), WampError> {
        let topic = string_arg(&args, 0, "topic")?;
        validate_uri(&topic, self.config.rules.uris, MatchPolicy::Exact)
            .map_err(|e| WampError::new(error::INVALID_URI).arg(format!("topic: {e}")))?;
        let event_args = match args.get(1) {
            None | Some(Value::Null) => List::new(),
            Some(Value::List(list)) => list.clone(),
            Some(_) => return Err(WampError::invalid_argument("args must be a list")),
        };
        let event_kwargs = match args.get(2) {
            None | Some(Value::Null) => Dict::new(),
            Some(Value::Dict(dict)) => dict.clone(),
            Some(_) => return Err(WampError::invalid_argument("kwargs must be a dict")),
        };
        let options = match kwargs.get("publish_options") {
            None | Some(Value::Null) => PublishOptions::default(),
            Some(Value::Dict(dict)) => {
                PublishOptions::from_dict(dict.clone(), MessageType::Publish, "Options")
                    .map_err(|e| WampError::invalid_argument(format!("publish_options: {e}")))?
            }
            Some(_) => {
                return Err(WampError::invalid_argument(
                    "publish_options must be a dict",
                ));
            }
        };
        let detached = scope(&kwargs)?;
        // A testament is a publication the session makes when it ends: it
        // may make it only where it could publish to subscribers itself.
        let allowed = match &self.phase {
            Phase::Open(open) => {
                open.realm.is_open_broker()
                    && open.realm.publish_route(&topic).is_none()
                    && !serverwamp_protocol::uri::is_reserved(&topic)
            }
            _ => false,
        };
        if !allowed || !self.authorize(Action::Publish, &topic).await {
            return Err(not_authorized(Action::Publish, &topic));
        }
        let Phase::Open(open) = &mut self.phase else {
            return Err(WampError::new(error::NO_SUCH_PROCEDURE));
        };
        if open.testaments.len() >= MAX_TESTAMENTS {
            return Err(WampError::invalid_argument(format!(
                "a session may hold at most {MAX_TESTAMENTS} testaments"
            )));
        }
        open.testaments.push(Testament {
            detached,
            topic,
            payload: Payload::new(event_args, event_kwargs),
            options,
        });
        Ok(())
    }
}

/// Publishes the testaments of an ending session: the `detached` scope
/// first, then `destroyed` (spec: a router without session resumption
/// sends them in that order), each in the order it was added.
pub(super) fn publish_testaments(
    session: &Session,
    broker: &Broker<Session>,
    testaments: Vec<Testament>,
) {
    let (detached, destroyed): (Vec<_>, Vec<_>) = testaments.into_iter().partition(|t| t.detached);
    for testament in detached.into_iter().chain(destroyed) {
        let mut details = EventDetails::default();
        if testament.options.disclose_me == Some(true) {
            details.publisher = Some(session.id());
            details.publisher_authid = Some(session.authid().to_owned());
            details.publisher_authrole = Some(session.authrole().to_owned());
        }
        let audience = Audience {
            publisher: Some(session.id()),
            options: &testament.options,
        };
        if testament.options.retain == Some(true) {
            broker.retain(
                &testament.topic,
                testament.payload.clone(),
                details.clone(),
                Some(&audience),
            );
        }
        let mut publication = Publication::new(&testament.topic, testament.payload);
        publication.details = details;
        publication.audience = Some(&audience);
        broker.publish(publication);
    }
}

/// Publishes a meta event to the realm's subscribers on this node.
pub(super) fn meta_event(broker: &Broker<Session>, topic: &str, args: List) {
    let mut publication = Publication::new(topic, Payload::from_args(args));
    // Marked as come from the backplane, so it goes to no other node: the
    // meta API describes this node's sessions and subscriptions (the
    // subscription IDs are this node's), as its procedures do.
    publication.relayed = true;
    broker.publish(publication);
}

/// The registration meta events of `session` added to (`removed` is
/// `None`) or removed from a registration: `on_register`, or
/// `on_unregister` then, when it was the last callee (`Some(true)`),
/// `on_delete` (spec, "Registration Meta API"). `on_create` is sent by the
/// caller, before `on_register`.
pub(super) fn registration_events(
    broker: &Broker<Session>,
    session: Id,
    registration: Id,
    removed: Option<bool>,
) {
    let ids = || vec![id_value(session), id_value(registration)];
    match removed {
        None => meta_event(broker, "wamp.registration.on_register", ids()),
        Some(deleted) => {
            meta_event(broker, "wamp.registration.on_unregister", ids());
            if deleted {
                meta_event(broker, "wamp.registration.on_delete", ids());
            }
        }
    }
}

/// `wamp.registration.get`'s result and `on_create`'s second argument.
pub(super) fn registration_details(info: &RegistrationInfo) -> Dict {
    let mut details = uri_details(info.id, info.created, &info.uri, info.policy);
    details.insert("invoke".to_owned(), Value::Str(info.invoke.to_owned()));
    details
}

/// `wamp.session.on_join`'s one argument, and `wamp.session.get`'s result.
pub(super) fn session_details(session: &Session) -> Dict {
    let auth = session.auth();
    let mut details = Dict::new();
    details.insert("session".to_owned(), id_value(session.id()));
    details.insert("authid".to_owned(), Value::Str(auth.authid.clone()));
    details.insert("authrole".to_owned(), Value::Str(auth.authrole.clone()));
    details.insert("authmethod".to_owned(), Value::Str(auth.authmethod.clone()));
    details.insert(
        "authprovider".to_owned(),
        Value::Str(auth.authprovider.clone()),
    );
    let transport = session.transport();
    let mut about = Dict::new();
    about.insert(
        "type".to_owned(),
        Value::Str(transport.kind().as_str().to_owned()),
    );
    about.insert(
        "peer".to_owned(),
        Value::Str(transport.peer_address().to_string()),
    );
    details.insert("transport".to_owned(), Value::Dict(about));
    details
}

/// `wamp.subscription.get`'s result and `on_create`'s second argument.
pub(super) fn subscription_details(info: &SubscriptionInfo) -> Dict {
    uri_details(info.id, info.created, &info.uri, info.policy)
}

/// What subscription and registration details share: `id`, `created`,
/// `uri` and `match`.
fn uri_details(id: Id, created: SystemTime, uri: &str, policy: MatchPolicy) -> Dict {
    let mut details = Dict::new();
    details.insert("id".to_owned(), id_value(id));
    details.insert("created".to_owned(), Value::Str(iso_8601(created)));
    details.insert("uri".to_owned(), Value::Str(uri.to_owned()));
    details.insert("match".to_owned(), Value::Str(policy.as_str().to_owned()));
    details
}

/// `time` in UTC as ISO 8601 with milliseconds, e.g.
/// `2026-12-06T01:02:03.456Z`.
fn iso_8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

fn no_such_session(id: Id) -> WampError {
    WampError::new("wamp.error.no_such_session").arg(format!("no other session {id} in this realm"))
}

fn no_such_registration(id: Id) -> WampError {
    WampError::new(error::NO_SUCH_REGISTRATION).arg(format!("no registration {id} in this realm"))
}

/// The `match` of a lookup's optional options (second argument; spec
/// default `exact`).
fn match_option(args: &List) -> Result<MatchPolicy, WampError> {
    match args.get(1) {
        None | Some(Value::Null) => Ok(MatchPolicy::Exact),
        Some(Value::Dict(options)) => match options.get("match") {
            None | Some(Value::Null) => Ok(MatchPolicy::Exact),
            Some(Value::Str(name)) => name
                .parse()
                .map_err(|_| WampError::invalid_argument(format!("unknown match policy {name:?}"))),
            Some(_) => Err(WampError::invalid_argument(
                "options.match must be a string",
            )),
        },
        Some(_) => Err(WampError::invalid_argument("options must be a dict")),
    }
}

fn no_such_subscription(id: Id) -> WampError {
    WampError::new(error::NO_SUCH_SUBSCRIPTION).arg(format!("no subscription {id} in this realm"))
}

/// An ID as a WAMP value.
pub(super) fn id_value(id: Id) -> Value {
    Value::UInt(id.get())
}

fn id_arg(args: &List, index: usize, name: &str) -> Result<Id, WampError> {
    args.get(index)
        .and_then(Value::as_u64)
        .and_then(|id| Id::try_from(id).ok())
        .ok_or_else(|| WampError::invalid_argument(format!("{name} must be an ID")))
}

fn string_arg(args: &List, index: usize, name: &str) -> Result<String, WampError> {
    args.get(index)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| WampError::invalid_argument(format!("{name} must be a string")))
}

/// An optional list of strings.
fn optional_strings(
    args: &List,
    index: usize,
    name: &str,
) -> Result<Option<Vec<String>>, WampError> {
    match args.get(index) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| {
                WampError::invalid_argument(format!("{name} must be a list of strings"))
            }),
        Some(_) => Err(WampError::invalid_argument(format!(
            "{name} must be a list of strings"
        ))),
    }
}

/// The `scope` keyword argument of the testament procedures: whether it
/// is `detached` (spec default: `destroyed`).
fn scope(kwargs: &Dict) -> Result<bool, WampError> {
    match kwargs.get("scope") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Str(s)) if s == "destroyed" => Ok(false),
        Some(Value::Str(s)) if s == "detached" => Ok(true),
        Some(_) => Err(WampError::invalid_argument(
            "scope must be \"destroyed\" or \"detached\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601() {
        assert_eq!(iso_8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_709_210_096_789);
        assert_eq!(iso_8601(t), "2024-02-29T12:34:56.789Z");
    }
}

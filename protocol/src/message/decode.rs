//! Validation of a decoded value as a WAMP message.
//!
//! Spec, "No Polymorphism": for a given type and element count the element
//! types are fixed, so checking is one pass over the list. Everything the
//! spec calls a protocol error is reported as a [`ProtocolViolation`].

use super::options::PassthruOptions;
use super::*;
use crate::uri::{MatchPolicy, validate_uri};

/// The allowed element counts (type code included) of each message type,
/// with the text used in errors.
fn arity(t: MessageType) -> (usize, usize, &'static str) {
    use MessageType as T;
    match t {
        T::Unsubscribed | T::Unregistered | T::EventReceived => (2, 2, "2"),
        T::Hello
        | T::Welcome
        | T::Challenge
        | T::Authenticate
        | T::Goodbye
        | T::Published
        | T::Subscribed
        | T::Unsubscribe
        | T::Cancel
        | T::Registered
        | T::Unregister
        | T::Interrupt => (3, 3, "3"),
        T::Abort | T::Result | T::Yield => (3, 5, "3 to 5"),
        T::Subscribe | T::Register => (4, 4, "4"),
        T::Publish | T::Event | T::Call | T::Invocation => (4, 6, "4 to 6"),
        T::Error => (5, 7, "5 to 7"),
    }
}

/// Reads the elements of one message in order. The length was checked
/// first, so the fixed elements are always there.
struct Elements {
    message: MessageType,
    items: std::vec::IntoIter<Value>,
    rules: ValidationRules,
    /// The message's own request ID, once read.
    request: Option<Id>,
}

impl Elements {
    fn next(&mut self) -> Value {
        self.items.next().unwrap_or_default()
    }

    fn wrong(
        &self,
        element: &'static str,
        expected: &'static str,
        found: &Value,
    ) -> ProtocolViolation {
        ProtocolViolation::WrongElementType {
            message: self.message,
            element,
            expected,
            found: found.kind(),
        }
    }

    fn id(&mut self, element: &'static str) -> Result<Id, ProtocolViolation> {
        let value = self.next();
        let Some(n) = value.as_u64() else {
            return Err(self.wrong(element, "an ID (an integer in [1, 2^53])", &value));
        };
        let id = Id::new(n).ok_or(ProtocolViolation::IdOutOfRange {
            message: self.message,
            element,
            value: n,
        })?;
        if element == "Request" {
            self.request = Some(id);
        }
        Ok(id)
    }

    fn dict(&mut self, element: &'static str) -> Result<Dict, ProtocolViolation> {
        match self.next() {
            Value::Dict(d) => Ok(d),
            other => Err(self.wrong(element, "a dict", &other)),
        }
    }

    fn string(&mut self, element: &'static str) -> Result<String, ProtocolViolation> {
        match self.next() {
            Value::Str(s) => Ok(s),
            other => Err(self.wrong(element, "a string", &other)),
        }
    }

    fn uri(
        &mut self,
        element: &'static str,
        policy: MatchPolicy,
    ) -> Result<String, ProtocolViolation> {
        let value = self.next();
        let Value::Str(uri) = value else {
            return Err(self.wrong(element, "a URI string", &value));
        };
        validate_uri(&uri, self.rules.uris, policy).map_err(|source| {
            ProtocolViolation::InvalidUri {
                message: self.message,
                element,
                request: self.request,
                source,
            }
        })?;
        Ok(uri)
    }

    /// The optional `Arguments|list, ArgumentsKw|dict` tail, or a single
    /// `Payload|binary` when the options announce payload passthru.
    fn payload(&mut self, passthru: bool) -> Result<Payload, ProtocolViolation> {
        let first = self.items.next();
        let second = self.items.next();
        match (first, second) {
            (None, _) => Ok(Payload::default()),
            (Some(Value::Bytes(b)), None) if passthru => Ok(Payload::Transparent(b)),
            (Some(Value::Bytes(_)), Some(extra)) if passthru => {
                Err(self.wrong("ArgumentsKw", "absent after a transparent payload", &extra))
            }
            (Some(Value::List(args)), None) => Ok(Payload::new(args, Dict::new())),
            (Some(Value::List(args)), Some(Value::Dict(kwargs))) => Ok(Payload::new(args, kwargs)),
            (Some(Value::List(_)), Some(other)) => Err(self.wrong("ArgumentsKw", "a dict", &other)),
            (Some(other), _) => Err(self.wrong(
                "Arguments",
                if passthru {
                    "a list, or binary for a transparent payload"
                } else {
                    "a list"
                },
                &other,
            )),
        }
    }
}

/// Whether an ERROR may answer a message of this type.
fn has_requests(t: MessageType) -> bool {
    use MessageType as T;
    matches!(
        t,
        T::Publish
            | T::Subscribe
            | T::Unsubscribe
            | T::Call
            | T::Cancel
            | T::Register
            | T::Unregister
            | T::Invocation
    )
}

pub(super) fn message_from_value(
    value: Value,
    rules: &ValidationRules,
) -> Result<Message, ProtocolViolation> {
    let items = match value {
        Value::List(items) => items,
        other => {
            return Err(ProtocolViolation::NotAList {
                found: other.kind(),
            });
        }
    };
    let code = match items.first() {
        None => return Err(ProtocolViolation::Empty),
        Some(first) => first.as_u64().ok_or(ProtocolViolation::InvalidTypeCode {
            found: first.kind(),
        })?,
    };
    let message = MessageType::from_code(code).ok_or(ProtocolViolation::UnknownType { code })?;
    let (min, max, expected) = arity(message);
    if items.len() < min || items.len() > max {
        return Err(ProtocolViolation::WrongLength {
            message,
            expected,
            found: items.len(),
        });
    }
    let mut items = items.into_iter();
    items.next(); // the type code, read above
    let mut e = Elements {
        message,
        items,
        rules: *rules,
        request: None,
    };
    let m = message;
    Ok(match message {
        MessageType::Hello => {
            let realm = e.uri("Realm", MatchPolicy::Exact)?;
            let details = HelloDetails::from_dict(e.dict("Details")?, m, "Details")?;
            Message::Hello(Hello { realm, details })
        }
        MessageType::Welcome => {
            let session = e.id("Session")?;
            let details = WelcomeDetails::from_dict(e.dict("Details")?, m, "Details")?;
            Message::Welcome(Welcome { session, details })
        }
        MessageType::Abort => {
            let details = CloseDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let reason = e.uri("Reason", MatchPolicy::Exact)?;
            let payload = e.payload(details.announces_passthru())?;
            Message::Abort(Abort {
                details,
                reason,
                payload,
            })
        }
        MessageType::Challenge => {
            let method = e.string("AuthMethod")?;
            let extra = ChallengeExtra::from_dict(e.dict("Extra")?, m, "Extra")?;
            Message::Challenge(Challenge { method, extra })
        }
        MessageType::Authenticate => {
            let signature = e.string("Signature")?;
            let extra = AuthenticateExtra::from_dict(e.dict("Extra")?, m, "Extra")?;
            Message::Authenticate(Authenticate { signature, extra })
        }
        MessageType::Goodbye => {
            let details = CloseDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let reason = e.uri("Reason", MatchPolicy::Exact)?;
            Message::Goodbye(Goodbye { details, reason })
        }
        MessageType::Error => {
            let type_value = e.next();
            let type_code = type_value
                .as_u64()
                .ok_or_else(|| e.wrong("REQUEST.Type", "an integer message type", &type_value))?;
            let request_type = MessageType::from_code(type_code)
                .filter(|t| has_requests(*t))
                .ok_or(ProtocolViolation::InvalidErrorRequestType { code: type_code })?;
            let request = e.id("REQUEST.Request")?;
            let details = ErrorDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let error = e.uri("Error", MatchPolicy::Exact)?;
            let payload = e.payload(details.announces_passthru())?;
            Message::Error(ErrorMessage {
                request_type,
                request,
                details,
                error,
                payload,
            })
        }
        MessageType::Publish => {
            let request = e.id("Request")?;
            let options = PublishOptions::from_dict(e.dict("Options")?, m, "Options")?;
            let topic = e.uri("Topic", MatchPolicy::Exact)?;
            let payload = e.payload(options.announces_passthru())?;
            Message::Publish(Publish {
                request,
                options,
                topic,
                payload,
            })
        }
        MessageType::Published => Message::Published(Published {
            request: e.id("PUBLISH.Request")?,
            publication: e.id("Publication")?,
        }),
        MessageType::Subscribe => {
            let request = e.id("Request")?;
            let options = SubscribeOptions::from_dict(e.dict("Options")?, m, "Options")?;
            let topic = e.uri("Topic", options.match_policy.unwrap_or_default())?;
            Message::Subscribe(Subscribe {
                request,
                options,
                topic,
            })
        }
        MessageType::Subscribed => Message::Subscribed(Subscribed {
            request: e.id("SUBSCRIBE.Request")?,
            subscription: e.id("Subscription")?,
        }),
        MessageType::Unsubscribe => Message::Unsubscribe(Unsubscribe {
            request: e.id("Request")?,
            subscription: e.id("SUBSCRIBED.Subscription")?,
        }),
        MessageType::Unsubscribed => Message::Unsubscribed(Unsubscribed {
            request: e.id("UNSUBSCRIBE.Request")?,
        }),
        MessageType::Event => {
            let subscription = e.id("SUBSCRIBED.Subscription")?;
            let publication = e.id("PUBLISHED.Publication")?;
            let details = EventDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let payload = e.payload(details.announces_passthru())?;
            Message::Event(Event {
                subscription,
                publication,
                details,
                payload,
            })
        }
        MessageType::EventReceived => Message::EventReceived(EventReceived {
            publication: e.id("EVENT.Publication")?,
        }),
        MessageType::Call => {
            let request = e.id("Request")?;
            let options = CallOptions::from_dict(e.dict("Options")?, m, "Options")?;
            let procedure = e.uri("Procedure", MatchPolicy::Exact)?;
            let payload = e.payload(options.announces_passthru())?;
            Message::Call(Call {
                request,
                options,
                procedure,
                payload,
            })
        }
        MessageType::Cancel => {
            let request = e.id("CALL.Request")?;
            let options = CancelOptions::from_dict(e.dict("Options")?, m, "Options")?;
            Message::Cancel(Cancel { request, options })
        }
        MessageType::Result => {
            let request = e.id("CALL.Request")?;
            let details = ResultDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let payload = e.payload(details.announces_passthru())?;
            Message::Result(ResultMessage {
                request,
                details,
                payload,
            })
        }
        MessageType::Register => {
            let request = e.id("Request")?;
            let options = RegisterOptions::from_dict(e.dict("Options")?, m, "Options")?;
            let procedure = e.uri("Procedure", options.match_policy.unwrap_or_default())?;
            Message::Register(Register {
                request,
                options,
                procedure,
            })
        }
        MessageType::Registered => Message::Registered(Registered {
            request: e.id("REGISTER.Request")?,
            registration: e.id("Registration")?,
        }),
        MessageType::Unregister => Message::Unregister(Unregister {
            request: e.id("Request")?,
            registration: e.id("REGISTERED.Registration")?,
        }),
        MessageType::Unregistered => Message::Unregistered(Unregistered {
            request: e.id("UNREGISTER.Request")?,
        }),
        MessageType::Invocation => {
            let request = e.id("Request")?;
            let registration = e.id("REGISTERED.Registration")?;
            let details = InvocationDetails::from_dict(e.dict("Details")?, m, "Details")?;
            let payload = e.payload(details.announces_passthru())?;
            Message::Invocation(Invocation {
                request,
                registration,
                details,
                payload,
            })
        }
        MessageType::Interrupt => {
            let request = e.id("INVOCATION.Request")?;
            let options = InterruptOptions::from_dict(e.dict("Options")?, m, "Options")?;
            Message::Interrupt(Interrupt { request, options })
        }
        MessageType::Yield => {
            let request = e.id("INVOCATION.Request")?;
            let options = YieldOptions::from_dict(e.dict("Options")?, m, "Options")?;
            let payload = e.payload(options.announces_passthru())?;
            Message::Yield(Yield {
                request,
                options,
                payload,
            })
        }
    })
}

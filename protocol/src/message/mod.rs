//! Every WAMP message a router sends or receives, with its exact layout.
//!
//! Layouts and codes follow the spec's "Messages" section (basic profile) and
//! the advanced profile's CHALLENGE, AUTHENTICATE, CANCEL and INTERRUPT.
//! [`Message::from_value`] validates a decoded list element by element;
//! `Message` implements `Serialize`, writing the list back with
//! `Arguments`/`ArgumentsKw` omitted exactly as the spec asks (never `null`).

mod decode;
mod encode;
mod options;
mod violation;

use std::fmt;

use bytes::Bytes;

pub use options::{
    AuthenticateExtra, CallOptions, CancelMode, CancelOptions, ChallengeExtra, CloseDetails,
    EncryptionAlgorithm, ErrorDetails, EventDetails, HelloDetails, InterruptOptions,
    InvocationDetails, PublishOptions, RegisterOptions, ResultDetails, SubscribeOptions,
    WelcomeDetails, YieldOptions,
};
pub use violation::ProtocolViolation;

use crate::id::Id;
use crate::uri::UriRules;
use crate::value::{Dict, List, Value};

/// How strictly received messages are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationRules {
    /// The URI rules that every URI element must follow.
    pub uris: UriRules,
}

macro_rules! message_types {
    ($( $(#[$meta:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// The type of a WAMP message, with its code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum MessageType {
            $( $(#[$meta])* $variant = $code, )*
        }

        impl MessageType {
            /// Every message type this crate knows.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant),*];

            /// The message type of a code, if it is one this crate knows.
            pub fn from_code(code: u64) -> Option<Self> {
                match code {
                    $( $code => Some(MessageType::$variant), )*
                    _ => None,
                }
            }

            /// The spec's name of the message, e.g. `"CALL"`.
            pub fn name(self) -> &'static str {
                match self {
                    $( MessageType::$variant => $name, )*
                }
            }
        }
    };
}

message_types! {
    /// `HELLO`: a client opens a session.
    Hello = 1, "HELLO";
    /// `WELCOME`: the router accepts a session.
    Welcome = 2, "WELCOME";
    /// `ABORT`: a peer ends session opening (or a session) at once.
    Abort = 3, "ABORT";
    /// `CHALLENGE`: the router asks the client to authenticate.
    Challenge = 4, "CHALLENGE";
    /// `AUTHENTICATE`: the client answers a challenge.
    Authenticate = 5, "AUTHENTICATE";
    /// `GOODBYE`: a peer closes an open session.
    Goodbye = 6, "GOODBYE";
    /// `ERROR`: a request failed.
    Error = 8, "ERROR";
    /// `PUBLISH`: a client publishes an event.
    Publish = 16, "PUBLISH";
    /// `PUBLISHED`: the broker acknowledges a publication.
    Published = 17, "PUBLISHED";
    /// `SUBSCRIBE`: a client subscribes to a topic.
    Subscribe = 32, "SUBSCRIBE";
    /// `SUBSCRIBED`: the broker acknowledges a subscription.
    Subscribed = 33, "SUBSCRIBED";
    /// `UNSUBSCRIBE`: a client ends a subscription.
    Unsubscribe = 34, "UNSUBSCRIBE";
    /// `UNSUBSCRIBED`: the broker acknowledges an unsubscription.
    Unsubscribed = 35, "UNSUBSCRIBED";
    /// `EVENT`: the broker delivers an event to a subscriber.
    Event = 36, "EVENT";
    /// `CALL`: a client calls a procedure.
    Call = 48, "CALL";
    /// `CANCEL`: a client cancels a call.
    Cancel = 49, "CANCEL";
    /// `RESULT`: the result (or a progressive result) of a call.
    Result = 50, "RESULT";
    /// `REGISTER`: a client registers a procedure.
    Register = 64, "REGISTER";
    /// `REGISTERED`: the dealer acknowledges a registration.
    Registered = 65, "REGISTERED";
    /// `UNREGISTER`: a client ends a registration.
    Unregister = 66, "UNREGISTER";
    /// `UNREGISTERED`: the dealer acknowledges an unregistration.
    Unregistered = 67, "UNREGISTERED";
    /// `INVOCATION`: the dealer invokes a callee.
    Invocation = 68, "INVOCATION";
    /// `INTERRUPT`: the dealer interrupts an invocation.
    Interrupt = 69, "INTERRUPT";
    /// `YIELD`: a callee returns a result.
    Yield = 70, "YIELD";
    /// `EVENT_RECEIVED`: a subscriber acknowledges an event
    /// (acknowledged event delivery, provisional code 337).
    EventReceived = 337, "EVENT_RECEIVED";
}

impl MessageType {
    /// The message's type code.
    pub fn code(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The application payload at the end of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Positional and keyword arguments; either may be empty.
    Args {
        /// `Arguments|list`.
        args: List,
        /// `ArgumentsKw|dict`.
        kwargs: Dict,
    },
    /// Payload Passthru Mode: one binary payload the router does not read
    /// (announced by `ppt_scheme`, or `enc_algo` for end-to-end encryption).
    Transparent(Bytes),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Args {
            args: List::new(),
            kwargs: Dict::new(),
        }
    }
}

impl Payload {
    /// A payload of positional and keyword arguments.
    pub fn new(args: List, kwargs: Dict) -> Self {
        Payload::Args { args, kwargs }
    }

    /// A payload of positional arguments only.
    pub fn from_args(args: List) -> Self {
        Payload::new(args, Dict::new())
    }

    /// A payload of keyword arguments only.
    pub fn from_kwargs(kwargs: Dict) -> Self {
        Payload::new(List::new(), kwargs)
    }

    /// The positional arguments (none for a transparent payload).
    pub fn args(&self) -> &[Value] {
        match self {
            Payload::Args { args, .. } => args,
            Payload::Transparent(_) => &[],
        }
    }

    /// The keyword arguments (none for a transparent payload).
    pub fn kwargs(&self) -> Option<&Dict> {
        match self {
            Payload::Args { kwargs, .. } => Some(kwargs),
            Payload::Transparent(_) => None,
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        match self {
            Payload::Args { args, kwargs } => args.is_empty() && kwargs.is_empty(),
            Payload::Transparent(_) => false,
        }
    }
}

/// `[HELLO, Realm|uri, Details|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    /// The realm to join.
    pub realm: String,
    /// Roles, agent and authentication wishes.
    pub details: HelloDetails,
}

/// `[WELCOME, Session|id, Details|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The new session's ID.
    pub session: Id,
    /// Roles, realm and authentication outcome.
    pub details: WelcomeDetails,
}

/// `[ABORT, Details|dict, Reason|uri, Arguments|list, ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Abort {
    /// A human-readable message, optionally.
    pub details: CloseDetails,
    /// Why, e.g. `wamp.error.no_such_realm`.
    pub reason: String,
    /// Optional arguments.
    pub payload: Payload,
}

/// `[CHALLENGE, AuthMethod|string, Extra|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    /// The authentication method, e.g. `wampcra`.
    pub method: String,
    /// The method's challenge data.
    pub extra: ChallengeExtra,
}

/// `[AUTHENTICATE, Signature|string, Extra|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticate {
    /// The signature, ticket or proof.
    pub signature: String,
    /// Method-specific extra data.
    pub extra: AuthenticateExtra,
}

/// `[GOODBYE, Details|dict, Reason|uri]`
#[derive(Debug, Clone, PartialEq)]
pub struct Goodbye {
    /// A human-readable message, optionally.
    pub details: CloseDetails,
    /// Why, e.g. `wamp.close.normal`.
    pub reason: String,
}

/// `[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri,
/// Arguments|list, ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorMessage {
    /// The type of the request that failed.
    pub request_type: MessageType,
    /// The ID of the request that failed.
    pub request: Id,
    /// Details.
    pub details: ErrorDetails,
    /// The error URI.
    pub error: String,
    /// Error arguments.
    pub payload: Payload,
}

/// `[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list,
/// ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The request ID.
    pub request: Id,
    /// Publication options.
    pub options: PublishOptions,
    /// The topic.
    pub topic: String,
    /// The event payload.
    pub payload: Payload,
}

/// `[PUBLISHED, PUBLISH.Request|id, Publication|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The PUBLISH request ID.
    pub request: Id,
    /// The publication ID.
    pub publication: Id,
}

/// `[SUBSCRIBE, Request|id, Options|dict, Topic|uri]`
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    /// The request ID.
    pub request: Id,
    /// Subscription options.
    pub options: SubscribeOptions,
    /// The topic, or topic pattern.
    pub topic: String,
}

/// `[SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribed {
    /// The SUBSCRIBE request ID.
    pub request: Id,
    /// The subscription ID.
    pub subscription: Id,
}

/// `[UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Unsubscribe {
    /// The request ID.
    pub request: Id,
    /// The subscription to end.
    pub subscription: Id,
}

/// `[UNSUBSCRIBED, UNSUBSCRIBE.Request|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Unsubscribed {
    /// The UNSUBSCRIBE request ID.
    pub request: Id,
}

/// `[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id,
/// Details|dict, PUBLISH.Arguments|list, PUBLISH.ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The subscription the event is delivered for.
    pub subscription: Id,
    /// The publication ID.
    pub publication: Id,
    /// Event details.
    pub details: EventDetails,
    /// The event payload.
    pub payload: Payload,
}

/// `[EVENT_RECEIVED, EVENT.Publication|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct EventReceived {
    /// The acknowledged publication.
    pub publication: Id,
}

/// `[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list,
/// ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The request ID.
    pub request: Id,
    /// Call options.
    pub options: CallOptions,
    /// The procedure.
    pub procedure: String,
    /// The call arguments.
    pub payload: Payload,
}

/// `[CANCEL, CALL.Request|id, Options|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Cancel {
    /// The CALL request ID.
    pub request: Id,
    /// Cancel options.
    pub options: CancelOptions,
}

/// `[RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list,
/// YIELD.ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct ResultMessage {
    /// The CALL request ID.
    pub request: Id,
    /// Result details.
    pub details: ResultDetails,
    /// The result.
    pub payload: Payload,
}

/// `[REGISTER, Request|id, Options|dict, Procedure|uri]`
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    /// The request ID.
    pub request: Id,
    /// Registration options.
    pub options: RegisterOptions,
    /// The procedure, or procedure pattern.
    pub procedure: String,
}

/// `[REGISTERED, REGISTER.Request|id, Registration|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The REGISTER request ID.
    pub request: Id,
    /// The registration ID.
    pub registration: Id,
}

/// `[UNREGISTER, Request|id, REGISTERED.Registration|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Unregister {
    /// The request ID.
    pub request: Id,
    /// The registration to end.
    pub registration: Id,
}

/// `[UNREGISTERED, UNREGISTER.Request|id]`
#[derive(Debug, Clone, PartialEq)]
pub struct Unregistered {
    /// The UNREGISTER request ID.
    pub request: Id,
}

/// `[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict,
/// CALL.Arguments|list, CALL.ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The request ID.
    pub request: Id,
    /// The registration invoked.
    pub registration: Id,
    /// Invocation details.
    pub details: InvocationDetails,
    /// The call arguments.
    pub payload: Payload,
}

/// `[INTERRUPT, INVOCATION.Request|id, Options|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupt {
    /// The INVOCATION request ID.
    pub request: Id,
    /// Interrupt options.
    pub options: InterruptOptions,
}

/// `[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list,
/// ArgumentsKw|dict]`
#[derive(Debug, Clone, PartialEq)]
pub struct Yield {
    /// The INVOCATION request ID.
    pub request: Id,
    /// Yield options.
    pub options: YieldOptions,
    /// The result.
    pub payload: Payload,
}

/// Any WAMP message.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant is documented by its struct
pub enum Message {
    Hello(Hello),
    Welcome(Welcome),
    Abort(Abort),
    Challenge(Challenge),
    Authenticate(Authenticate),
    Goodbye(Goodbye),
    Error(ErrorMessage),
    Publish(Publish),
    Published(Published),
    Subscribe(Subscribe),
    Subscribed(Subscribed),
    Unsubscribe(Unsubscribe),
    Unsubscribed(Unsubscribed),
    Event(Event),
    EventReceived(EventReceived),
    Call(Call),
    Cancel(Cancel),
    Result(ResultMessage),
    Register(Register),
    Registered(Registered),
    Unregister(Unregister),
    Unregistered(Unregistered),
    Invocation(Invocation),
    Interrupt(Interrupt),
    Yield(Yield),
}

impl Message {
    /// `[ERROR, request_type, request, {}, error, args, kwargs]`: the
    /// answer to a request that failed.
    pub fn error(
        request_type: MessageType,
        request: Id,
        error: impl Into<String>,
        payload: Payload,
    ) -> Self {
        Message::Error(ErrorMessage {
            request_type,
            request,
            details: ErrorDetails::default(),
            error: error.into(),
            payload,
        })
    }

    /// `[RESULT, request, {}, args, kwargs]`, with `{"progress": true}` for
    /// a progressive result.
    pub fn result(request: Id, payload: Payload, progress: bool) -> Self {
        Message::Result(ResultMessage {
            request,
            details: ResultDetails {
                progress: progress.then_some(true),
                ..ResultDetails::default()
            },
            payload,
        })
    }

    /// `[GOODBYE, {"message": message}, reason]`.
    pub fn goodbye(reason: impl Into<String>, message: Option<String>) -> Self {
        Message::Goodbye(Goodbye {
            details: CloseDetails {
                message,
                ..CloseDetails::default()
            },
            reason: reason.into(),
        })
    }

    /// `[ABORT, {"message": message}, reason]`.
    pub fn abort(reason: impl Into<String>, message: Option<String>) -> Self {
        Message::Abort(Abort {
            details: CloseDetails {
                message,
                ..CloseDetails::default()
            },
            reason: reason.into(),
            payload: Payload::default(),
        })
    }

    /// The message's type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Hello(_) => MessageType::Hello,
            Message::Welcome(_) => MessageType::Welcome,
            Message::Abort(_) => MessageType::Abort,
            Message::Challenge(_) => MessageType::Challenge,
            Message::Authenticate(_) => MessageType::Authenticate,
            Message::Goodbye(_) => MessageType::Goodbye,
            Message::Error(_) => MessageType::Error,
            Message::Publish(_) => MessageType::Publish,
            Message::Published(_) => MessageType::Published,
            Message::Subscribe(_) => MessageType::Subscribe,
            Message::Subscribed(_) => MessageType::Subscribed,
            Message::Unsubscribe(_) => MessageType::Unsubscribe,
            Message::Unsubscribed(_) => MessageType::Unsubscribed,
            Message::Event(_) => MessageType::Event,
            Message::EventReceived(_) => MessageType::EventReceived,
            Message::Call(_) => MessageType::Call,
            Message::Cancel(_) => MessageType::Cancel,
            Message::Result(_) => MessageType::Result,
            Message::Register(_) => MessageType::Register,
            Message::Registered(_) => MessageType::Registered,
            Message::Unregister(_) => MessageType::Unregister,
            Message::Unregistered(_) => MessageType::Unregistered,
            Message::Invocation(_) => MessageType::Invocation,
            Message::Interrupt(_) => MessageType::Interrupt,
            Message::Yield(_) => MessageType::Yield,
        }
    }

    /// Validates a decoded value as a message, element by element.
    ///
    /// # Errors
    /// A [`ProtocolViolation`] naming the first problem found.
    pub fn from_value(value: Value, rules: &ValidationRules) -> Result<Self, ProtocolViolation> {
        decode::message_from_value(value, rules)
    }
}

macro_rules! message_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Message {
            fn from(m: $ty) -> Self {
                Message::$variant(m)
            }
        }
    )*};
}

message_from!(
    Hello(Hello),
    Welcome(Welcome),
    Abort(Abort),
    Challenge(Challenge),
    Authenticate(Authenticate),
    Goodbye(Goodbye),
    Error(ErrorMessage),
    Publish(Publish),
    Published(Published),
    Subscribe(Subscribe),
    Subscribed(Subscribed),
    Unsubscribe(Unsubscribe),
    Unsubscribed(Unsubscribed),
    Event(Event),
    EventReceived(EventReceived),
    Call(Call),
    Cancel(Cancel),
    Result(ResultMessage),
    Register(Register),
    Registered(Registered),
    Unregister(Unregister),
    Unregistered(Unregistered),
    Invocation(Invocation),
    Interrupt(Interrupt),
    Yield(Yield),
);

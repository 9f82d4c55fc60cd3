//! The typed `Options`, `Details` and `Extra` dictionaries of WAMP messages.
//!
//! Each struct has one field per key that the spec defines for that
//! dictionary, typed as the spec types it, and keeps every other key in
//! `extra` as received ("Attributes unknown to an implementation MUST be
//! ignored", spec "Extensibility" — ignored for routing, kept for the
//! application). A defined key with a value of the wrong type is a
//! [`ProtocolViolation`].

use std::str::FromStr;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{MessageType, ProtocolViolation};
use crate::id::Id;
use crate::uri::MatchPolicy;
use crate::value::{Dict, Value};

/// A type that a defined option key can hold.
pub(crate) trait OptionValue: Sized + Serialize {
    /// What the spec requires, for error messages, e.g. `"a bool"`.
    const EXPECTED: &'static str;

    /// Converts a received value, or returns it back when it does not fit.
    fn from_value(value: Value) -> Result<Self, Value>;

    /// What to name in an error about `value`: its kind by default.
    fn describe(value: &Value) -> String {
        value.kind().to_owned()
    }
}

impl OptionValue for bool {
    const EXPECTED: &'static str = "a bool";
    fn from_value(value: Value) -> Result<Self, Value> {
        // Spec, "Messages": integers MUST NOT be used instead of booleans.
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(other),
        }
    }
}

impl OptionValue for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_value(value: Value) -> Result<Self, Value> {
        value.as_u64().ok_or(value)
    }
}

impl OptionValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Str(s) => Ok(s),
            other => Err(other),
        }
    }
}

impl OptionValue for Id {
    const EXPECTED: &'static str = "an ID in [1, 2^53]";
    fn from_value(value: Value) -> Result<Self, Value> {
        value.as_u64().and_then(Id::new).ok_or(value)
    }
    fn describe(value: &Value) -> String {
        match value.as_u64() {
            Some(n) => n.to_string(),
            None => value.kind().to_owned(),
        }
    }
}

impl OptionValue for Dict {
    const EXPECTED: &'static str = "a dict";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Dict(d) => Ok(d),
            other => Err(other),
        }
    }
}

/// Lists of a typed element: every element must fit, or the whole list is
/// refused (so the error names the key, not an anonymous element).
impl<T: OptionValue> OptionValue for Vec<T> {
    const EXPECTED: &'static str = list_expectation::<T>();
    fn from_value(value: Value) -> Result<Self, Value> {
        let Value::List(items) = value else {
            return Err(value);
        };
        if !items.iter().all(|item| T::from_value(item.clone()).is_ok()) {
            return Err(Value::List(items));
        }
        items
            .into_iter()
            .map(T::from_value)
            .collect::<Result<_, _>>()
    }
    fn describe(value: &Value) -> String {
        match value {
            Value::List(items) => items
                .iter()
                .find(|item| T::from_value((*item).clone()).is_err())
                .map_or_else(
                    || "list".to_owned(),
                    |bad| format!("a list holding {}", T::describe(bad)),
                ),
            other => other.kind().to_owned(),
        }
    }
}

/// The expectation text of a list of `T`.
const fn list_expectation<T: OptionValue>() -> &'static str {
    match T::EXPECTED.as_bytes() {
        b"a bool" => "a list of bools",
        b"a string" => "a list of strings",
        b"an ID in [1, 2^53]" => "a list of IDs in [1, 2^53]",
        b"a dict" => "a list of dicts",
        _ => "a list",
    }
}

/// Enumerations carried as strings: the error names the offending value.
macro_rules! string_enum_option {
    ($ty:ty, $expected:literal) => {
        impl OptionValue for $ty {
            const EXPECTED: &'static str = $expected;
            fn from_value(value: Value) -> Result<Self, Value> {
                match &value {
                    Value::Str(s) => <$ty>::from_str(s).map_err(|_| value),
                    _ => Err(value),
                }
            }
            fn describe(value: &Value) -> String {
                match value {
                    Value::Str(s) => format!("{s:?}"),
                    other => other.kind().to_owned(),
                }
            }
        }
    };
}

string_enum_option!(MatchPolicy, "one of \"exact\", \"prefix\", \"wildcard\"");
string_enum_option!(CancelMode, "one of \"skip\", \"kill\", \"killnowait\"");
string_enum_option!(
    EncryptionAlgorithm,
    "one of \"cryptobox\", \"mqtt\", \"xbr\" or a custom \"x_...\" name"
);

/// How a canceled call is ended (spec, "Call Canceling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CancelMode {
    /// Answer the caller at once and let the handler finish unseen.
    Skip,
    /// Interrupt the handler and answer once it has stopped.
    #[default]
    Kill,
    /// Interrupt the handler and answer the caller at once.
    KillNoWait,
}

impl CancelMode {
    /// The mode's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelMode::Skip => "skip",
            CancelMode::Kill => "kill",
            CancelMode::KillNoWait => "killnowait",
        }
    }
}

impl FromStr for CancelMode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "skip" => Ok(CancelMode::Skip),
            "kill" => Ok(CancelMode::Kill),
            "killnowait" => Ok(CancelMode::KillNoWait),
            _ => Err(()),
        }
    }
}

impl Serialize for CancelMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The `enc_algo` of an end-to-end encrypted (payload passthru) message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EncryptionAlgorithm {
    /// `cryptobox`: NaCl/libsodium cryptobox.
    Cryptobox,
    /// `mqtt`: an MQTT payload passed through.
    Mqtt,
    /// `xbr`: XBR data-market encryption.
    Xbr,
    /// A custom algorithm, named `x_...`.
    Custom(String),
}

impl EncryptionAlgorithm {
    /// The algorithm's wire name.
    pub fn as_str(&self) -> &str {
        match self {
            EncryptionAlgorithm::Cryptobox => "cryptobox",
            EncryptionAlgorithm::Mqtt => "mqtt",
            EncryptionAlgorithm::Xbr => "xbr",
            EncryptionAlgorithm::Custom(name) => name,
        }
    }
}

impl FromStr for EncryptionAlgorithm {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "cryptobox" => Ok(EncryptionAlgorithm::Cryptobox),
            "mqtt" => Ok(EncryptionAlgorithm::Mqtt),
            "xbr" => Ok(EncryptionAlgorithm::Xbr),
            custom if custom.len() > 2 && custom.starts_with("x_") => {
                Ok(EncryptionAlgorithm::Custom(custom.to_owned()))
            }
            _ => Err(()),
        }
    }
}

impl Serialize for EncryptionAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Defines an options struct: typed fields for the spec's keys, `extra` for
/// the rest, conversion from a received dict and serialization as a map
/// (defined keys first, in declaration order, then `extra` in its order).
macro_rules! wamp_options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $key:literal => $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// Keys this library does not define, kept as received.
            pub extra: Dict,
        }

        impl $name {
            /// Reads the dictionary `element` of a `message`, checking the
            /// type of every defined key.
            pub fn from_dict(
                dict: Dict,
                message: MessageType,
                element: &'static str,
            ) -> Result<Self, ProtocolViolation> {
                let mut out = Self::default();
                for (key, value) in dict {
                    match key.as_str() {
                        // A defined key set to null is absent: peers write
                        // `"channel_binding": null` as the spec's examples
                        // do, and its pseudocode treats null as unset.
                        $( $key if value.is_null() => {} )*
                        $( $key => out.$field = Some(typed::<$ty>(value, message, element, $key)?), )*
                        _ => {
                            out.extra.insert(key, value);
                        }
                    }
                }
                Ok(out)
            }

            /// Whether no key is set.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* && self.extra.is_empty()
            }

            fn len(&self) -> usize {
                0 $( + usize::from(self.$field.is_some()) )* + self.extra.len()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.len()))?;
                $( if let Some(v) = &self.$field { map.serialize_entry($key, v)?; } )*
                for (k, v) in &self.extra {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    };
}

/// Converts the value of a defined key, or names what is wrong with it.
fn typed<T: OptionValue>(
    value: Value,
    message: MessageType,
    element: &'static str,
    key: &'static str,
) -> Result<T, ProtocolViolation> {
    T::from_value(value).map_err(|bad| ProtocolViolation::InvalidOption {
        message,
        element,
        key,
        expected: T::EXPECTED,
        found: T::describe(&bad),
    })
}

wamp_options! {
    /// `HELLO.Details`: who the client is and what it can do.
    pub struct HelloDetails {
        /// The roles the client plays, each with its features.
        "roles" => roles: Dict,
        /// The client's software, e.g. `"AutobahnPython-26.10"`.
        "agent" => agent: String,
        /// The authentication ID the client asks for.
        "authid" => authid: String,
        /// The authentication role the client asks for.
        "authrole" => authrole: String,
        /// The authentication methods the client offers, in its order.
        "authmethods" => authmethods: Vec<String>,
        /// Extra data for the authentication method (e.g. a public key).
        "authextra" => authextra: Dict,
    }
}

wamp_options! {
    /// `WELCOME.Details`: the session the router opened.
    pub struct WelcomeDetails {
        /// The realm the session joined.
        "realm" => realm: String,
        /// The roles the router plays, each with its features.
        "roles" => roles: Dict,
        /// The router's software.
        "agent" => agent: String,
        /// The authenticated ID.
        "authid" => authid: String,
        /// The authenticated role.
        "authrole" => authrole: String,
        /// The authentication method used.
        "authmethod" => authmethod: String,
        /// Who authenticated the session.
        "authprovider" => authprovider: String,
        /// Extra data from the authentication method.
        "authextra" => authextra: Dict,
    }
}

wamp_options! {
    /// `ABORT.Details` and `GOODBYE.Details`.
    pub struct CloseDetails {
        /// A human-readable reason.
        "message" => message: String,
    }
}

wamp_options! {
    /// `CHALLENGE.Extra`: what the client must answer (spec, "Authentication").
    pub struct ChallengeExtra {
        /// The challenge string (WAMP-CRA, cryptosign).
        "challenge" => challenge: String,
        /// The salt of a salted secret (WAMP-CRA, SCRAM).
        "salt" => salt: String,
        /// Key derivation iterations.
        "iterations" => iterations: u64,
        /// Derived key length in bytes (WAMP-CRA).
        "keylen" => keylen: u64,
        /// The key derivation function (SCRAM): `argon2id13` or `pbkdf2`.
        "kdf" => kdf: String,
        /// Memory cost in KiB (SCRAM with argon2id13).
        "memory" => memory: u64,
        /// The combined client and server nonce (SCRAM).
        "nonce" => nonce: String,
        /// The channel binding in use (cryptosign, SCRAM), e.g. `"tls-unique"`.
        "channel_binding" => channel_binding: String,
    }
}

wamp_options! {
    /// `AUTHENTICATE.Extra`.
    pub struct AuthenticateExtra {
        /// The client's nonce (SCRAM).
        "nonce" => nonce: String,
        /// The channel binding the client used.
        "channel_binding" => channel_binding: String,
        /// Channel binding data (SCRAM).
        "cbind_data" => cbind_data: String,
    }
}

wamp_options! {
    /// `ERROR.Details`.
    pub struct ErrorDetails {
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `PUBLISH.Options`.
    pub struct PublishOptions {
        /// Ask for a PUBLISHED (or ERROR) acknowledgement.
        "acknowledge" => acknowledge: bool,
        /// Whether the publisher is excluded from receiving its own event
        /// (spec default: true).
        "exclude_me" => exclude_me: bool,
        /// Sessions that must not receive the event.
        "exclude" => exclude: Vec<Id>,
        /// Authentication IDs that must not receive the event.
        "exclude_authid" => exclude_authid: Vec<String>,
        /// Authentication roles that must not receive the event.
        "exclude_authrole" => exclude_authrole: Vec<String>,
        /// The only sessions that may receive the event.
        "eligible" => eligible: Vec<Id>,
        /// The only authentication IDs that may receive the event.
        "eligible_authid" => eligible_authid: Vec<String>,
        /// The only authentication roles that may receive the event.
        "eligible_authrole" => eligible_authrole: Vec<String>,
        /// Ask the broker to disclose the publisher to subscribers.
        "disclose_me" => disclose_me: bool,
        /// Ask the broker to retain the event for late subscribers.
        "retain" => retain: bool,
        /// A transaction hash for deduplication.
        "transaction_hash" => transaction_hash: String,
        /// Router-to-router links the publication passed through.
        "forward_for" => forward_for: Vec<Dict>,
        /// End-to-end encryption algorithm of a transparent payload.
        "enc_algo" => enc_algo: EncryptionAlgorithm,
        /// Serializer used inside a transparent payload.
        "enc_serializer" => enc_serializer: String,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `SUBSCRIBE.Options`.
    pub struct SubscribeOptions {
        /// How the topic is matched (spec default: exact).
        "match" => match_policy: MatchPolicy,
        /// Ask for retained events.
        "get_retained" => get_retained: bool,
        /// Router-to-router links the request passed through.
        "forward_for" => forward_for: Vec<Dict>,
    }
}

wamp_options! {
    /// `EVENT.Details`.
    pub struct EventDetails {
        /// The publisher's session, when disclosed.
        "publisher" => publisher: Id,
        /// The publisher's authentication ID, when disclosed.
        "publisher_authid" => publisher_authid: String,
        /// The publisher's authentication role, when disclosed.
        "publisher_authrole" => publisher_authrole: String,
        /// The concrete topic, for pattern-based subscriptions.
        "topic" => topic: String,
        /// Whether this is a retained event.
        "retained" => retained: bool,
        /// The publication's transaction hash.
        "transaction_hash" => transaction_hash: String,
        /// Whether the subscriber should acknowledge with EVENT_RECEIVED.
        "x_acknowledged_delivery" => x_acknowledged_delivery: bool,
        /// Router-to-router links the event passed through.
        "forward_for" => forward_for: Vec<Dict>,
        /// End-to-end encryption algorithm of a transparent payload.
        "enc_algo" => enc_algo: EncryptionAlgorithm,
        /// Serializer used inside a transparent payload.
        "enc_serializer" => enc_serializer: String,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `CALL.Options`.
    pub struct CallOptions {
        /// The caller accepts progressive results.
        "receive_progress" => receive_progress: bool,
        /// This CALL is one chunk of a progressive invocation; more follow.
        "progress" => progress: bool,
        /// Milliseconds after which the call is canceled (0: none).
        "timeout" => timeout: u64,
        /// Ask the dealer to disclose the caller to the callee.
        "disclose_me" => disclose_me: bool,
        /// Router-to-router links the call passed through.
        "forward_for" => forward_for: Vec<Dict>,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `CANCEL.Options`.
    pub struct CancelOptions {
        /// How the call is ended (spec default: kill).
        "mode" => mode: CancelMode,
    }
}

wamp_options! {
    /// `RESULT.Details`.
    pub struct ResultDetails {
        /// This is a progressive result; more follow.
        "progress" => progress: bool,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `REGISTER.Options`.
    pub struct RegisterOptions {
        /// How the procedure is matched (spec default: exact).
        "match" => match_policy: MatchPolicy,
        /// Shared registration policy, e.g. `"single"`, `"roundrobin"`.
        "invoke" => invoke: String,
        /// Ask the dealer to disclose callers.
        "disclose_caller" => disclose_caller: bool,
        /// Maximum concurrent invocations.
        "concurrency" => concurrency: u64,
        /// Replace an existing registration of the same procedure.
        "force_reregister" => force_reregister: bool,
        /// Router-to-router links the request passed through.
        "forward_for" => forward_for: Vec<Dict>,
    }
}

wamp_options! {
    /// `INVOCATION.Details`.
    pub struct InvocationDetails {
        /// The caller's session, when disclosed.
        "caller" => caller: Id,
        /// The caller's authentication ID, when disclosed.
        "caller_authid" => caller_authid: String,
        /// The caller's authentication role, when disclosed.
        "caller_authrole" => caller_authrole: String,
        /// The concrete procedure, for pattern-based registrations.
        "procedure" => procedure: String,
        /// The caller accepts progressive results.
        "receive_progress" => receive_progress: bool,
        /// This invocation is one chunk of a progressive invocation.
        "progress" => progress: bool,
        /// Milliseconds the callee has to answer.
        "timeout" => timeout: u64,
        /// The call's trust level.
        "trustlevel" => trustlevel: u64,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

wamp_options! {
    /// `INTERRUPT.Options`.
    pub struct InterruptOptions {
        /// How the invocation is ended.
        "mode" => mode: CancelMode,
        /// Why, e.g. `"wamp.error.canceled"` or `"wamp.error.timeout"`.
        "reason" => reason: String,
    }
}

wamp_options! {
    /// `YIELD.Options`.
    pub struct YieldOptions {
        /// This is a progressive result; more follow.
        "progress" => progress: bool,
        /// Payload passthru: the payload schema.
        "ppt_scheme" => ppt_scheme: String,
        /// Payload passthru: the payload's serializer.
        "ppt_serializer" => ppt_serializer: String,
        /// Payload passthru: the payload's cipher.
        "ppt_cipher" => ppt_cipher: String,
        /// Payload passthru: the payload's key ID.
        "ppt_keyid" => ppt_keyid: String,
    }
}

/// Options that may announce a transparent (passthru) payload.
pub(crate) trait PassthruOptions {
    /// Whether the options announce a transparent payload
    /// (`ppt_scheme`, or the older `enc_algo`).
    fn announces_passthru(&self) -> bool;
}

macro_rules! passthru_by_ppt {
    ($($ty:ty),*) => {$(
        impl PassthruOptions for $ty {
            fn announces_passthru(&self) -> bool {
                self.ppt_scheme.as_deref().is_some_and(|s| !s.is_empty())
            }
        }
    )*};
}

passthru_by_ppt!(
    ErrorDetails,
    CallOptions,
    ResultDetails,
    InvocationDetails,
    YieldOptions
);

impl PassthruOptions for PublishOptions {
    fn announces_passthru(&self) -> bool {
        self.enc_algo.is_some() || self.ppt_scheme.as_deref().is_some_and(|s| !s.is_empty())
    }
}

impl PassthruOptions for EventDetails {
    fn announces_passthru(&self) -> bool {
        self.enc_algo.is_some() || self.ppt_scheme.as_deref().is_some_and(|s| !s.is_empty())
    }
}

impl PassthruOptions for CloseDetails {
    fn announces_passthru(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_defined_key_set_to_null_is_absent() {
        let mut dict = Dict::new();
        dict.insert("channel_binding".into(), Value::Null);
        dict.insert("cbind_data".into(), Value::Null);
        dict.insert("_custom".into(), Value::Null);
        let extra =
            AuthenticateExtra::from_dict(dict, MessageType::Authenticate, "Extra").expect("valid");
        assert_eq!(extra.channel_binding, None);
        assert_eq!(extra.cbind_data, None);
        // Unknown keys are kept as they came, null included.
        assert_eq!(extra.extra.get("_custom"), Some(&Value::Null));
    }

    #[test]
    fn a_defined_key_of_the_wrong_type_is_named() {
        let mut dict = Dict::new();
        dict.insert("acknowledge".into(), Value::UInt(1));
        let err =
            PublishOptions::from_dict(dict, MessageType::Publish, "Options").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "PUBLISH.Options.acknowledge must be a bool, found integer"
        );
    }
}

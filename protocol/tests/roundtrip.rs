//! Property tests: every message and value survives every serialization,
//! one per frame and batched.
//!
//! The strategies build every one of the 25 message types with arbitrary
//! IDs, URIs that pass the loose rules, options with some typed keys set and
//! arbitrary unknown keys in `extra`, and payloads of arbitrary values
//! (transparent ones only where the options announce payload passthru).

use std::cell::Cell;
use std::fmt::Debug;
use std::ops::Range;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, TestRunner};
use serverwamp_protocol::codec::batched::JsonSeparator;
use serverwamp_protocol::message::{
    Abort, Authenticate, AuthenticateExtra, Call, CallOptions, Cancel, CancelMode, CancelOptions,
    Challenge, ChallengeExtra, CloseDetails, EncryptionAlgorithm, ErrorDetails, ErrorMessage,
    Event, EventDetails, EventReceived, Goodbye, Hello, HelloDetails, Interrupt, InterruptOptions,
    Invocation, InvocationDetails, Payload, Publish, PublishOptions, Published, Register,
    RegisterOptions, Registered, ResultDetails, ResultMessage, Subscribe, SubscribeOptions,
    Subscribed, Unregister, Unregistered, Unsubscribe, Unsubscribed, ValidationRules, Welcome,
    WelcomeDetails, Yield, YieldOptions,
};
use serverwamp_protocol::{
    Codec, Dict, Id, MatchPolicy, Message, MessageType, Serialization, Value,
};

/// Cases per property: enough to meet every message type and value kind
/// many times, small enough for a 2-core machine.
const CASES: u32 = 256;

/// Cases per message type in [`every_message_type_round_trips`].
const CASES_PER_TYPE: u32 = 48;

/// `cases` cases, without a regressions file (a failure prints its
/// minimal input, which is what to turn into a test).
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn rules() -> ValidationRules {
    ValidationRules::default()
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// Arbitrary strings, mostly Unicode, never starting with NUL.
///
/// A leading `"\0"` is excluded because in JSON a string that starts with
/// NUL carries binary data (`"\0"` + base64, spec "Binary support in
/// JSON"): such a `Value::Str` would come back as `Value::Bytes` (or be
/// refused as bad base64), which is the rule working, not a round-trip
/// failure. NUL elsewhere in the string is kept.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        "(?s).{0,12}",
        Just(String::new()),
        Just("x\0y".to_owned()),
    ]
    .prop_map(|s| match s.strip_prefix('\0') {
        Some(rest) => format!("_{rest}"),
        None => s,
    })
}

/// Finite floats of every class (NaN never equals itself and JSON refuses
/// non-finite floats, so neither can round-trip by `==`).
fn any_finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64 as f;
    prop_oneof![
        f::POSITIVE | f::NEGATIVE | f::NORMAL | f::SUBNORMAL | f::ZERO,
        -1.0e6..1.0e6,
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        json_exact_f64(),
    ]
}

/// Finite floats that JSON reads back exactly today: `n / 10^k` with at
/// most 15 significant digits, which serde_json's default (fast-path)
/// parser rounds correctly. Arbitrary floats can come back 1 ULP off in
/// JSON (see `json_reads_back_every_float`), so values inside messages use
/// these; MsgPack and CBOR get the whole range in `any_value_round_trips`.
fn json_exact_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-999_999_999_999_999_i64..=999_999_999_999_999, 0..=15_i32).prop_map(|(n, k)| {
            let n = n as f64; // |n| < 2^53: exact
            n / 10_f64.powi(k)
        }),
        Just(0.5),
        Just(-0.0),
        Just(1.0e300),
    ]
}

/// Leaves: every scalar kind, with integers over the whole i64 and u64
/// ranges (and small ones, which take the short encodings).
fn leaf(floats: BoxedStrategy<f64>) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MIN..0).prop_map(Value::Int),
        Just(Value::Int(i64::MIN)),
        any::<u64>().prop_map(Value::UInt),
        (0u64..70_000).prop_map(Value::UInt),
        Just(Value::UInt(u64::MAX)),
        floats.prop_map(Value::Float),
        text().prop_map(Value::Str),
        vec(any::<u8>(), 0..24).prop_map(|b| Value::Bytes(Bytes::from(b))),
    ]
}

/// Arbitrary values, nested at most 4 levels deep.
fn value() -> impl Strategy<Value = Value> {
    value_with(json_exact_f64().boxed())
}

/// Arbitrary values with floats from `floats`.
fn value_with(floats: BoxedStrategy<f64>) -> impl Strategy<Value = Value> {
    leaf(floats).prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::List),
            dict_of(inner, 0..6).prop_map(Value::Dict),
        ]
    })
}

fn dict_of(
    values: impl Strategy<Value = Value>,
    size: Range<usize>,
) -> impl Strategy<Value = Dict> {
    vec((text(), values), size).prop_map(|entries| entries.into_iter().collect())
}

// ---------------------------------------------------------------------------
// Message elements
// ---------------------------------------------------------------------------

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![Just(1), Just(Id::MAX), 1..=Id::MAX].prop_map(|n| Id::new(n).expect("in [1, 2^53]"))
}

/// One URI component under the loose rules: no `.`, `#` or whitespace. NUL
/// is left out too, so a URI never starts with it (see [`text`]).
const COMPONENT: &str = "[^.#\\s\\x00]{1,6}";

/// A URI that passes the loose rules as an exact URI.
fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(COMPONENT, 1..4).prop_map(|c| c.join(".")),
        vec("[a-z0-9_]{1,6}", 1..4).prop_map(|c| c.join(".")),
    ]
}

/// A topic or procedure valid for the match policy: wildcard patterns may
/// have empty components anywhere, prefixes may end with `.`.
fn pattern(policy: Option<MatchPolicy>) -> BoxedStrategy<String> {
    match policy.unwrap_or_default() {
        MatchPolicy::Exact => uri().boxed(),
        MatchPolicy::Prefix => (uri(), any::<bool>())
            .prop_map(|(u, dot)| if dot { format!("{u}.") } else { u })
            .boxed(),
        MatchPolicy::Wildcard => vec("[^.#\\s\\x00]{0,6}", 1..5)
            .prop_map(|c| c.join("."))
            .prop_filter("a pattern is not empty", |p| !p.is_empty())
            .boxed(),
    }
}

/// Some typed option keys are set, most are not.
fn maybe<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>>
where
    S::Value: Debug,
{
    option::weighted(0.3, s)
}

/// Unknown keys: `_[a-z0-9_]{3,}` never collides with a key the spec
/// defines, so they stay in `extra`.
fn extra() -> impl Strategy<Value = Dict> {
    vec(("_[a-z0-9_]{3,8}", value()), 0..3).prop_map(|entries| entries.into_iter().collect())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..3)
}

fn ids() -> impl Strategy<Value = Vec<Id>> {
    vec(id(), 0..3)
}

fn small_dict() -> impl Strategy<Value = Dict> {
    dict_of(value(), 0..3)
}

fn forward_for() -> impl Strategy<Value = Vec<Dict>> {
    vec(small_dict(), 0..3)
}

fn match_policy() -> impl Strategy<Value = MatchPolicy> {
    prop_oneof![
        Just(MatchPolicy::Exact),
        Just(MatchPolicy::Prefix),
        Just(MatchPolicy::Wildcard),
    ]
}

fn cancel_mode() -> impl Strategy<Value = CancelMode> {
    prop_oneof![
        Just(CancelMode::Skip),
        Just(CancelMode::Kill),
        Just(CancelMode::KillNoWait),
    ]
}

fn enc_algo() -> impl Strategy<Value = EncryptionAlgorithm> {
    prop_oneof![
        Just(EncryptionAlgorithm::Cryptobox),
        Just(EncryptionAlgorithm::Mqtt),
        Just(EncryptionAlgorithm::Xbr),
        "x_[a-z0-9_]{1,6}".prop_map(EncryptionAlgorithm::Custom),
    ]
}

/// `ppt_scheme`, set half the time, sometimes to the empty string (which
/// announces nothing).
fn ppt_scheme() -> impl Strategy<Value = Option<String>> {
    option::weighted(
        0.5,
        prop_oneof![
            Just(String::new()),
            Just("mqtt".to_owned()),
            "x_[a-z]{1,6}",
            text()
        ],
    )
}

/// `(ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid)`.
type Ppt = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn ppt() -> impl Strategy<Value = Ppt> {
    (ppt_scheme(), maybe(text()), maybe(text()), maybe(text()))
}

/// Whether the options announce a transparent payload, by the spec's
/// rule: a non-empty `ppt_scheme` (or `enc_algo` where it is defined).
fn announced(ppt_scheme: Option<&String>, enc_algo: bool) -> bool {
    enc_algo || ppt_scheme.is_some_and(|s| !s.is_empty())
}

/// A payload: arguments, or when `passthru` often a transparent one.
fn payload(passthru: bool) -> BoxedStrategy<Payload> {
    let args = (vec(value(), 0..4), dict_of(value(), 0..3))
        .prop_map(|(args, kwargs)| Payload::Args { args, kwargs });
    if passthru {
        prop_oneof![
            1 => args,
            3 => vec(any::<u8>(), 0..40).prop_map(|b| Payload::Transparent(Bytes::from(b))),
        ]
        .boxed()
    } else {
        args.boxed()
    }
}

// ---------------------------------------------------------------------------
// Options, details and extras
// ---------------------------------------------------------------------------

fn hello_details() -> impl Strategy<Value = HelloDetails> {
    (
        maybe(small_dict()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(strings()),
        maybe(small_dict()),
        extra(),
    )
        .prop_map(
            |(roles, agent, authid, authrole, authmethods, authextra, extra)| HelloDetails {
                roles,
                agent,
                authid,
                authrole,
                authmethods,
                authextra,
                extra,
            },
        )
}

fn welcome_details() -> impl Strategy<Value = WelcomeDetails> {
    (
        maybe(uri()),
        maybe(small_dict()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(small_dict()),
        extra(),
    )
        .prop_map(
            |(
                realm,
                roles,
                agent,
                authid,
                authrole,
                authmethod,
                authprovider,
                authextra,
                extra,
            )| {
                WelcomeDetails {
                    realm,
                    roles,
                    agent,
                    authid,
                    authrole,
                    authmethod,
                    authprovider,
                    authextra,
                    extra,
                }
            },
        )
}

fn close_details() -> impl Strategy<Value = CloseDetails> {
    (maybe(text()), extra()).prop_map(|(message, extra)| CloseDetails { message, extra })
}

fn challenge_extra() -> impl Strategy<Value = ChallengeExtra> {
    (
        maybe(text()),
        maybe(text()),
        maybe(any::<u64>()),
        maybe(any::<u64>()),
        maybe(text()),
        maybe(any::<u64>()),
        maybe(text()),
        maybe(text()),
        extra(),
    )
        .prop_map(
            |(challenge, salt, iterations, keylen, kdf, memory, nonce, channel_binding, extra)| {
                ChallengeExtra {
                    challenge,
                    salt,
                    iterations,
                    keylen,
                    kdf,
                    memory,
                    nonce,
                    channel_binding,
                    extra,
                }
            },
        )
}

fn authenticate_extra() -> impl Strategy<Value = AuthenticateExtra> {
    (maybe(text()), maybe(text()), maybe(text()), extra()).prop_map(
        |(nonce, channel_binding, cbind_data, extra)| AuthenticateExtra {
            nonce,
            channel_binding,
            cbind_data,
            extra,
        },
    )
}

fn error_details() -> impl Strategy<Value = ErrorDetails> {
    (ppt(), extra()).prop_map(
        |((ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid), extra)| ErrorDetails {
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

fn publish_options() -> impl Strategy<Value = PublishOptions> {
    let recipients = (
        maybe(ids()),
        maybe(strings()),
        maybe(strings()),
        maybe(ids()),
        maybe(strings()),
        maybe(strings()),
    );
    let flags = (
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(text()),
        maybe(forward_for()),
    );
    let passthru = (
        option::weighted(0.4, enc_algo()),
        maybe(text()),
        ppt(),
        extra(),
    );
    (recipients, flags, passthru).prop_map(
        |(
            (
                exclude,
                exclude_authid,
                exclude_authrole,
                eligible,
                eligible_authid,
                eligible_authrole,
            ),
            (acknowledge, exclude_me, disclose_me, retain, transaction_hash, forward_for),
            (enc_algo, enc_serializer, (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid), extra),
        )| PublishOptions {
            acknowledge,
            exclude_me,
            exclude,
            exclude_authid,
            exclude_authrole,
            eligible,
            eligible_authid,
            eligible_authrole,
            disclose_me,
            retain,
            transaction_hash,
            forward_for,
            enc_algo,
            enc_serializer,
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

fn subscribe_options() -> impl Strategy<Value = SubscribeOptions> {
    (
        maybe(match_policy()),
        maybe(any::<bool>()),
        maybe(forward_for()),
        extra(),
    )
        .prop_map(
            |(match_policy, get_retained, forward_for, extra)| SubscribeOptions {
                match_policy,
                get_retained,
                forward_for,
                extra,
            },
        )
}

fn event_details() -> impl Strategy<Value = EventDetails> {
    let publisher = (
        maybe(id()),
        maybe(text()),
        maybe(text()),
        maybe(uri()),
        maybe(any::<bool>()),
        maybe(text()),
        maybe(any::<bool>()),
        maybe(forward_for()),
    );
    let passthru = (
        option::weighted(0.4, enc_algo()),
        maybe(text()),
        ppt(),
        extra(),
    );
    (publisher, passthru).prop_map(
        |(
            (
                publisher,
                publisher_authid,
                publisher_authrole,
                topic,
                retained,
                transaction_hash,
                x_acknowledged_delivery,
                forward_for,
            ),
            (enc_algo, enc_serializer, (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid), extra),
        )| EventDetails {
            publisher,
            publisher_authid,
            publisher_authrole,
            topic,
            retained,
            transaction_hash,
            x_acknowledged_delivery,
            forward_for,
            enc_algo,
            enc_serializer,
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

fn call_options() -> impl Strategy<Value = CallOptions> {
    (
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(any::<u64>()),
        maybe(any::<bool>()),
        maybe(forward_for()),
        ppt(),
        extra(),
    )
        .prop_map(
            |(
                receive_progress,
                progress,
                timeout,
                disclose_me,
                forward_for,
                (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid),
                extra,
            )| CallOptions {
                receive_progress,
                progress,
                timeout,
                disclose_me,
                forward_for,
                ppt_scheme,
                ppt_serializer,
                ppt_cipher,
                ppt_keyid,
                extra,
            },
        )
}

fn cancel_options() -> impl Strategy<Value = CancelOptions> {
    (maybe(cancel_mode()), extra()).prop_map(|(mode, extra)| CancelOptions { mode, extra })
}

fn result_details() -> impl Strategy<Value = ResultDetails> {
    (maybe(any::<bool>()), ppt(), extra()).prop_map(
        |(progress, (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid), extra)| ResultDetails {
            progress,
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

fn register_options() -> impl Strategy<Value = RegisterOptions> {
    (
        maybe(match_policy()),
        maybe(prop_oneof![
            Just("single".to_owned()),
            Just("roundrobin".to_owned()),
            text()
        ]),
        maybe(any::<bool>()),
        maybe(any::<u64>()),
        maybe(any::<bool>()),
        maybe(forward_for()),
        extra(),
    )
        .prop_map(
            |(
                match_policy,
                invoke,
                disclose_caller,
                concurrency,
                force_reregister,
                forward_for,
                extra,
            )| RegisterOptions {
                match_policy,
                invoke,
                disclose_caller,
                concurrency,
                force_reregister,
                forward_for,
                extra,
            },
        )
}

fn invocation_details() -> impl Strategy<Value = InvocationDetails> {
    let caller = (
        maybe(id()),
        maybe(text()),
        maybe(text()),
        maybe(uri()),
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(any::<u64>()),
        maybe(any::<u64>()),
    );
    (caller, ppt(), extra()).prop_map(
        |(
            (
                caller,
                caller_authid,
                caller_authrole,
                procedure,
                receive_progress,
                progress,
                timeout,
                trustlevel,
            ),
            (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid),
            extra,
        )| InvocationDetails {
            caller,
            caller_authid,
            caller_authrole,
            procedure,
            receive_progress,
            progress,
            timeout,
            trustlevel,
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

fn interrupt_options() -> impl Strategy<Value = InterruptOptions> {
    (maybe(cancel_mode()), maybe(text()), extra()).prop_map(|(mode, reason, extra)| {
        InterruptOptions {
            mode,
            reason,
            extra,
        }
    })
}

fn yield_options() -> impl Strategy<Value = YieldOptions> {
    (maybe(any::<bool>()), ppt(), extra()).prop_map(
        |(progress, (ppt_scheme, ppt_serializer, ppt_cipher, ppt_keyid), extra)| YieldOptions {
            progress,
            ppt_scheme,
            ppt_serializer,
            ppt_cipher,
            ppt_keyid,
            extra,
        },
    )
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// The message types an ERROR may answer.
fn request_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        Just(MessageType::Publish),
        Just(MessageType::Subscribe),
        Just(MessageType::Unsubscribe),
        Just(MessageType::Call),
        Just(MessageType::Cancel),
        Just(MessageType::Register),
        Just(MessageType::Unregister),
        Just(MessageType::Invocation),
    ]
}

/// Messages of type `t`. Fails for a type it has no strategy for, so a new
/// message type cannot go untested.
fn message_of(t: MessageType) -> BoxedStrategy<Message> {
    match t {
        MessageType::Hello => (uri(), hello_details())
            .prop_map(|(realm, details)| Hello { realm, details }.into())
            .boxed(),
        MessageType::Welcome => (id(), welcome_details())
            .prop_map(|(session, details)| Welcome { session, details }.into())
            .boxed(),
        MessageType::Abort => (close_details(), uri(), payload(false))
            .prop_map(|(details, reason, payload)| {
                Abort {
                    details,
                    reason,
                    payload,
                }
                .into()
            })
            .boxed(),
        MessageType::Challenge => (text(), challenge_extra())
            .prop_map(|(method, extra)| Challenge { method, extra }.into())
            .boxed(),
        MessageType::Authenticate => (text(), authenticate_extra())
            .prop_map(|(signature, extra)| Authenticate { signature, extra }.into())
            .boxed(),
        MessageType::Goodbye => (close_details(), uri())
            .prop_map(|(details, reason)| Goodbye { details, reason }.into())
            .boxed(),
        MessageType::Error => (request_type(), id(), error_details(), uri())
            .prop_flat_map(|(request_type, request, details, error)| {
                let passthru = announced(details.ppt_scheme.as_ref(), false);
                payload(passthru).prop_map(move |payload| {
                    ErrorMessage {
                        request_type,
                        request,
                        details: details.clone(),
                        error: error.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Publish => (id(), publish_options(), uri())
            .prop_flat_map(|(request, options, topic)| {
                let passthru = announced(options.ppt_scheme.as_ref(), options.enc_algo.is_some());
                payload(passthru).prop_map(move |payload| {
                    Publish {
                        request,
                        options: options.clone(),
                        topic: topic.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Published => (id(), id())
            .prop_map(|(request, publication)| {
                Published {
                    request,
                    publication,
                }
                .into()
            })
            .boxed(),
        MessageType::Subscribe => (id(), subscribe_options())
            .prop_flat_map(|(request, options)| {
                pattern(options.match_policy).prop_map(move |topic| {
                    Subscribe {
                        request,
                        options: options.clone(),
                        topic,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Subscribed => (id(), id())
            .prop_map(|(request, subscription)| {
                Subscribed {
                    request,
                    subscription,
                }
                .into()
            })
            .boxed(),
        MessageType::Unsubscribe => (id(), id())
            .prop_map(|(request, subscription)| {
                Unsubscribe {
                    request,
                    subscription,
                }
                .into()
            })
            .boxed(),
        MessageType::Unsubscribed => id()
            .prop_map(|request| Unsubscribed { request }.into())
            .boxed(),
        MessageType::Event => (id(), id(), event_details())
            .prop_flat_map(|(subscription, publication, details)| {
                let passthru = announced(details.ppt_scheme.as_ref(), details.enc_algo.is_some());
                payload(passthru).prop_map(move |payload| {
                    Event {
                        subscription,
                        publication,
                        details: details.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::EventReceived => id()
            .prop_map(|publication| EventReceived { publication }.into())
            .boxed(),
        MessageType::Call => (id(), call_options(), uri())
            .prop_flat_map(|(request, options, procedure)| {
                let passthru = announced(options.ppt_scheme.as_ref(), false);
                payload(passthru).prop_map(move |payload| {
                    Call {
                        request,
                        options: options.clone(),
                        procedure: procedure.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Cancel => (id(), cancel_options())
            .prop_map(|(request, options)| Cancel { request, options }.into())
            .boxed(),
        MessageType::Result => (id(), result_details())
            .prop_flat_map(|(request, details)| {
                let passthru = announced(details.ppt_scheme.as_ref(), false);
                payload(passthru).prop_map(move |payload| {
                    ResultMessage {
                        request,
                        details: details.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Register => (id(), register_options())
            .prop_flat_map(|(request, options)| {
                pattern(options.match_policy).prop_map(move |procedure| {
                    Register {
                        request,
                        options: options.clone(),
                        procedure,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Registered => (id(), id())
            .prop_map(|(request, registration)| {
                Registered {
                    request,
                    registration,
                }
                .into()
            })
            .boxed(),
        MessageType::Unregister => (id(), id())
            .prop_map(|(request, registration)| {
                Unregister {
                    request,
                    registration,
                }
                .into()
            })
            .boxed(),
        MessageType::Unregistered => id()
            .prop_map(|request| Unregistered { request }.into())
            .boxed(),
        MessageType::Invocation => (id(), id(), invocation_details())
            .prop_flat_map(|(request, registration, details)| {
                let passthru = announced(details.ppt_scheme.as_ref(), false);
                payload(passthru).prop_map(move |payload| {
                    Invocation {
                        request,
                        registration,
                        details: details.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        MessageType::Interrupt => (id(), interrupt_options())
            .prop_map(|(request, options)| Interrupt { request, options }.into())
            .boxed(),
        MessageType::Yield => (id(), yield_options())
            .prop_flat_map(|(request, options)| {
                let passthru = announced(options.ppt_scheme.as_ref(), false);
                payload(passthru).prop_map(move |payload| {
                    Yield {
                        request,
                        options: options.clone(),
                        payload,
                    }
                    .into()
                })
            })
            .boxed(),
        other => panic!("no strategy for {other}"),
    }
}

/// Any message, every type equally likely.
fn message() -> impl Strategy<Value = Message> {
    Union::new(MessageType::ALL.iter().map(|&t| message_of(t)))
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// `decode(encode(m)) == m` in every serialization.
fn assert_round_trips(m: &Message) -> Result<(), TestCaseError> {
    for s in Serialization::ALL {
        let bytes = s
            .encode(m)
            .map_err(|e| TestCaseError::fail(format!("{s} encode: {e}")))?;
        let back = s
            .decode(&bytes, &rules())
            .map_err(|e| TestCaseError::fail(format!("{s} decode: {e}")))?;
        prop_assert_eq!(&back, m, "{} round trip", s);
    }
    Ok(())
}

/// Every one of the 25 message types, generated on purpose: a plain union
/// could leave a rare type unexercised by chance.
#[test]
fn every_message_type_round_trips() {
    assert_eq!(MessageType::ALL.len(), 25);
    let mut transparent = 0_u32;
    for &t in MessageType::ALL {
        let mut runner = TestRunner::new(config(CASES_PER_TYPE));
        let seen_transparent = Cell::new(false);
        runner
            .run(&message_of(t), |m| {
                prop_assert_eq!(m.message_type(), t);
                if let Message::Publish(Publish { payload, .. })
                | Message::Event(Event { payload, .. })
                | Message::Call(Call { payload, .. })
                | Message::Result(ResultMessage { payload, .. })
                | Message::Invocation(Invocation { payload, .. })
                | Message::Yield(Yield { payload, .. })
                | Message::Error(ErrorMessage { payload, .. }) = &m
                    && matches!(payload, Payload::Transparent(_))
                {
                    seen_transparent.set(true);
                }
                assert_round_trips(&m)
            })
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        transparent += u32::from(seen_transparent.get());
    }
    // Each of the 7 types that can carry a transparent payload did.
    assert_eq!(transparent, 7);
}

proptest! {
    #![proptest_config(config(CASES))]

    /// (a) Any message survives every serialization.
    #[test]
    fn any_message_round_trips(m in message()) {
        assert_round_trips(&m)?;
    }

    /// (b) A batch of 1 to 5 messages, written with repeated `encode_frame`
    /// into one frame, decodes to exactly those messages, in order.
    #[test]
    fn batched_frames_round_trip(messages in vec(message(), 1..=5)) {
        for s in Serialization::ALL {
            let mut codec = Codec::batched(s);
            let mut frame = Vec::new();
            for m in &messages {
                codec.encode_frame(m, &mut frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            // The framing is what the spec says.
            if s == Serialization::Json {
                prop_assert_eq!(frame.last(), Some(&JsonSeparator::RecordSeparator.byte()));
                let separators = frame.iter().filter(|&&b| b == 0x1e || b == 0x18).count();
                prop_assert_eq!(separators, messages.len());
            } else {
                let first = s.encode(&messages[0]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let len = u32::try_from(first.len()).expect("small record");
                prop_assert_eq!(&frame[..4], &len.to_be_bytes()[..]);
                prop_assert_eq!(&frame[4..4 + first.len()], &first[..]);
            }
            let mut decoded = Vec::new();
            codec
                .decode_frame(&frame, &rules(), &mut decoded)
                .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&decoded, &messages, "{} batch", s);

            // Unbatched, a frame is one message.
            let mut single = Codec::new(s);
            let mut frame = Vec::new();
            single.encode_frame(&messages[0], &mut frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&frame, &s.encode(&messages[0]).map_err(|e| TestCaseError::fail(e.to_string()))?);
            let mut decoded = Vec::new();
            single
                .decode_frame(&frame, &rules(), &mut decoded)
                .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&decoded[..], &messages[..1]);
        }
    }

    /// (c) Any value survives every serialization through `encode_into`
    /// and `decode_value`, appended after bytes already in the buffer.
    #[test]
    fn any_value_round_trips(v in value()) {
        for s in Serialization::ALL {
            let mut out = b"prefix".to_vec();
            s.encode_into(&v, &mut out).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&out[..6], b"prefix");
            let back = s
                .decode_value(&out[6..])
                .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&back, &v, "{} value round trip", s);
        }
    }

    /// MsgPack and CBOR carry every finite float exactly.
    #[test]
    fn binary_serializations_keep_every_float(v in value_with(any_finite_f64().boxed())) {
        for s in [Serialization::MsgPack, Serialization::Cbor] {
            let mut out = Vec::new();
            s.encode_into(&v, &mut out).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            let back = s
                .decode_value(&out)
                .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&back, &v, "{} value round trip", s);
        }
    }

    /// (d) A batched JSON frame whose records end with 0x18 (as
    /// Autobahn|Python writes) decodes, and the codec then answers with 0x18.
    #[test]
    fn json_batches_with_0x18_are_read_and_answered_alike(messages in vec(message(), 1..=5)) {
        let mut codec = Codec::batched(Serialization::Json);
        // Before it has seen the peer, the codec writes the spec's 0x1E.
        let mut before = Vec::new();
        codec.encode_frame(&messages[0], &mut before).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(before.last(), Some(&0x1e));

        let mut frame = Vec::new();
        for m in &messages {
            frame.extend(Serialization::Json.encode(m).map_err(|e| TestCaseError::fail(e.to_string()))?);
            frame.push(0x18);
        }
        let mut decoded = Vec::new();
        codec
            .decode_frame(&frame, &rules(), &mut decoded)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &messages);

        let mut answer = Vec::new();
        for m in &messages {
            codec.encode_frame(m, &mut answer).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(answer.last(), Some(&0x18));
        prop_assert!(!answer.contains(&0x1e), "0x1E written after the peer used 0x18");
        // Our answer is exactly the peer's framing.
        prop_assert_eq!(&answer, &frame);
        // And a fresh codec reads it back.
        let mut again = Vec::new();
        Codec::batched(Serialization::Json)
            .decode_frame(&answer, &rules(), &mut again)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &messages);
    }
}

/// JSON should read back every finite float it writes. serde_json writes
/// the shortest representation that round-trips, but without its
/// `float_roundtrip` feature it parses with a fast algorithm that can be
/// 1 ULP off: these two were found by `any_value_round_trips` with
/// arbitrary floats.
#[test]
fn json_reads_back_every_float() {
    for f in [-965_704.463_941_914_3, 4.881_975_856_951_54e121] {
        let v = Value::List(vec![Value::Float(f)]);
        let mut out = Vec::new();
        Serialization::Json
            .encode_into(&v, &mut out)
            .expect("finite floats encode");
        let back = Serialization::Json.decode_value(&out).expect("decodes");
        assert_eq!(back, v, "{}", String::from_utf8_lossy(&out));
    }
}

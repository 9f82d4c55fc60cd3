//! Writing messages: `Message` serializes as the list the spec lays out.

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::*;
use crate::value::{serialize_binary, serialize_dict};

/// The number of payload elements written, omitted as the spec asks
/// (section "Empty Arguments and Keyword Arguments"): none when both are
/// empty, `Arguments` alone without keyword arguments, and an empty
/// `Arguments` list only when keyword arguments follow. Never `null`.
fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Args { args, kwargs } => {
            if !kwargs.is_empty() {
                2
            } else {
                usize::from(!args.is_empty())
            }
        }
        Payload::Transparent(_) => 1,
    }
}

/// Element `index` of the payload tail.
struct PayloadElement<'a>(&'a Payload, usize);

impl Serialize for PayloadElement<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.0, self.1) {
            (Payload::Args { args, .. }, 0) => args.serialize(serializer),
            (Payload::Args { kwargs, .. }, _) => serialize_dict(kwargs, serializer),
            (Payload::Transparent(bytes), _) => serialize_binary(bytes, serializer),
        }
    }
}

/// Writes `[code, fixed elements..., payload elements...]`.
macro_rules! write_message {
    ($serializer:expr, $t:ident, [$($element:expr),*] $(, $payload:expr)?) => {{
        #[allow(unused_mut, unused_assignments)]
        let mut payload: Option<&Payload> = None;
        $( payload = Some(&$payload); )?
        let tail = payload.map_or(0, payload_len);
        let fixed = [$(stringify!($element)),*].len();
        let mut seq = $serializer.serialize_seq(Some(1 + fixed + tail))?;
        seq.serialize_element(&MessageType::$t.code())?;
        $( seq.serialize_element(&$element)?; )*
        if let Some(payload) = payload {
            for index in 0..tail {
                seq.serialize_element(&PayloadElement(payload, index))?;
            }
        }
        seq.end()
    }};
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Hello(m) => write_message!(s, Hello, [m.realm, m.details]),
            Message::Welcome(m) => write_message!(s, Welcome, [m.session, m.details]),
            Message::Abort(m) => write_message!(s, Abort, [m.details, m.reason], m.payload),
            Message::Challenge(m) => write_message!(s, Challenge, [m.method, m.extra]),
            Message::Authenticate(m) => write_message!(s, Authenticate, [m.signature, m.extra]),
            Message::Goodbye(m) => write_message!(s, Goodbye, [m.details, m.reason]),
            Message::Error(m) => write_message!(
                s,
                Error,
                [m.request_type.code(), m.request, m.details, m.error],
                m.payload
            ),
            Message::Publish(m) => {
                write_message!(s, Publish, [m.request, m.options, m.topic], m.payload)
            }
            Message::Published(m) => write_message!(s, Published, [m.request, m.publication]),
            Message::Subscribe(m) => write_message!(s, Subscribe, [m.request, m.options, m.topic]),
            Message::Subscribed(m) => write_message!(s, Subscribed, [m.request, m.subscription]),
            Message::Unsubscribe(m) => {
                write_message!(s, Unsubscribe, [m.request, m.subscription])
            }
            Message::Unsubscribed(m) => write_message!(s, Unsubscribed, [m.request]),
            Message::Event(m) => write_message!(
                s,
                Event,
                [m.subscription, m.publication, m.details],
                m.payload
            ),
            Message::EventReceived(m) => write_message!(s, EventReceived, [m.publication]),
            Message::Call(m) => {
                write_message!(s, Call, [m.request, m.options, m.procedure], m.payload)
            }
            Message::Cancel(m) => write_message!(s, Cancel, [m.request, m.options]),
            Message::Result(m) => write_message!(s, Result, [m.request, m.details], m.payload),
            Message::Register(m) => {
                write_message!(s, Register, [m.request, m.options, m.procedure])
            }
            Message::Registered(m) => write_message!(s, Registered, [m.request, m.registration]),
            Message::Unregister(m) => write_message!(s, Unregister, [m.request, m.registration]),
            Message::Unregistered(m) => write_message!(s, Unregistered, [m.request]),
            Message::Invocation(m) => write_message!(
                s,
                Invocation,
                [m.request, m.registration, m.details],
                m.payload
            ),
            Message::Interrupt(m) => write_message!(s, Interrupt, [m.request, m.options]),
            Message::Yield(m) => write_message!(s, Yield, [m.request, m.options], m.payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Payload) -> Message {
        Message::Call(Call {
            request: Id::new(7).expect("valid id"),
            options: CallOptions::default(),
            procedure: "com.example.p".into(),
            payload,
        })
    }

    fn json(m: &Message) -> String {
        serde_json::to_string(m).expect("encodes")
    }

    #[test]
    fn empty_payload_is_omitted() {
        assert_eq!(
            json(&call(Payload::default())),
            r#"[48,7,{},"com.example.p"]"#
        );
    }

    #[test]
    fn args_without_kwargs_omit_kwargs() {
        let m = call(Payload::from_args(vec![1u64.into()]));
        assert_eq!(json(&m), r#"[48,7,{},"com.example.p",[1]]"#);
    }

    #[test]
    fn kwargs_without_args_write_an_empty_list() {
        let mut kw = Dict::new();
        kw.insert("a".into(), true.into());
        let m = call(Payload::from_kwargs(kw));
        assert_eq!(json(&m), r#"[48,7,{},"com.example.p",[],{"a":true}]"#);
    }

    #[test]
    fn transparent_payload_is_binary() {
        let m = call(Payload::Transparent(Bytes::from_static(b"\x01\x02")));
        assert_eq!(json(&m), r#"[48,7,{},"com.example.p","\u0000AQI="]"#);
    }

    #[test]
    fn defined_options_precede_extra_keys() {
        let mut options = CallOptions {
            receive_progress: Some(true),
            timeout: Some(1500),
            ..CallOptions::default()
        };
        options.extra.insert("_custom".into(), "x".into());
        let m = Message::Call(Call {
            request: Id::new(1).expect("valid id"),
            options,
            procedure: "p".into(),
            payload: Payload::default(),
        });
        assert_eq!(
            json(&m),
            r#"[48,1,{"receive_progress":true,"timeout":1500,"_custom":"x"},"p"]"#
        );
    }
}

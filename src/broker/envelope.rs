//! A publication as it crosses a backplane: one MsgPack array.
//!
//! `[1, origin node, publication, topic, flags, publisher or 0,
//! EVENT.Details|dict, PUBLISH.Options|dict, Arguments|list or transparent
//! payload|bin, ArgumentsKw|dict]`, where flag 1 asks receiving nodes to
//! wait for room in full queues (the publisher used a `publish_wait`).

use bytes::Bytes;
use serde::{Serialize, Serializer};
use serverwamp_protocol::message::{EventDetails, MessageType, Payload, PublishOptions};
use serverwamp_protocol::{Dict, Id, List, Serialization, Value};

const VERSION: u64 = 1;
const WAIT: u64 = 1;

/// A publication to send.
pub(crate) struct Outgoing<'a> {
    pub(crate) node: Id,
    pub(crate) publication: Id,
    pub(crate) topic: &'a str,
    pub(crate) wait: bool,
    pub(crate) publisher: Option<Id>,
    pub(crate) details: &'a EventDetails,
    pub(crate) options: Option<&'a PublishOptions>,
    pub(crate) payload: &'a Payload,
}

/// A publication received.
#[derive(Debug, PartialEq)]
pub(crate) struct Incoming {
    pub(crate) node: u64,
    pub(crate) publication: Id,
    pub(crate) topic: String,
    pub(crate) wait: bool,
    pub(crate) publisher: Option<Id>,
    pub(crate) details: EventDetails,
    pub(crate) options: PublishOptions,
    pub(crate) payload: Payload,
}

/// The payload's two elements, borrowed.
enum Head<'a> {
    Args(&'a List),
    Transparent(&'a Bytes),
}

impl Serialize for Head<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Head::Args(args) => args.serialize(serializer),
            Head::Transparent(bytes) => serializer.serialize_bytes(bytes),
        }
    }
}

/// Encodes a publication; `None` (logged) if its payload cannot be.
pub(crate) fn encode(out: &Outgoing<'_>) -> Option<Bytes> {
    let empty_options = PublishOptions::default();
    let empty = Dict::new();
    let (head, kwargs) = match out.payload {
        Payload::Args { args, kwargs } => (Head::Args(args), kwargs),
        Payload::Transparent(bytes) => (Head::Transparent(bytes), &empty),
    };
    let envelope = (
        VERSION,
        out.node.get(),
        out.publication.get(),
        out.topic,
        if out.wait { WAIT } else { 0 },
        out.publisher.map_or(0, Id::get),
        out.details,
        out.options.unwrap_or(&empty_options),
        head,
        kwargs,
    );
    let mut bytes = Vec::with_capacity(128);
    match Serialization::MsgPack.encode_into(&envelope, &mut bytes) {
        Ok(()) => Some(Bytes::from(bytes)),
        Err(error) => {
            tracing::warn!(%error, "a publication cannot be encoded for the backplane; it stays on this node");
            None
        }
    }
}

/// Decodes a publication; `None` for anything that is not one.
pub(crate) fn decode(bytes: &[u8]) -> Option<Incoming> {
    let Ok(Value::List(items)) = Serialization::MsgPack.decode_value(bytes) else {
        return None;
    };
    let [
        version,
        node,
        publication,
        topic,
        flags,
        publisher,
        details,
        options,
        head,
        kwargs,
    ]: [Value; 10] = items.try_into().ok()?;
    if version.as_u64() != Some(VERSION) {
        return None;
    }
    let (Value::Str(topic), Value::Dict(details), Value::Dict(options), Value::Dict(kwargs)) =
        (topic, details, options, kwargs)
    else {
        return None;
    };
    let payload = match head {
        Value::List(args) => Payload::Args { args, kwargs },
        Value::Bytes(bytes) if kwargs.is_empty() => Payload::Transparent(bytes),
        _ => return None,
    };
    Some(Incoming {
        node: node.as_u64()?,
        publication: Id::new(publication.as_u64()?)?,
        topic,
        wait: flags.as_u64()? & WAIT != 0,
        publisher: Id::new(publisher.as_u64()?),
        details: EventDetails::from_dict(details, MessageType::Event, "Details").ok()?,
        options: PublishOptions::from_dict(options, MessageType::Publish, "Options").ok()?,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Id {
        Id::new(n).expect("an ID")
    }

    #[test]
    fn a_publication_crosses_whole() {
        let details = EventDetails {
            publisher: Some(id(7)),
            publisher_authid: Some("alice".into()),
            ..Default::default()
        };
        let options = PublishOptions {
            exclude_authrole: Some(vec!["guest".into()]),
            eligible: Some(vec![id(9), id(10)]),
            ..Default::default()
        };
        let mut kwargs = Dict::new();
        kwargs.insert("k".into(), Value::Float(1.5));
        let payload = Payload::new(vec![Value::UInt(1), Value::Str("x".into())], kwargs);
        let bytes = encode(&Outgoing {
            node: id(42),
            publication: id(1234),
            topic: "news.sports",
            wait: true,
            publisher: Some(id(7)),
            details: &details,
            options: Some(&options),
            payload: &payload,
        })
        .expect("it encodes");
        let incoming = decode(&bytes).expect("it decodes");
        assert_eq!(
            incoming,
            Incoming {
                node: 42,
                publication: id(1234),
                topic: "news.sports".into(),
                wait: true,
                publisher: Some(id(7)),
                details,
                options,
                payload,
            }
        );
    }

    #[test]
    fn transparent_payloads_and_no_publisher() {
        let payload = Payload::Transparent(Bytes::from_static(b"\x00\x01opaque"));
        let details = EventDetails::default();
        let bytes = encode(&Outgoing {
            node: id(1),
            publication: id(2),
            topic: "t",
            wait: false,
            publisher: None,
            details: &details,
            options: None,
            payload: &payload,
        })
        .expect("it encodes");
        let incoming = decode(&bytes).expect("it decodes");
        assert_eq!(incoming.payload, payload);
        assert_eq!(incoming.publisher, None);
        assert!(!incoming.wait);
        assert_eq!(incoming.options, PublishOptions::default());
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"\x93\x01\x02\x03"), None);
        let wrong_version = Serialization::MsgPack
            .encode(&serverwamp_protocol::Message::goodbye("x", None))
            .expect("encodes");
        assert_eq!(decode(&wrong_version), None);
    }
}

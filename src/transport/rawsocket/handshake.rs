//! The opening handshake: the client's 4-octet request and the router's
//! 4-octet reply (spec, "RawSocket Transport", "Handshake").
//!
//! ```text
//! request, success reply: 0111 1111 LLLL SSSS RRRR RRRR RRRR RRRR
//! error reply:            0111 1111 EEEE 0000 RRRR RRRR RRRR RRRR
//! ```
//!
//! `LLLL` is a maximum message length of 2^(9 + LLLL) octets, `SSSS` the
//! serializer, `EEEE` an error code and `R` reserved bits, zero for now.

use serverwamp_protocol::Serialization;

use super::RawSocketSettings;

/// The first octet of every handshake request and reply; no HTTP request
/// can start with it, so RawSocket could share a port with HTTP.
pub(super) const MAGIC: u8 = 0x7F;

/// The smallest maximum message length a handshake can state: 2^9 octets.
pub(super) const MIN_LENGTH_EXPONENT: u8 = 9;

/// The largest maximum message length a handshake can state: 2^24 octets.
pub(super) const MAX_LENGTH_EXPONENT: u8 = 24;

/// The serializer IDs of the spec's table that this router speaks
/// (1 JSON, 2 MessagePack, 3 CBOR; 4 UBJSON and 5 FlatBuffers it does not).
fn serialization_of(id: u8) -> Option<Serialization> {
    match id {
        1 => Some(Serialization::Json),
        2 => Some(Serialization::MsgPack),
        3 => Some(Serialization::Cbor),
        _ => None,
    }
}

/// The serializer ID of a serialization, for the reply.
pub(super) fn serializer_id(serialization: Serialization) -> u8 {
    match serialization {
        Serialization::Json => 1,
        Serialization::MsgPack => 2,
        Serialization::Cbor => 3,
    }
}

/// Why the router refuses a client: the error codes of an error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// 1: the requested serializer is not spoken here (0, the illegal
    /// value, included).
    SerializerUnsupported,
    /// 2: the client's maximum message length is below what this router
    /// needs to send.
    MaxLengthUnacceptable,
    /// 3: the request sets reserved bits (a feature this router lacks).
    ReservedBits,
    /// 4: the router serves as many connections as it is allowed to.
    MaxConnections,
}

impl Refusal {
    /// The error code (never 0: the spec keeps it for "no error").
    pub(super) fn code(self) -> u8 {
        match self {
            Refusal::SerializerUnsupported => 1,
            Refusal::MaxLengthUnacceptable => 2,
            Refusal::ReservedBits => 3,
            Refusal::MaxConnections => 4,
        }
    }

    /// The error reply: the magic octet, the code in the upper four bits of
    /// the second octet with the lower four (the serializer) zero, which is
    /// what tells it from a success reply, then two reserved zero octets.
    pub(super) fn reply(self) -> [u8; 4] {
        [MAGIC, self.code() << 4, 0, 0]
    }

    /// What the spec's table calls the error.
    pub(super) fn description(self) -> &'static str {
        match self {
            Refusal::SerializerUnsupported => "serializer unsupported",
            Refusal::MaxLengthUnacceptable => "maximum message length unacceptable",
            Refusal::ReservedBits => "use of reserved bits (unsupported feature)",
            Refusal::MaxConnections => "maximum connection count reached",
        }
    }
}

/// Why a handshake request is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    /// The first octet is not the magic 0x7F: not a RawSocket client at
    /// all. The spec has the router fail the connection, without a reply.
    NotRawSocket(u8),
    /// A RawSocket request this router answers with an error reply.
    Refused(Refusal),
}

/// An accepted handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Accepted {
    /// The serialization the client asked for.
    pub(super) serialization: Serialization,
    /// The largest message the client accepts, in octets: the router must
    /// send nothing longer.
    pub(super) client_max_length: usize,
    /// The success reply.
    pub(super) reply: [u8; 4],
}

/// The length of a handshake's `LLLL` field, in octets: 2^(9 + field).
fn length_of_field(field: u8) -> usize {
    1 << (MIN_LENGTH_EXPONENT + field)
}

/// Checks a client's handshake request against the router's settings and
/// builds the reply.
///
/// The router's own `LLLL` is its configured maximum, whatever the client
/// asked for: the two fields limit opposite directions (spec: the client's
/// bounds what the router sends, the router's what the client sends), so
/// the client's small receive limit is no reason to refuse it larger
/// messages, as autobahn's own router does too.
pub(super) fn negotiate(
    request: [u8; 4],
    settings: &RawSocketSettings,
) -> Result<Accepted, Rejection> {
    let [magic, second, reserved_a, reserved_b] = request;
    if magic != MAGIC {
        return Err(Rejection::NotRawSocket(magic));
    }
    // Checked first: a client that sets them uses a protocol extension whose
    // meaning may change how the other fields read.
    if reserved_a != 0 || reserved_b != 0 {
        return Err(Rejection::Refused(Refusal::ReservedBits));
    }
    let client_length_field = second >> 4;
    // The spec's serializer 0 is "illegal", and the router should "fail the
    // connection"; answering with error 1 first tells the client why.
    let serialization = serialization_of(second & 0x0F)
        .ok_or(Rejection::Refused(Refusal::SerializerUnsupported))?;
    let client_max_length = length_of_field(client_length_field);
    if client_max_length < settings.min_client_max_length() {
        return Err(Rejection::Refused(Refusal::MaxLengthUnacceptable));
    }
    let own_field = settings.max_message_length_exponent - MIN_LENGTH_EXPONENT;
    Ok(Accepted {
        serialization,
        client_max_length,
        reply: [MAGIC, (own_field << 4) | serializer_id(serialization), 0, 0],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(request: [u8; 4], settings: &RawSocketSettings) -> Accepted {
        negotiate(request, settings).expect("the handshake is accepted")
    }

    #[test]
    fn each_serializer_is_echoed_with_the_routers_length() {
        let settings = RawSocketSettings::new();
        for (id, serialization) in [
            (1, Serialization::Json),
            (2, Serialization::MsgPack),
            (3, Serialization::Cbor),
        ] {
            let a = accepted([0x7F, 0xF0 | id, 0, 0], &settings);
            assert_eq!(a.serialization, serialization);
            assert_eq!(serializer_id(serialization), id);
            assert_eq!(a.client_max_length, 1 << 24);
            // Default: 16 MiB, LLLL = 15.
            assert_eq!(a.reply, [0x7F, 0xF0 | id, 0, 0]);
        }
    }

    #[test]
    fn the_routers_length_is_its_own_setting_not_the_clients() {
        let settings = RawSocketSettings::new().max_message_length_exponent(16);
        // The client accepts 512 octets; the router accepts 64 KiB.
        let a = accepted([0x7F, 0x01, 0, 0], &settings);
        assert_eq!(a.client_max_length, 512);
        assert_eq!(a.reply, [0x7F, 0x71, 0, 0]);
        // The client accepts 16 MiB; the router still 64 KiB.
        let a = accepted([0x7F, 0xF2, 0, 0], &settings);
        assert_eq!(a.client_max_length, 16 << 20);
        assert_eq!(a.reply, [0x7F, 0x72, 0, 0]);

        let smallest = RawSocketSettings::new().max_message_length_exponent(9);
        assert_eq!(
            accepted([0x7F, 0x53, 0, 0], &smallest).reply,
            [0x7F, 0x03, 0, 0]
        );
    }

    #[test]
    fn every_length_field_maps_to_a_power_of_two() {
        let settings = RawSocketSettings::new();
        for field in 0..16u8 {
            let a = accepted([0x7F, (field << 4) | 1, 0, 0], &settings);
            assert_eq!(a.client_max_length, 512 << field, "LLLL = {field}");
        }
    }

    #[test]
    fn a_bad_magic_octet_is_not_rawsocket() {
        let settings = RawSocketSettings::new();
        assert_eq!(
            negotiate(*b"GET ", &settings),
            Err(Rejection::NotRawSocket(b'G'))
        );
        assert_eq!(
            negotiate([0x7E, 0xF1, 0, 0], &settings),
            Err(Rejection::NotRawSocket(0x7E))
        );
    }

    #[test]
    fn unsupported_serializers_are_refused_with_error_1() {
        let settings = RawSocketSettings::new();
        // 0 is illegal, 4 UBJSON and 5 FlatBuffers are not spoken here,
        // 6..=15 are reserved.
        for id in [0, 4, 5, 6, 15] {
            assert_eq!(
                negotiate([0x7F, 0xF0 | id, 0, 0], &settings),
                Err(Rejection::Refused(Refusal::SerializerUnsupported)),
                "serializer {id}"
            );
        }
    }

    #[test]
    fn reserved_bits_are_refused_with_error_3() {
        let settings = RawSocketSettings::new();
        for request in [
            [0x7F, 0xF1, 1, 0],
            [0x7F, 0xF1, 0, 0x80],
            [0x7F, 0x00, 0xFF, 0xFF],
        ] {
            assert_eq!(
                negotiate(request, &settings),
                Err(Rejection::Refused(Refusal::ReservedBits)),
                "{request:02x?}"
            );
        }
    }

    #[test]
    fn a_client_receiving_too_little_is_refused_with_error_2() {
        let settings = RawSocketSettings::new().min_client_max_length_exponent(12);
        assert_eq!(
            negotiate([0x7F, 0x21, 0, 0], &settings),
            Err(Rejection::Refused(Refusal::MaxLengthUnacceptable))
        );
        assert_eq!(
            accepted([0x7F, 0x31, 0, 0], &settings).client_max_length,
            4096
        );
    }

    #[test]
    fn error_replies_are_laid_out_as_the_spec_says() {
        assert_eq!(
            Refusal::SerializerUnsupported.reply(),
            [0x7F, 0x10, 0x00, 0x00]
        );
        assert_eq!(
            Refusal::MaxLengthUnacceptable.reply(),
            [0x7F, 0x20, 0x00, 0x00]
        );
        assert_eq!(Refusal::ReservedBits.reply(), [0x7F, 0x30, 0x00, 0x00]);
        assert_eq!(Refusal::MaxConnections.reply(), [0x7F, 0x40, 0x00, 0x00]);
        for refusal in [
            Refusal::SerializerUnsupported,
            Refusal::MaxLengthUnacceptable,
            Refusal::ReservedBits,
            Refusal::MaxConnections,
        ] {
            // The low nibble (serializer) zero marks an error; code 0 is
            // never used.
            assert_eq!(refusal.reply()[1] & 0x0F, 0);
            assert_ne!(refusal.code(), 0);
            assert!(!refusal.description().is_empty());
        }
    }
}

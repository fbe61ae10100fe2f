//! How frames are written after `welcome`: protocol version 1 (every message a JSON object) or
//! version 2, which writes the four messages a driving phone sends and gets all the time
//! (`records` of location fixes, their `ack`, `ping`, `pong`) as short JSON arrays and keeps the
//! object form for everything else. `docs/protocol.md` has the forms; the golden files
//! `v2_*.json` pin them.
//!
//! A version 2 connection reads both forms, so a sender may always fall back to the object
//! form (records that have no compact form go as objects inside a compact frame). Server
//! frames are self-describing (an array or an object), so the app decodes them without
//! knowing the version; client frames need the connection's time base, so the server decodes
//! them with [`WireFormat::decode_client`].

use crate::decode_error::{decode_frame, encode_frame};
use crate::record_check::{RecordRejection, read_records};
use crate::{
    ClientMessage, DecodeError, EventAck, Ping, Pong, Record, RecordAck, RecordBatch, RecordId, RecordKind,
    ServerMessage, Welcome,
};
use serde_json::Value;
use std::fmt::Write as _;

/// The protocol version with the compact forms.
pub const COMPACT_PROTOCOL_VERSION: u32 = 2;

/// The newest protocol version this crate speaks: what an app offers in `hello`'s `max_protocol`.
pub const MAX_PROTOCOL_VERSION: u32 = COMPACT_PROTOCOL_VERSION;

/// The form of a connection's frames after `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// Version 1: every message is a JSON object with a `type` field.
    Objects,
    /// Version 2: the frequent messages as arrays. Times in compact records are milliseconds
    /// after `time_base_ms`, the `server_time_ms` of the connection's `welcome`.
    Compact { time_base_ms: i64 },
}

impl WireFormat {
    /// The form a `welcome` opens: compact when it says version 2.
    pub fn after_welcome(welcome: &Welcome) -> WireFormat {
        if welcome.protocol >= COMPACT_PROTOCOL_VERSION {
            WireFormat::Compact { time_base_ms: welcome.server_time_ms }
        } else {
            WireFormat::Objects
        }
    }

    /// Writes a message from the app.
    pub fn encode_client(&self, message: &ClientMessage) -> String {
        let WireFormat::Compact { time_base_ms } = *self else { return message.encode() };
        match message {
            ClientMessage::Records(batch) => {
                let mut out = String::with_capacity(16 + batch.records.len() * 96);
                out.push_str(if batch.live { "[\"R\"" } else { "[\"r\"" });
                for record in &batch.records {
                    out.push(',');
                    match compact_location(record, time_base_ms) {
                        Some(entry) => out.push_str(&entry),
                        None => out.push_str(&record.encode()),
                    }
                }
                out.push(']');
                out
            }
            ClientMessage::Ping(ping) => format!("[\"p\",{}]", ping.nonce),
            ClientMessage::Ack(ack) => format!("[\"e\",{}]", ack.event_id),
            ClientMessage::Hello(_) => message.encode(),
        }
    }

    /// Reads a message from the app: on a version 2 connection both forms, on version 1 objects only.
    pub fn decode_client(&self, text: &str) -> Result<ClientMessage, DecodeError> {
        let WireFormat::Compact { time_base_ms } = *self else { return ClientMessage::decode(text) };
        if !text.trim_start().starts_with('[') {
            return ClientMessage::decode(text);
        }
        let items: Vec<Value> = decode_frame(text)?;
        let malformed = |reason: &str| DecodeError::Malformed { reason: reason.to_string() };
        let tag = items
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a compact frame starts with its tag"))?
            .to_string();
        let number = || {
            items
                .get(1)
                .and_then(Value::as_u64)
                .filter(|_| items.len() == 2)
                .ok_or_else(|| malformed(&format!("`{tag}` takes one whole number")))
        };
        match tag.as_str() {
            "r" | "R" => {
                let mut values = Vec::with_capacity(items.len().saturating_sub(1));
                let mut unreadable = Vec::new();
                for item in items.into_iter().skip(1) {
                    match expand_location(item, time_base_ms) {
                        Ok(value) => values.push(value),
                        Err((Some(seq), why)) => unreadable
                            .push(RecordRejection { seq, reason: format!("unreadable record: {why}") }),
                        Err((None, why)) => {
                            return Err(malformed(&format!("a record without a readable seq: {why}")));
                        }
                    }
                }
                let (records, mut more_unreadable) =
                    read_records(values).map_err(|reason| malformed(&reason))?;
                unreadable.append(&mut more_unreadable);
                Ok(ClientMessage::Records(RecordBatch { live: tag == "R", records, unreadable }))
            }
            "p" => Ok(ClientMessage::Ping(Ping { nonce: number()? })),
            "e" => Ok(ClientMessage::Ack(EventAck { event_id: number()? })),
            other => Err(malformed(&format!("unknown compact frame `{other}`"))),
        }
    }

    /// Writes a message from the server.
    pub fn encode_server(&self, message: &ServerMessage) -> String {
        if *self == WireFormat::Objects {
            return message.encode();
        }
        match message {
            ServerMessage::Ack(ack) if ack.rejected.is_empty() => format!("[\"a\",{}]", ack.acked_seq),
            ServerMessage::Ack(ack) => {
                let rejected: Vec<(u64, &str)> =
                    ack.rejected.iter().map(|rejection| (rejection.seq, rejection.reason.as_str())).collect();
                format!("[\"a\",{},{}]", ack.acked_seq, encode_frame(&rejected))
            }
            ServerMessage::Pong(pong) => format!("[\"o\",{}]", pong.nonce),
            other => other.encode(),
        }
    }
}

/// Reads a compact server frame (an array); [`ServerMessage::decode`] calls this for arrays.
pub(crate) fn decode_compact_server(text: &str) -> Result<ServerMessage, DecodeError> {
    let (tag, number, rejected) = match decode_frame::<(String, u64)>(text) {
        Ok((tag, number)) => (tag, number, Vec::new()),
        Err(DecodeError::Malformed { .. }) => decode_frame::<(String, u64, Vec<(u64, String)>)>(text)?,
        Err(too_large) => return Err(too_large),
    };
    match tag.as_str() {
        "a" => Ok(ServerMessage::Ack(RecordAck {
            acked_seq: number,
            rejected: rejected.into_iter().map(|(seq, reason)| RecordRejection { seq, reason }).collect(),
        })),
        "o" if rejected.is_empty() => Ok(ServerMessage::Pong(Pong { nonce: number })),
        other => Err(DecodeError::Malformed { reason: format!("unknown compact frame `{other}`") }),
    }
}

/// A location record as `[seq, id, created, age, lat, lon, accuracy, speed, heading, altitude]`:
/// `id` in 22 characters of base64url, `created` in milliseconds after the time base, `age` how
/// many milliseconds before `created` the fix was measured; trailing absent fields are left out,
/// an absent one before a present one is `null`. `None` for records with no compact form (other
/// kinds, an id that is not 32 lowercase hex digits, a number that is not finite).
fn compact_location(record: &Record, time_base_ms: i64) -> Option<String> {
    let RecordKind::Location { fix } = &record.kind else { return None };
    let id = id_to_base64url(&record.id)?;
    let created = record.created_at_ms.checked_sub(time_base_ms)?;
    let age = record.created_at_ms.checked_sub(fix.time_ms)?;
    let mut out = format!("[{},\"{id}\",{created},{age}", record.seq);
    for value in [fix.lat, fix.lon, fix.accuracy_m] {
        write_number(&mut out, Some(value))?;
    }
    let optional = [fix.speed_mps, fix.heading_deg, fix.altitude_m];
    let present = optional.iter().rposition(Option::is_some).map_or(0, |last| last + 1);
    for value in &optional[..present] {
        write_number(&mut out, *value)?;
    }
    out.push(']');
    Some(out)
}

/// Appends `,value` (or `,null`); `None` for a number JSON cannot hold.
fn write_number(out: &mut String, value: Option<f64>) -> Option<()> {
    match value {
        None => out.push_str(",null"),
        Some(number) if !number.is_finite() => return None,
        // Rust writes the fewest digits that read back as the same f64 (never an exponent:
        // 1e300 takes 301 characters, but fixes are rounded first, see
        // `Fix::at_sent_precision`), and whole numbers without ".0" (JSON reads both alike).
        Some(number) => {
            let _ = write!(out, ",{number}");
        }
    }
    Some(())
}

/// A compact entry as the object form a version 1 frame would carry, for the record reader
/// (which checks it and names it in `rejected` if it is unreadable). Objects pass unchanged.
/// An entry that is not a well-formed location array is an error with its `seq`, if it has a
/// readable one (then only that record is refused), and why.
fn expand_location(item: Value, time_base_ms: i64) -> Result<Value, (Option<u64>, String)> {
    let Value::Array(fields) = item else { return Ok(item) };
    // As in the object form: a seq of 0 reads, and the record check refuses it.
    let seq = fields.first().and_then(Value::as_u64).filter(|seq| *seq > 0);
    let seq_as_sent = fields.first().cloned().unwrap_or(Value::Null);
    let unreadable = |why: &str| Err((seq, why.to_string()));
    if !(7..=10).contains(&fields.len()) {
        return unreadable("a compact location has 7 to 10 fields");
    }
    let Some(id) = fields[1].as_str().and_then(id_from_base64url) else {
        return unreadable("its id is not 22 characters of base64url");
    };
    let (Some(created), Some(age)) = (fields[2].as_i64(), fields[3].as_i64()) else {
        return unreadable("its times are not whole numbers");
    };
    let (Some(created_at_ms), Some(time_ms)) = (
        time_base_ms.checked_add(created),
        time_base_ms.checked_add(created).and_then(|at| at.checked_sub(age)),
    ) else {
        return unreadable("its times are out of range");
    };
    let field = |index: usize| fields.get(index).cloned().unwrap_or(Value::Null);
    Ok(serde_json::json!({
        "seq": seq_as_sent,
        "id": id,
        "created_at_ms": created_at_ms,
        "kind": "location",
        "fix": {
            "time_ms": time_ms,
            "lat": field(4),
            "lon": field(5),
            "accuracy_m": field(6),
            "speed_mps": field(7),
            "heading_deg": field(8),
            "altitude_m": field(9),
        }
    }))
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// 32 lowercase hex digits as their 16 bytes in base64url (RFC 4648 §5, no padding): 22
/// characters, the last holding the final 2 bits and 4 zero bits. `None` for other ids.
fn id_to_base64url(id: &RecordId) -> Option<String> {
    let hex = id.0.as_bytes();
    if hex.len() != 32 || !hex.iter().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let bytes = u128::from_str_radix(&id.0, 16).ok()?.to_be_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |group, (index, byte)| group | (u32::from(*byte) << (16 - 8 * index)));
        // 3 bytes give 4 characters; the last chunk (1 byte) gives 2.
        for index in 0..=chunk.len() {
            out.push(BASE64URL[((group >> (18 - 6 * index)) & 63) as usize] as char);
        }
    }
    Some(out)
}

/// The inverse of [`id_to_base64url`]; `None` for anything it cannot have written (another
/// length, another alphabet, or bits set after the 128th).
fn id_from_base64url(text: &str) -> Option<String> {
    if text.len() != 22 {
        return None;
    }
    let mut bits: u128 = 0;
    for (index, byte) in text.bytes().enumerate() {
        let six = BASE64URL.iter().position(|candidate| *candidate == byte)? as u128;
        if index == 21 {
            if six & 0b1111 != 0 {
                return None;
            }
            bits = (bits << 2) | (six >> 4);
        } else {
            bits = (bits << 6) | six;
        }
    }
    Some(RecordId::from_random_bits(bits).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_bytes_in_rfc_4648_base64url() {
        // RFC 4648's own test vectors, as 16-byte ids: "foobar" then zeros, and every byte 0xff.
        let foobar = RecordId("666f6f62617200000000000000000000".into());
        assert_eq!(id_to_base64url(&foobar).as_deref(), Some("Zm9vYmFyAAAAAAAAAAAAAA"));
        assert_eq!(
            id_to_base64url(&RecordId::from_random_bits(u128::MAX)).as_deref(),
            Some("_____________________w")
        );
    }

    #[test]
    fn ids_survive_base64url_and_only_canonical_ids_are_shortened() {
        for bits in [0u128, 1, 0xabc, u128::MAX, 0x0123_4567_89ab_cdef_0011_2233_4455_6677] {
            let id = RecordId::from_random_bits(bits);
            let short = id_to_base64url(&id).unwrap();
            assert_eq!(short.len(), 22);
            assert_eq!(id_from_base64url(&short).as_deref(), Some(id.0.as_str()));
        }
        assert_eq!(id_to_base64url(&RecordId("ABCDEF0123456789abcdef0123456789".into())), None);
        assert_eq!(id_to_base64url(&RecordId("abc".into())), None);
        assert_eq!(id_from_base64url("AAAAAAAAAAAAAAAAAAAAAB"), None, "bits after the 128th");
        assert_eq!(id_from_base64url("AAAAAAAAAAAAAAAAAAAAA*"), None);
        assert_eq!(id_from_base64url("AAAA"), None);
    }
}

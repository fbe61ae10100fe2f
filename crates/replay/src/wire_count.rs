//! Counting what a connection costs on the wire: WebSocket frames, their payload and framing
//! bytes, one direction at a time, and a stated model of what TCP/IP and TLS add per frame.
//!
//! The counts are exact for what passes through the simulated driver's socket (payload lengths
//! and RFC 6455 header sizes); the TCP/IP+TLS figure is an estimate from [`TRANSPORT_BYTES_PER_FRAME`].

use std::ops::AddAssign;

/// TCP/IP and TLS bytes added to each WebSocket frame, under this model: every frame leaves in
/// a TCP segment of its own (small interactive frames do: nothing else waits to fill it), over
/// IPv4 (20-byte header) and TCP with the timestamp option (20 + 12 bytes), inside one TLS 1.3
/// record (5-byte header, 1-byte inner content type, 16-byte AEAD tag). Pure TCP ACKs, the TCP
/// and TLS handshakes and the HTTP upgrade are not in it: they are per connection (see
/// [`CONNECTION_SETUP_BYTES`]) or ride on frames going the other way.
pub const TRANSPORT_BYTES_PER_FRAME: u64 = 20 + 20 + 12 + 5 + 1 + 16;

/// A connection's set-up, both directions, under the same model: TCP handshake (3 segments of
/// about 60 bytes), a TLS 1.3 handshake with a typical 3 KB certificate chain (about 4,500
/// bytes), and the HTTP upgrade request and answer (about 600 bytes with a token-free URL).
pub const CONNECTION_SETUP_BYTES: u64 = 180 + 4_500 + 600;

/// Frames and bytes in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCount {
    /// WebSocket frames, control frames (ping, pong, close) included.
    pub frames: u64,
    /// Their payload bytes (after any compression, as on the wire).
    pub payload_bytes: u64,
    /// Their RFC 6455 header bytes: 2, plus 2 or 8 for the extended length, plus 4 for the
    /// mask on frames from the client.
    pub framing_bytes: u64,
    /// What their payload would be under permessage-deflate, when counted with
    /// [`WireCount::add_deflated`] (an estimate: see [`PermessageDeflate`]).
    pub deflated_payload_bytes: u64,
}

impl WireCount {
    /// Counts one frame of `payload_len` bytes; `masked` for frames a client sends.
    pub fn add_frame(&mut self, payload_len: usize, masked: bool) {
        self.frames += 1;
        self.payload_bytes += payload_len as u64;
        self.framing_bytes += websocket_header_bytes(payload_len, masked);
    }

    /// Counts the permessage-deflate size of a message this count has counted.
    pub fn add_deflated(&mut self, deflated_len: usize) {
        self.deflated_payload_bytes += deflated_len as u64;
    }

    /// The estimated TCP/IP+TLS bytes these frames add ([`TRANSPORT_BYTES_PER_FRAME`] each).
    pub fn transport_bytes(&self) -> u64 {
        self.frames * TRANSPORT_BYTES_PER_FRAME
    }

    /// Payload, framing and transport together.
    pub fn total_bytes(&self) -> u64 {
        self.payload_bytes + self.framing_bytes + self.transport_bytes()
    }

    /// This count scaled to one hour of `hours` (`hours` > 0).
    pub fn per_hour(&self, hours: f64) -> PerHour {
        PerHour {
            frames: self.frames as f64 / hours,
            payload_bytes: self.payload_bytes as f64 / hours,
            framing_bytes: self.framing_bytes as f64 / hours,
            transport_bytes: self.transport_bytes() as f64 / hours,
        }
    }
}

impl AddAssign for WireCount {
    fn add_assign(&mut self, other: WireCount) {
        self.frames += other.frames;
        self.payload_bytes += other.payload_bytes;
        self.framing_bytes += other.framing_bytes;
        self.deflated_payload_bytes += other.deflated_payload_bytes;
    }
}

/// One direction of a connection as permessage-deflate (RFC 7692) would compress it, to measure
/// the lever without a server that speaks it: raw deflate at zlib's default level with a 15-bit
/// window, the context kept from message to message (what browsers and servers negotiate by
/// default), each message ended with a sync flush whose 4-byte tail is dropped, as §7.2.1 says.
pub struct PermessageDeflate {
    compressor: flate2::Compress,
    output: Vec<u8>,
}

impl Default for PermessageDeflate {
    fn default() -> PermessageDeflate {
        PermessageDeflate {
            compressor: flate2::Compress::new(flate2::Compression::default(), false),
            output: Vec::new(),
        }
    }
}

impl PermessageDeflate {
    /// The compressed size of the next message on this connection (0 for an empty one, which
    /// RFC 7692 §7.2.3.6 lets a sender leave uncompressed).
    pub fn message_len(&mut self, payload: &[u8]) -> usize {
        if payload.is_empty() {
            return 0;
        }
        self.output.clear();
        let before_in = self.compressor.total_in();
        loop {
            // Room for the whole message at once: deflate adds at most a few bytes per 16 KB
            // block, so the sync flush finishes in one call and is never asked twice (a second
            // flush would add an empty block and overcount).
            self.output.reserve(payload.len() + payload.len() / 8 + 64);
            let consumed = (self.compressor.total_in() - before_in) as usize;
            let written = self.output.len();
            let status = self.compressor.compress_vec(
                &payload[consumed..],
                &mut self.output,
                flate2::FlushCompress::Sync,
            );
            let all_in = (self.compressor.total_in() - before_in) as usize == payload.len();
            let flushed = self.output.len() < self.output.capacity();
            let stuck =
                self.output.len() == written && (self.compressor.total_in() - before_in) as usize == consumed;
            if status.is_err() || (all_in && flushed) || stuck {
                break;
            }
        }
        self.output.len().saturating_sub(4)
    }
}

/// A [`WireCount`] per hour of driving.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PerHour {
    pub frames: f64,
    pub payload_bytes: f64,
    pub framing_bytes: f64,
    pub transport_bytes: f64,
}

/// The size of a WebSocket frame's header (RFC 6455 §5.2) for a payload of `payload_len` bytes.
pub fn websocket_header_bytes(payload_len: usize, masked: bool) -> u64 {
    let length = match payload_len {
        0..=125 => 0,
        126..=65_535 => 2,
        _ => 8,
    };
    2 + length + if masked { 4 } else { 0 }
}

/// Both directions of one connection or of many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireTraffic {
    /// From the phone to the server.
    pub up: WireCount,
    /// From the server to the phone.
    pub down: WireCount,
    /// WebSocket connections opened (each costs [`CONNECTION_SETUP_BYTES`] more).
    pub connections: u64,
}

impl AddAssign for WireTraffic {
    fn add_assign(&mut self, other: WireTraffic) {
        self.up += other.up;
        self.down += other.down;
        self.connections += other.connections;
    }
}

/// What the source documents' design would send for the same drive: one Socket.IO 4 event per
/// position the phone gives (`42["location",{…}]` over Engine.IO's WebSocket transport, no
/// acknowledgement), and Engine.IO's heartbeat (the server's `2` every 25 s, the client's `3`).
/// `fixes` are every position of the trace; `seconds` is the drive's length.
pub fn socketio_event_per_fix(driver_id: &str, fixes: &[enroute_core::Fix], seconds: f64) -> WireTraffic {
    let mut traffic = WireTraffic { connections: 1, ..WireTraffic::default() };
    for fix in fixes {
        let mut body = serde_json::json!({
            "driverId": driver_id,
            "lat": fix.lat,
            "lng": fix.lon,
            "accuracy": fix.accuracy_m,
            "timestamp": fix.time_ms,
        });
        if let Some(speed) = fix.speed_mps {
            body["speed"] = speed.into();
        }
        if let Some(heading) = fix.heading_deg {
            body["heading"] = heading.into();
        }
        let frame = format!("42[\"location\",{body}]");
        traffic.up.add_frame(frame.len(), true);
    }
    let heartbeats = (seconds / 25.0).floor() as u64;
    for _ in 0..heartbeats {
        traffic.down.add_frame(1, false);
        traffic.up.add_frame(1, true);
    }
    traffic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_follow_rfc_6455() {
        assert_eq!(websocket_header_bytes(0, false), 2);
        assert_eq!(websocket_header_bytes(125, false), 2);
        assert_eq!(websocket_header_bytes(126, false), 4);
        assert_eq!(websocket_header_bytes(65_535, true), 8);
        assert_eq!(websocket_header_bytes(65_536, false), 10);
        assert_eq!(websocket_header_bytes(65_536, true), 14);
    }

    #[test]
    fn counts_add_up_and_scale_to_an_hour() {
        let mut count = WireCount::default();
        count.add_frame(100, true);
        count.add_frame(200, true);
        assert_eq!(
            count,
            WireCount { frames: 2, payload_bytes: 300, framing_bytes: 6 + 8, deflated_payload_bytes: 0 }
        );
        assert_eq!(count.transport_bytes(), 2 * TRANSPORT_BYTES_PER_FRAME);
        let hourly = count.per_hour(0.5);
        assert_eq!(hourly.frames, 4.0);
        assert_eq!(hourly.payload_bytes, 600.0);
    }

    #[test]
    fn permessage_deflate_shrinks_repeated_messages_and_keeps_its_context() {
        let mut deflate = PermessageDeflate::default();
        let message = br#"{"type":"ack","acked_seq":12345}"#;
        let first = deflate.message_len(message);
        let second = deflate.message_len(message);
        assert!(first > 0 && first < message.len() + 8, "{first}");
        assert!(second < first / 2, "the second copy refers back to the first: {second} of {first}");
        assert_eq!(deflate.message_len(b""), 0);
        // A message larger than one deflate block of incompressible bytes.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..70_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let length = deflate.message_len(&noise);
        assert!(length >= noise.len() * 9 / 10 && length <= noise.len() + noise.len() / 8 + 64, "{length}");
        // What a real inflater makes of the stream is the messages themselves.
        let mut stream = PermessageDeflate::default();
        let mut inflater = flate2::Decompress::new(false);
        for text in [&b"hello"[..], b"hello hello", b"{}"] {
            let length = stream.message_len(text);
            let mut wire = stream.output[..length].to_vec();
            wire.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut plain = Vec::with_capacity(64);
            inflater.decompress_vec(&wire, &mut plain, flate2::FlushDecompress::Sync).unwrap();
            assert_eq!(plain, text);
        }
    }

    #[test]
    fn one_socketio_event_per_fix_and_a_heartbeat_every_25_seconds() {
        let fixes: Vec<enroute_core::Fix> = (0..60)
            .map(|second| enroute_core::Fix {
                time_ms: 1_763_769_600_000 + second * 1000,
                lat: 48.1371545,
                lon: 11.5761249,
                accuracy_m: 5.0,
                speed_mps: Some(12.25),
                heading_deg: None,
                altitude_m: None,
            })
            .collect();
        let traffic = socketio_event_per_fix("driver-7", &fixes, 60.0);
        assert_eq!(traffic.up.frames, 60 + 2);
        assert_eq!(traffic.down.frames, 2);
        let one = r#"42["location",{"accuracy":5.0,"driverId":"driver-7","lat":48.1371545,"lng":11.5761249,"speed":12.25,"timestamp":1763769600000}]"#;
        assert_eq!(traffic.up.payload_bytes, 60 * one.len() as u64 + 2);
    }
}

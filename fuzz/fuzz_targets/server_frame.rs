//! What the server does with a frame or an upload from a phone: decode it, then check every
//! record it could read. Any input must end in a value or an error, never a panic.

#![no_main]

use enroute_protocol::{ClientMessage, RecordUpload, WireFormat, check_record};
use libfuzzer_sys::fuzz_target;

/// 2025-11-22, a fixed "now" so runs are reproducible.
const NOW_MS: i64 = 1_763_769_600_000;

fuzz_target!(|data: &[u8]| {
    // The WebSocket layer only hands text frames over as UTF-8; binary frames are refused
    // before decoding.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = ClientMessage::decode(text) {
        if let ClientMessage::Records(batch) = &message {
            for record in &batch.records {
                let _ = check_record(record, NOW_MS);
            }
        }
        // What decodes must encode again and decode to the same message.
        let encoded = message.encode();
        let again = ClientMessage::decode(&encoded).expect("an encoded message decodes");
        assert_eq!(again.encode(), encoded);
    }
    // The same frame on a version 2 connection (compact forms and objects).
    let compact = WireFormat::Compact { time_base_ms: NOW_MS };
    if let Ok(message) = compact.decode_client(text) {
        if let ClientMessage::Records(batch) = &message {
            for record in &batch.records {
                let _ = check_record(record, NOW_MS);
            }
        }
        let encoded = compact.encode_client(&message);
        let again = compact.decode_client(&encoded).expect("an encoded message decodes");
        assert_eq!(compact.encode_client(&again), encoded);
    }
    if let Ok(upload) = RecordUpload::decode(text) {
        for record in &upload.records {
            let _ = check_record(record, NOW_MS);
        }
    }
});

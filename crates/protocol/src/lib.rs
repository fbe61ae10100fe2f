//! Enroute wire protocol, versions 1 and 2 (version 2 writes the frequent frames compactly).
//!
//! This crate is the only place where the wire format is defined: the app and the dispatch
//! server both encode and decode frames through it, and its golden tests pin every message's
//! exact JSON text. Frames are WebSocket text frames, each holding one JSON object whose `type`
//! field says which message it is. `docs/protocol.md` describes the same format in prose.
//!
//! This crate must not depend on anything that does I/O, reads a clock or needs a browser:
//! it is plain data plus serde.

mod assignment;
mod client_message;
mod decode_error;
mod dispatch_feed;
mod error_code;
mod event;
mod record;
mod record_check;
mod record_upload;
mod server_message;
mod wire_format;

pub use assignment::{Assignment, AssignmentStatus, DriverAction, Stop, TimeWindow};
pub use client_message::{ClientMessage, EventAck, Hello, Ping, RecordBatch};
pub use decode_error::DecodeError;
pub use dispatch_feed::{
    ConsoleMessage, FeedChange, FeedDelta, FeedDeltas, FeedDriver, FeedJob, FeedMessage, FeedPosition,
    FeedSnapshot, JobChange, Subscribe,
};
pub use error_code::{ALL_ERROR_CODES, ErrorCode};
pub use event::{Event, EventPayload};
pub use record::{DriverStatus, Fix, GapReason, PauseReason, Record, RecordId, RecordKind, SeqRange};
pub use record_check::{
    EARLIEST_RECORD_TIME_MS, MAX_ASSIGNMENT_ID_CHARS, MAX_CLOCK_AHEAD_MS, MAX_GAP_RANGES, MAX_REASON_CHARS,
    MAX_SEQ, RecordProblem, RecordRejection, check_record, is_valid_seq, usable_gap_ranges,
};
pub use record_upload::{RecordUpload, UploadReceipt};
pub use server_message::{ErrorMessage, Pong, RecordAck, ServerMessage, Welcome};
pub use wire_format::{COMPACT_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION, WireFormat};

/// The protocol version this crate speaks. A `hello` with another version is refused with
/// [`ErrorCode::UnsupportedProtocol`].
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame either side accepts, in bytes. Larger frames are refused before parsing.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// The most records one `records` frame or upload may hold; larger ones are refused with
/// [`ErrorCode::TooManyRecords`]. (The app sends at most 100.)
pub const MAX_RECORDS_PER_BATCH: usize = 1_000;

/// The most rejections a `welcome` repeats.
pub const MAX_REJECTIONS_IN_WELCOME: usize = 100;

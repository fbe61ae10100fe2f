//! Replays GPS traces through Enroute's throttle and measures what the dispatcher would see;
//! also drives simulated drivers against a server with the real protocol (the load generator).
//!
//! Readers for GPX 1.1, NMEA 0183 and CSV live here, not in `enroute-core`: the app never reads
//! trace files, and the core must not depend on file formats. Decisions about fixes are always
//! `enroute-core`'s; this crate only feeds them and measures.
//!
//! The crate is native only; built for wasm32 it is empty.

#![cfg(not(target_arch = "wasm32"))]

pub mod csv_trace;
pub mod drive;
pub mod evaluate;
pub mod failover_driver;
pub mod gpx;
pub mod latency;
pub mod load;
pub mod load_driver;
pub mod load_peer;
pub mod load_report;
pub mod nmea;
pub mod process_stats;
pub mod report;
pub mod socketio_client;
pub mod timestamp;
pub mod trace;
pub mod wire_count;
pub mod wire_report;

pub use trace::{Skipped, Trace, TraceError, TraceFix, read_trace, read_trace_text};

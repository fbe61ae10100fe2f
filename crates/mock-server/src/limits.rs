//! The limits that keep one misbehaving or hostile client from hurting the others. Each breach
//! has its own error code and close code (see `enroute_protocol::ErrorCode` and
//! `docs/security.md`).

use std::time::Duration;

/// Per-server and per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Open WebSocket connections at once; more are refused with `server_full`.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed with `idle_timeout`. (The app
    /// pings after at most 30 s of silence.)
    pub idle_timeout: Duration,
    /// Frames a connection may send per second, on average ...
    pub frames_per_second: f64,
    /// ... and in one burst (a drain after a day offline sends about 100 frames at once);
    /// beyond that, `rate_limited`.
    pub frame_burst: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(120),
            frames_per_second: 500.0,
            frame_burst: 1_000.0,
        }
    }
}

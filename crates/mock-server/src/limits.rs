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
    /// beyond that, `rate_limited`. WebSocket pings and pongs count as frames.
    pub frame_burst: f64,
    /// A connection must send `hello` within this time of its upgrade, whatever else it sends
    /// (frames before `hello` do not extend it); else `idle_timeout`.
    pub hello_timeout: Duration,
    /// Connections from one IP address that have not signed in yet, at once; more are refused
    /// with `rate_limited` (signed-in ones do not count: a depot's drivers may share an address).
    pub max_unsigned_per_address: usize,
    /// An HTTP client must send a request's headers within this time (slow-header attacks).
    pub http_header_timeout: Duration,
    /// ... and its body within this time.
    pub http_body_timeout: Duration,
    /// After its close frame, a refused connection is read (and what arrives dropped) for at
    /// most this long, so the client gets the `error` and close frames instead of a reset.
    pub close_linger: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 25_000,
            idle_timeout: Duration::from_secs(120),
            frames_per_second: 500.0,
            frame_burst: 1_000.0,
            hello_timeout: Duration::from_secs(5),
            max_unsigned_per_address: 64,
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(30),
            close_linger: Duration::from_secs(2),
        }
    }
}

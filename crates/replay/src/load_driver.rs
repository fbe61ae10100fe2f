//! One simulated driver of the load generator (`enroute-replay load`): connects (from its own
//! loopback source address), signs in, sends a location record every interval or one backlog
//! frame, matches cumulative acks to the records they cover and measures each record's ack
//! latency, then closes. Also the run's shared clock and the seeded PRNG behind phases,
//! positions and record ids.
//!
//! Frames come from [`crate::load_peer`] (the protocol crate underneath: no hand-written
//! JSON). It must not depend on the orchestration in [`crate::load`] (options, reports,
//! monitors) nor on `enroute-core`'s engine: these drivers are deliberately simpler than the
//! app, so the server is what is measured. Bad server input is counted, never a panic.

use crate::load_peer::{Incoming, Peer, PeerCodec};
use enroute_protocol::{Fix, Hello, PROTOCOL_VERSION, Record, RecordBatch, RecordId, RecordKind};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// How long a driver may take from starting its TCP connect to its `welcome`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A driver that sent nothing for this long pings (the server's idle timeout is longer).
pub const PING_AFTER: Duration = Duration::from_secs(30);

/// The `i`-th of `count` source addresses: none for one (the system picks 127.0.0.1), else
/// 127.0.0.1 … 127.0.0.254, 127.0.1.1 … (0 and 255 as last byte are skipped).
pub fn source_ip(index: usize, count: usize) -> Option<IpAddr> {
    if count <= 1 {
        return None;
    }
    let k = index % count;
    Some(IpAddr::V4(Ipv4Addr::new(127, (k / 254 / 256) as u8, (k / 254 % 256) as u8, (k % 254 + 1) as u8)))
}

/// splitmix64: a small, fixed PRNG, so a seed always gives the same run.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The generator of driver `index` in a run seeded with `seed`.
    pub fn for_driver(seed: u64, index: usize) -> SplitMix64 {
        let mut mixer = SplitMix64(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        SplitMix64(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn record_id(&mut self) -> RecordId {
        RecordId::from_random_bits((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64()))
    }
}

/// A vehicle wandering around Munich's centre.
#[derive(Debug, Clone)]
struct Route {
    lat: f64,
    lon: f64,
    heading_deg: f64,
    speed_mps: f64,
}

impl Route {
    fn new(random: &mut SplitMix64) -> Route {
        Route {
            lat: 48.137 + (random.next_f64() - 0.5) * 0.04,
            lon: 11.575 + (random.next_f64() - 0.5) * 0.06,
            heading_deg: random.next_f64() * 360.0,
            speed_mps: 4.0 + random.next_f64() * 10.0,
        }
    }

    /// The fix at `time_ms`, then moves on for `seconds`.
    fn next_fix(&mut self, time_ms: i64, seconds: f64, random: &mut SplitMix64) -> Fix {
        let fix = Fix {
            time_ms,
            lat: self.lat,
            lon: self.lon,
            accuracy_m: 5.0,
            speed_mps: Some((self.speed_mps * 10.0).round() / 10.0),
            heading_deg: Some(self.heading_deg.round()),
            altitude_m: None,
        };
        self.heading_deg = (self.heading_deg + (random.next_f64() - 0.5) * 30.0).rem_euclid(360.0);
        let distance = self.speed_mps * seconds;
        let radians = self.heading_deg.to_radians();
        self.lat += distance * radians.cos() / 111_320.0;
        self.lon += distance * radians.sin() / (111_320.0 * self.lat.to_radians().cos());
        // Stay near the centre.
        if (self.lat - 48.137).abs() > 0.05 || (self.lon - 11.575).abs() > 0.08 {
            self.heading_deg = (self.heading_deg + 180.0).rem_euclid(360.0);
        }
        fix
    }
}

pub(crate) fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// The run's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    pub(crate) start: Instant,
    pub(crate) ramp: Duration,
    pub(crate) window_start: Instant,
    pub(crate) window_end: Instant,
    /// Everything is torn down here.
    pub(crate) deadline: Instant,
}

impl Timeline {
    pub(crate) fn offset_ms(&self, at: Instant) -> u32 {
        at.saturating_duration_since(self.start).as_millis().min(u128::from(u32::MAX)) as u32
    }

    pub(crate) fn seconds(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64()
    }
}

/// Live counters, for the progress lines.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) connected: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
}

/// What every driver task shares.
pub(crate) struct Shared {
    pub(crate) peer: Peer,
    /// The server's address and the WebSocket URL to ask for there.
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    pub(crate) drivers: usize,
    pub(crate) interval: Duration,
    pub(crate) backlog: Option<usize>,
    pub(crate) seed: u64,
    pub(crate) source_ips: usize,
    pub(crate) timeline: Timeline,
    pub(crate) connect_slots: Semaphore,
    pub(crate) progress: Progress,
}

/// One acknowledged record's round trip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When its frame was sent, in ms since the start.
    pub(crate) sent_ms: u32,
    pub(crate) latency_us: u32,
}

/// One driver's results.
#[derive(Debug, Default)]
pub(crate) struct DriverOutcome {
    pub(crate) connect_failure: Option<String>,
    pub(crate) disconnect: Option<String>,
    pub(crate) cut_off: bool,
    pub(crate) sent: u64,
    pub(crate) acked: u64,
    pub(crate) rejected: u64,
    pub(crate) unacked: u64,
    pub(crate) measured: u64,
    pub(crate) events: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) samples: Vec<Sample>,
    /// Backlog mode: when its whole backlog was acknowledged.
    pub(crate) drained_at: Option<Instant>,
}

/// Records of one frame not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Pending {
    first: u64,
    last: u64,
    sent_at: Instant,
    measured: bool,
}

type Socket = WebSocketStream<TcpStream>;

/// One simulated driver, from its connect to its teardown; never longer than the deadline.
pub(crate) async fn run_driver(
    shared: Arc<Shared>,
    index: usize,
    driver_id: String,
    token: String,
) -> DriverOutcome {
    let timeline = shared.timeline;
    let mut outcome = DriverOutcome::default();
    let mut random = SplitMix64::for_driver(shared.seed, index);
    let phase = shared.interval.mul_f64(random.next_f64());
    let mut route = Route::new(&mut random);
    let connect_at = timeline.start + timeline.ramp.mul_f64(index as f64 / shared.drivers as f64);
    tokio::time::sleep_until(connect_at.min(timeline.deadline)).await;

    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id,
        token: Some(token),
        app_version: "enroute-replay-load".into(),
        last_event_id: 0,
    };
    let codec = PeerCodec::new(shared.peer, hello);
    let connected = tokio::select! {
        permit = shared.connect_slots.acquire() => {
            let connect_by = (Instant::now() + CONNECT_TIMEOUT).min(timeline.deadline);
            let result = tokio::time::timeout_at(connect_by, connect(&shared, index, &codec)).await;
            drop(permit);
            match result {
                Ok(result) => result,
                Err(_) if Instant::now() >= timeline.deadline => Err("the run ended while connecting".into()),
                Err(_) => Err(format!("timeout ({} s)", CONNECT_TIMEOUT.as_secs())),
            }
        }
        () = tokio::time::sleep_until(timeline.deadline) => Err("the run ended before connecting".into()),
    };
    let (mut socket, welcome) = match connected {
        Ok(connected) => connected,
        Err(cause) => {
            outcome.connect_failure = Some(cause);
            return outcome;
        }
    };
    shared.progress.connected.fetch_add(1, Ordering::Relaxed);

    let interval = shared.interval;
    // Steady mode sends at start + phase + k × interval, inside the window.
    let next_slot = |after: Instant| -> Option<Instant> {
        let first = timeline.start + phase;
        let slot = if after < first {
            first
        } else {
            let k = (after - first).as_secs_f64() / interval.as_secs_f64();
            first + interval.mul_f64(k.floor() + 1.0)
        };
        (slot < timeline.window_end).then_some(slot)
    };
    let mut acked_seq = welcome.acked_seq;
    let mut next_seq = acked_seq + 1;
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut next_send = match shared.backlog {
        Some(_) => Some(Instant::now()),
        None => next_slot(Instant::now()),
    };
    let mut last_sent = Instant::now();
    let mut last_error: Option<String> = None;
    let mut nonce = 0;
    loop {
        let now = Instant::now();
        if next_send.is_none() && pending.is_empty() {
            break;
        }
        if now >= timeline.deadline {
            outcome.cut_off = !pending.is_empty();
            break;
        }
        if let Some(due) = next_send
            && now >= due
        {
            let count = shared.backlog.unwrap_or(1) as u64;
            let unix_now = unix_ms();
            let records: Vec<Record> = (0..count)
                .map(|offset| {
                    // A backlog holds what was recorded offline, one fix per interval.
                    let age_ms = (count - 1 - offset) as i64 * interval.as_millis() as i64;
                    let time_ms = unix_now - age_ms;
                    Record {
                        seq: next_seq + offset,
                        id: random.record_id(),
                        created_at_ms: time_ms,
                        kind: RecordKind::Location {
                            fix: route.next_fix(time_ms, interval.as_secs_f64(), &mut random),
                        },
                    }
                })
                .collect();
            let frame = codec.records_frame(RecordBatch::new(records));
            let sent_at = Instant::now();
            let measured = shared.backlog.is_some()
                || (sent_at >= timeline.window_start && sent_at < timeline.window_end);
            if !send_by(&mut socket, frame, timeline.deadline).await {
                outcome.disconnect = Some("sending failed".into());
                break;
            }
            pending.push_back(Pending { first: next_seq, last: next_seq + count - 1, sent_at, measured });
            next_seq += count;
            outcome.sent += count;
            outcome.measured += if measured { count } else { 0 };
            shared.progress.sent.fetch_add(count, Ordering::Relaxed);
            last_sent = sent_at;
            next_send = match shared.backlog {
                Some(_) => None,
                None => next_slot(sent_at),
            };
            continue;
        }
        if now >= last_sent + PING_AFTER {
            nonce += 1;
            if let Some(ping) = codec.ping_frame(nonce)
                && !send_by(&mut socket, ping, timeline.deadline).await
            {
                outcome.disconnect = Some("sending failed".into());
                break;
            }
            last_sent = now;
        }
        let wake = [next_send, Some(last_sent + PING_AFTER), Some(timeline.deadline)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(timeline.deadline);
        let message = tokio::select! {
            message = socket.next() => message,
            () = tokio::time::sleep_until(wake) => continue,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let close_code = frame.map(|frame| u16::from(frame.code));
                outcome.disconnect = Some(ended_cause("closed by the server", last_error, close_code));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                outcome.disconnect = Some(ended_cause("connection lost", last_error, None));
                break;
            }
        };
        let reply = match codec.read(&text) {
            Incoming::Ack(ack) => {
                acked_seq = acked_seq.max(ack.acked_seq);
                outcome.rejected += ack.rejected.len() as u64;
                let now = Instant::now();
                let mut acked = 0;
                while let Some(front) = pending.front_mut() {
                    if front.first > acked_seq {
                        break;
                    }
                    let upto = front.last.min(acked_seq);
                    let count = upto - front.first + 1;
                    acked += count;
                    if front.measured {
                        let latency = now.saturating_duration_since(front.sent_at);
                        let sample = Sample {
                            sent_ms: timeline.offset_ms(front.sent_at),
                            latency_us: latency.as_micros().min(u128::from(u32::MAX)) as u32,
                        };
                        outcome.samples.extend(std::iter::repeat_n(sample, count as usize));
                    }
                    if upto == front.last {
                        pending.pop_front();
                    } else {
                        front.first = upto + 1;
                    }
                }
                outcome.acked += acked;
                shared.progress.acked.fetch_add(acked, Ordering::Relaxed);
                if shared.backlog.is_some() && next_send.is_none() && pending.is_empty() {
                    outcome.drained_at = Some(now);
                }
                None
            }
            Incoming::Event(event_id) => {
                outcome.events += 1;
                Some(codec.event_ack_frame(event_id))
            }
            Incoming::Error { code, .. } => {
                *outcome.errors.entry(code.clone()).or_default() += 1;
                last_error = Some(code);
                None
            }
            Incoming::Reply(frame) => Some(frame),
            Incoming::Ended(why) => {
                outcome.disconnect = Some(framing_ended("ended by the server", last_error, &why));
                break;
            }
            Incoming::Bad(_) => {
                *outcome.errors.entry("bad_frame".into()).or_default() += 1;
                None
            }
            Incoming::Welcome(_) => {
                *outcome.errors.entry("unexpected_welcome".into()).or_default() += 1;
                None
            }
            Incoming::Ignored => None,
        };
        if let Some(frame) = reply
            && !send_by(&mut socket, frame, timeline.deadline).await
        {
            outcome.disconnect = Some("sending failed".into());
            break;
        }
    }
    outcome.unacked = pending.iter().map(|frame| frame.last - frame.first + 1).sum();
    if outcome.disconnect.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
    }
    outcome
}

/// Sends one text frame, giving up at `deadline`; false when it could not be sent.
async fn send_by(socket: &mut Socket, frame: String, deadline: Instant) -> bool {
    matches!(tokio::time::timeout_at(deadline, socket.send(Message::text(frame))).await, Ok(Ok(())))
}

/// "closed by the server: rate_limited (close 4429)" and the like.
fn ended_cause(what: &str, error_code: Option<String>, close_code: Option<u16>) -> String {
    let from_close = close_code
        .and_then(enroute_protocol::ErrorCode::from_close_code)
        .map(|code| code.as_str().to_string());
    match (error_code.or(from_close), close_code) {
        (Some(code), Some(close)) => format!("{what}: {code} (close {close})"),
        (Some(code), None) => format!("{what}: {code}"),
        (None, Some(close)) => format!("{what}: close {close}"),
        (None, None) => what.to_string(),
    }
}

/// "closed before welcome: unauthorized (socket.io disconnect)" and the like.
fn framing_ended(what: &str, error_code: Option<String>, why: &str) -> String {
    match error_code {
        Some(code) => format!("{what}: {code} ({why})"),
        None => format!("{what}: {why}"),
    }
}

/// TCP connect (from the driver's source address), WebSocket handshake, sign-in; the
/// connection and its `welcome`, or why not.
async fn connect(
    shared: &Shared,
    index: usize,
    codec: &PeerCodec,
) -> Result<(Socket, enroute_protocol::Welcome), String> {
    let addr = shared.addr;
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
        .map_err(|error| format!("socket: {}", error.kind()))?;
    if let Some(ip) = source_ip(index, shared.source_ips) {
        socket.bind(SocketAddr::new(ip, 0)).map_err(|error| format!("bind: {}", error.kind()))?;
    }
    let stream = socket.connect(addr).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused".to_string(),
        kind => format!("connect: {kind}"),
    })?;
    let _ = stream.set_nodelay(true);
    let (mut socket, _) =
        tokio_tungstenite::client_async(shared.url.as_str(), stream).await.map_err(|error| match error {
            tungstenite::Error::Http(response) => {
                format!("handshake refused: HTTP {}", response.status().as_u16())
            }
            tungstenite::Error::Io(error) => format!("handshake: {}", error.kind()),
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                "closed during the handshake".to_string()
            }
            other => format!("handshake: {other}"),
        })?;
    let closed =
        |error_code: Option<String>, close_code| ended_cause("closed before welcome", error_code, close_code);
    for frame in codec.opening_frames() {
        socket.send(Message::text(frame)).await.map_err(|_| closed(None, None))?;
    }
    let mut error_code = None;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => match codec.read(&text) {
                Incoming::Welcome(welcome) => return Ok((socket, welcome)),
                Incoming::Reply(frame) => {
                    socket.send(Message::text(frame)).await.map_err(|_| closed(error_code.clone(), None))?;
                }
                Incoming::Error { code, .. } => error_code = Some(code),
                Incoming::Ended(why) => return Err(framing_ended("closed before welcome", error_code, &why)),
                Incoming::Bad(_) => return Err("unreadable frame before welcome".into()),
                Incoming::Ack(_) | Incoming::Event(_) | Incoming::Ignored => {}
            },
            Some(Ok(Message::Close(frame))) => {
                return Err(closed(error_code, frame.map(|frame| u16::from(frame.code))));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(closed(error_code, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_spread_over_loopback_skipping_zero_and_broadcast_bytes() {
        assert_eq!(source_ip(5, 1), None);
        assert_eq!(source_ip(0, 3), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(source_ip(4, 3), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(source_ip(253, 1000), Some("127.0.0.254".parse().unwrap()));
        assert_eq!(source_ip(254, 1000), Some("127.0.1.1".parse().unwrap()));
    }

    #[test]
    fn the_prng_is_repeatable_and_record_ids_are_32_lowercase_hex_digits() {
        let (mut a, mut b) = (SplitMix64::for_driver(1, 7), SplitMix64::for_driver(1, 7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(SplitMix64::for_driver(1, 7).next_u64(), SplitMix64::for_driver(1, 8).next_u64());
        assert_ne!(SplitMix64::for_driver(1, 7).next_u64(), SplitMix64::for_driver(2, 7).next_u64());
        let id = a.record_id();
        assert_eq!(id.0.len(), 32);
        assert!(id.0.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)));
        // Reference value of splitmix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        assert!((0..1000).map(|_| a.next_f64()).all(|value| (0.0..1.0).contains(&value)));
    }

    #[test]
    fn fixes_are_plausible_and_pass_the_protocols_record_checks() {
        let mut random = SplitMix64::new(3);
        let mut route = Route::new(&mut random);
        let now = unix_ms();
        for step in 0..1000 {
            let record = Record {
                seq: step + 1,
                id: random.record_id(),
                created_at_ms: now,
                kind: RecordKind::Location { fix: route.next_fix(now, 5.0, &mut random) },
            };
            enroute_protocol::check_record(&record, now).unwrap();
            let RecordKind::Location { fix } = record.kind else { unreachable!() };
            assert!((fix.lat - 48.137).abs() < 0.1 && (fix.lon - 11.575).abs() < 0.15, "{fix:?}");
        }
    }

    #[test]
    fn causes_name_the_error_code_and_close_code() {
        assert_eq!(
            ended_cause("closed", Some("unauthorized".into()), Some(4401)),
            "closed: unauthorized (close 4401)"
        );
        assert_eq!(ended_cause("closed", None, Some(4429)), "closed: rate_limited (close 4429)");
        assert_eq!(ended_cause("closed", None, Some(1000)), "closed: close 1000");
        assert_eq!(ended_cause("lost", None, None), "lost");
    }
}

//! Simulated drivers: each replays a trace through the throttle and the same sans-io engine as
//! the app, over a real WebSocket to a server, with real acknowledgements. Many at once make a
//! load generator.
//!
//! Each driver lives in its own virtual time: with `speed` 10, ten seconds of trace (and of the
//! driver's wall clock, which stamps the records) pass per real second. The connection's timers
//! (pings, reconnect backoff) run in real time, or in trace time with `timers_in_trace_time`, so
//! a drive at speed 20 sends the pings an hour of driving sends (what the wire count needs).
//!
//! Every WebSocket frame each way is counted ([`crate::wire_count`]).

use enroute_core::{
    DeviceIdentity, Engine, EngineAction, EngineConfig, Fix, Instant, LinkStatus, Now, SocketId,
    StoredOutbox, Throttle, ThrottlePolicy,
};
use enroute_protocol::{DriverStatus, RecordKind, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::wire_count::{PermessageDeflate, WireTraffic};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// WebSocket URL of the server.
    pub server: String,
    pub drivers: usize,
    /// Driver ids are this prefix and a number.
    pub prefix: String,
    /// Trace seconds per real second.
    pub speed: f64,
    pub policy: ThrottlePolicy,
    /// Each driver's token, in driver order (see [`register_drivers`]); empty for none.
    pub tokens: Vec<String>,
    /// Run the engine's timers at `speed` too (see the module's documentation).
    pub timers_in_trace_time: bool,
    /// The newest protocol version the drivers offer (the app offers
    /// [`enroute_protocol::MAX_PROTOCOL_VERSION`]; 1 measures the object form).
    pub max_protocol: u32,
}

/// The ids the drive gives its drivers.
pub fn driver_ids(prefix: &str, drivers: usize) -> Vec<String> {
    (1..=drivers).map(|number| format!("{prefix}{number}")).collect()
}

/// Registers `driver_ids` with the server through its dispatcher API (`POST /api/drivers`; a
/// driver that exists gets a new token) and returns their tokens, in order.
pub async fn register_drivers(
    server: &str,
    dispatcher_token: &str,
    driver_ids: &[String],
) -> Result<Vec<String>, String> {
    let host = server
        .split_once("://")
        .map_or(server, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut tokens = Vec::with_capacity(driver_ids.len());
    for driver_id in driver_ids {
        let body = serde_json::json!({ "driver_id": driver_id }).to_string();
        let (mut status, mut answer) = http_post(&host, "/api/drivers", dispatcher_token, &body).await?;
        if status == 409 {
            (status, answer) =
                http_post(&host, &format!("/api/drivers/{driver_id}/token"), dispatcher_token, "").await?;
        }
        if !(200..300).contains(&status) {
            return Err(format!("cannot register {driver_id}: HTTP {status} {answer}"));
        }
        let token = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|value| value["token"].as_str().map(str::to_string))
            .ok_or_else(|| format!("no token in the answer for {driver_id}: {answer}"))?;
        tokens.push(token);
    }
    Ok(tokens)
}

/// A minimal HTTP/1.1 POST (the load generator needs no more than this).
async fn http_post(host: &str, path: &str, bearer: &str, body: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream =
        tokio::net::TcpStream::connect(host).await.map_err(|error| format!("{host}: {error}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.map_err(|error| error.to_string())?;
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response.as_str(), ""));
    let chunked = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    });
    let answer = if chunked { dechunk(body).ok_or("malformed chunked answer")? } else { body.to_string() };
    Ok((status, answer))
}

/// The body of a `Transfer-Encoding: chunked` answer (Node servers send those).
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// What happened, over all drivers.
#[derive(Debug, Clone, Default)]
pub struct DriveReport {
    pub drivers: usize,
    pub fixes: u64,
    /// Records made (duty changes, sent fixes).
    pub records: u64,
    /// Records the server acknowledged.
    pub acknowledged: u64,
    /// `records` frames and bytes sent (including resends).
    pub frames_sent: u64,
    pub bytes_sent: u64,
    /// Every WebSocket frame, both ways, all drivers.
    pub traffic: WireTraffic,
    /// Trace time driven, per driver (first fix to last).
    pub trace_seconds: f64,
    pub elapsed: Duration,
    /// Drivers that did not finish, and why.
    pub failures: Vec<String>,
}

impl fmt::Display for DriveReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "drivers: {}", self.drivers)?;
        writeln!(formatter, "fixes replayed: {}", self.fixes)?;
        writeln!(formatter, "records made: {}, acknowledged: {}", self.records, self.acknowledged)?;
        writeln!(formatter, "frames sent: {}, bytes sent: {}", self.frames_sent, self.bytes_sent)?;
        let WireTraffic { up, down, connections } = self.traffic;
        writeln!(
            formatter,
            "on the wire: up {} frames, {} payload + {} framing bytes; down {} frames, {} payload + {} framing bytes; {} connections",
            up.frames,
            up.payload_bytes,
            up.framing_bytes,
            down.frames,
            down.payload_bytes,
            down.framing_bytes,
            connections
        )?;
        writeln!(formatter, "elapsed: {:.1} s", self.elapsed.as_secs_f64())?;
        if self.failures.is_empty() {
            write!(formatter, "all drivers finished with nothing waiting")
        } else {
            write!(formatter, "failures:\n  {}", self.failures.join("\n  "))
        }
    }
}

/// Why the drive could not run at all.
#[derive(Debug)]
pub enum DriveError {
    NoFixes,
    BadSpeed(f64),
}

impl fmt::Display for DriveError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::NoFixes => write!(formatter, "the trace has no fixes"),
            DriveError::BadSpeed(speed) => write!(formatter, "speed must be a positive number, got {speed}"),
        }
    }
}

impl std::error::Error for DriveError {}

/// Runs `options.drivers` simulated drivers through `fixes` and waits for all of them.
pub async fn drive(options: DriveOptions, fixes: Vec<Fix>) -> Result<DriveReport, DriveError> {
    if fixes.is_empty() {
        return Err(DriveError::NoFixes);
    }
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(DriveError::BadSpeed(options.speed));
    }
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (index, driver_id) in driver_ids(&options.prefix, options.drivers).into_iter().enumerate() {
        tasks.push(tokio::spawn(simulate_driver(driver_id, options.clone(), fixes.clone(), index as u64)));
    }
    let trace_seconds = (fixes[fixes.len() - 1].time_ms - fixes[0].time_ms) as f64 / 1000.0;
    let mut report = DriveReport { drivers: options.drivers, trace_seconds, ..DriveReport::default() };
    for task in tasks {
        match task.await {
            Ok(outcome) => {
                report.fixes += outcome.fixes;
                report.records += outcome.records;
                report.acknowledged += outcome.acknowledged;
                report.frames_sent += outcome.frames_sent;
                report.bytes_sent += outcome.bytes_sent;
                report.traffic += *outcome.traffic.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(failure) = outcome.failure {
                    report.failures.push(failure);
                }
            }
            Err(error) => report.failures.push(format!("a driver task failed: {error}")),
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Default)]
struct DriverOutcome {
    fixes: u64,
    records: u64,
    acknowledged: u64,
    frames_sent: u64,
    bytes_sent: u64,
    /// Shared with the driver's socket tasks, which count the frames.
    traffic: Arc<Mutex<WireTraffic>>,
    failure: Option<String>,
}

enum SocketEvent {
    Opened(SocketId),
    Frame(SocketId, String),
    /// With the server's close code, if it sent one.
    Closed(SocketId, Option<u16>),
}

/// How long a driver may take to drain after its trace ends before it counts as failed.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

async fn simulate_driver(
    driver_id: String,
    options: DriveOptions,
    fixes: Vec<Fix>,
    seed: u64,
) -> DriverOutcome {
    let real_start = tokio::time::Instant::now();
    let unix_start =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64);
    let trace_start = fixes[0].time_ms;
    // How many engine milliseconds pass per real one.
    let timer_speed = if options.timers_in_trace_time { options.speed } else { 1.0 };
    let now = || {
        let elapsed = real_start.elapsed();
        Now {
            monotonic: Instant::from_millis((elapsed.as_secs_f64() * 1000.0 * timer_speed) as u64),
            unix_ms: unix_start + (elapsed.as_secs_f64() * 1000.0 * options.speed) as i64,
        }
    };
    let token = options.tokens.get(seed as usize).cloned();
    let identity =
        DeviceIdentity { driver_id: driver_id.clone(), token, app_version: "enroute-replay".into() };
    let mut config = EngineConfig::default();
    config.connection.max_protocol = options.max_protocol;
    let mut engine = Engine::new(config, identity, StoredOutbox::default(), 0x5eed ^ seed);
    let mut throttle = Throttle::new(options.policy);
    let mut outcome = DriverOutcome::default();
    let (events, mut receiver) = mpsc::unbounded_channel();
    let mut socket: Option<(SocketId, mpsc::UnboundedSender<String>)> = None;
    engine.start(now());
    engine.record(now(), RecordKind::Status { status: DriverStatus::OnDuty, reason: None });
    outcome.records += 1;
    let mut next_fix = 0;
    let mut finished_at: Option<tokio::time::Instant> = None;
    loop {
        while let Some(action) = engine.poll_action(now()) {
            match action {
                EngineAction::OpenSocket(id) => {
                    let (sender, outgoing) = mpsc::unbounded_channel();
                    socket = Some((id, sender));
                    tokio::spawn(run_socket(
                        options.server.clone(),
                        id,
                        events.clone(),
                        outgoing,
                        outcome.traffic.clone(),
                    ));
                }
                EngineAction::Send(message) => {
                    if let Some((_, sender)) = &socket {
                        let text = engine.encode(&message);
                        if matches!(message, enroute_protocol::ClientMessage::Records(_)) {
                            outcome.frames_sent += 1;
                            outcome.bytes_sent += text.len() as u64;
                        }
                        let _ = sender.send(text);
                    }
                }
                EngineAction::CloseSocket(id) => {
                    if socket.as_ref().is_some_and(|(current, _)| *current == id) {
                        socket = None;
                    }
                }
                // Memory only: every write succeeds at once.
                EngineAction::Store(write) => engine.handle_storage_written(write.id),
                EngineAction::StoreAssignments(write) => engine.handle_assignments_stored(write.id),
                // Storage never fails here, so there is never a floor to keep.
                EngineAction::RememberSequenceFloor(_) => {}
            }
        }
        if let Some(finished) = finished_at {
            let status = engine.snapshot();
            if status.outbox.waiting == 0 {
                outcome.acknowledged = engine.outbox().counters().acked_seq;
                return outcome;
            }
            if finished.elapsed() > DRAIN_LIMIT {
                outcome.acknowledged = engine.outbox().counters().acked_seq;
                let link = match status.link {
                    LinkStatus::Refused { message, .. } => format!("refused: {message}"),
                    other => format!("{other:?}"),
                };
                outcome.failure =
                    Some(format!("{driver_id}: {} records still waiting ({link})", status.outbox.waiting));
                return outcome;
            }
        }
        let fix_due = fixes.get(next_fix).map(|fix| {
            real_start + Duration::from_secs_f64((fix.time_ms - trace_start) as f64 / 1000.0 / options.speed)
        });
        let timer = engine
            .poll_timeout()
            .map(|deadline| {
                real_start + Duration::from_secs_f64(deadline.as_millis() as f64 / 1000.0 / timer_speed)
            })
            .into_iter()
            .chain(fix_due)
            .chain(finished_at.map(|_| tokio::time::Instant::now() + Duration::from_millis(200)))
            .min();
        let event = match timer {
            Some(deadline) => tokio::select! {
                event = receiver.recv() => event,
                () = tokio::time::sleep_until(deadline) => None,
            },
            None => receiver.recv().await,
        };
        let current = now();
        match event {
            Some(SocketEvent::Opened(id)) => engine.handle_socket_opened(current, id),
            Some(SocketEvent::Frame(id, text)) => {
                if let Ok(message) = ServerMessage::decode(&text) {
                    engine.handle_message(current, id, &message);
                }
            }
            Some(SocketEvent::Closed(id, close_code)) => engine.handle_socket_closed(current, id, close_code),
            None => {}
        }
        // One fix per pass: the engine's actions for it go out before the next.
        if let Some(fix) = fixes.get(next_fix)
            && fix_due.is_some_and(|due| tokio::time::Instant::now() >= due)
        {
            let shifted = Fix { time_ms: unix_start + (fix.time_ms - trace_start), ..*fix };
            outcome.fixes += 1;
            for sent in throttle.handle_fix(shifted).send {
                engine.record(current, RecordKind::Location { fix: sent });
                outcome.records += 1;
            }
            next_fix += 1;
            if next_fix == fixes.len() {
                for last in throttle.flush() {
                    engine.record(current, RecordKind::Location { fix: last });
                    outcome.records += 1;
                }
                engine.record(current, RecordKind::Status { status: DriverStatus::OffDuty, reason: None });
                outcome.records += 1;
                finished_at = Some(tokio::time::Instant::now());
            }
        }
        engine.handle_timeout(now());
    }
}

async fn run_socket(
    url: String,
    id: SocketId,
    events: mpsc::UnboundedSender<SocketEvent>,
    mut outgoing: mpsc::UnboundedReceiver<String>,
    traffic: Arc<Mutex<WireTraffic>>,
) {
    let connection = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((connection, _)) => connection,
        Err(_) => {
            let _ = events.send(SocketEvent::Closed(id, None));
            return;
        }
    };
    // Each direction's permessage-deflate context, for the estimate of what it would save.
    let mut deflate_up = PermessageDeflate::default();
    let mut deflate_down = PermessageDeflate::default();
    let mut count_text = |up: bool, text: &str| {
        let mut traffic = traffic.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if up {
            traffic.up.add_frame(text.len(), true);
            traffic.up.add_deflated(deflate_up.message_len(text.as_bytes()));
        } else {
            traffic.down.add_frame(text.len(), false);
            traffic.down.add_deflated(deflate_down.message_len(text.as_bytes()));
        }
    };
    // Control frames are never compressed.
    let count_control = |up: bool, payload_len: usize| {
        let mut traffic = traffic.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let direction = if up { &mut traffic.up } else { &mut traffic.down };
        direction.add_frame(payload_len, up);
        direction.add_deflated(payload_len);
    };
    traffic.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).connections += 1;
    let _ = events.send(SocketEvent::Opened(id));
    let (mut writer, mut reader) = connection.split();
    let mut close_code = None;
    loop {
        tokio::select! {
            frame = reader.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    count_text(false, &text);
                    let _ = events.send(SocketEvent::Frame(id, text.to_string()));
                }
                Some(Ok(Message::Close(frame))) => {
                    // A close frame's payload: the 2-byte code and the reason.
                    count_control(false, frame.as_ref().map_or(0, |frame| 2 + frame.reason.len()));
                    close_code = frame.map(|frame| u16::from(frame.code));
                    break;
                }
                Some(Ok(other)) => count_control(false, other.len()),
                Some(Err(_)) | None => break,
            },
            text = outgoing.recv() => match text {
                Some(text) => {
                    count_text(true, &text);
                    if writer.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                None => {
                    count_control(true, 0);
                    let _ = writer.close().await;
                    return; // the engine closed the socket
                }
            },
        }
    }
    let _ = events.send(SocketEvent::Closed(id, close_code));
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_answers_are_reassembled_and_malformed_ones_refused() {
        assert_eq!(
            super::dechunk("f\r\n{\"token\":\"tok\"}\r\n0\r\n\r\n").as_deref(),
            Some("{\"token\":\"tok\"}")
        );
        assert_eq!(super::dechunk("3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").as_deref(), Some("abcde"));
        assert_eq!(super::dechunk("zz\r\nabc"), None);
        assert_eq!(super::dechunk("9\r\nabc\r\n"), None);
    }
}

//! Simulated drivers that survive failing servers, for chaos tests of several nodes: each keeps
//! an outbox as the app does (a record is dropped only once acknowledged), signs in to one of
//! the nodes it is given, and on any failure (the connection closed, refused, or silent for
//! [`SILENT_AFTER`]) signs in to the next node and sends everything unacknowledged again. Each
//! keeps a log of what it saw, for a checker: the highest sequence number ever acknowledged,
//! every event id in the order it arrived, and what broke the rule that ids rise one by one.
//!
//! Loopback servers only, like the rest of the load generator; messages come from
//! `enroute-protocol`. This module must not depend on `enroute-core`.

use enroute_protocol::{
    AssignmentStatus, ClientMessage, DriverAction, EventAck, EventPayload, Fix, Hello, PROTOCOL_VERSION,
    Ping, Record, RecordBatch, RecordId, RecordKind, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// A connection with nothing heard for this long (pings go every second) is taken for dead.
pub const SILENT_AFTER: Duration = Duration::from_secs(3);
/// How long a connect and its `welcome` may take.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(3);
/// Most records sent in one frame.
const MAX_BATCH: usize = 100;

/// What one simulated driver does.
#[derive(Debug, Clone)]
pub struct FailoverDriver {
    pub driver_id: String,
    pub token: String,
    /// The nodes, tried in turn from `first_node`.
    pub nodes: Vec<SocketAddr>,
    pub first_node: usize,
    /// It records one location every `interval`, `records` in all.
    pub interval: Duration,
    pub records: u64,
    /// Whether it accepts every job offered to it (one more record each), or lets offers be.
    pub accepts_offers: bool,
    /// It gives up (leaving what is unacknowledged in its outbox) at this moment.
    pub deadline: Instant,
    /// Once everything it made is acknowledged, it stays signed in (signing in again after a
    /// failure) for events while this is set; then it finishes on a connection at least
    /// [`SETTLE`] old, so the events a node sends after its `welcome` have arrived.
    pub keep_listening: Arc<AtomicBool>,
}

/// How long a connection must be open before the driver may finish on it.
pub const SETTLE: Duration = Duration::from_secs(1);

/// What a driver saw, for the checker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverLog {
    pub driver_id: String,
    /// Records it made (sequence numbers 1..=made): locations and job acceptances.
    pub made: u64,
    /// Of those, locations.
    pub locations: u64,
    /// Jobs it accepted (a record each).
    pub accepted: u64,
    /// The highest sequence number any node acknowledged (in an `ack` or a `welcome`).
    pub highest_acked: u64,
    /// A `welcome` that acknowledged less than an earlier acknowledgement: a node forgot.
    pub acks_went_back: Vec<(u64, u64)>,
    /// Event ids in the order they arrived, repeats left out.
    pub event_ids: Vec<u64>,
    /// Events that skipped ids: (the last id before, the id that came).
    pub event_gaps: Vec<(u64, u64)>,
    /// Events it got again after newer ones (harmless: the app drops them), counted.
    pub repeated_events: u64,
    /// Sign-ins, failed ones included.
    pub sign_ins: u64,
    /// Why connections ended, in order (`closed`, `silent`, `refused: …`, an error code).
    pub disconnects: Vec<String>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl FailoverDriver {
    /// Drives until every record is made and acknowledged, or the deadline.
    pub async fn run(self) -> DriverLog {
        let mut log = DriverLog { driver_id: self.driver_id.clone(), ..DriverLog::default() };
        let mut outbox: VecDeque<Record> = VecDeque::new();
        let mut node = self.first_node;
        let started = Instant::now();
        let mut last_event_id = 0;
        loop {
            if Instant::now() >= self.deadline {
                return log;
            }
            let address = self.nodes[node % self.nodes.len()];
            node += 1;
            log.sign_ins += 1;
            let signed_in = tokio::time::timeout(SIGN_IN_TIMEOUT, self.sign_in(address, last_event_id)).await;
            let (mut socket, acked) = match signed_in {
                Ok(Ok(signed_in)) => signed_in,
                Ok(Err(cause)) => {
                    log.disconnects.push(format!("refused: {cause}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(_) => {
                    log.disconnects.push("refused: no welcome in time".into());
                    continue;
                }
            };
            self.acknowledged(&mut log, &mut outbox, acked, true);
            let ended = self.session(&mut socket, &mut log, &mut outbox, &mut last_event_id, started).await;
            let _ = tokio::time::timeout(Duration::from_millis(200), socket.close(None)).await;
            if ended == "done" {
                return log;
            }
            log.disconnects.push(ended);
        }
    }

    async fn sign_in(&self, address: SocketAddr, last_event_id: u64) -> Result<(Socket, u64), String> {
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
            .await
            .map_err(|error| error.to_string())?;
        let hello = ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            max_protocol: None,
            driver_id: self.driver_id.clone(),
            token: Some(self.token.clone()),
            app_version: "enroute-replay-failover".into(),
            last_event_id,
        });
        socket.send(Message::text(hello.encode())).await.map_err(|error| error.to_string())?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => match ServerMessage::decode(&text) {
                    Ok(ServerMessage::Welcome(welcome)) => return Ok((socket, welcome.acked_seq)),
                    Ok(ServerMessage::Error(error)) => return Err(format!("{:?}", error.code)),
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.to_string()),
                None => return Err("closed".into()),
            }
        }
    }

    /// One connection, until it fails; returns why it ended.
    async fn session(
        &self,
        socket: &mut Socket,
        log: &mut DriverLog,
        outbox: &mut VecDeque<Record>,
        last_event_id: &mut u64,
        started: Instant,
    ) -> String {
        // Everything unacknowledged goes again on a new connection.
        let mut sent_through = log.highest_acked;
        let mut heard = Instant::now();
        let mut pinged = Instant::now();
        let mut nonce = 0;
        let opened = Instant::now();
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return "deadline".into();
            }
            if log.locations == self.records
                && outbox.is_empty()
                && !self.keep_listening.load(Ordering::Relaxed)
                && now >= opened + SETTLE
            {
                return "done".into();
            }
            // Records due by now are made whether or not a node is reachable, as on a phone.
            while log.locations < self.records && started + self.interval.mul_f64(log.locations as f64) <= now
            {
                log.locations += 1;
                log.made += 1;
                outbox.push_back(location(&self.driver_id, log.made));
            }
            let unsent: Vec<Record> =
                outbox.iter().filter(|record| record.seq > sent_through).take(MAX_BATCH).cloned().collect();
            if let Some(last) = unsent.last() {
                sent_through = last.seq;
                let frame = ClientMessage::Records(RecordBatch::new(unsent)).encode();
                if socket.send(Message::text(frame)).await.is_err() {
                    return "send failed".into();
                }
            }
            if now >= pinged + Duration::from_secs(1) {
                nonce += 1;
                pinged = now;
                if socket.send(Message::text(ClientMessage::Ping(Ping { nonce }).encode())).await.is_err() {
                    return "send failed".into();
                }
            }
            if now >= heard + SILENT_AFTER {
                return "silent".into();
            }
            let next_record = started + self.interval.mul_f64(log.locations as f64);
            let wake = [
                next_record,
                pinged + Duration::from_secs(1),
                heard + SILENT_AFTER,
                opened + SETTLE,
                self.deadline,
            ]
            .into_iter()
            .min()
            .unwrap_or(self.deadline);
            let frame = tokio::select! {
                frame = socket.next() => frame,
                () = tokio::time::sleep_until(wake) => continue,
            };
            heard = Instant::now();
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => return "closed".into(),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return format!("error: {error}"),
            };
            match ServerMessage::decode(&text) {
                Ok(ServerMessage::Ack(ack)) => self.acknowledged(log, outbox, ack.acked_seq, false),
                Ok(ServerMessage::Event(event)) => {
                    if event.event_id <= *last_event_id {
                        log.repeated_events += 1;
                        continue;
                    }
                    if event.event_id != *last_event_id + 1 {
                        log.event_gaps.push((*last_event_id, event.event_id));
                    }
                    *last_event_id = event.event_id;
                    log.event_ids.push(event.event_id);
                    if let EventPayload::Assignment { assignment, notice: None, .. } = &event.payload
                        && assignment.status == AssignmentStatus::Offered
                        && self.accepts_offers
                    {
                        // Accepted like a driver would: a record in the outbox, sent with the rest.
                        log.made += 1;
                        log.accepted += 1;
                        outbox.push_back(Record {
                            seq: log.made,
                            id: record_id(&self.driver_id, log.made),
                            created_at_ms: crate::load_driver::unix_ms(),
                            kind: RecordKind::Assignment {
                                assignment_id: assignment.id.clone(),
                                action: DriverAction::Accept,
                                reason: None,
                            },
                        });
                    }
                    let ack = ClientMessage::Ack(EventAck { event_id: event.event_id }).encode();
                    if socket.send(Message::text(ack)).await.is_err() {
                        return "send failed".into();
                    }
                }
                Ok(ServerMessage::Error(error)) => return format!("{:?}", error.code),
                Ok(_) => {}
                Err(error) => return format!("unreadable frame: {error}"),
            }
        }
    }

    fn acknowledged(&self, log: &mut DriverLog, outbox: &mut VecDeque<Record>, acked: u64, in_welcome: bool) {
        if in_welcome && acked < log.highest_acked {
            log.acks_went_back.push((log.highest_acked, acked));
        }
        log.highest_acked = log.highest_acked.max(acked);
        while outbox.front().is_some_and(|record| record.seq <= acked) {
            outbox.pop_front();
        }
    }
}

/// An id unique to the driver and sequence number.
fn record_id(driver_id: &str, seq: u64) -> RecordId {
    let salt =
        driver_id.bytes().fold(0u128, |hash, byte| hash.wrapping_mul(131).wrapping_add(u128::from(byte)));
    RecordId::from_random_bits(salt.wrapping_mul(1_000_003).wrapping_add(u128::from(seq)))
}

/// The `seq`th record of a driver, a location.
fn location(driver_id: &str, seq: u64) -> Record {
    let now_ms = crate::load_driver::unix_ms();
    Record {
        seq,
        id: record_id(driver_id, seq),
        created_at_ms: now_ms,
        kind: RecordKind::Location {
            fix: Fix {
                time_ms: now_ms,
                lat: 48.137 + seq as f64 * 1e-5,
                lon: 11.575,
                accuracy_m: 5.0,
                speed_mps: Some(8.0),
                heading_deg: Some(0.0),
                altitude_m: None,
            },
        },
    }
}

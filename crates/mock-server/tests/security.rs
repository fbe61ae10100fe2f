//! The auth matrix and the limits, over real sockets: each hostile or broken client is refused
//! with its documented error code and close code, while a well-behaved driver on another
//! connection keeps getting acknowledgements the whole time.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use support::{Client, connect, start_server};

use enroute_mock_server::limits::Limits;
use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const T0: i64 = 1_763_769_600_000;
const MAX_CONNECTIONS: usize = 8;

fn limits() -> Limits {
    Limits {
        max_connections: MAX_CONNECTIONS,
        idle_timeout: Duration::from_millis(1_500),
        frames_per_second: 20.0,
        frame_burst: 40.0,
        ..Limits::default()
    }
}

fn hello(driver_id: &str, token: Option<String>) -> String {
    ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: driver_id.into(),
        token,
        app_version: "security-test".into(),
        last_event_id: 0,
    })
    .encode()
}

fn status_record(seq: u64) -> Record {
    Record {
        seq,
        id: RecordId::from_random_bits(u128::from(seq) << 3 | 5),
        created_at_ms: T0 + seq as i64,
        kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
    }
}

async fn next_frame(client: &mut Client) -> Option<Message> {
    match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
        Ok(Some(Ok(frame))) => Some(frame),
        Ok(_) => None, // closed, or the connection broke
        Err(_) => panic!("no frame and no close within 10 s"),
    }
}

/// Reads until the server's `error` and close frames; returns the error code and close code.
async fn refusal(client: &mut Client) -> (ErrorCode, Option<u16>) {
    let mut code = None;
    while let Some(frame) = next_frame(client).await {
        match frame {
            Message::Text(text) => {
                if let Ok(ServerMessage::Error(error)) = ServerMessage::decode(&text) {
                    code = Some(error.code);
                }
            }
            Message::Close(close) => {
                return (
                    code.expect("an error frame before the close"),
                    close.map(|close| u16::from(close.code)),
                );
            }
            _ => {}
        }
    }
    panic!("the connection ended without a close frame (error {code:?})");
}

async fn signed_in(address: std::net::SocketAddr, driver_id: &str) -> Client {
    let mut client = connect(address).await;
    client.send(Message::text(hello(driver_id, Some(support::token_of(driver_id))))).await.unwrap();
    match next_frame(&mut client).await {
        Some(Message::Text(text)) => {
            assert!(matches!(ServerMessage::decode(&text), Ok(ServerMessage::Welcome(_))))
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    client
}

/// A well-behaved driver: one record every 100 ms, each acknowledged, until told to stop.
struct WellBehavedDriver {
    acks: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl WellBehavedDriver {
    async fn start(address: std::net::SocketAddr) -> WellBehavedDriver {
        let mut client = signed_in(address, "driver-1").await;
        let acks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (task_acks, task_stop) = (acks.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut seq = 0;
            while !task_stop.load(Ordering::Relaxed) {
                seq += 1;
                let batch = ClientMessage::Records(RecordBatch::new(vec![status_record(seq)]));
                client.send(Message::text(batch.encode())).await.expect("the good driver can send");
                match next_frame(&mut client).await {
                    Some(Message::Text(text)) => match ServerMessage::decode(&text).unwrap() {
                        ServerMessage::Ack(ack) => assert_eq!(ack.acked_seq, seq),
                        other => panic!("the good driver got {other:?}"),
                    },
                    other => panic!("the good driver's connection ended: {other:?}"),
                }
                task_acks.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        WellBehavedDriver { acks, stop, task }
    }

    fn acks(&self) -> u64 {
        self.acks.load(Ordering::Relaxed)
    }

    /// Waits for a few more acknowledgements: the driver is still served.
    async fn still_served(&self) {
        let before = self.acks();
        for _ in 0..100 {
            if self.acks() >= before + 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the well-behaved driver stopped getting acknowledgements");
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the good driver never failed");
        self.acks.load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn hostile_and_broken_clients_are_refused_as_documented_while_a_good_driver_is_served() {
    let state = support::test_state().with_limits(limits());
    state.store.revoke_driver("driver-3", 0).unwrap();
    let address = start_server(state.clone()).await;
    let good = WellBehavedDriver::start(address).await;

    // Sign-in: no token, a wrong token, a revoked token, another driver's token.
    let cases = [
        ("driver-2", None, ErrorCode::Unauthorized, 4401),
        ("driver-2", Some("not-the-token".to_string()), ErrorCode::Unauthorized, 4401),
        ("driver-3", Some(support::token_of("driver-3")), ErrorCode::TokenRevoked, 4403),
        ("driver-2", Some(support::token_of("driver-5")), ErrorCode::Unauthorized, 4401),
        ("nobody", Some(support::token_of("driver-5")), ErrorCode::Unauthorized, 4401),
    ];
    for (driver_id, token, expected_code, expected_close) in cases {
        let mut client = connect(address).await;
        client.send(Message::text(hello(driver_id, token.clone()))).await.unwrap();
        assert_eq!(
            refusal(&mut client).await,
            (expected_code, Some(expected_close)),
            "{driver_id} {token:?}"
        );
        good.still_served().await;
    }

    // A frame over 1 MiB: refused before it is parsed; the connection closes (1009).
    let mut client = signed_in(address, "driver-6").await;
    let _ = client.send(Message::text("x".repeat(MAX_FRAME_BYTES + 1))).await;
    let mut closed_with = None;
    while let Some(frame) = next_frame(&mut client).await {
        if let Message::Close(close) = frame {
            closed_with = close.map(|close| close.code);
            break;
        }
    }
    assert!(matches!(closed_with, None | Some(CloseCode::Size)), "{closed_with:?}");
    good.still_served().await;

    // Too many records in one frame.
    let mut client = signed_in(address, "driver-6").await;
    let batch = ClientMessage::Records(RecordBatch::new(
        (1..=MAX_RECORDS_PER_BATCH as u64 + 1).map(status_record).collect(),
    ));
    client.send(Message::text(batch.encode())).await.unwrap();
    assert_eq!(refusal(&mut client).await, (ErrorCode::TooManyRecords, Some(4413)));
    assert_eq!(state.store.acked_seq("driver-6").unwrap(), 0, "nothing of the refused frame was stored");
    good.still_served().await;

    // A flood of frames: over the burst, the connection is closed.
    let mut client = signed_in(address, "driver-7").await;
    for nonce in 0..200 {
        if client.send(Message::text(ClientMessage::Ping(Ping { nonce }).encode())).await.is_err() {
            break;
        }
    }
    let mut flooded = None;
    while let Some(frame) = next_frame(&mut client).await {
        match frame {
            Message::Text(text) => {
                if let Ok(ServerMessage::Error(error)) = ServerMessage::decode(&text) {
                    flooded = Some(error.code);
                }
            }
            Message::Close(close) => {
                assert_eq!(close.map(|close| u16::from(close.code)), Some(4429));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(flooded, Some(ErrorCode::RateLimited));
    good.still_served().await;

    // Idle: signed in, then silent past the idle timeout.
    let mut client = signed_in(address, "driver-8").await;
    assert_eq!(refusal(&mut client).await, (ErrorCode::IdleTimeout, Some(4408)));
    good.still_served().await;

    // A second connection for a driver replaces the first, which is told why.
    let mut first = signed_in(address, "driver-9").await;
    let mut second = signed_in(address, "driver-9").await;
    assert_eq!(refusal(&mut first).await, (ErrorCode::Replaced, Some(4409)));
    second.send(Message::text(ClientMessage::Ping(Ping { nonce: 1 }).encode())).await.unwrap();
    assert!(matches!(next_frame(&mut second).await, Some(Message::Text(_))), "the new connection works");
    drop(second);
    good.still_served().await;

    // The connection limit: the good driver holds one slot; fill the rest, then one more.
    let mut holders = Vec::new();
    for _ in 0..MAX_CONNECTIONS - 1 {
        holders.push(connect(address).await);
    }
    let mut over = connect(address).await;
    assert_eq!(refusal(&mut over).await, (ErrorCode::ServerFull, Some(4503)));
    good.still_served().await;
    drop(holders);

    let acks = good.finish().await;
    assert!(acks >= 10, "the good driver was acknowledged {acks} times");
    let metrics = state.metrics.render();
    assert!(metrics.contains("enroute_sign_ins_refused_total 5"), "{metrics}");
}

#[tokio::test]
async fn revoking_a_token_ends_the_drivers_connection_and_refuses_it_afterwards() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = signed_in(address, "driver-2").await;
    state.store.revoke_driver("driver-2", 0).unwrap();
    state.sign_ins.end("driver-2", ErrorCode::TokenRevoked);
    assert_eq!(refusal(&mut client).await, (ErrorCode::TokenRevoked, Some(4403)));
    let mut again = connect(address).await;
    again.send(Message::text(hello("driver-2", Some(support::token_of("driver-2"))))).await.unwrap();
    assert_eq!(refusal(&mut again).await, (ErrorCode::TokenRevoked, Some(4403)));
}

#[tokio::test]
async fn a_batch_with_an_unreadable_and_an_invalid_record_applies_the_rest() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = signed_in(address, "driver-4").await;
    let good = status_record(1);
    let mut out_of_range = status_record(3);
    out_of_range.created_at_ms = 42; // 1970: a clock that was never set
    let frame = format!(
        r#"{{"type":"records","records":[{},{{"seq":2,"id":"{}","created_at_ms":{T0},"kind":"teleport"}},{},{}]}}"#,
        good.encode(),
        RecordId::from_random_bits(2),
        out_of_range.encode(),
        status_record(4).encode(),
    );
    client.send(Message::text(frame)).await.unwrap();
    let Some(Message::Text(text)) = next_frame(&mut client).await else { panic!("no answer") };
    let ServerMessage::Ack(ack) = ServerMessage::decode(&text).unwrap() else { panic!("not an ack: {text}") };
    assert_eq!(ack.acked_seq, 4, "the refused records do not hold up record 4");
    let rejected: Vec<u64> = ack.rejected.iter().map(|rejection| rejection.seq).collect();
    assert_eq!(rejected, vec![2, 3]);
    let held: Vec<u64> =
        state.store.history("driver-4").unwrap().records.iter().map(|record| record.seq).collect();
    assert_eq!(held, vec![1, 4]);
    // Sent again (the ack was lost): the same refusals, nothing applied twice.
    let frame = ClientMessage::Records(RecordBatch::new(vec![out_of_range.clone()])).encode();
    client.send(Message::text(frame)).await.unwrap();
    let Some(Message::Text(text)) = next_frame(&mut client).await else { panic!("no answer") };
    let ServerMessage::Ack(ack) = ServerMessage::decode(&text).unwrap() else { panic!("not an ack") };
    assert_eq!(ack.rejected.iter().map(|rejection| rejection.seq).collect::<Vec<_>>(), vec![3]);
    // And a new connection's welcome repeats them, for a device that missed both acks.
    drop(client);
    let mut client = connect(address).await;
    client.send(Message::text(hello("driver-4", Some(support::token_of("driver-4"))))).await.unwrap();
    let Some(Message::Text(text)) = next_frame(&mut client).await else { panic!("no welcome") };
    let ServerMessage::Welcome(welcome) = ServerMessage::decode(&text).unwrap() else {
        panic!("not a welcome")
    };
    let mut repeated: Vec<u64> = welcome.rejected.iter().map(|rejection| rejection.seq).collect();
    repeated.sort_unstable();
    assert_eq!(repeated, vec![2, 3]);
}

/// Limits for the hostile-load tests: short deadlines so the tests are quick.
fn hostile_limits() -> Limits {
    Limits {
        hello_timeout: Duration::from_millis(1_000),
        max_unsigned_per_address: 3,
        http_header_timeout: Duration::from_millis(1_000),
        http_body_timeout: Duration::from_millis(1_000),
        frames_per_second: 20.0,
        frame_burst: 40.0,
        ..Limits::default()
    }
}

#[tokio::test]
async fn regression_a_socket_that_never_says_hello_is_closed_at_the_deadline_whatever_it_sends() {
    let state = support::test_state().with_limits(hostile_limits());
    let address = start_server(state.clone()).await;
    let good = WellBehavedDriver::start(address).await;
    // Silent, and pinging every 200 ms (control frames used to reset the idle timer).
    let mut silent = connect(address).await;
    let mut pinging = connect(address).await;
    let started = std::time::Instant::now();
    let pinger = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    if pinging.send(Message::Ping(vec![1, 2].into())).await.is_err() {
                        return None;
                    }
                }
                frame = pinging.next() => match frame {
                    Some(Ok(Message::Close(close))) => return close.map(|close| u16::from(close.code)),
                    None | Some(Err(_)) => return None,
                    _ => {}
                },
            }
        }
    });
    assert_eq!(refusal(&mut silent).await, (ErrorCode::IdleTimeout, Some(4408)));
    assert_eq!(pinger.await.unwrap(), Some(4408), "pings do not keep a signed-out socket open");
    assert!(started.elapsed() < Duration::from_secs(5), "closed at the hello deadline, not the idle timeout");
    good.still_served().await;
    let acks = good.finish().await;
    assert!(acks >= 4, "the good driver was acknowledged {acks} times");
}

#[tokio::test]
async fn anything_but_hello_before_welcome_closes_the_socket() {
    let state = support::test_state().with_limits(hostile_limits());
    let address = start_server(state.clone()).await;
    let good = WellBehavedDriver::start(address).await;
    let records = ClientMessage::Records(RecordBatch::new(vec![status_record(1)])).encode();
    let ping = ClientMessage::Ping(Ping { nonce: 1 }).encode();
    for frame in [
        Message::text("garbage"),
        Message::text("{}"),
        Message::text(records),
        Message::text(ping),
        Message::Binary(vec![0, 1, 2].into()),
    ] {
        let mut client = connect(address).await;
        client.send(frame.clone()).await.unwrap();
        assert_eq!(refusal(&mut client).await, (ErrorCode::HelloRequired, Some(4400)), "{frame:?}");
        good.still_served().await;
    }
    good.finish().await;
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections_that_have_not_signed_in() {
    let state = support::test_state()
        .with_limits(Limits { hello_timeout: Duration::from_secs(30), ..hostile_limits() });
    let address = start_server(state.clone()).await;
    // Signed-in connections do not count: the good driver and two more sign in first.
    let good = WellBehavedDriver::start(address).await;
    let _others = [signed_in(address, "driver-2").await, signed_in(address, "driver-3").await];
    let mut lurkers = Vec::new();
    for _ in 0..3 {
        lurkers.push(connect(address).await);
    }
    let mut over = connect(address).await;
    assert_eq!(refusal(&mut over).await, (ErrorCode::RateLimited, Some(4429)));
    good.still_served().await;
    // One lurker signs in: its place is free again.
    let mut lurker = lurkers.pop().unwrap();
    lurker.send(Message::text(hello("driver-4", Some(support::token_of("driver-4"))))).await.unwrap();
    assert!(matches!(next_frame(&mut lurker).await, Some(Message::Text(_))));
    let mut next = connect(address).await;
    next.send(Message::text(hello("driver-5", Some(support::token_of("driver-5"))))).await.unwrap();
    match next_frame(&mut next).await {
        Some(Message::Text(text)) => {
            assert!(matches!(ServerMessage::decode(&text), Ok(ServerMessage::Welcome(_))), "{text}")
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
    good.finish().await;
}

/// Opens a TCP connection and sends `start`, then one byte of `trickle` every 200 ms; returns
/// how long the server took to close it (None: still open after 6 s).
async fn trickle(
    address: std::net::SocketAddr,
    start: &'static str,
    trickle: &'static str,
) -> Option<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = std::time::Instant::now();
    stream.write_all(start.as_bytes()).await.unwrap();
    let mut bytes = trickle.bytes().cycle();
    let mut buffer = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(6) {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
            // Closed (0), reset (error), or an answer (a 408) followed by a close.
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => {
                if stream.write_all(&[bytes.next().unwrap()]).await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn regression_http_clients_that_trickle_headers_or_bodies_are_cut_off() {
    let state = support::test_state().with_limits(hostile_limits());
    let address = start_server(state.clone()).await;
    let good = WellBehavedDriver::start(address).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(tokio::spawn(trickle(address, "GET /health HTTP/1.1\r\n", "X-Slow: aaaaaaaaaa\r\n")));
    }
    for _ in 0..20 {
        slow.push(tokio::spawn(trickle(
            address,
            "POST /sync/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
            "          ",
        )));
    }
    for (index, handle) in slow.into_iter().enumerate() {
        let closed_after = handle.await.unwrap();
        let kind = if index < 50 { "headers" } else { "a body" };
        assert!(closed_after.is_some(), "a client trickling {kind} was still connected after 6 s");
    }
    good.still_served().await;
    good.finish().await;
}

/// Reads until the close frame; the error code of the last `error` frame and the close code.
/// Unlike [`refusal`], tolerates the server's answers to frames sent before it refused.
async fn refusal_after_flood(client: &mut Client) -> (Option<ErrorCode>, Option<u16>) {
    let mut code = None;
    while let Some(frame) = next_frame(client).await {
        match frame {
            Message::Text(text) => {
                if let Ok(ServerMessage::Error(error)) = ServerMessage::decode(&text) {
                    code = Some(error.code);
                }
            }
            Message::Close(close) => return (code, close.map(|close| u16::from(close.code))),
            _ => {}
        }
    }
    (code, None)
}

#[tokio::test]
async fn regression_the_refusal_reaches_the_client_under_a_ping_flood_and_after_an_oversized_frame() {
    let state = support::test_state().with_limits(hostile_limits());
    let address = start_server(state.clone()).await;
    let good = WellBehavedDriver::start(address).await;
    for round in 0..8 {
        // A flood of WebSocket pings, sent without reading.
        let mut client = signed_in(address, "driver-7").await;
        for _ in 0..2_000 {
            if client.feed(Message::Ping(vec![7; 16].into())).await.is_err() {
                break;
            }
        }
        let _ = client.flush().await;
        assert_eq!(
            refusal_after_flood(&mut client).await,
            (Some(ErrorCode::RateLimited), Some(4429)),
            "ping flood, round {round}"
        );
        // A message over 1 MiB, then pings.
        let mut client = signed_in(address, "driver-6").await;
        let _ = client.feed(Message::text("x".repeat(MAX_FRAME_BYTES + 1))).await;
        for _ in 0..20 {
            let _ = client.feed(Message::Ping(vec![6; 16].into())).await;
        }
        let _ = client.flush().await;
        assert_eq!(
            refusal_after_flood(&mut client).await,
            (Some(ErrorCode::TooLarge), Some(1009)),
            "oversized frame, round {round}"
        );
        good.still_served().await;
    }
    good.finish().await;
}

#[tokio::test]
async fn records_parked_behind_a_missing_one_are_capped_and_the_rest_come_again_later() {
    let store =
        enroute_mock_server::store::SqliteStore::open_with_max_parked(std::path::Path::new(":memory:"), 10)
            .unwrap();
    let state = enroute_mock_server::AppState::new(store);
    support::register_test_drivers(&state);
    let address = start_server(state.clone()).await;
    let mut client = signed_in(address, "driver-4").await;
    let send = |seqs: std::ops::RangeInclusive<u64>| {
        Message::text(ClientMessage::Records(RecordBatch::new(seqs.map(status_record).collect())).encode())
    };
    // Record 1 is missing: 2–30 would all wait for it; only 10 are kept.
    client.send(send(2..=30)).await.unwrap();
    assert_eq!(expect_ack(&mut client).await, 0);
    assert_eq!(state.store.driver("driver-4").unwrap().unwrap().waiting, 10);
    client.send(send(1..=1)).await.unwrap();
    assert_eq!(expect_ack(&mut client).await, 11, "the parked 2–11 are applied behind 1");
    // The device still held 12–30 (never acknowledged) and sends them again.
    client.send(send(12..=30)).await.unwrap();
    assert_eq!(expect_ack(&mut client).await, 30);
    let held: Vec<u64> =
        state.store.history("driver-4").unwrap().records.iter().map(|record| record.seq).collect();
    assert_eq!(held, (1..=30).collect::<Vec<_>>(), "nothing lost, nothing twice");
    assert!(state.metrics.render().contains("enroute_records_parked_refused_total 19"));
}

async fn expect_ack(client: &mut Client) -> u64 {
    match next_frame(client).await {
        Some(Message::Text(text)) => match ServerMessage::decode(&text).unwrap() {
            ServerMessage::Ack(ack) => ack.acked_seq,
            other => panic!("expected an ack, got {other:?}"),
        },
        other => panic!("expected an ack, got {other:?}"),
    }
}

#[tokio::test]
async fn regression_the_server_holds_records_to_what_docs_protocol_md_says() {
    // Each was accepted (or refused) against the documents: a `fail` and a `tracking_paused`
    // without their reason were applied, and a gap naming numbers above its own was refused,
    // which left its good ranges unsettled.
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = signed_in(address, "driver-5").await;
    let mut zero = status_record(1);
    zero.seq = 0;
    let paused_without_reason = Record {
        kind: RecordKind::Status { status: DriverStatus::TrackingPaused, reason: None },
        ..status_record(1)
    };
    let fail_without_reason = Record {
        kind: RecordKind::Assignment {
            assignment_id: "job-1".into(),
            action: DriverAction::Fail,
            reason: Some("  ".into()),
        },
        ..status_record(2)
    };
    let gap = Record {
        kind: RecordKind::Gap {
            reason: GapReason::Evicted,
            lost: vec![SeqRange::new(3, 5), SeqRange::new(6, 9), SeqRange::new(7, 6)],
        },
        ..status_record(6)
    };
    let frame = ClientMessage::Records(RecordBatch::new(vec![
        zero,
        paused_without_reason,
        fail_without_reason,
        gap,
        status_record(7),
    ]))
    .encode();
    client.send(Message::text(frame)).await.unwrap();
    let Some(Message::Text(text)) = next_frame(&mut client).await else { panic!("no answer") };
    let ServerMessage::Ack(ack) = ServerMessage::decode(&text).unwrap() else { panic!("not an ack: {text}") };
    let rejected: Vec<(u64, String)> =
        ack.rejected.iter().map(|rejection| (rejection.seq, rejection.reason.clone())).collect();
    assert_eq!(
        rejected,
        vec![
            (0, "sequence numbers start at 1".to_string()),
            (1, "a tracking_paused status needs a reason".to_string()),
            (2, "a fail action needs a reason".to_string()),
        ],
        "seq 0 is named as refused, and so are the records without their reason"
    );
    assert_eq!(ack.acked_seq, 7, "the gap's range 3–5 settled; 6–9 and the empty 7–6 were ignored");
    let held: Vec<u64> =
        state.store.history("driver-5").unwrap().records.iter().map(|record| record.seq).collect();
    assert_eq!(held, vec![6, 7]);
}

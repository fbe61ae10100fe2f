//! The dispatcher feed (`/dispatch/ws`) over real sockets: snapshot, order, resume, pacing of
//! positions, subscriptions and the dispatcher token.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use enroute_mock_server::assignment_store::NewAssignment;
use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use support::{Client, connect, start_server, token_of};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "test-dispatcher-token";

async fn console(address: std::net::SocketAddr, subscribe: Subscribe) -> Client {
    let url = format!("ws://{address}/dispatch/ws?token={TOKEN}");
    let mut client = tokio_tungstenite::connect_async(url).await.unwrap().0;
    client.send(Message::text(ConsoleMessage::Subscribe(subscribe).encode())).await.unwrap();
    client
}

fn everything() -> Subscribe {
    Subscribe { drivers: None, resume: None }
}

/// The next feed frame, within 5 s.
async fn next(client: &mut Client) -> FeedMessage {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return FeedMessage::decode(&text).unwrap(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected a feed frame, got {other:?}"),
        }
    }
}

async fn snapshot(client: &mut Client) -> FeedSnapshot {
    match next(client).await {
        FeedMessage::Snapshot(snapshot) => snapshot,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

/// Deltas until `done` says so (or 5 s pass without one), whether they came one or several to a
/// frame.
async fn deltas_until(client: &mut Client, done: impl Fn(&[FeedDelta]) -> bool) -> Vec<FeedDelta> {
    let mut deltas = Vec::new();
    while !done(&deltas) {
        match next(client).await {
            FeedMessage::Delta(delta) => deltas.push(delta),
            FeedMessage::Deltas(several) => {
                assert!(several.deltas.len() >= 2, "a deltas frame carries several: {several:?}");
                deltas.extend(several.deltas);
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }
    deltas
}

async fn driver(address: std::net::SocketAddr, driver_id: &str) -> Client {
    let mut client = connect(address).await;
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: driver_id.into(),
        token: Some(token_of(driver_id)),
        app_version: "feed-test".into(),
        last_event_id: 0,
    });
    client.send(Message::text(hello.encode())).await.unwrap();
    loop {
        let Some(Ok(Message::Text(text))) = client.next().await else { panic!("no welcome") };
        if let Ok(ServerMessage::Welcome(_)) = ServerMessage::decode(&text) {
            return client;
        }
    }
}

/// Sends records and waits for the ack that covers them (events pushed meanwhile are skipped).
async fn send_records(client: &mut Client, records: Vec<Record>) {
    let last = records.iter().map(|record| record.seq).max().unwrap();
    client.send(Message::text(ClientMessage::Records(RecordBatch::new(records)).encode())).await.unwrap();
    loop {
        let Some(Ok(Message::Text(text))) = client.next().await else { panic!("no ack") };
        if let Ok(ServerMessage::Ack(ack)) = ServerMessage::decode(&text) {
            assert_eq!(ack.acked_seq, last, "{ack:?}");
            return;
        }
    }
}

fn now_ms() -> i64 {
    enroute_mock_server::socket::unix_time_ms()
}

fn record(seq: u64, kind: RecordKind) -> Record {
    Record { seq, id: RecordId::from_random_bits(u128::from(seq) << 7 | 3), created_at_ms: now_ms(), kind }
}

fn location(seq: u64, lat: f64) -> Record {
    let fix = Fix {
        time_ms: now_ms() + seq as i64,
        lat,
        lon: 11.57,
        accuracy_m: 5.0,
        speed_mps: Some(8.0),
        heading_deg: Some(90.0),
        altitude_m: None,
    };
    record(seq, RecordKind::Location { fix })
}

fn status(seq: u64, status: DriverStatus, reason: Option<PauseReason>) -> Record {
    record(seq, RecordKind::Status { status, reason })
}

fn new_job(id: &str, driver_id: &str) -> NewAssignment {
    let stop = |address: &str, lat: f64| Stop { address: address.into(), lat, lon: 11.57 };
    NewAssignment {
        id: Some(id.into()),
        driver_id: driver_id.into(),
        pickup: stop("Marienplatz 1", 48.137),
        dropoff: stop("Leopoldstraße 50", 48.16),
        window: TimeWindow { from_ms: now_ms(), to_ms: now_ms() + 3_600_000 },
        notes: String::new(),
        accept_by_ms: None,
    }
}

#[tokio::test]
async fn a_console_gets_a_snapshot_then_every_change_in_commit_order() {
    let state = support::test_state();
    state.store.create_assignment(new_job("job-1", "driver-1"), now_ms()).unwrap().unwrap();
    let address = start_server(state.clone()).await;
    let mut console = console(address, everything()).await;
    let first = snapshot(&mut console).await;
    assert_eq!(
        first.drivers.len(),
        support::TEST_DRIVERS.len(),
        "every registered driver, heard from or not"
    );
    assert!(first.drivers.iter().all(|driver| !driver.connected && driver.position.is_none()));
    assert_eq!(first.jobs.len(), 1);
    assert_eq!(first.jobs[0].history[0].status, AssignmentStatus::Offered);

    let mut phone = driver(address, "driver-1").await;
    send_records(
        &mut phone,
        vec![
            status(1, DriverStatus::OnDuty, None),
            location(2, 48.1),
            status(3, DriverStatus::TrackingPaused, Some(PauseReason::PageHidden)),
        ],
    )
    .await;
    let accept = record(
        4,
        RecordKind::Assignment { assignment_id: "job-1".into(), action: DriverAction::Accept, reason: None },
    );
    send_records(&mut phone, vec![accept]).await;
    let deltas = deltas_until(&mut console, |deltas| {
        deltas.iter().any(|delta| matches!(delta.change, FeedChange::Job { .. }))
    })
    .await;
    let numbers: Vec<u64> = deltas.iter().map(|delta| delta.feed_seq).collect();
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "numbered in order: {numbers:?}");
    assert!(numbers[0] > first.feed_seq);
    let changes: Vec<&FeedChange> = deltas.iter().map(|delta| &delta.change).collect();
    assert!(
        matches!(changes[0], FeedChange::Connected { driver_id } if driver_id == "driver-1"),
        "{changes:?}"
    );
    let statuses: Vec<(DriverStatus, Option<PauseReason>)> = changes
        .iter()
        .filter_map(|change| match change {
            FeedChange::Status { status, reason, .. } => Some((*status, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![(DriverStatus::OnDuty, None), (DriverStatus::TrackingPaused, Some(PauseReason::PageHidden))]
    );
    assert!(
        changes.iter().any(|change| matches!(change, FeedChange::Position { fix, .. } if fix.lat == 48.1))
    );
    let FeedChange::Job { assignment, latest, .. } = changes.last().unwrap() else { unreachable!() };
    assert_eq!(assignment.status, AssignmentStatus::Accepted);
    assert_eq!((latest.changed_by.as_str(), latest.record_seq), ("driver", Some(4)));

    // A new console's snapshot shows the same state.
    let mut late = console_for(address, everything()).await;
    let now = snapshot(&mut late).await;
    let driver_1 = now.drivers.iter().find(|driver| driver.driver_id == "driver-1").unwrap();
    assert!(driver_1.connected);
    assert_eq!(driver_1.duty, Some(DriverStatus::OnDuty));
    assert_eq!(driver_1.paused, Some(PauseReason::PageHidden));
    assert_eq!(driver_1.position.unwrap().lat, 48.1);
    assert_eq!(now.jobs[0].assignment.status, AssignmentStatus::Accepted);
    assert_eq!(now.jobs[0].history.len(), 2);

    drop(phone);
    let deltas = deltas_until(&mut console, |deltas| !deltas.is_empty()).await;
    assert!(matches!(&deltas[0].change, FeedChange::Disconnected { driver_id } if driver_id == "driver-1"));
}

/// Like [`console`]; a second name reads better where a test opens another.
async fn console_for(address: std::net::SocketAddr, subscribe: Subscribe) -> Client {
    console(address, subscribe).await
}

#[tokio::test]
async fn every_console_sees_a_dispatcher_action_and_a_message() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut first = console(address, everything()).await;
    let mut second = console(address, everything()).await;
    snapshot(&mut first).await;
    snapshot(&mut second).await;
    state.store.create_assignment(new_job("job-9", "driver-2"), now_ms()).unwrap().unwrap();
    state.store.send_message("driver-2", "Gate code 4711", now_ms()).unwrap();
    state.store.cancel_assignment("job-9", now_ms()).unwrap().unwrap();
    for console in [&mut first, &mut second] {
        let deltas = deltas_until(console, |deltas| deltas.len() == 3).await;
        let kinds: Vec<String> = deltas
            .iter()
            .map(|delta| match &delta.change {
                FeedChange::Job { assignment, .. } => format!("job {:?}", assignment.status),
                FeedChange::Message { text, .. } => format!("message {text}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec!["job Offered", "message Gate code 4711", "job Cancelled"]);
    }
}

/// Regression: a dispatcher action's delta carried the time the request was made, from before
/// the store's lock and the commit's fsync, while `at_ms` promises the commit; consoles'
/// latency (docs/benchmarks.md) then counted the commit itself.
#[tokio::test]
async fn a_dispatcher_actions_delta_is_stamped_when_it_committed_not_when_it_was_asked() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut console = console(address, everything()).await;
    snapshot(&mut console).await;
    let asked_ms = now_ms() - 60_000;
    let before_commit_ms = now_ms();
    state.store.create_assignment(new_job("job-3", "driver-4"), asked_ms).unwrap().unwrap();
    state.store.send_message("driver-4", "Ring twice", asked_ms).unwrap();
    let after_commit_ms = now_ms();
    let deltas = deltas_until(&mut console, |deltas| deltas.len() == 2).await;
    for delta in &deltas {
        assert!(
            (before_commit_ms..=after_commit_ms).contains(&delta.at_ms),
            "{delta:?} stamped outside {before_commit_ms}..={after_commit_ms}"
        );
    }
    // The job's own history keeps the time the dispatcher acted.
    match &deltas[0].change {
        FeedChange::Job { latest, .. } => assert_eq!(latest.at_ms, asked_ms),
        other => panic!("expected the job, got {other:?}"),
    }
}

#[tokio::test]
async fn a_console_that_comes_back_gets_what_it_missed_or_a_fresh_snapshot() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut console = console(address, everything()).await;
    let first = snapshot(&mut console).await;
    // Another console stays: once it has seen a change, the feed holds it (with several nodes
    // on PostgreSQL, a change reaches the feed a moment after its commit).
    let mut watcher = console_for(address, everything()).await;
    snapshot(&mut watcher).await;
    state.store.send_message("driver-3", "one", now_ms()).unwrap();
    let seen = deltas_until(&mut console, |deltas| deltas.len() == 1).await;
    drop(console);
    state.store.send_message("driver-3", "two", now_ms()).unwrap();
    state.store.send_message("driver-3", "three", now_ms()).unwrap();
    deltas_until(&mut watcher, |deltas| deltas.len() == 3).await;

    let resume = Some(FeedPosition { feed_id: first.feed_id.clone(), feed_seq: seen[0].feed_seq });
    let mut back = console_for(address, Subscribe { drivers: None, resume }).await;
    assert_eq!(
        next(&mut back).await,
        FeedMessage::Resumed(FeedPosition { feed_id: first.feed_id.clone(), feed_seq: seen[0].feed_seq })
    );
    // What it missed was ready at once: one frame.
    let missed = match next(&mut back).await {
        FeedMessage::Deltas(several) => several.deltas,
        other => panic!("expected the missed changes in one deltas frame, got {other:?}"),
    };
    let texts: Vec<&str> = missed
        .iter()
        .map(|delta| match &delta.change {
            FeedChange::Message { text, .. } => text.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, vec!["two", "three"]);

    // Another server's position (a restart): a snapshot, not a resume.
    let resume = Some(FeedPosition { feed_id: "other".into(), feed_seq: 2 });
    let mut restarted = console_for(address, Subscribe { drivers: None, resume }).await;
    assert_eq!(snapshot(&mut restarted).await.feed_id, first.feed_id);
}

#[tokio::test]
async fn positions_are_paced_per_driver_but_no_status_change_is_coalesced_away() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut console = console(address, everything()).await;
    snapshot(&mut console).await;
    let mut phone = driver(address, "driver-4").await;
    let mut seq = 0;
    for step in 0..20 {
        seq += 1;
        let batch = if step == 10 {
            vec![status(seq, DriverStatus::TrackingPaused, Some(PauseReason::Timeout))]
        } else {
            vec![location(seq, 48.0 + step as f64 / 100.0)]
        };
        send_records(&mut phone, batch).await;
    }
    // Everything was sent within well under a second; the newest position follows the pacing.
    let deltas = deltas_until(&mut console, |deltas| {
        deltas
            .iter()
            .any(|delta| matches!(&delta.change, FeedChange::Position { fix, .. } if fix.lat >= 48.19))
    })
    .await;
    let positions = deltas.iter().filter(|delta| matches!(delta.change, FeedChange::Position { .. })).count();
    let paused = deltas.iter().filter(|delta| matches!(delta.change, FeedChange::Status { .. })).count();
    assert_eq!(paused, 1, "the status change is never coalesced away");
    assert!(positions <= 3, "19 positions in well under 2 s arrive as {positions}");
}

#[tokio::test]
async fn a_console_that_follows_some_drivers_sees_only_theirs() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let subscribe = Subscribe { drivers: Some(vec!["driver-5".into()]), resume: None };
    let mut room = console(address, subscribe).await;
    let first = snapshot(&mut room).await;
    assert_eq!(
        first.drivers.iter().map(|driver| driver.driver_id.as_str()).collect::<Vec<_>>(),
        vec!["driver-5"]
    );
    state.store.send_message("driver-6", "not for this room", now_ms()).unwrap();
    state.store.send_message("driver-5", "for this room", now_ms()).unwrap();
    let deltas = deltas_until(&mut room, |deltas| !deltas.is_empty()).await;
    assert!(matches!(&deltas[0].change, FeedChange::Message { text, .. } if text == "for this room"));
}

#[tokio::test]
async fn the_feed_needs_the_dispatcher_token_and_a_subscribe_first() {
    let state = support::test_state().with_limits(enroute_mock_server::limits::Limits {
        hello_timeout: Duration::from_millis(500),
        ..Default::default()
    });
    let address = start_server(state.clone()).await;
    for url in [format!("ws://{address}/dispatch/ws"), format!("ws://{address}/dispatch/ws?token=wrong")] {
        let refused = tokio_tungstenite::connect_async(url).await.unwrap_err();
        assert!(refused.to_string().contains("401"), "{refused}");
    }
    let url = format!("ws://{address}/dispatch/ws?token={TOKEN}");
    let mut pinging = tokio_tungstenite::connect_async(&url).await.unwrap().0;
    pinging.send(Message::text(ConsoleMessage::Ping(Ping { nonce: 1 }).encode())).await.unwrap();
    assert!(
        matches!(next(&mut pinging).await, FeedMessage::Error(error) if error.code == ErrorCode::HelloRequired)
    );
    let mut silent = tokio_tungstenite::connect_async(&url).await.unwrap().0;
    assert!(
        matches!(next(&mut silent).await, FeedMessage::Error(error) if error.code == ErrorCode::IdleTimeout)
    );
}

//! Two server processes ("nodes") on one PostgreSQL database, as `PgStore`s of their own on the
//! same schema: what the database itself must guarantee when both take one driver's records,
//! create one driver's events, or expire the same offers at once. Run by `scripts/test` with
//! `ENROUTE_TEST_POSTGRES_URL` (a throwaway cluster); with SQLite, one node is all there is and
//! these tests say so and return.

mod support;

use enroute_mock_server::assignment_store::NewAssignment;
use enroute_mock_server::postgres_store::PgStore;
use enroute_mock_server::store::Store;
use enroute_protocol::{DriverStatus, Record, RecordId, RecordKind, Stop, TimeWindow};
use std::sync::Arc;

/// The test cluster's URL, or `None` (and a line saying so) without PostgreSQL.
fn cluster() -> Option<String> {
    let found = std::env::var("ENROUTE_TEST_POSTGRES_URL").ok();
    if found.is_none() {
        eprintln!("two nodes need PostgreSQL (ENROUTE_TEST_POSTGRES_URL): skipped on SQLite");
    }
    found
}

/// Two stores on one fresh schema, or `None` without PostgreSQL.
fn two_nodes() -> Option<(Arc<PgStore>, Arc<PgStore>)> {
    let url = support::fresh_postgres_schema(&cluster()?);
    Some((Arc::new(PgStore::open(&url).unwrap()), Arc::new(PgStore::open(&url).unwrap())))
}

/// Two served nodes on one fresh schema, the test drivers registered, both linked with no sweep
/// but the one after connecting (so what reaches a node comes by notice): the cluster's URL,
/// node A's name, node B's state and both addresses.
struct ServedNodes {
    cluster: String,
    name_a: String,
    node_b: enroute_mock_server::AppState,
    address_a: std::net::SocketAddr,
    address_b: std::net::SocketAddr,
}

async fn two_served_nodes() -> Option<ServedNodes> {
    let cluster = cluster()?;
    let url = support::fresh_postgres_schema(&cluster);
    let node_a = enroute_mock_server::AppState::new(PgStore::open(&url).unwrap());
    let node_b = enroute_mock_server::AppState::new(PgStore::open(&url).unwrap());
    support::register_test_drivers(&node_a);
    let name_a = listening(&url, &node_a, std::time::Duration::from_secs(3600)).await;
    listening(&url, &node_b, std::time::Duration::from_secs(3600)).await;
    let address_a = support::start_server(node_a.clone()).await;
    let address_b = support::start_server(node_b.clone()).await;
    Some(ServedNodes { cluster, name_a, node_b, address_a, address_b })
}

fn status_records(seqs: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    seqs.map(|seq| Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: 1_700_000_000_000,
        kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
    })
    .collect()
}

/// A phone that reconnects to the other node while its last batch is still being committed on
/// the first sends that batch to both: every record is applied once, in order, whichever node
/// commits first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_drivers_batches_sent_to_both_nodes_at_once_are_applied_once_in_order() {
    let Some((a, b)) = two_nodes() else { return };
    let mut highest_acked = 0;
    for first in (1..=300).step_by(10) {
        let batch = status_records(first..=first + 9);
        let (on_a, on_b) = tokio::join!(
            a.store_records("driver-1", batch.clone(), Vec::new(), 1),
            b.store_records("driver-1", batch, Vec::new(), 1)
        );
        let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
        assert_eq!(on_a.new_records + on_b.new_records, 10, "each record stored by exactly one node");
        assert_eq!(on_a.acked_seq.max(on_b.acked_seq), first + 9);
        highest_acked = highest_acked.max(on_a.acked_seq.max(on_b.acked_seq));
    }
    let history = a.history("driver-1").unwrap();
    assert_eq!(history.acked_seq, 300);
    assert_eq!(highest_acked, 300);
    assert_eq!(
        history.records.iter().map(|record| record.seq).collect::<Vec<_>>(),
        (1..=300).collect::<Vec<_>>()
    );
    assert_eq!(b.acked_seq("driver-1").unwrap(), 300);
}

/// Messages from two dispatchers on two nodes to one driver, at once: event ids 1, 2, 3… with
/// no id twice and none skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_made_on_two_nodes_for_one_driver_get_every_id_once() {
    let Some((a, b)) = two_nodes() else { return };
    let mut tasks = Vec::new();
    for index in 0..40 {
        let node = if index % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::task::spawn_blocking(move || {
            node.send_message("driver-2", &format!("message {index}"), 1)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap().event_id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=40).collect::<Vec<u64>>());
    let stored: Vec<u64> =
        b.events_after("driver-2", 0).unwrap().iter().map(|event| event.event_id).collect();
    assert_eq!(stored, (1..=40).collect::<Vec<u64>>());
}

/// Both nodes run the expiry pass every second: an offer past its deadline expires once, with
/// one event for its driver, not one per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offer_past_its_deadline_expires_once_however_many_nodes_expire() {
    let Some((a, b)) = two_nodes() else { return };
    for index in 0..20 {
        let stop = |lat: f64| Stop { address: "Marienplatz 1".into(), lat, lon: 11.57 };
        let job = NewAssignment {
            id: Some(format!("job-{index}")),
            driver_id: format!("driver-{}", index % 3),
            pickup: stop(48.137),
            dropoff: stop(48.16),
            window: TimeWindow { from_ms: 0, to_ms: 10_000 },
            notes: String::new(),
            accept_by_ms: Some(1_000),
        };
        a.create_assignment(job, 500).unwrap().unwrap();
    }
    let mut passes = Vec::new();
    for round in 0..6 {
        let node = if round % 2 == 0 { a.clone() } else { b.clone() };
        passes.push(tokio::task::spawn_blocking(move || node.expire_due(2_000)));
    }
    let mut expired = Vec::new();
    for pass in passes {
        expired.extend(pass.await.unwrap().unwrap());
    }
    assert_eq!(expired.len(), 20, "one expiry event per job");
    for driver in 0..3 {
        let events = a.events_after(&format!("driver-{driver}"), 0).unwrap();
        let offers = (0..20).filter(|index| index % 3 == driver).count();
        assert_eq!(events.len(), 2 * offers, "driver-{driver}: an offer and one expiry per job");
    }
}

/// Links node `state` to the others (`link_nodes`), looking without a hint every
/// `sweep_every`; returns once it listens, with the node's name.
async fn listening(
    url: &str,
    state: &enroute_mock_server::AppState,
    sweep_every: std::time::Duration,
) -> String {
    let (url, state) = (url.to_string(), state.clone());
    tokio::task::spawn_blocking(move || {
        enroute_mock_server::link_nodes(&state, &url, sweep_every).unwrap();
        state.store.node_name().unwrap()
    })
    .await
    .unwrap()
}

/// The next frame the server sends, within `seconds`.
async fn receive_within(client: &mut support::Client, seconds: u64) -> enroute_protocol::ServerMessage {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(seconds), client.next())
            .await
            .expect("a frame in time")
            .expect("connection still open")
            .unwrap();
        if let Message::Text(text) = frame {
            return enroute_protocol::ServerMessage::decode(&text).unwrap();
        }
    }
}

/// A driver connected to node A gets, at once, the message a dispatcher sent through node B:
/// node B's commit notifies, node A reads the event from the table and pushes it. Then node A's
/// listening connection is ended by the database (`pg_terminate_backend`): the next message
/// still arrives (a lost hint only delays, the node connects again and looks).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_sent_through_one_node_reaches_a_driver_connected_to_another() {
    use enroute_protocol::{EventPayload, ServerMessage};
    let Some(ServedNodes { cluster, name_a, node_b, address_a, .. }) = two_served_nodes().await else {
        return;
    };
    let mut phone = signed_in(address_a, "driver-4").await;

    let store_b = node_b.store.clone();
    let sent = tokio::task::spawn_blocking(move || store_b.send_message("driver-4", "Gate code 4711", 1))
        .await
        .unwrap()
        .unwrap();
    match receive_within(&mut phone, 20).await {
        ServerMessage::Event(event) => {
            assert_eq!(event.event_id, sent.event_id);
            assert!(matches!(event.payload, EventPayload::Message { ref text } if text == "Gate code 4711"));
        }
        other => panic!("expected the message, got {other:?}"),
    }

    // The database ends node A's listening connection; a message sent meanwhile still comes.
    let cluster_for_kill = cluster.clone();
    tokio::task::spawn_blocking(move || {
        let mut admin = postgres::Client::connect(&cluster_for_kill, postgres::NoTls).unwrap();
        let ended = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&format!("enroute-fanout {name_a}")],
            )
            .unwrap();
        assert!(!ended.is_empty(), "node A's listening connection was found");
    })
    .await
    .unwrap();
    let store_b = node_b.store.clone();
    let second =
        tokio::task::spawn_blocking(move || store_b.send_message("driver-4", "Use the back door", 2))
            .await
            .unwrap()
            .unwrap();
    match receive_within(&mut phone, 20).await {
        ServerMessage::Event(event) => assert_eq!(event.event_id, second.event_id),
        other => panic!("expected the second message, got {other:?}"),
    }
}

/// Signs `driver_id` in on the server at `address`; the connection after its `welcome`.
async fn signed_in(address: std::net::SocketAddr, driver_id: &str) -> support::Client {
    use enroute_protocol::{ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage};
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut client = support::connect(address).await;
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: driver_id.into(),
        token: Some(support::token_of(driver_id)),
        app_version: "test".into(),
        last_event_id: 0,
    });
    client.send(Message::text(hello.encode())).await.unwrap();
    assert!(matches!(receive_within(&mut client, 5).await, ServerMessage::Welcome(_)));
    client
}

/// One connection per driver across the nodes: a sign-in on node B ends the driver's older
/// connection on node A (`replaced`), and a token revoked through node B's API ends the
/// driver's connection on node A (`token_revoked`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_or_a_revocation_on_one_node_ends_the_drivers_connection_on_another() {
    use enroute_protocol::{ErrorCode, ServerMessage};
    let Some(ServedNodes { node_b, address_a, address_b, .. }) = two_served_nodes().await else { return };
    let mut on_a = signed_in(address_a, "driver-6").await;
    let _on_b = signed_in(address_b, "driver-6").await;
    match receive_within(&mut on_a, 20).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::Replaced),
        other => panic!("expected `replaced` on node A, got {other:?}"),
    }

    // A dispatcher revokes driver-7's token through node B's API; its connection is on node A.
    let mut revoked_on_a = signed_in(address_a, "driver-7").await;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/drivers/driver-7/revoke")
        .header(axum::http::header::AUTHORIZATION, "Bearer test-dispatcher-token")
        .body(axum::body::Body::empty())
        .unwrap();
    let app = enroute_mock_server::router(node_b.clone(), std::path::Path::new("no-such-dist"));
    let answer = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(answer.status(), axum::http::StatusCode::NO_CONTENT);
    match receive_within(&mut revoked_on_a, 20).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::TokenRevoked),
        other => panic!("expected `token_revoked` on node A, got {other:?}"),
    }
}

/// A console of the dispatcher feed on the server at `address`, subscribed to everything.
async fn console(address: std::net::SocketAddr) -> support::Client {
    use enroute_protocol::{ConsoleMessage, Subscribe};
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{address}/dispatch/ws?token=test-dispatcher-token");
    let mut client = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let subscribe = ConsoleMessage::Subscribe(Subscribe { drivers: None, resume: None });
    client.send(Message::text(subscribe.encode())).await.unwrap();
    client
}

/// The next feed frame, within 20 s.
async fn next_feed_frame(client: &mut support::Client) -> enroute_protocol::FeedMessage {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), client.next())
            .await
            .expect("a feed frame in time")
            .expect("connection still open")
            .unwrap();
        if let Message::Text(text) = frame {
            return enroute_protocol::FeedMessage::decode(&text).unwrap();
        }
    }
}

/// Changes from the console until one matches `wanted`; returns them all.
async fn changes_until(
    client: &mut support::Client,
    wanted: impl Fn(&enroute_protocol::FeedChange) -> bool,
) -> Vec<enroute_protocol::FeedChange> {
    use enroute_protocol::FeedMessage;
    let mut seen = Vec::new();
    loop {
        let deltas = match next_feed_frame(client).await {
            FeedMessage::Delta(delta) => vec![delta],
            FeedMessage::Deltas(several) => several.deltas,
            FeedMessage::Pong(_) => continue,
            other => panic!("expected deltas, got {other:?}"),
        };
        for delta in deltas {
            let found = wanted(&delta.change);
            seen.push(delta.change);
            if found {
                return seen;
            }
        }
    }
}

/// A console on node A sees, as it happens, what happens on node B: a driver connecting there
/// (and a snapshot on node A says it is connected), its duty and position, a job offered
/// through node B, the driver accepting it, and the driver going offline. Job changes arrive in
/// the order they committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_console_on_one_node_sees_what_happens_on_another() {
    use enroute_protocol::{
        AssignmentStatus as JobStatus, ClientMessage, DriverAction, FeedChange, FeedMessage, RecordBatch,
        ServerMessage,
    };
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let Some(ServedNodes { node_b, address_a, address_b, .. }) = two_served_nodes().await else { return };
    let mut on_a = console(address_a).await;
    let FeedMessage::Snapshot(before) = next_feed_frame(&mut on_a).await else { panic!("a snapshot first") };
    assert!(before.drivers.iter().all(|driver| !driver.connected));

    let mut phone = signed_in(address_b, "driver-3").await;
    changes_until(
        &mut on_a,
        |change| matches!(change, FeedChange::Connected { driver_id } if driver_id == "driver-3"),
    )
    .await;
    let mut second_on_a = console(address_a).await;
    let FeedMessage::Snapshot(after) = next_feed_frame(&mut second_on_a).await else { panic!("a snapshot") };
    assert!(after.drivers.iter().any(|driver| driver.driver_id == "driver-3" && driver.connected));

    let now_ms = enroute_mock_server::socket::unix_time_ms();
    let fix = enroute_protocol::Fix {
        time_ms: now_ms,
        lat: 48.14,
        lon: 11.58,
        accuracy_m: 5.0,
        speed_mps: Some(8.0),
        heading_deg: Some(90.0),
        altitude_m: None,
    };
    let records = vec![
        Record {
            seq: 1,
            id: RecordId::from_random_bits(11),
            created_at_ms: now_ms,
            kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
        },
        Record {
            seq: 2,
            id: RecordId::from_random_bits(12),
            created_at_ms: now_ms,
            kind: RecordKind::Location { fix },
        },
    ];
    phone.send(Message::text(ClientMessage::Records(RecordBatch::new(records)).encode())).await.unwrap();
    let seen = changes_until(
        &mut on_a,
        |change| matches!(change, FeedChange::Position { driver_id, .. } if driver_id == "driver-3"),
    )
    .await;
    // The status may come before or after the position (they travel apart), never lost.
    if !seen.iter().any(|change| matches!(change, FeedChange::Status { status: DriverStatus::OnDuty, .. })) {
        changes_until(&mut on_a, |change| {
            matches!(change, FeedChange::Status { status: DriverStatus::OnDuty, .. })
        })
        .await;
    }

    let store_b = node_b.store.clone();
    let job = NewAssignment {
        id: Some("job-across".into()),
        driver_id: "driver-3".into(),
        pickup: Stop { address: "Marienplatz 1".into(), lat: 48.137, lon: 11.57 },
        dropoff: Stop { address: "Leopoldstraße 50".into(), lat: 48.16, lon: 11.58 },
        window: TimeWindow { from_ms: now_ms, to_ms: now_ms + 3_600_000 },
        notes: String::new(),
        accept_by_ms: None,
    };
    tokio::task::spawn_blocking(move || store_b.create_assignment(job, now_ms).unwrap().unwrap())
        .await
        .unwrap();
    changes_until(
        &mut on_a,
        |change| matches!(change, FeedChange::Job { latest, .. } if latest.status == JobStatus::Offered),
    )
    .await;
    let accept = Record {
        seq: 3,
        id: RecordId::from_random_bits(13),
        created_at_ms: now_ms,
        kind: RecordKind::Assignment {
            assignment_id: "job-across".into(),
            action: DriverAction::Accept,
            reason: None,
        },
    };
    phone.send(Message::text(ClientMessage::Records(RecordBatch::new(vec![accept])).encode())).await.unwrap();
    loop {
        if let ServerMessage::Ack(ack) = receive_within(&mut phone, 20).await
            && ack.acked_seq == 3
        {
            break;
        }
    }
    let seen = changes_until(
        &mut on_a,
        |change| matches!(change, FeedChange::Job { latest, .. } if latest.status == JobStatus::Accepted),
    )
    .await;
    assert!(!seen.iter().any(
        |change| matches!(change, FeedChange::Job { latest, .. } if latest.status == JobStatus::Offered)
    ));

    drop(phone);
    changes_until(
        &mut on_a,
        |change| matches!(change, FeedChange::Disconnected { driver_id } if driver_id == "driver-3"),
    )
    .await;
}

/// Both nodes are given the same scenario: each scripted job is offered once, by the node that
/// claimed the scenario, not once per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scenario_given_to_two_nodes_offers_each_job_once() {
    let Some((node_a, node_b)) = two_linked_nodes().await else { return };
    let scenario = three_jobs_after([0.0, 0.3, 0.6]);
    tokio::spawn(enroute_mock_server::scenario::play(scenario.clone(), node_a.clone()));
    tokio::spawn(enroute_mock_server::scenario::play(scenario, node_b.clone()));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        drivers_with_jobs(&node_a).await,
        vec!["driver-1", "driver-2", "driver-3"],
        "each scripted job once"
    );
}

/// The node playing a scenario dies in the middle of it: another node that was given the same
/// scenario goes on with the run, offering the jobs still to come and none of those already
/// offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scenario_goes_on_on_another_node_when_its_player_dies() {
    let Some((node_a, node_b)) = two_linked_nodes().await else { return };
    let scenario = three_jobs_after([0.0, 0.5, 20.0]);
    let player = tokio::spawn(enroute_mock_server::scenario::play(scenario.clone(), node_a.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let follower = tokio::spawn(enroute_mock_server::scenario::play(scenario, node_b.clone()));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // Node A dies: its scenario stops, and so does its listening thread (it says it is alive).
    player.abort();
    let _ = player.await;
    drop(node_a);
    // Node A is taken for gone 10 s after its last word; node B looks every 5 s; the last job is
    // due 20 s after the run began.
    tokio::time::sleep(std::time::Duration::from_secs(21)).await;
    assert_eq!(
        drivers_with_jobs(&node_b).await,
        vec!["driver-1", "driver-2", "driver-3"],
        "each scripted job once, the last by node B"
    );
    follower.abort();
}

/// Two nodes on one fresh schema, both linked as the server links itself, the test drivers
/// registered; `None` without PostgreSQL.
async fn two_linked_nodes() -> Option<(enroute_mock_server::AppState, enroute_mock_server::AppState)> {
    let url = support::fresh_postgres_schema(&cluster()?);
    let node_a = enroute_mock_server::AppState::new(PgStore::open(&url).unwrap());
    let node_b = enroute_mock_server::AppState::new(PgStore::open(&url).unwrap());
    support::register_test_drivers(&node_a);
    listening(&url, &node_a, enroute_mock_server::postgres_fanout::SWEEP_EVERY).await;
    listening(&url, &node_b, enroute_mock_server::postgres_fanout::SWEEP_EVERY).await;
    Some((node_a, node_b))
}

/// A scenario of three jobs, for driver-1, driver-2 and driver-3, `after_s` seconds in.
fn three_jobs_after(after_s: [f64; 3]) -> enroute_mock_server::scenario::Scenario {
    let stop = |address: &str, lat: f64| Stop { address: address.into(), lat, lon: 11.5 };
    enroute_mock_server::scenario::Scenario {
        jobs: after_s
            .iter()
            .enumerate()
            .map(|(index, after_s)| enroute_mock_server::scenario::ScriptedJob {
                after_s: *after_s,
                id: None,
                driver_id: format!("driver-{}", index + 1),
                pickup: stop("A", 48.1),
                dropoff: stop("B", 48.2),
                window_minutes: 60.0,
                accept_within_s: None,
                notes: String::new(),
            })
            .collect(),
    }
}

/// The drivers that have jobs, one entry per job, sorted.
async fn drivers_with_jobs(node: &enroute_mock_server::AppState) -> Vec<String> {
    let store = node.store.clone();
    let jobs = tokio::task::spawn_blocking(move || store.assignments(None).unwrap()).await.unwrap();
    let mut drivers: Vec<String> = jobs.iter().map(|job| job.driver_id.clone()).collect();
    drivers.sort();
    drivers
}

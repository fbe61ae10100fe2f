//! Jobs end to end on the server: offered through the API, stored before they are pushed,
//! replayed after a reconnect, moved on by the driver's records, refused when the server knows
//! better, cancelled, expired.

#![cfg(not(target_arch = "wasm32"))]

mod support;

use enroute_mock_server::AppState;
use enroute_protocol::*;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use support::Client;
const TOKEN: &str = "test-dispatcher-token";

async fn start_server() -> (std::net::SocketAddr, AppState) {
    let state = support::test_state();
    (support::start_server(state.clone()).await, state)
}

/// A minimal HTTP/1.1 client: the dependency budget of a test does not need more.
async fn http(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

fn new_job(id: &str, driver_id: &str, accept_by_ms: Option<i64>) -> String {
    serde_json::json!({
        "id": id,
        "driver_id": driver_id,
        "pickup": {"address": "Marienplatz 1", "lat": 48.1374, "lon": 11.5755},
        "dropoff": {"address": "Leopoldstraße 50", "lat": 48.16, "lon": 11.5863},
        "window": {"from_ms": 1_763_773_200_000i64, "to_ms": 1_763_776_800_000i64},
        "notes": "<script>alert(1)</script>",
        "accept_by_ms": accept_by_ms,
    })
    .to_string()
}

async fn connect(address: std::net::SocketAddr, driver_id: &str, last_event_id: u64) -> (Client, Welcome) {
    let mut client = support::connect(address).await;
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: driver_id.into(),
        token: Some(support::token_of(driver_id)),
        app_version: "test".into(),
        last_event_id,
    });
    client.send(Message::text(hello.encode())).await.unwrap();
    match receive(&mut client).await {
        ServerMessage::Welcome(welcome) => (client, welcome),
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn receive(client: &mut Client) -> ServerMessage {
    ServerMessage::decode(&support::next_text(client).await).unwrap()
}

async fn receive_event(client: &mut Client) -> Event {
    match receive(client).await {
        ServerMessage::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn act(client: &mut Client, seq: u64, assignment_id: &str, action: DriverAction) -> u64 {
    let record = Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: 1_763_770_000_000,
        kind: RecordKind::Assignment { assignment_id: assignment_id.into(), action, reason: None },
    };
    client
        .send(Message::text(
            ClientMessage::Records(RecordBatch {
                unreadable: Vec::new(),
                live: false,
                records: vec![record],
            })
            .encode(),
        ))
        .await
        .unwrap();
    match receive(client).await {
        ServerMessage::Ack(ack) => ack.acked_seq,
        other => panic!("expected ack, got {other:?}"),
    }
}

fn status_of(state: &AppState, id: &str) -> AssignmentStatus {
    state
        .store
        .assignments(None)
        .unwrap()
        .into_iter()
        .find(|record| record.assignment.id == id)
        .unwrap()
        .assignment
        .status
}

#[tokio::test]
async fn an_offer_is_pushed_to_the_connected_driver() {
    let (address, _) = start_server().await;
    let (mut client, _) = connect(address, "driver-1", 0).await;
    let (status, body) =
        http(address, "POST", "/api/assignments", &new_job("job-1", "driver-1", None), Some(TOKEN)).await;
    assert_eq!(status, 201, "{body}");
    let event = receive_event(&mut client).await;
    assert_eq!(event.event_id, 1);
    match event.payload {
        EventPayload::Assignment { assignment, notice: None, refused_seq: None } => {
            assert_eq!(assignment.id, "job-1");
            assert_eq!(assignment.status, AssignmentStatus::Offered);
            assert_eq!(assignment.notes, "<script>alert(1)</script>", "stored as text, untouched");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn events_are_stored_before_they_are_pushed_and_replayed_after_the_last_one_the_device_has() {
    let (address, _) = start_server().await;
    // The driver is offline: nothing to push to, but the events are kept.
    for id in ["job-a", "job-b", "job-c"] {
        assert_eq!(
            http(address, "POST", "/api/assignments", &new_job(id, "driver-2", None), Some(TOKEN)).await.0,
            201
        );
    }
    let (mut client, _) = connect(address, "driver-2", 0).await;
    let replayed: Vec<u64> = vec![
        receive_event(&mut client).await.event_id,
        receive_event(&mut client).await.event_id,
        receive_event(&mut client).await.event_id,
    ];
    assert_eq!(replayed, vec![1, 2, 3]);
    drop(client);
    // A device that already has event 2 gets only event 3, however old it is.
    let (mut client, _) = connect(address, "driver-2", 2).await;
    assert_eq!(receive_event(&mut client).await.event_id, 3);
    client.send(Message::text(ClientMessage::Ping(Ping { nonce: 1 }).encode())).await.unwrap();
    assert_eq!(
        receive(&mut client).await,
        ServerMessage::Pong(Pong { nonce: 1 }),
        "nothing else was replayed"
    );
}

#[tokio::test]
async fn the_drivers_actions_move_the_job_on() {
    let (address, state) = start_server().await;
    http(address, "POST", "/api/assignments", &new_job("job-2", "driver-3", None), Some(TOKEN)).await;
    let (mut client, _) = connect(address, "driver-3", 1).await;
    let mut seq = 0;
    for action in [
        DriverAction::Accept,
        DriverAction::StartRoute,
        DriverAction::ArriveAtPickup,
        DriverAction::PickUp,
        DriverAction::ArriveAtDropoff,
        DriverAction::Deliver,
    ] {
        seq += 1;
        assert_eq!(act(&mut client, seq, "job-2", action).await, seq);
    }
    assert_eq!(status_of(&state, "job-2"), AssignmentStatus::Delivered);
    let history = state.store.assignments(Some("driver-3")).unwrap().remove(0).history;
    assert_eq!(history.len(), 7, "offered plus six changes");
    assert_eq!(history[6].record_seq, Some(6));
}

#[tokio::test]
async fn an_action_the_server_cannot_accept_is_refused_with_a_notice_and_the_server_wins() {
    let (address, state) = start_server().await;
    http(address, "POST", "/api/assignments", &new_job("job-3", "driver-4", None), Some(TOKEN)).await;
    let (status, _) = http(address, "POST", "/api/assignments/job-3/cancel", "", Some(TOKEN)).await;
    assert_eq!(status, 200);
    // The driver accepted offline, before hearing of the cancellation.
    let (mut client, _) = connect(address, "driver-4", 1).await;
    let cancelled = receive_event(&mut client).await;
    assert_eq!(cancelled.event_id, 2);
    assert_eq!(
        act(&mut client, 1, "job-3", DriverAction::Accept).await,
        1,
        "the record is stored and acknowledged"
    );
    let refusal = receive_event(&mut client).await;
    match refusal.payload {
        EventPayload::Assignment { assignment, notice: Some(notice), refused_seq: Some(1) } => {
            assert_eq!(assignment.status, AssignmentStatus::Cancelled);
            assert!(notice.contains("cancelled"), "{notice}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status_of(&state, "job-3"), AssignmentStatus::Cancelled);
}

#[tokio::test]
async fn cancelling_a_finished_job_is_refused_clearly() {
    let (address, _) = start_server().await;
    http(address, "POST", "/api/assignments", &new_job("job-4", "driver-5", None), Some(TOKEN)).await;
    http(address, "POST", "/api/assignments/job-4/cancel", "", Some(TOKEN)).await;
    let (status, body) = http(address, "POST", "/api/assignments/job-4/cancel", "", Some(TOKEN)).await;
    assert_eq!(status, 409);
    assert!(body.contains("cannot cancel a job that is cancelled"), "{body}");
    assert_eq!(http(address, "POST", "/api/assignments/nope/cancel", "", Some(TOKEN)).await.0, 404);
}

#[tokio::test]
async fn an_offer_past_its_deadline_expires() {
    let (address, state) = start_server().await;
    http(address, "POST", "/api/assignments", &new_job("job-5", "driver-6", Some(1_000)), Some(TOKEN)).await;
    let events = state.store.expire_due(2_000).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(status_of(&state, "job-5"), AssignmentStatus::Expired);
    assert!(state.store.expire_due(3_000).unwrap().is_empty(), "once");
}

#[tokio::test]
async fn bad_jobs_are_refused_with_the_reason_and_without_the_token_nothing_happens() {
    let (address, state) = start_server().await;
    let mut bad: serde_json::Value = serde_json::from_str(&new_job("job-6", "driver-7", None)).unwrap();
    bad["pickup"]["lat"] = serde_json::json!(123.0);
    let (status, body) = http(address, "POST", "/api/assignments", &bad.to_string(), Some(TOKEN)).await;
    assert_eq!(status, 422);
    assert!(body.contains("pickup coordinates"), "{body}");
    assert_eq!(http(address, "POST", "/api/assignments", "{not json", Some(TOKEN)).await.0, 422);
    assert_eq!(
        http(address, "POST", "/api/assignments", &new_job("job-7", "driver-7", None), None).await.0,
        401
    );
    assert!(state.store.assignments(None).unwrap().is_empty());
}

#[tokio::test]
async fn duty_changes_show_in_the_drivers_list() {
    let (address, state) = start_server().await;
    let (mut client, _) = connect(address, "driver-8", 0).await;
    let record = Record {
        seq: 1,
        id: RecordId::from_random_bits(1),
        created_at_ms: 1_763_769_600_000,
        kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
    };
    client
        .send(Message::text(
            ClientMessage::Records(RecordBatch {
                unreadable: Vec::new(),
                live: false,
                records: vec![record],
            })
            .encode(),
        ))
        .await
        .unwrap();
    receive(&mut client).await;
    assert_eq!(state.store.driver("driver-8").unwrap().unwrap().duty.as_deref(), Some("on_duty"));
}

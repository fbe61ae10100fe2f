//! The background flush path: `POST /sync/records` applies records exactly like a `records`
//! frame, so a record takes effect once whichever path (WebSocket or upload) delivers it.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use enroute_mock_server::session::Session;
use enroute_mock_server::{AppState, router};
use enroute_protocol::*;
use tower::ServiceExt;

const T0: i64 = 1_763_769_600_000;

fn record(seq: u64, kind: RecordKind) -> Record {
    Record {
        seq,
        id: RecordId::from_random_bits(u128::from(seq) * 7919),
        created_at_ms: T0 + seq as i64,
        kind,
    }
}

fn fix(seq: u64) -> Record {
    record(
        seq,
        RecordKind::Location {
            fix: Fix {
                time_ms: T0 + seq as i64,
                lat: 48.0 + seq as f64 * 1e-4,
                lon: 11.0,
                accuracy_m: 5.0,
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            },
        },
    )
}

async fn upload(state: &AppState, body: String) -> (StatusCode, String) {
    let app = router(state.clone(), std::path::Path::new("no-such-dist"));
    let request = Request::post("/sync/records")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn upload_of(records: Vec<Record>) -> String {
    RecordUpload {
        driver_id: "driver-7".into(),
        token: Some(support::token_of("driver-7")),
        records,
        unreadable: Vec::new(),
    }
    .encode()
}

#[tokio::test]
async fn an_upload_is_applied_and_acknowledged() {
    let state = support::test_state();
    let records =
        vec![record(1, RecordKind::Status { status: DriverStatus::OnDuty, reason: None }), fix(2), fix(3)];
    let (status, body) = upload(&state, upload_of(records.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(UploadReceipt::decode(&body).unwrap(), UploadReceipt { acked_seq: 3, rejected: Vec::new() });
    assert_eq!(state.store.history("driver-7").unwrap().records, records);
}

#[tokio::test]
async fn an_upload_repeated_after_a_lost_answer_takes_effect_once() {
    let state = support::test_state();
    let records = vec![fix(1), fix(2)];
    upload(&state, upload_of(records.clone())).await;
    let (status, body) = upload(&state, upload_of(records.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(UploadReceipt::decode(&body).unwrap().acked_seq, 2);
    assert_eq!(state.store.history("driver-7").unwrap().records, records);
}

#[tokio::test]
async fn records_sent_on_the_socket_and_uploaded_too_take_effect_once() {
    // The app sent records 1–3 on the socket and lost the acknowledgement; its service worker
    // then uploads 1–5 from the outbox. The server holds each once, in order.
    let state = support::test_state();
    let mut session = Session::new(state.clone());
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: "driver-7".into(),
        token: Some(support::token_of("driver-7")),
        app_version: "test".into(),
        last_event_id: 0,
    };
    session.respond(ClientMessage::Hello(hello), T0 + 1_000).await;
    let all: Vec<Record> = (1..=5).map(fix).collect();
    session
        .respond(
            ClientMessage::Records(RecordBatch {
                unreadable: Vec::new(),
                live: false,
                records: all[..3].to_vec(),
            }),
            T0 + 2_000,
        )
        .await;
    let (status, body) = upload(&state, upload_of(all.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(UploadReceipt::decode(&body).unwrap().acked_seq, 5);
    assert_eq!(state.store.history("driver-7").unwrap().records, all);
}

#[tokio::test]
async fn an_upload_with_a_hole_acknowledges_only_up_to_the_hole() {
    let state = support::test_state();
    let (_, body) = upload(&state, upload_of(vec![fix(1), fix(2), fix(4)])).await;
    assert_eq!(UploadReceipt::decode(&body).unwrap().acked_seq, 2);
    let (_, body) = upload(&state, upload_of(vec![fix(3)])).await;
    assert_eq!(UploadReceipt::decode(&body).unwrap().acked_seq, 4);
}

#[tokio::test]
async fn a_malformed_upload_is_refused_with_a_reason_and_changes_nothing() {
    let state = support::test_state();
    for body in
        ["", "{", r#"{"driver_id":"driver-7"}"#, r#"{"driver_id":"driver-7","records":[{"kind":"x"}]}"#]
    {
        let (status, answer) = upload(&state, body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        let refusal: ErrorMessage = serde_json::from_str(&answer).unwrap();
        assert_eq!(refusal.code, ErrorCode::BadMessage, "{answer}");
        assert!(!refusal.message.is_empty());
    }
    assert_eq!(state.store.acked_seq("driver-7").unwrap(), 0);
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_it_is_read() {
    let state = support::test_state();
    let body =
        format!(r#"{{"driver_id":"driver-7","records":[],"padding":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES + 1));
    let (status, _) = upload(&state, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_upload_with_wrong_or_revoked_credentials_is_refused_and_stores_nothing() {
    let state = support::test_state();
    let body_of = |token: Option<String>, driver_id: &str| {
        RecordUpload { driver_id: driver_id.into(), token, records: vec![fix(1)], unreadable: Vec::new() }
            .encode()
    };
    for (body, expected_status, expected_code) in [
        (body_of(None, "driver-7"), StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
        (body_of(Some("wrong".into()), "driver-7"), StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
        // driver-8's token does not sign in as driver-7: a token is bound to its driver.
        (
            body_of(Some(support::token_of("driver-8")), "driver-7"),
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
        ),
        (
            body_of(Some(support::token_of("driver-7")), "nobody"),
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
        ),
    ] {
        let (status, answer) = upload(&state, body).await;
        assert_eq!(status, expected_status);
        assert_eq!(serde_json::from_str::<ErrorMessage>(&answer).unwrap().code, expected_code);
    }
    state.store.revoke_driver("driver-7", 0).unwrap();
    let (status, answer) = upload(&state, body_of(Some(support::token_of("driver-7")), "driver-7")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(serde_json::from_str::<ErrorMessage>(&answer).unwrap().code, ErrorCode::TokenRevoked);
    assert_eq!(state.store.acked_seq("driver-7").unwrap(), 0);
}

#[tokio::test]
async fn uploaded_records_outside_the_limits_are_rejected_one_by_one() {
    let state = support::test_state();
    let mut bad = fix(2);
    if let RecordKind::Location { fix } = &mut bad.kind {
        fix.lat = 123.0;
    }
    let (status, body) = upload(&state, upload_of(vec![fix(1), bad, fix(3)])).await;
    assert_eq!(status, StatusCode::OK);
    let receipt = UploadReceipt::decode(&body).unwrap();
    assert_eq!(receipt.acked_seq, 3, "the refused record does not hold up the ones behind it");
    assert_eq!(receipt.rejected.len(), 1);
    assert_eq!(receipt.rejected[0].seq, 2);
    assert!(receipt.rejected[0].reason.contains("fix.lat"), "{}", receipt.rejected[0].reason);
    let held: Vec<u64> =
        state.store.history("driver-7").unwrap().records.iter().map(|record| record.seq).collect();
    assert_eq!(held, vec![1, 3]);
}

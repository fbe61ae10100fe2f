//! The dispatcher API's answers, JSON for JSON, as `docs/mock-server.md` gives them: that page
//! is the contract, so a change to a field's name, presence (left out or `null`) or type, or to
//! an answer's shape (a job alone or with its driver and history), must change it too.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use enroute_mock_server::{AppState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const DISPATCHER: &str = "test-dispatcher-token";
/// Device time of the test records: in the past, after 2020.
const T0: i64 = 1_763_769_600_000;

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json", "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }
}

async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Answer {
    let app = router(state.clone(), std::path::Path::new("no-such-dist"));
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app.oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
}

async fn dispatcher(state: &AppState, method: &str, path: &str, body: Option<Value>) -> Answer {
    call(state, method, path, body, Some(DISPATCHER)).await
}

/// Replaces the value of every field named in `fields` (at any depth) with `"<int>"` or
/// `"<hex32>"` after checking its type, so answers holding clock times and tokens compare
/// exactly otherwise.
fn scrub(value: &mut Value, fields: &[&str]) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                if fields.contains(&name.as_str()) {
                    *field = match field {
                        Value::Number(number) if number.is_i64() => json!("<int>"),
                        Value::String(text)
                            if text.len() == 32
                                && text.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) =>
                        {
                            json!("<hex32>")
                        }
                        other => panic!("{name}: unexpected {other}"),
                    };
                } else {
                    scrub(field, fields);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub(item, fields)),
        _ => {}
    }
}

fn scrubbed(answer: &Answer, fields: &[&str]) -> Value {
    let mut value = answer.json();
    scrub(&mut value, fields);
    value
}

fn new_job() -> Value {
    json!({
        "id": "job-481", "driver_id": "driver-7",
        "pickup":  {"address": "Marienplatz 1, München", "lat": 48.1374, "lon": 11.5755},
        "dropoff": {"address": "Leopoldstraße 50, München", "lat": 48.16, "lon": 11.5863},
        "window": {"from_ms": 1_763_773_200_000i64, "to_ms": 1_763_776_800_000i64},
        "notes": "Ring twice", "accept_by_ms": 4_000_000_000_000i64
    })
}

fn job_481(status: &str) -> Value {
    json!({
        "id": "job-481",
        "pickup": {"address": "Marienplatz 1, München", "lat": 48.1374, "lon": 11.5755},
        "dropoff": {"address": "Leopoldstraße 50, München", "lat": 48.16, "lon": 11.5863},
        "window": {"from_ms": 1_763_773_200_000i64, "to_ms": 1_763_776_800_000i64},
        "notes": "Ring twice", "accept_by_ms": 4_000_000_000_000i64, "status": status
    })
}

async fn upload(state: &AppState, driver_id: &str, records: Value) -> Answer {
    let body = json!({"driver_id": driver_id, "token": support::token_of(driver_id), "records": records});
    call(state, "POST", "/sync/records", Some(body), None).await
}

#[tokio::test]
async fn without_the_token_the_api_answers_401_in_plain_text() {
    let state = support::test_state();
    for (method, path) in [("GET", "/api/drivers"), ("POST", "/api/drivers/driver-7/messages")] {
        let answer = call(&state, method, path, Some(json!({"text": "x"})), Some("wrong")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(answer.content_type.starts_with("text/plain"), "{}", answer.content_type);
        assert_eq!(answer.body, "dispatcher token required\n");
    }
    let by_query = call(&state, "GET", &format!("/api/drivers?token={DISPATCHER}"), None, None).await;
    assert_eq!(by_query.status, StatusCode::OK);
}

#[tokio::test]
async fn registering_and_tokens_answer_as_documented() {
    let state = support::test_state();
    let created = dispatcher(&state, "POST", "/api/drivers", Some(json!({"driver_id": "driver-10"}))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(scrubbed(&created, &["token"]), json!({"driver_id": "driver-10", "token": "<hex32>"}));

    let again = dispatcher(&state, "POST", "/api/drivers", Some(json!({"driver_id": "driver-10"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json(), json!({"error": "driver driver-10 is already registered"}));

    let bad = dispatcher(&state, "POST", "/api/drivers", Some(json!({"driver_id": "bad id"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.json(),
        json!({"error": "driver id \"bad id\" must be 1 to 64 letters, digits, '.', '_' or '-'"})
    );

    let rotated = dispatcher(&state, "POST", "/api/drivers/driver-10/token", None).await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(scrubbed(&rotated, &["token"]), json!({"driver_id": "driver-10", "token": "<hex32>"}));

    for _ in 0..2 {
        let revoked = dispatcher(&state, "POST", "/api/drivers/driver-10/revoke", None).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert_eq!(revoked.body, "");
    }
    for action in ["token", "revoke"] {
        let unknown = dispatcher(&state, "POST", &format!("/api/drivers/ghost/{action}"), None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.json(), json!({"error": "no driver ghost is registered"}));
    }
}

#[tokio::test]
async fn a_registered_driver_is_listed_only_once_heard_from_with_every_field_present() {
    let state = support::test_state();
    assert_eq!(dispatcher(&state, "GET", "/api/drivers", None).await.json(), json!([]));
    let unseen = dispatcher(&state, "GET", "/api/drivers/driver-8", None).await;
    assert_eq!(unseen.status, StatusCode::NOT_FOUND);
    assert_eq!(unseen.body, "no such driver\n");
    let history = dispatcher(&state, "GET", "/api/drivers/driver-8/records", None).await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.json(), json!({"driver_id": "driver-8", "acked_seq": 0, "records": [], "lost": []}));

    // An empty upload is a sign of life: the driver is listed, its unknowns `null`, not left out.
    let receipt = upload(&state, "driver-8", json!([])).await;
    assert_eq!((receipt.status, receipt.json()), (StatusCode::OK, json!({"acked_seq": 0})));
    let summary = dispatcher(&state, "GET", "/api/drivers/driver-8", None).await;
    assert_eq!(
        scrubbed(&summary, &["last_seen_ms"]),
        json!({"driver_id": "driver-8", "acked_seq": 0, "waiting": 0, "position": null,
               "last_seen_ms": "<int>", "last_delivery_lag_ms": null, "duty": null})
    );
    assert_eq!(dispatcher(&state, "GET", "/api/drivers", None).await.json(), json!([summary.json()]));
}

#[tokio::test]
async fn records_summary_and_jobs_have_the_documented_json() {
    let state = support::test_state();
    let offered = dispatcher(&state, "POST", "/api/assignments", Some(new_job())).await;
    assert_eq!(offered.status, StatusCode::CREATED);
    assert_eq!(offered.json(), job_481("offered"), "the job alone, not the list's wrapper");

    let id = |seq: u64| format!("{seq:032x}");
    let records = json!([
        {"seq": 1, "id": id(1), "created_at_ms": T0, "kind": "status", "status": "on_duty"},
        {"seq": 2, "id": id(2), "created_at_ms": T0 + 1000, "kind": "location",
         "fix": {"time_ms": T0 + 1000, "lat": 48.1374, "lon": 11.5755, "accuracy_m": 8.5, "speed_mps": 4.2}},
        {"seq": 3, "id": id(3), "created_at_ms": T0 + 2000, "kind": "assignment",
         "assignment_id": "job-481", "action": "accept"},
        {"seq": 5, "id": id(5), "created_at_ms": T0 + 4000, "kind": "location",
         "fix": {"time_ms": T0 + 4000, "lat": 48.14, "lon": 11.58, "accuracy_m": 12}},
        {"seq": 6, "id": id(6), "created_at_ms": T0 + 5000, "kind": "gap", "reason": "evicted", "lost": [[4, 4]]},
        {"seq": 7, "id": "nothex", "created_at_ms": T0 + 6000, "kind": "status", "status": "off_duty"},
    ]);
    let receipt = upload(&state, "driver-7", records).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert_eq!(
        receipt.json(),
        json!({"acked_seq": 7, "rejected": [{"seq": 7, "reason": "record id is not 32 lowercase hex digits"}]})
    );

    let summary = dispatcher(&state, "GET", "/api/drivers/driver-7", None).await;
    assert_eq!(
        scrubbed(&summary, &["last_seen_ms", "last_delivery_lag_ms"]),
        json!({"driver_id": "driver-7", "acked_seq": 7, "waiting": 0,
               "position": {"time_ms": T0 + 4000, "lat": 48.14, "lon": 11.58, "accuracy_m": 12.0},
               "last_seen_ms": "<int>", "last_delivery_lag_ms": "<int>", "duty": "on_duty"})
    );
    assert!(summary.body.contains(r#""accuracy_m":12.0"#), "a float, even when whole: {}", summary.body);

    let history = dispatcher(&state, "GET", "/api/drivers/driver-7/records", None).await;
    assert_eq!(
        history.json(),
        json!({"driver_id": "driver-7", "acked_seq": 7, "records": [
            {"seq": 1, "id": id(1), "created_at_ms": T0, "kind": "status", "status": "on_duty"},
            {"seq": 2, "id": id(2), "created_at_ms": T0 + 1000, "kind": "location",
             "fix": {"time_ms": T0 + 1000, "lat": 48.1374, "lon": 11.5755, "accuracy_m": 8.5, "speed_mps": 4.2}},
            {"seq": 3, "id": id(3), "created_at_ms": T0 + 2000, "kind": "assignment",
             "assignment_id": "job-481", "action": "accept"},
            {"seq": 5, "id": id(5), "created_at_ms": T0 + 4000, "kind": "location",
             "fix": {"time_ms": T0 + 4000, "lat": 48.14, "lon": 11.58, "accuracy_m": 12.0}},
            {"seq": 6, "id": id(6), "created_at_ms": T0 + 5000, "kind": "gap", "reason": "evicted", "lost": [[4, 4]]},
        ], "lost": [[4, 4]]})
    );

    let jobs = dispatcher(&state, "GET", "/api/assignments?driver_id=driver-7", None).await;
    assert_eq!(
        scrubbed(&jobs, &["at_ms"]),
        json!([{"driver_id": "driver-7", "assignment": job_481("accepted"), "history": [
            {"at_ms": "<int>", "status": "offered", "changed_by": "dispatcher"},
            {"at_ms": "<int>", "status": "accepted", "changed_by": "driver", "record_seq": 3},
        ]}])
    );
    assert_eq!(
        dispatcher(&state, "GET", "/api/assignments?driver_id=driver-8", None).await.json(),
        json!([])
    );

    let cancelled = dispatcher(&state, "POST", "/api/assignments/job-481/cancel", None).await;
    assert_eq!((cancelled.status, cancelled.json()), (StatusCode::OK, job_481("cancelled")));
    let again = dispatcher(&state, "POST", "/api/assignments/job-481/cancel", None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json(), json!({"error": "cannot cancel a job that is cancelled"}));
    let unknown = dispatcher(&state, "POST", "/api/assignments/job-9/cancel", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json(), json!({"error": "no job \"job-9\""}));
}

#[tokio::test]
async fn offering_a_job_leaves_out_empty_optional_fields_and_refuses_as_documented() {
    let state = support::test_state();
    let mut bare = new_job();
    for field in ["id", "notes", "accept_by_ms"] {
        bare.as_object_mut().unwrap().remove(field);
    }
    let offered = dispatcher(&state, "POST", "/api/assignments", Some(bare)).await;
    assert_eq!(offered.status, StatusCode::CREATED);
    let offered = offered.json();
    let mut keys: Vec<&str> = offered.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["dropoff", "id", "pickup", "status", "window"],
        "no notes, accept_by_ms or failure_reason"
    );
    assert!(offered["id"].as_str().unwrap().starts_with("job-"), "{offered}");

    dispatcher(&state, "POST", "/api/assignments", Some(new_job())).await;
    let twice = dispatcher(&state, "POST", "/api/assignments", Some(new_job())).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.json(), json!({"error": "a job \"job-481\" exists already"}));

    let mut blank = new_job();
    blank["id"] = json!("job-9");
    blank["pickup"]["address"] = json!("");
    let refused = dispatcher(&state, "POST", "/api/assignments", Some(blank)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.json(),
        json!({"error": "invalid job: the pickup address must have 1 to 200 characters"})
    );

    let missing = dispatcher(&state, "POST", "/api/assignments", Some(json!({"id": "job-9"}))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.json()["error"].as_str().unwrap().starts_with("invalid job: missing field `driver_id`"));
}

#[tokio::test]
async fn a_message_answers_its_event() {
    let state = support::test_state();
    let sent = dispatcher(
        &state,
        "POST",
        "/api/drivers/driver-7/messages",
        Some(json!({"text": "Call the office"})),
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED);
    assert_eq!(
        scrubbed(&sent, &["created_at_ms"]),
        json!({"event_id": 1, "created_at_ms": "<int>", "payload": {"kind": "message", "text": "Call the office"}})
    );
    let blank =
        dispatcher(&state, "POST", "/api/drivers/driver-7/messages", Some(json!({"text": "  "}))).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(blank.json(), json!({"error": "the message must have 1 to 2000 characters"}));
}

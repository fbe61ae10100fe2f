//! `POST /sync/records`: records uploaded by the app's service worker when no app window is open
//! (the background flush). Applied like a `records` frame, with the same de-duplication.

use crate::record_intake::accept_records;
use crate::router::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use enroute_protocol::{ErrorCode, ErrorMessage, RecordUpload, UploadReceipt};
use std::time::{SystemTime, UNIX_EPOCH};

/// Handles one upload. The body is limited to [`enroute_protocol::MAX_FRAME_BYTES`] by the router.
pub async fn upload_records(State(state): State<AppState>, body: String) -> Response {
    let upload = match RecordUpload::decode(&body) {
        Ok(upload) => upload,
        Err(error) => return refusal(StatusCode::BAD_REQUEST, ErrorCode::BadMessage, error.to_string()),
    };
    if upload.driver_id.trim().is_empty() {
        return refusal(StatusCode::BAD_REQUEST, ErrorCode::BadMessage, "driver_id is empty".into());
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64);
    let stored = tokio::task::spawn_blocking(move || {
        accept_records(&state, &upload.driver_id, &upload.records, now_ms).inspect_err(
            |error| tracing::error!(driver = %upload.driver_id, %error, "cannot store an upload"),
        )
    })
    .await;
    match stored {
        Ok(Ok(acked_seq)) => json(StatusCode::OK, UploadReceipt { acked_seq }.encode()),
        _ => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal,
            "the server could not store records; try again".into(),
        ),
    }
}

fn refusal(status: StatusCode, code: ErrorCode, message: String) -> Response {
    json(status, ErrorMessage { code, message }.encode())
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

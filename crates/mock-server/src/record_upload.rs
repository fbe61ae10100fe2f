//! `POST /sync/records`: records uploaded by the app's service worker when no app window is open
//! (the background flush). Signed in and applied like a `records` frame, with the same
//! credentials check, limits, validation and de-duplication.

use crate::driver_registry::SignInRefusal;
use crate::metrics::Metrics;
use crate::record_intake::accept_records;
use crate::router::AppState;
use crate::socket::unix_time_ms;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use enroute_protocol::{ErrorCode, ErrorMessage, MAX_RECORDS_PER_BATCH, RecordUpload, UploadReceipt};

/// Handles one upload. The body is limited to [`enroute_protocol::MAX_FRAME_BYTES`] by the router.
pub async fn upload_records(State(state): State<AppState>, body: String) -> Response {
    let upload = match RecordUpload::decode(&body) {
        Ok(upload) => upload,
        Err(error) => return refusal(StatusCode::BAD_REQUEST, ErrorCode::BadMessage, error.to_string()),
    };
    let count = upload.records.len() + upload.unreadable.len();
    if count > MAX_RECORDS_PER_BATCH {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyRecords,
            format!("{count} records in one upload; at most {MAX_RECORDS_PER_BATCH}"),
        );
    }
    let checked = {
        let state = state.clone();
        let driver_id = upload.driver_id.clone();
        let token = upload.token.clone();
        tokio::task::spawn_blocking(move || state.store.check_sign_in(&driver_id, token.as_deref())).await
    };
    let stored: Result<_, Option<SignInRefusal>> = match checked {
        Ok(Ok(Ok(()))) => {
            accept_records(&state, &upload.driver_id, &upload.records, &upload.unreadable, unix_time_ms())
                .await
                .inspect_err(
                    |error| tracing::error!(driver = %upload.driver_id, %error, "cannot store an upload"),
                )
                .map_err(|_| None)
        }
        Ok(Ok(Err(refusal))) => {
            Metrics::add(&state.metrics.sign_ins_refused, 1);
            Err(Some(refusal))
        }
        Ok(Err(error)) => {
            tracing::error!(driver = %upload.driver_id, %error, "cannot check an upload's credentials");
            Err(None)
        }
        Err(_) => Err(None),
    };
    match stored {
        Ok(intake) => {
            let receipt = UploadReceipt { acked_seq: intake.acked_seq, rejected: intake.rejected };
            json(StatusCode::OK, receipt.encode())
        }
        Err(Some(SignInRefusal::Unauthorized)) => refusal(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "this driver id and token do not match a registered driver".into(),
        ),
        Err(Some(SignInRefusal::Revoked)) => {
            refusal(StatusCode::FORBIDDEN, ErrorCode::TokenRevoked, "this driver's token was revoked".into())
        }
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

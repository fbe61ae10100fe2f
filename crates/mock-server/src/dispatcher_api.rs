//! The dispatcher's side: a JSON API to create and cancel jobs, message drivers and see
//! drivers and jobs, which the dispatch console (`console_files`) uses. Everything here requires
//! the dispatcher token, as `Authorization: Bearer <token>` or `?token=<token>`.

use crate::assignment_store::{AssignmentError, NewAssignment};
use crate::router::AppState;
use crate::socket::unix_time_ms;
use crate::store::StoreError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;

/// Proof that a request carries the dispatcher token; every handler here takes one, so a
/// request without the token is answered 401 before the handler runs.
pub struct Dispatcher;

impl axum::extract::FromRequestParts<AppState> for Dispatcher {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Dispatcher, Response> {
        let query: HashMap<String, String> =
            Query::try_from_uri(&parts.uri).map(|Query(query)| query).unwrap_or_default();
        if authorized(state, &parts.headers, &query) { Ok(Dispatcher) } else { Err(unauthorized()) }
    }
}

/// Whether the request carries the dispatcher token. Compares in constant time.
fn authorized(state: &AppState, headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let given = bearer.or(query.get("token").map(String::as_str)).unwrap_or("");
    let expected = state.dispatcher_token.as_bytes();
    given.len() == expected.len() && given.bytes().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "dispatcher token required\n")
        .into_response()
}

fn store_failure(error: StoreError) -> Response {
    tracing::error!(%error, "query failed");
    // The database out of reach (PostgreSQL restarting, a connection ended) passes: try again.
    if error.is_unavailable() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            format!("{error}\n"),
        )
            .into_response();
    }
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
}

fn refused(error: AssignmentError) -> Response {
    let status = match error {
        AssignmentError::NotFound(_) => StatusCode::NOT_FOUND,
        AssignmentError::AlreadyExists(_) | AssignmentError::Refused(_) => StatusCode::CONFLICT,
        AssignmentError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, Json(serde_json::json!({ "error": error.to_string() }))).into_response()
}

/// Runs a store call off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "request panicked\n").into_response())
}

pub async fn list_drivers(State(state): State<AppState>, _dispatcher: Dispatcher) -> Response {
    match blocking(move || state.store.drivers()).await {
        Ok(Ok(drivers)) => Json(drivers).into_response(),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

pub async fn show_driver(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(driver_id): Path<String>,
) -> Response {
    match blocking(move || state.store.driver(&driver_id)).await {
        Ok(Ok(Some(driver))) => Json(driver).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such driver\n").into_response(),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

pub async fn driver_records(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(driver_id): Path<String>,
) -> Response {
    match blocking(move || state.store.history(&driver_id)).await {
        Ok(Ok(history)) => Json(history).into_response(),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub struct MessageBody {
    text: String,
}

pub async fn send_message(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(driver_id): Path<String>,
    Json(body): Json<MessageBody>,
) -> Response {
    if body.text.trim().is_empty() || body.text.chars().count() > crate::assignment_store::MAX_NOTES_CHARS {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": "the message must have 1 to 2000 characters"})),
        )
            .into_response();
    }
    let store = state.store.clone();
    let target = driver_id.clone();
    match blocking(move || store.send_message(&target, &body.text, unix_time_ms())).await {
        Ok(Ok(event)) => {
            state.hub.publish(&driver_id, &event);
            (StatusCode::CREATED, Json(event)).into_response()
        }
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

pub async fn list_assignments(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let driver = query.get("driver_id").cloned();
    match blocking(move || state.store.assignments(driver.as_deref())).await {
        Ok(Ok(assignments)) => Json(assignments).into_response(),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

pub async fn create_assignment(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    body: axum::body::Bytes,
) -> Response {
    let new: NewAssignment = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(error) => return refused(AssignmentError::Invalid(error.to_string())),
    };
    let driver_id = new.driver_id.clone();
    let store = state.store.clone();
    match blocking(move || store.create_assignment(new, unix_time_ms())).await {
        Ok(Ok(Ok((assignment, event)))) => {
            state.hub.publish(&driver_id, &event);
            tracing::info!(driver = %driver_id, assignment = %assignment.id, "job offered");
            (StatusCode::CREATED, Json(assignment)).into_response()
        }
        Ok(Ok(Err(error))) => refused(error),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

pub async fn cancel_assignment(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(assignment_id): Path<String>,
) -> Response {
    let store = state.store.clone();
    match blocking(move || store.cancel_assignment(&assignment_id, unix_time_ms())).await {
        Ok(Ok(Ok((driver_id, assignment, event)))) => {
            state.hub.publish(&driver_id, &event);
            Json(assignment).into_response()
        }
        Ok(Ok(Err(error))) => refused(error),
        Ok(Err(error)) => store_failure(error),
        Err(response) => response,
    }
}

/// `POST /api/drivers` with `{"driver_id": "…"}`: registers a driver and answers its new token
/// (shown once; the server keeps only its hash).
#[derive(Deserialize)]
pub struct NewDriver {
    driver_id: String,
}

pub async fn register_driver(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Json(new_driver): Json<NewDriver>,
) -> Response {
    let driver_id = new_driver.driver_id.clone();
    match blocking(move || state.store.register_driver(&new_driver.driver_id, unix_time_ms())).await {
        Ok(Ok(token)) => {
            (StatusCode::CREATED, Json(serde_json::json!({ "driver_id": driver_id, "token": token })))
                .into_response()
        }
        Ok(Err(error)) => registry_refused(error),
        Err(response) => response,
    }
}

/// `POST /api/drivers/{id}/token`: issues a new token (the old one stops working, a revocation
/// is lifted) and answers it.
pub async fn rotate_driver_token(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(driver_id): Path<String>,
) -> Response {
    let id = driver_id.clone();
    let ended = state.sign_ins.clone();
    match blocking(move || state.store.rotate_driver_token(&id, unix_time_ms())).await {
        Ok(Ok(token)) => {
            // The connection signed in with the old token must not go on sending.
            ended.end(&driver_id, enroute_protocol::ErrorCode::TokenRevoked);
            Json(serde_json::json!({ "driver_id": driver_id, "token": token })).into_response()
        }
        Ok(Err(error)) => registry_refused(error),
        Err(response) => response,
    }
}

/// `POST /api/drivers/{id}/revoke`: refuses the driver's token from now on and ends its
/// connection with `token_revoked`.
pub async fn revoke_driver(
    State(state): State<AppState>,
    _dispatcher: Dispatcher,
    Path(driver_id): Path<String>,
) -> Response {
    let id = driver_id.clone();
    let sign_ins = state.sign_ins.clone();
    match blocking(move || {
        let revoked = state.store.revoke_driver(&id, unix_time_ms());
        if revoked.is_ok() {
            state.store.tell_nodes(&[crate::node_notice::DriverNews::Revoked { driver_id: id.clone() }]);
        }
        revoked
    })
    .await
    {
        Ok(Ok(())) => {
            sign_ins.end(&driver_id, enroute_protocol::ErrorCode::TokenRevoked);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(error)) => registry_refused(error),
        Err(response) => response,
    }
}

fn registry_refused(error: crate::driver_registry::RegistryError) -> Response {
    use crate::driver_registry::RegistryError;
    if let RegistryError::Store(error) = error {
        return store_failure(error);
    }
    let status = match &error {
        RegistryError::BadDriverId(_) => StatusCode::UNPROCESSABLE_ENTITY,
        RegistryError::AlreadyRegistered(_) => StatusCode::CONFLICT,
        RegistryError::NotRegistered(_) => StatusCode::NOT_FOUND,
        RegistryError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(serde_json::json!({ "error": error.to_string() }))).into_response()
}

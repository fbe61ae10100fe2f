//! Drives a [`Session`] over a WebSocket. Generic over `Sink`/`Stream` so tests can use channels.
//! The socket owns time: the idle timeout, and the clock handed to the session.

use crate::metrics::Metrics;
use crate::router::AppState;
use crate::session::{Reply, Session};
use axum::extract::ws::{CloseFrame, Message};
use enroute_protocol::{ErrorCode, ErrorMessage, ServerMessage};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Serves one connection until the client closes it, the session refuses it, a limit ends it,
/// or sending fails.
pub async fn serve_socket<W, R>(mut write: W, mut read: R, state: AppState)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let metrics = state.metrics.clone();
    let idle_timeout = state.limits.idle_timeout;
    let _open = OpenConnection::new(&metrics);
    let mut session = Some(Session::new(state));
    let mut pushed: Option<mpsc::UnboundedReceiver<enroute_protocol::Event>> = None;
    let mut ended: Option<oneshot::Receiver<ErrorCode>> = None;
    loop {
        let next_push = async {
            match pushed.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        let end = async {
            match ended.as_mut() {
                Some(receiver) => receiver.await.ok(),
                None => std::future::pending().await,
            }
        };
        let frame = tokio::select! {
            frame = tokio::time::timeout(idle_timeout, read.next()) => match frame {
                Ok(frame) => frame,
                Err(_) => {
                    Metrics::add(&metrics.connections_refused, 1);
                    let message = format!("nothing received for {} s", idle_timeout.as_secs());
                    send_refusal(&mut write, ErrorCode::IdleTimeout, message).await;
                    break;
                }
            },
            Some(event) = next_push => {
                let Some(current) = session.as_mut() else { break };
                let messages = if current.pushed_event_skips_ids(&event) {
                    // It reads the skipped events from SQLite: off the async threads.
                    let Some(moved) = session.take() else { break };
                    let Ok((returned, messages)) = tokio::task::spawn_blocking(move || {
                        let mut moved = moved;
                        let messages = moved.handle_pushed(event);
                        (moved, messages)
                    })
                    .await
                    else {
                        tracing::error!("a session panicked; closing its connection");
                        return;
                    };
                    session = Some(returned);
                    messages
                } else {
                    current.handle_pushed(event)
                };
                for message in messages {
                    if write.send(Message::Text(message.encode().into())).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            Some(code) = end => {
                let message = match code {
                    ErrorCode::Replaced => "this driver signed in on another connection".to_string(),
                    ErrorCode::TokenRevoked => "this driver's token was revoked".to_string(),
                    other => format!("the server ended this connection ({other})"),
                };
                send_refusal(&mut write, code, message).await;
                break;
            }
        };
        let Some(Ok(frame)) = frame else { break };
        let text = match frame {
            Message::Text(text) => text.to_string(),
            Message::Binary(_) => "<binary frame>".to_string(),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        // The session writes to SQLite (and waits for the disk): keep that off the async threads.
        let Some(mut moved) = session.take() else { break };
        let Ok((mut returned, reply)) = tokio::task::spawn_blocking(move || {
            let reply: Reply = moved.handle_text(&text, unix_time_ms());
            (moved, reply)
        })
        .await
        else {
            tracing::error!("a session panicked; closing its connection");
            return;
        };
        if pushed.is_none() {
            pushed = returned.take_event_receiver();
        }
        if ended.is_none() {
            ended = returned.take_end_receiver();
        }
        session = Some(returned);
        for message in reply.messages {
            if write.send(Message::Text(message.encode().into())).await.is_err() {
                return;
            }
        }
        if let Some(code) = reply.close {
            let _ = write.send(close_message(code)).await;
            break;
        }
    }
    if let Some(driver_id) = session.as_ref().and_then(Session::driver_id) {
        tracing::info!(driver = driver_id, "disconnected");
    }
}

/// Refuses a connection before its session starts (the server is at its connection limit).
pub async fn refuse_connection<W>(mut write: W, state: &AppState, code: ErrorCode)
where
    W: Sink<Message> + Unpin,
{
    Metrics::add(&state.metrics.connections_refused, 1);
    tracing::warn!(%code, "refused a connection");
    let message =
        format!("the server has {} connections open; try again later", state.limits.max_connections);
    send_refusal(&mut write, code, message).await;
}

async fn send_refusal<W>(write: &mut W, code: ErrorCode, message: String)
where
    W: Sink<Message> + Unpin,
{
    let refusal = ServerMessage::Error(ErrorMessage { code, message });
    let _ = write.send(Message::Text(refusal.encode().into())).await;
    let _ = write.send(close_message(code)).await;
}

/// A close frame with the code `docs/security.md` documents for `code`.
fn close_message(code: ErrorCode) -> Message {
    Message::Close(Some(CloseFrame { code: code.close_code(), reason: code.as_str().into() }))
}

/// Counts an open connection for as long as it lives.
struct OpenConnection<'a>(&'a Metrics);

impl<'a> OpenConnection<'a> {
    fn new(metrics: &'a Metrics) -> OpenConnection<'a> {
        Metrics::add(&metrics.connections_open, 1);
        Metrics::add(&metrics.connections_total, 1);
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The server clock in milliseconds since the Unix epoch.
pub fn unix_time_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

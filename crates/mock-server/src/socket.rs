//! Drives a [`Session`] over a WebSocket. Generic over `Sink`/`Stream` so tests can use channels.

use crate::metrics::Metrics;
use crate::router::AppState;
use crate::session::{Reply, Session};
use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::time::{SystemTime, UNIX_EPOCH};

/// Serves one connection until the client closes it, the session refuses it, or sending fails.
pub async fn serve_socket<W, R>(mut write: W, mut read: R, state: AppState)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let metrics = state.metrics.clone();
    let _open = OpenConnection::new(&metrics);
    let mut session = Some(Session::new(state));
    let mut pushed: Option<tokio::sync::mpsc::UnboundedReceiver<enroute_protocol::Event>> = None;
    loop {
        let next_push = async {
            match pushed.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        let frame = tokio::select! {
            frame = read.next() => frame,
            Some(event) = next_push => {
                let Some(current) = session.as_mut() else { break };
                if let Some(message) = current.handle_pushed(event)
                    && write.send(Message::Text(message.encode().into())).await.is_err()
                {
                    return;
                }
                continue;
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
        session = Some(returned);
        for message in reply.messages {
            if write.send(Message::Text(message.encode().into())).await.is_err() {
                return;
            }
        }
        if reply.close {
            let _ = write.send(Message::Close(None)).await;
            break;
        }
    }
    if let Some(driver_id) = session.as_ref().and_then(Session::driver_id) {
        tracing::info!(driver = driver_id, "disconnected");
    }
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

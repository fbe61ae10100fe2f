//! Drives a [`Session`] over a WebSocket. Generic over `Sink`/`Stream` so tests can use channels.

use crate::session::Session;
use crate::store::Store;
use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::time::{SystemTime, UNIX_EPOCH};

/// Serves one connection until the client closes it, the session refuses it, or sending fails.
pub async fn serve_socket<W, R>(mut write: W, mut read: R, store: Store)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut session = Session::new(store);
    while let Some(Ok(frame)) = read.next().await {
        let reply = match frame {
            Message::Text(text) => session.handle_text(text.as_str(), unix_time_ms()),
            Message::Binary(_) => session.handle_text("<binary frame>", unix_time_ms()),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
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
    if let Some(driver_id) = session.driver_id() {
        tracing::info!(driver = driver_id, "disconnected");
    }
}

/// The server clock in milliseconds since the Unix epoch.
pub fn unix_time_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

//! Drives a [`Session`] over a WebSocket. Generic over `Sink`/`Stream` so tests can use channels.
//! The socket owns time: the hello deadline, the idle timeout, and the clock handed to the
//! session. It never blocks an async thread: a `hello`'s store reads run on the blocking pool
//! (once per connection), records wait for the store's group commit.

use crate::metrics::Metrics;
use crate::router::AppState;
use crate::session::{Reply, Session, Step};
use crate::unsigned_connections::UnsignedSlot;
use axum::extract::ws::{CloseFrame, Message};
use enroute_protocol::{ErrorCode, ErrorMessage, ServerMessage, WireFormat};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Serves one connection until the client closes it, the session refuses it, a limit ends it,
/// or sending fails. `unsigned` holds the connection's place among its address's connections
/// that have not signed in; it is given back at sign-in.
pub async fn serve_socket<W, R>(mut write: W, mut read: R, state: AppState, unsigned: Option<UnsignedSlot>)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let metrics = state.metrics.clone();
    let limits = state.limits;
    let mut gauge = ConnectionGauge::new(&metrics);
    let mut unsigned = unsigned;
    // Counted from the upgrade; nothing the client sends before `hello` moves it.
    let hello_deadline = Instant::now() + limits.hello_timeout;
    let mut session = Some(Session::new(state.clone()));
    let mut pushed: Option<mpsc::UnboundedReceiver<enroute_protocol::Event>> = None;
    let mut ended: Option<oneshot::Receiver<ErrorCode>> = None;
    // The form of the frames after `welcome` (the welcome itself is an object either way).
    let mut wire = WireFormat::Objects;
    loop {
        let signed_in = session.as_ref().is_some_and(|session| session.driver_id().is_some());
        let deadline = if signed_in { Instant::now() + limits.idle_timeout } else { hello_deadline };
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
            frame = tokio::time::timeout_at(deadline, read.next()) => match frame {
                Ok(frame) => frame,
                Err(_) => {
                    Metrics::add(&metrics.connections_refused, 1);
                    let message = if signed_in {
                        format!("nothing received for {} s", limits.idle_timeout.as_secs())
                    } else {
                        format!("no hello within {} s of connecting", limits.hello_timeout.as_secs())
                    };
                    close_with_error(&mut write, &mut read, &state, ErrorCode::IdleTimeout, message).await;
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
                if send_all(&mut write, &metrics, wire, messages).await.is_err() {
                    return;
                }
                continue;
            }
            Some(code) = end => {
                let message = match code {
                    ErrorCode::Replaced => "this driver signed in on another connection".to_string(),
                    ErrorCode::TokenRevoked => "this driver's token was revoked".to_string(),
                    other => format!("the server ended this connection ({other})"),
                };
                close_with_error(&mut write, &mut read, &state, code, message).await;
                break;
            }
        };
        let frame = match frame {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                if let Some(message) = too_large(&error) {
                    Metrics::add(&metrics.connections_refused, 1);
                    Metrics::add(&metrics.frames_refused, 1);
                    close_with_error(&mut write, &mut read, &state, ErrorCode::TooLarge, message).await;
                } else {
                    tracing::debug!(%error, "a connection failed");
                }
                break;
            }
        };
        let Some(current) = session.as_mut() else { break };
        let now_ms = unix_time_ms();
        let text = match frame {
            Message::Text(text) => {
                Metrics::add(&metrics.received_bytes, text.len() as u64);
                text
            }
            Message::Binary(bytes) => {
                Metrics::add(&metrics.received_bytes, bytes.len() as u64);
                // Nothing in the protocol is binary: the session refuses it like unreadable text.
                "<binary frame>".into()
            }
            Message::Close(_) => break,
            Message::Ping(bytes) | Message::Pong(bytes) => {
                Metrics::add(&metrics.received_bytes, bytes.len() as u64);
                if let Some(refusal) = current.take_frame(now_ms) {
                    finish(&mut write, &mut read, &state, refusal).await;
                    break;
                }
                continue;
            }
        };
        let arrived = std::time::Instant::now();
        let reply = match current.handle_text(&text, now_ms) {
            Step::Reply(reply) => reply,
            Step::Records(frame) => {
                let reply = current.store_records(frame, now_ms).await;
                metrics.ack_latency.observe(arrived.elapsed().as_secs_f64());
                reply
            }
            Step::Hello(hello) => {
                // The sign-in check and the missed events are store reads: off the async threads.
                let Some(mut moved) = session.take() else { break };
                let Ok((mut returned, reply)) = tokio::task::spawn_blocking(move || {
                    let reply = moved.handle_hello(hello, now_ms);
                    (moved, reply)
                })
                .await
                else {
                    tracing::error!("a session panicked; closing its connection");
                    return;
                };
                if returned.driver_id().is_some() {
                    gauge.signed_in();
                    unsigned = None;
                    pushed = returned.take_event_receiver();
                    ended = returned.take_end_receiver();
                }
                // The welcome and the events after it have one form in every version.
                wire = returned.wire_format();
                session = Some(returned);
                reply
            }
        };
        if reply.close.is_some() {
            finish(&mut write, &mut read, &state, reply).await;
            break;
        }
        if send_all(&mut write, &metrics, wire, reply.messages).await.is_err() {
            return;
        }
    }
    drop(unsigned);
    if let Some(driver_id) = session.as_ref().and_then(Session::driver_id) {
        tracing::info!(driver = driver_id, "disconnected");
    }
}

/// Refuses a connection before its session starts (`code` says why: the server is at its
/// connection limit, or the client's address holds too many connections not signed in).
pub async fn refuse_connection<W, R>(
    mut write: W,
    mut read: R,
    state: &AppState,
    code: ErrorCode,
    message: String,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    Metrics::add(&state.metrics.connections_refused, 1);
    tracing::warn!(%code, "refused a connection");
    close_with_error(&mut write, &mut read, state, code, message).await;
}

/// Sends a reply that closes the connection, then lingers (see [`linger`]).
async fn finish<W, R>(write: &mut W, read: &mut R, state: &AppState, reply: Reply)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    // Refusals are `error` frames, which have one form in every version.
    if send_all(write, &state.metrics, WireFormat::Objects, reply.messages).await.is_err() {
        return;
    }
    if let Some(code) = reply.close {
        let _ = write.send(close_message(code)).await;
        linger(read, state).await;
    }
}

/// Sends an `error` frame and the close frame with the code `docs/security.md` documents for
/// it, then lingers (see [`linger`]).
async fn close_with_error<W, R>(
    write: &mut W,
    read: &mut R,
    state: &AppState,
    code: ErrorCode,
    message: String,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let refusal = ServerMessage::Error(ErrorMessage { code, message });
    finish(write, read, state, Reply { messages: vec![refusal], close: Some(code) }).await;
}

/// Reads (and drops) what the client still sends until it answers the close or the linger time
/// passes. Closing a TCP connection with unread bytes in its receive buffer sends a reset, and
/// the client's system then throws away the `error` and close frames it had not read yet
/// (regression: under a ping flood, or after an oversized frame, the client saw 1006 and
/// never learnt why).
async fn linger<R>(read: &mut R, state: &AppState)
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _ = tokio::time::timeout(state.limits.close_linger, async {
        while let Some(frame) = read.next().await {
            if matches!(frame, Ok(Message::Close(_))) {
                break;
            }
        }
    })
    .await;
}

async fn send_all<W>(
    write: &mut W,
    metrics: &Metrics,
    wire: WireFormat,
    messages: Vec<ServerMessage>,
) -> Result<(), ()>
where
    W: Sink<Message> + Unpin,
{
    let count = messages.len();
    for (index, message) in messages.into_iter().enumerate() {
        let text = wire.encode_server(&message);
        Metrics::add(&metrics.sent_bytes, text.len() as u64);
        let frame = Message::Text(text.into());
        // One flush for the whole reply.
        let sent = if index + 1 == count { write.send(frame).await } else { write.feed(frame).await };
        if sent.is_err() {
            return Err(());
        }
    }
    Ok(())
}

/// The message for a frame over the size limit, if that is what `error` is.
fn too_large(error: &axum::Error) -> Option<String> {
    let source = std::error::Error::source(error)?;
    match source.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(capacity) => {
            Some(format!("{capacity}; a message may be at most {} bytes", enroute_protocol::MAX_FRAME_BYTES))
        }
        _ => None,
    }
}

/// A close frame with the code `docs/security.md` documents for `code`.
pub(crate) fn close_message(code: ErrorCode) -> Message {
    Message::Close(Some(CloseFrame { code: code.close_code(), reason: code.as_str().into() }))
}

/// Counts an open connection in its state's gauge for as long as it lives.
struct ConnectionGauge<'a> {
    metrics: &'a Metrics,
    signed_in: bool,
}

impl<'a> ConnectionGauge<'a> {
    fn new(metrics: &'a Metrics) -> ConnectionGauge<'a> {
        Metrics::add(&metrics.connections_awaiting_hello, 1);
        Metrics::add(&metrics.connections_accepted, 1);
        ConnectionGauge { metrics, signed_in: false }
    }

    fn signed_in(&mut self) {
        if !self.signed_in {
            Metrics::subtract(&self.metrics.connections_awaiting_hello, 1);
            Metrics::add(&self.metrics.connections_signed_in, 1);
            self.signed_in = true;
        }
    }

    fn gauge(&self) -> &AtomicU64 {
        if self.signed_in {
            &self.metrics.connections_signed_in
        } else {
            &self.metrics.connections_awaiting_hello
        }
    }
}

impl Drop for ConnectionGauge<'_> {
    fn drop(&mut self) {
        Metrics::subtract(self.gauge(), 1);
    }
}

/// The server clock in milliseconds since the Unix epoch.
pub fn unix_time_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

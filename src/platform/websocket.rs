//! One WebSocket connection, run as a task. The owner gets [`SocketEvent`]s through a callback
//! and sends text frames through [`Socket::send`]; dropping the [`Socket`] closes the connection.
//!
//! `send` cannot report delivery: the browser accepts frames for a socket that is already dead.
//! Only acknowledgements from the server prove that something arrived.

use futures::channel::mpsc;
use futures::future::{Either, poll_fn, select};
use futures::{Sink, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State, WebSocketError};
use std::pin::{Pin, pin};

/// Something that happened to a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// The connection is open; frames can flow.
    Opened,
    /// A text frame from the server.
    Frame(String),
    /// The connection closed or could not be opened. `code` is the WebSocket close code when the
    /// browser reported one (1006 means it dropped without a closing handshake).
    Closed { code: Option<u16> },
}

/// Handle to a running socket task.
pub struct Socket {
    outgoing: mpsc::UnboundedSender<String>,
}

impl Socket {
    /// Starts connecting to `url`. Every event is passed to `on_event`, in order.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Socket {
        let (outgoing, outgoing_receiver) = mpsc::unbounded();
        wasm_bindgen_futures::spawn_local(run(url.to_string(), outgoing_receiver, on_event));
        Socket { outgoing }
    }

    /// Queues a text frame. Frames queued before the socket opens are sent when it opens.
    pub fn send(&self, text: String) {
        let _ = self.outgoing.unbounded_send(text);
    }
}

async fn run(url: String, mut outgoing: mpsc::UnboundedReceiver<String>, on_event: impl Fn(SocketEvent)) {
    let mut websocket = match WebSocket::open(&url) {
        Ok(websocket) => websocket,
        Err(error) => {
            log::warn!("cannot open a WebSocket to {url}: {error:?}");
            on_event(SocketEvent::Closed { code: None });
            return;
        }
    };
    // Wait until the socket opens or fails, unless the owner gives up on it first.
    let mut sent_early = Vec::new();
    let opened = loop {
        let ready = poll_fn(|context| Pin::new(&mut websocket).poll_ready(context));
        // WebKit may fail a connection with an `error` while the socket still says CONNECTING,
        // and then close it without any event: look at its state now and then, or this would
        // wait forever (regression: the WebKit browser tests hung).
        let recheck = gloo_timers::future::sleep(CLOSE_EVENT_WAIT);
        match select(pin!(ready), select(outgoing.next(), pin!(recheck))).await {
            Either::Left((result, _)) => break result.is_ok() && matches!(websocket.state(), State::Open),
            Either::Right((Either::Left((Some(text), _)), _)) => sent_early.push(text),
            Either::Right((Either::Left((None, _)), _)) => return, // dropping the socket closes it
            Either::Right((Either::Right(_), _)) => match websocket.state() {
                State::Connecting => {}
                State::Open => break true,
                State::Closing | State::Closed => break false,
            },
        }
    };
    if !opened {
        on_event(SocketEvent::Closed { code: last_close_code(&mut websocket).await });
        return;
    }
    on_event(SocketEvent::Opened);
    let (mut writer, mut reader) = websocket.split();
    for text in sent_early {
        let _ = writer.send(Message::Text(text)).await;
    }
    let mut close_code = None;
    loop {
        match select(reader.next(), outgoing.next()).await {
            Either::Left((Some(Ok(Message::Text(text))), _)) => on_event(SocketEvent::Frame(text)),
            Either::Left((Some(Ok(Message::Bytes(bytes))), _)) => {
                log::warn!("ignoring a binary frame of {} bytes from the server", bytes.len());
            }
            Either::Left((Some(Err(WebSocketError::ConnectionClose(event))), _)) => {
                close_code = Some(event.code)
            }
            Either::Left((Some(Err(error)), _)) => log::debug!("socket error: {error:?}"),
            Either::Left((None, _)) => break,
            Either::Right((Some(text), _)) => {
                let _ = writer.send(Message::Text(text)).await;
            }
            Either::Right((None, _)) => return, // the owner dropped the socket: it closes
        }
    }
    on_event(SocketEvent::Closed { code: close_code });
}

/// How long to wait, after a failed open, for the close event that carries the code. WebKit
/// fires only `error` (no `close`) for a port it refuses to connect to (regression: the socket
/// task then waited forever).
const CLOSE_EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// After a failed open, the stream yields the close event; read its code (if it comes).
async fn last_close_code<S>(websocket: &mut S) -> Option<u16>
where
    S: futures::Stream<Item = Result<Message, WebSocketError>> + Sink<Message> + Unpin,
{
    let mut code = None;
    loop {
        let next = websocket.next();
        let waited = gloo_timers::future::sleep(CLOSE_EVENT_WAIT);
        match select(pin!(next), pin!(waited)).await {
            Either::Left((Some(Err(WebSocketError::ConnectionClose(event))), _)) => code = Some(event.code),
            Either::Left((Some(_), _)) => {}
            Either::Left((None, _)) | Either::Right(_) => return code,
        }
    }
}

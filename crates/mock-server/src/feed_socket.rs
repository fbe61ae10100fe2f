//! Serves one dispatch console over `GET /dispatch/ws`: waits for its `subscribe`, sends a
//! snapshot (or resumes where it left off), then every change it follows, positions paced by a
//! [`PositionCoalescer`]. Changes that are ready together go in one `deltas` frame (at most
//! [`MAX_DELTAS_PER_FRAME`]). Generic over `Sink`/`Stream` like `socket.rs`. A console that cannot
//! keep up (the feed's broadcast overtakes it) gets a fresh snapshot instead of a gap.

use crate::position_coalescer::PositionCoalescer;
use crate::router::AppState;
use axum::extract::ws::Message;
use enroute_protocol::{
    ConsoleMessage, ErrorCode, ErrorMessage, FeedChange, FeedDelta, FeedDeltas, FeedMessage, FeedPosition,
    FeedSnapshot, Pong, Subscribe,
};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// How often a console gets a driver's position, at most.
pub const POSITION_INTERVAL: Duration = Duration::from_secs(1);

/// The most changes one `deltas` frame carries (about 25 KB of positions).
pub const MAX_DELTAS_PER_FRAME: usize = 128;

/// How often waiting positions are looked at.
const PACING_TICK: Duration = Duration::from_millis(100);

/// Serves one console until it closes or a send fails.
pub async fn serve_feed<W, R>(mut write: W, mut read: R, state: AppState)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let subscribe = match tokio::time::timeout(state.limits.hello_timeout, first_text(&mut read)).await {
        Err(_) => {
            let message =
                format!("no subscribe within {} s of connecting", state.limits.hello_timeout.as_secs());
            return refuse(&mut write, ErrorCode::IdleTimeout, message).await;
        }
        Ok(None) => return,
        Ok(Some(text)) => match ConsoleMessage::decode(&text) {
            Ok(ConsoleMessage::Subscribe(subscribe)) => subscribe,
            Ok(_) => {
                return refuse(&mut write, ErrorCode::HelloRequired, "send subscribe first".into()).await;
            }
            Err(error) => {
                return refuse(
                    &mut write,
                    ErrorCode::HelloRequired,
                    format!("send subscribe first ({error})"),
                )
                .await;
            }
        },
    };
    let follows = Follows::new(&subscribe);
    let mut pacing = PositionCoalescer::new(POSITION_INTERVAL);
    let Some((mut live, mut in_snapshot)) =
        start(&mut write, &state, &subscribe, &follows, &mut pacing).await
    else {
        return;
    };
    let mut tick = tokio::time::interval(PACING_TICK);
    loop {
        tokio::select! {
            delta = live.recv() => {
                // This change and the others already waiting go out together.
                let (ready, stopped) = match delta {
                    Ok(delta) => ready_with(delta, &mut live, &follows, &mut in_snapshot, &state.feed, &mut pacing),
                    Err(error) => (Vec::new(), Some(error)),
                };
                if send_deltas(&mut write, ready).await.is_err() {
                    return;
                }
                match stopped {
                    None => {}
                    Some(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "a console fell behind the feed; sending it a fresh snapshot");
                        pacing.clear();
                        let fresh = state.feed.subscribe();
                        let Ok(held) = send_snapshot(&mut write, &state, fresh.feed_seq, &follows).await else {
                            return;
                        };
                        in_snapshot = held;
                        live = fresh.live;
                    }
                    Some(RecvError::Closed) => return,
                }
            }
            _ = tick.tick() => {
                if send_deltas(&mut write, pacing.due(Instant::now())).await.is_err() {
                    return;
                }
            }
            frame = read.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let answer = match ConsoleMessage::decode(&text) {
                        Ok(ConsoleMessage::Ping(ping)) => FeedMessage::Pong(Pong { nonce: ping.nonce }),
                        Ok(ConsoleMessage::Subscribe(_)) => FeedMessage::Error(ErrorMessage {
                            code: ErrorCode::AlreadyGreeted,
                            message: "this connection already subscribed; open a new one to change it".into(),
                        }),
                        Err(error) => FeedMessage::Error(ErrorMessage { code: ErrorCode::BadMessage, message: error.to_string() }),
                    };
                    if send(&mut write, answer).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
        }
    }
}

/// Resumes the console where it left off when the feed still holds what followed, else sends a
/// snapshot; returns the live changes after what was sent.
async fn start<W>(
    write: &mut W,
    state: &AppState,
    subscribe: &Subscribe,
    follows: &Follows,
    pacing: &mut PositionCoalescer,
) -> Option<(tokio::sync::broadcast::Receiver<Arc<FeedDelta>>, InSnapshot)>
where
    W: Sink<Message> + Unpin,
{
    let resumed = subscribe.resume.as_ref().and_then(|position| {
        state.feed.resume(&position.feed_id, position.feed_seq).map(|subscription| (position, subscription))
    });
    match resumed {
        Some((position, subscription)) => {
            send(
                write,
                FeedMessage::Resumed(FeedPosition {
                    feed_id: position.feed_id.clone(),
                    feed_seq: position.feed_seq,
                }),
            )
            .await
            .ok()?;
            let now = Instant::now();
            let missed: Vec<Arc<FeedDelta>> = subscription
                .missed
                .into_iter()
                .filter(|delta| follows.change(&delta.change))
                .filter_map(|delta| pacing.pass(delta, now))
                .collect();
            send_deltas(write, missed).await.ok()?;
            Some((subscription.live, InSnapshot::NOTHING))
        }
        None => {
            // Subscribe first, then read: a change in between is in both, and deltas are
            // idempotent (docs/protocol.md), so none falls between.
            let subscription = state.feed.subscribe();
            let in_snapshot = send_snapshot(write, state, subscription.feed_seq, follows).await.ok()?;
            Some((subscription.live, in_snapshot))
        }
    }
}

/// Sends a snapshot; returns which changes after it the snapshot already holds.
async fn send_snapshot<W>(
    write: &mut W,
    state: &AppState,
    feed_seq: u64,
    follows: &Follows,
) -> Result<InSnapshot, ()>
where
    W: Sink<Message> + Unpin,
{
    let store = state.store.clone();
    let fleet = match tokio::task::spawn_blocking(move || store.fleet()).await {
        Ok(Ok(fleet)) => fleet,
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot read the fleet for a console");
            refuse(write, ErrorCode::Internal, "the server could not read the fleet; try again".into()).await;
            return Err(());
        }
        Err(_) => return Err(()),
    };
    // Here or on another node sharing the database.
    let connected = state.sign_ins.connected();
    let drivers = fleet
        .drivers
        .into_iter()
        .filter(|driver| follows.driver(&driver.driver_id))
        .map(|mut driver| {
            driver.connected = connected.contains(&driver.driver_id);
            driver
        })
        .collect();
    let jobs = fleet.jobs.into_iter().filter(|job| follows.driver(&job.driver_id)).collect();
    let shared_seq = fleet.shared_seq;
    let snapshot = FeedSnapshot {
        feed_id: state.feed.id().to_string(),
        feed_seq,
        server_time_ms: crate::socket::unix_time_ms(),
        drivers,
        jobs,
    };
    send(write, FeedMessage::Snapshot(snapshot)).await?;
    Ok(InSnapshot { shared_seq, through: None })
}

/// The shared changes (several nodes on PostgreSQL, `shared_feed`) a console's snapshot holds:
/// those up to the shared number `shared_seq` it read. This node may publish some of them after
/// the console subscribed; they are skipped in its live changes.
#[derive(Clone, Copy, Debug)]
struct InSnapshot {
    shared_seq: Option<u64>,
    /// This node's feed number through which every shared change up to `shared_seq` was
    /// published, once known.
    through: Option<u64>,
}

impl InSnapshot {
    /// A resumed console, or one store and one process: nothing to skip.
    const NOTHING: InSnapshot = InSnapshot { shared_seq: None, through: None };

    /// Whether the snapshot holds `delta`. Shared changes are published in order, so while this
    /// node has not yet published through `shared_seq`, every shared change that reaches the
    /// console comes before it, and the snapshot holds it; once it has, those up to the feed
    /// number it did that at.
    fn holds(&mut self, feed: &crate::feed::Feed, delta: &FeedDelta) -> bool {
        let Some(shared_seq) = self.shared_seq else { return false };
        if !crate::shared_feed::is_shared(&delta.change) {
            return false;
        }
        if self.through.is_none() {
            self.through = feed.published_through_shared(shared_seq);
        }
        self.through.is_none_or(|through| delta.feed_seq <= through)
    }
}

/// Which drivers a console follows.
struct Follows(Option<HashSet<String>>);

impl Follows {
    fn new(subscribe: &Subscribe) -> Follows {
        Follows(subscribe.drivers.as_ref().map(|drivers| drivers.iter().cloned().collect()))
    }

    fn driver(&self, driver_id: &str) -> bool {
        self.0.as_ref().is_none_or(|drivers| drivers.contains(driver_id))
    }

    fn change(&self, change: &FeedChange) -> bool {
        self.driver(change.driver_id())
    }
}

async fn first_text<R>(read: &mut R) -> Option<String>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        match read.next().await? {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Binary(_)) => return Some("<binary frame>".into()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

/// `first` and the changes already waiting behind it (up to a frame's worth) that the console
/// follows and the pacing lets through now; and why the feed stopped, if it did.
fn ready_with(
    first: Arc<FeedDelta>,
    live: &mut tokio::sync::broadcast::Receiver<Arc<FeedDelta>>,
    follows: &Follows,
    in_snapshot: &mut InSnapshot,
    feed: &crate::feed::Feed,
    pacing: &mut PositionCoalescer,
) -> (Vec<Arc<FeedDelta>>, Option<RecvError>) {
    let now = Instant::now();
    let mut ready = Vec::new();
    let mut next = first;
    loop {
        if follows.change(&next.change)
            && !in_snapshot.holds(feed, &next)
            && let Some(delta) = pacing.pass(next, now)
        {
            ready.push(delta);
        }
        if ready.len() >= MAX_DELTAS_PER_FRAME {
            return (ready, None);
        }
        next = match live.try_recv() {
            Ok(delta) => delta,
            Err(TryRecvError::Empty) => return (ready, None),
            Err(TryRecvError::Lagged(skipped)) => return (ready, Some(RecvError::Lagged(skipped))),
            Err(TryRecvError::Closed) => return (ready, Some(RecvError::Closed)),
        };
    }
}

/// Sends changes in feed order: none, one `delta`, or `deltas` frames of at most
/// [`MAX_DELTAS_PER_FRAME`].
async fn send_deltas<W>(write: &mut W, deltas: Vec<Arc<FeedDelta>>) -> Result<(), ()>
where
    W: Sink<Message> + Unpin,
{
    for chunk in deltas.chunks(MAX_DELTAS_PER_FRAME) {
        let message = match chunk {
            [one] => FeedMessage::Delta((**one).clone()),
            several => FeedMessage::Deltas(FeedDeltas {
                deltas: several.iter().map(|delta| (**delta).clone()).collect(),
            }),
        };
        send(write, message).await?;
    }
    Ok(())
}

async fn send<W>(write: &mut W, message: FeedMessage) -> Result<(), ()>
where
    W: Sink<Message> + Unpin,
{
    write.send(Message::Text(message.encode().into())).await.map_err(|_| ())
}

async fn refuse<W>(write: &mut W, code: ErrorCode, message: String)
where
    W: Sink<Message> + Unpin,
{
    let _ = send(write, FeedMessage::Error(ErrorMessage { code, message })).await;
    let _ = write.send(crate::socket::close_message(code)).await;
}

//! The dispatcher feed's numbering and fan-out: every change a console shows gets the next feed
//! sequence number here, is kept in a ring of recent changes (so a console that reconnects gets
//! only what it missed) and is broadcast to every open console.
//!
//! Changes are published by the store's commit listener while the store's lock is held, so
//! their numbers follow the commit order. This module owns the numbering; it must not know
//! about sockets or the store.

use enroute_protocol::{FeedChange, FeedDelta};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// Changes kept for consoles that reconnect.
pub const RECENT_CHANGES: usize = 20_000;

/// Changes a console may fall behind by before it gets a fresh snapshot instead.
const BROADCAST_CAPACITY: usize = 8_192;

/// The feed of one server process.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    /// Changes at every start: a console's position from an earlier process is no use.
    id: String,
    state: Mutex<FeedState>,
    sender: broadcast::Sender<Arc<FeedDelta>>,
}

struct FeedState {
    /// The number of the last change published (0: none yet).
    last_seq: u64,
    recent: VecDeque<Arc<FeedDelta>>,
}

/// A console's view of the feed from a given position on.
pub struct FeedSubscription {
    /// The last change before the live ones.
    pub feed_seq: u64,
    /// Changes after the position asked for, up to `feed_seq` (empty for a fresh subscription).
    pub missed: Vec<Arc<FeedDelta>>,
    /// Every change after `feed_seq`.
    pub live: broadcast::Receiver<Arc<FeedDelta>>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new(crate::random_token()[..8].to_string())
    }
}

impl Feed {
    pub fn new(id: String) -> Feed {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        Feed {
            inner: Arc::new(FeedInner {
                id,
                state: Mutex::new(FeedState { last_seq: 0, recent: VecDeque::new() }),
                sender,
            }),
        }
    }

    /// This process's feed id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Numbers `changes` in order, keeps them, and sends them to every console.
    pub fn publish(&self, changes: impl IntoIterator<Item = FeedChange>, at_ms: i64) {
        let mut state = self.lock();
        for change in changes {
            state.last_seq += 1;
            let delta = Arc::new(FeedDelta { feed_seq: state.last_seq, at_ms, change });
            if state.recent.len() == RECENT_CHANGES {
                state.recent.pop_front();
            }
            state.recent.push_back(delta.clone());
            // No console listening is fine.
            let _ = self.inner.sender.send(delta);
        }
    }

    /// Everything from now on.
    pub fn subscribe(&self) -> FeedSubscription {
        let state = self.lock();
        FeedSubscription { feed_seq: state.last_seq, missed: Vec::new(), live: self.inner.sender.subscribe() }
    }

    /// Every change after `after_seq`, if this feed still holds them all; then everything live.
    pub fn resume(&self, after_seq: u64) -> Option<FeedSubscription> {
        let state = self.lock();
        if after_seq > state.last_seq {
            return None;
        }
        let oldest_held = state.recent.front().map_or(state.last_seq + 1, |delta| delta.feed_seq);
        if after_seq + 1 < oldest_held {
            return None;
        }
        let missed = state.recent.iter().filter(|delta| delta.feed_seq > after_seq).cloned().collect();
        Some(FeedSubscription { feed_seq: state.last_seq, missed, live: self.inner.sender.subscribe() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(driver: &str) -> FeedChange {
        FeedChange::Connected { driver_id: driver.into() }
    }

    #[test]
    fn changes_are_numbered_in_order_and_a_resume_gets_only_what_was_missed() {
        let feed = Feed::new("test".into());
        feed.publish([connected("a"), connected("b")], 1);
        let mut fresh = feed.subscribe();
        assert_eq!(fresh.feed_seq, 2);
        feed.publish([connected("c")], 2);
        assert_eq!(fresh.live.try_recv().unwrap().feed_seq, 3);
        let resumed = feed.resume(1).unwrap();
        assert_eq!(resumed.missed.iter().map(|delta| delta.feed_seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(feed.resume(3).unwrap().missed.is_empty());
        assert!(feed.resume(4).is_none(), "a position this feed never reached");
    }

    #[test]
    fn a_resume_from_before_the_oldest_kept_change_is_refused() {
        let feed = Feed::new("test".into());
        feed.publish((0..RECENT_CHANGES + 5).map(|_| connected("a")), 1);
        assert!(feed.resume(4).is_none());
        assert!(feed.resume(5).is_some());
    }
}

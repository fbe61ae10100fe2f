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
    state: Mutex<FeedState>,
}

struct FeedState {
    /// Changes at every start (and [`Feed::restart`]): a console's position from an earlier
    /// process is no use.
    id: String,
    sender: broadcast::Sender<Arc<FeedDelta>>,
    /// The number of the last change published (0: none yet).
    last_seq: u64,
    recent: VecDeque<Arc<FeedDelta>>,
    /// Changes shared by the nodes on PostgreSQL (`shared_feed`) published here, as (shared
    /// number, this feed's number), oldest first, as many as `recent` holds.
    shared_marks: VecDeque<(u64, u64)>,
    /// Every shared change up to this number is published here or came before this feed began.
    shared_through: u64,
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
                state: Mutex::new(FeedState {
                    id,
                    sender,
                    last_seq: 0,
                    recent: VecDeque::new(),
                    shared_marks: VecDeque::new(),
                    shared_through: 0,
                }),
            }),
        }
    }

    /// This feed's id.
    pub fn id(&self) -> String {
        self.lock().id.clone()
    }

    /// Starts the feed over under a new id: every console's live changes end (its connection
    /// closes), and when it connects again it gets a snapshot. For when this process cannot
    /// tell consoles what they missed (it fell behind the changes other nodes keep).
    pub fn restart(&self) {
        let mut state = self.lock();
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        // Dropping the old sender ends every receiver of it.
        state.sender = sender;
        state.id = crate::random_token()[..8].to_string();
        state.recent.clear();
        state.shared_marks.clear();
    }

    /// Shared changes up to `shared_seq` came before this feed began (or restarted): a snapshot
    /// holds them.
    pub fn shared_start(&self, shared_seq: u64) {
        let mut state = self.lock();
        state.shared_through = state.shared_through.max(shared_seq);
    }

    /// Publishes the shared change number `shared_seq` (`None`: a change this server cannot
    /// read; only the number moves on).
    pub fn publish_shared(&self, shared_seq: u64, change: Option<FeedChange>, at_ms: i64) {
        let mut state = self.lock();
        if let Some(change) = change {
            Feed::publish_locked(&mut state, change, at_ms);
            let local = state.last_seq;
            if state.shared_marks.len() == RECENT_CHANGES {
                state.shared_marks.pop_front();
            }
            state.shared_marks.push_back((shared_seq, local));
        }
        state.shared_through = state.shared_through.max(shared_seq);
    }

    /// This feed's number through which every shared change up to `shared_seq` has been
    /// published (those after it are newer than `shared_seq`), once they all have been.
    /// A console whose snapshot read the shared changes up to `shared_seq` skips shared changes
    /// up to that number: its snapshot holds them.
    pub fn published_through_shared(&self, shared_seq: u64) -> Option<u64> {
        let state = self.lock();
        if state.shared_through < shared_seq {
            return None;
        }
        let newer_from = state.shared_marks.partition_point(|&(shared, _)| shared <= shared_seq);
        Some(match (newer_from.checked_sub(1), state.shared_marks.get(newer_from)) {
            (Some(last_held), _) => state.shared_marks[last_held].1,
            (None, Some(&(_, first_newer))) => first_newer - 1,
            (None, None) => state.last_seq,
        })
    }

    /// Numbers `changes` in order, keeps them, and sends them to every console.
    pub fn publish(&self, changes: impl IntoIterator<Item = FeedChange>, at_ms: i64) {
        let mut state = self.lock();
        for change in changes {
            Feed::publish_locked(&mut state, change, at_ms);
        }
    }

    fn publish_locked(state: &mut FeedState, change: FeedChange, at_ms: i64) {
        state.last_seq += 1;
        let delta = Arc::new(FeedDelta { feed_seq: state.last_seq, at_ms, change });
        if state.recent.len() == RECENT_CHANGES {
            state.recent.pop_front();
        }
        state.recent.push_back(delta.clone());
        // No console listening is fine.
        let _ = state.sender.send(delta);
    }

    /// Everything from now on.
    pub fn subscribe(&self) -> FeedSubscription {
        let state = self.lock();
        FeedSubscription { feed_seq: state.last_seq, missed: Vec::new(), live: state.sender.subscribe() }
    }

    /// Every change after `after_seq` of the feed `feed_id`, if that is this feed and it still
    /// holds them all; then everything live.
    pub fn resume(&self, feed_id: &str, after_seq: u64) -> Option<FeedSubscription> {
        let state = self.lock();
        if feed_id != state.id || after_seq > state.last_seq {
            return None;
        }
        let oldest_held = state.recent.front().map_or(state.last_seq + 1, |delta| delta.feed_seq);
        if after_seq + 1 < oldest_held {
            return None;
        }
        let missed = state.recent.iter().filter(|delta| delta.feed_seq > after_seq).cloned().collect();
        Some(FeedSubscription { feed_seq: state.last_seq, missed, live: state.sender.subscribe() })
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
        let resumed = feed.resume("test", 1).unwrap();
        assert_eq!(resumed.missed.iter().map(|delta| delta.feed_seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(feed.resume("test", 3).unwrap().missed.is_empty());
        assert!(feed.resume("test", 4).is_none(), "a position this feed never reached");
    }

    #[test]
    fn a_resume_from_before_the_oldest_kept_change_is_refused() {
        let feed = Feed::new("test".into());
        feed.publish((0..RECENT_CHANGES + 5).map(|_| connected("a")), 1);
        assert!(feed.resume("test", 4).is_none());
        assert!(feed.resume("test", 5).is_some());
    }

    #[test]
    fn a_console_knows_which_shared_changes_its_snapshot_holds() {
        let feed = Feed::new("test".into());
        feed.shared_start(10);
        assert_eq!(feed.published_through_shared(10), Some(0), "from before this feed: all in a snapshot");
        assert_eq!(feed.published_through_shared(11), None, "not published yet");
        feed.publish([connected("a")], 1); // 1, not shared
        feed.publish_shared(11, Some(connected("b")), 1); // 2
        feed.publish_shared(12, None, 1); // unreadable: no number here
        feed.publish([connected("c")], 1); // 3
        feed.publish_shared(13, Some(connected("d")), 1); // 4
        assert_eq!(feed.published_through_shared(10), Some(1));
        assert_eq!(feed.published_through_shared(11), Some(2));
        assert_eq!(feed.published_through_shared(12), Some(2));
        assert_eq!(feed.published_through_shared(13), Some(4));
        assert_eq!(feed.published_through_shared(14), None);
    }

    #[test]
    fn a_restart_ends_every_live_subscription_and_refuses_old_positions() {
        let feed = Feed::new("test".into());
        feed.publish([connected("a")], 1);
        let mut before = feed.subscribe();
        feed.restart();
        assert_ne!(feed.id(), "test");
        assert!(matches!(before.live.try_recv(), Err(broadcast::error::TryRecvError::Closed)));
        assert!(feed.resume("test", 1).is_none(), "the old feed is gone");
        let id = feed.id();
        assert!(feed.resume(&id, 0).is_none(), "what came before the restart is gone");
        feed.publish([connected("b")], 2);
        assert_eq!(feed.resume(&id, 1).unwrap().missed.len(), 1);
    }
}

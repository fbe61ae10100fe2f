//! Keeps a console from being flooded with positions: at most one per driver per interval goes
//! out at once; a newer one replaces one that waits, and waiting ones go out when their driver's
//! interval has passed. Only positions pass through here: every other change is sent as it
//! comes. No I/O and no clock: time is an argument.

use enroute_protocol::FeedDelta;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Per-driver pacing of one console's positions.
#[derive(Debug)]
pub struct PositionCoalescer {
    interval: Duration,
    last_sent: HashMap<String, Instant>,
    waiting: HashMap<String, Arc<FeedDelta>>,
}

impl PositionCoalescer {
    pub fn new(interval: Duration) -> PositionCoalescer {
        PositionCoalescer { interval, last_sent: HashMap::new(), waiting: HashMap::new() }
    }

    /// Any change for the console: returned if it may go now. Only positions are ever held (and
    /// replaced by a newer one); every other change passes at once.
    pub fn pass(&mut self, delta: Arc<FeedDelta>, now: Instant) -> Option<Arc<FeedDelta>> {
        if matches!(delta.change, enroute_protocol::FeedChange::Position { .. }) {
            self.offer(delta, now)
        } else {
            Some(delta)
        }
    }

    /// A position for the console: returned if it may go now, else kept (replacing an older one).
    pub fn offer(&mut self, delta: Arc<FeedDelta>, now: Instant) -> Option<Arc<FeedDelta>> {
        let driver_id = delta.change.driver_id().to_string();
        let recently =
            self.last_sent.get(&driver_id).is_some_and(|sent| now.duration_since(*sent) < self.interval);
        if recently {
            self.waiting.insert(driver_id, delta);
            None
        } else {
            self.waiting.remove(&driver_id);
            self.last_sent.insert(driver_id, now);
            Some(delta)
        }
    }

    /// The waiting positions whose driver's interval has passed, in feed order.
    pub fn due(&mut self, now: Instant) -> Vec<Arc<FeedDelta>> {
        let interval = self.interval;
        let last_sent = &self.last_sent;
        let ready: Vec<String> = self
            .waiting
            .keys()
            .filter(|driver_id| {
                last_sent.get(*driver_id).is_none_or(|sent| now.duration_since(*sent) >= interval)
            })
            .cloned()
            .collect();
        let mut due: Vec<Arc<FeedDelta>> = ready
            .into_iter()
            .filter_map(|driver_id| {
                self.last_sent.insert(driver_id.clone(), now);
                self.waiting.remove(&driver_id)
            })
            .collect();
        due.sort_by_key(|delta| delta.feed_seq);
        due
    }

    /// Forgets everything (the console gets a fresh snapshot).
    pub fn clear(&mut self) {
        self.last_sent.clear();
        self.waiting.clear();
    }

    /// Positions waiting to go.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enroute_protocol::{FeedChange, Fix};

    fn position(feed_seq: u64, driver: &str, lat: f64) -> Arc<FeedDelta> {
        let fix = Fix {
            time_ms: feed_seq as i64,
            lat,
            lon: 11.5,
            accuracy_m: 5.0,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        };
        Arc::new(FeedDelta {
            feed_seq,
            at_ms: 0,
            change: FeedChange::Position { driver_id: driver.into(), fix },
        })
    }

    #[test]
    fn a_driver_gets_one_position_per_interval_and_the_newest_waiting_one_goes_next() {
        let start = Instant::now();
        let mut coalescer = PositionCoalescer::new(Duration::from_secs(1));
        assert!(coalescer.offer(position(1, "a", 1.0), start).is_some());
        assert!(coalescer.offer(position(2, "b", 1.0), start).is_some(), "drivers are paced apart");
        for (step, seq) in (3..13).enumerate() {
            let at = start + Duration::from_millis(50 * (step as u64 + 1));
            assert!(coalescer.offer(position(seq, "a", seq as f64), at).is_none());
        }
        assert_eq!(coalescer.waiting(), 1, "only the newest waits");
        let message = Arc::new(FeedDelta {
            feed_seq: 99,
            at_ms: 0,
            change: FeedChange::Message { driver_id: "a".into(), event_id: 1, text: "hi".into() },
        });
        assert!(coalescer.pass(message, start).is_some(), "other changes are never held");
        assert!(coalescer.due(start + Duration::from_millis(900)).is_empty());
        let due = coalescer.due(start + Duration::from_millis(1_000));
        assert_eq!(due.iter().map(|delta| delta.feed_seq).collect::<Vec<_>>(), vec![12]);
        assert!(coalescer.offer(position(13, "a", 0.0), start + Duration::from_millis(1_500)).is_none());
        assert_eq!(coalescer.due(start + Duration::from_millis(2_000)).len(), 1);
    }
}

//! What the app shows about synchronisation, as plain data. The tab that runs the engine
//! computes it and the UI renders it; other tabs of the app receive it as is, so it holds
//! nothing tied to one tab's clock.

use crate::assignments::DispatchMessage;
use crate::engine::SyncSnapshot;
use crate::job_view::JobView;
use crate::link_summary::{LinkTone, summarize_link};
use crate::time::Instant;
use crate::tracking::TrackingView;
use enroute_protocol::DriverStatus;
use serde::{Deserialize, Serialize};

/// Everything the header and the duty screen show about synchronisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    /// Short connection label ("Online", "Offline · retrying in 4 s").
    pub link_label: String,
    /// Longer explanation of the connection state.
    pub link_detail: String,
    /// Colour of the connection indicator: "good", "busy" or "bad".
    pub link_tone: String,
    /// Records not yet acknowledged by the server.
    pub waiting: usize,
    /// Records not yet written to storage on this device.
    pub unsaved: usize,
    /// False while records cannot be stored on the device (they live in memory only).
    pub storage_ok: bool,
    /// Location fixes dropped because the outbox was over its limits, ever.
    pub evicted_total: u64,
    /// Records dispatch refused for good, moved aside so they cannot block the queue, ever.
    #[serde(default)]
    pub dead_letters_total: u64,
    /// True when dispatch refused the connection for a reason retrying cannot fix (sign-in
    /// rejected, signed in elsewhere): the app waits for new settings or a Reconnect tap.
    #[serde(default)]
    pub link_refused: bool,
    /// When the server last acknowledged records (device clock, Unix milliseconds).
    pub last_ack_unix_ms: Option<i64>,
    /// Whether the driver is on duty.
    pub on_duty: bool,
    /// Location tracking: state, position, counts, recent track.
    pub tracking: TrackingView,
    /// The driver's jobs, in list order.
    pub jobs: Vec<JobView>,
    /// The dispatcher's latest messages, oldest first.
    pub messages: Vec<DispatchMessage>,
    /// False until the stored jobs have been read: "no such job" means nothing before that.
    #[serde(default)]
    pub jobs_loaded: bool,
}

impl SyncView {
    /// The view of `snapshot` and `tracking` as seen at `now` (no jobs; see `with_jobs`).
    pub fn of(snapshot: &SyncSnapshot, tracking: TrackingView, now: Instant) -> SyncView {
        let link = summarize_link(&snapshot.link, now);
        SyncView {
            link_label: link.label,
            link_detail: link.detail,
            link_tone: link.tone.as_str().to_string(),
            waiting: snapshot.outbox.waiting,
            unsaved: snapshot.outbox.unsaved,
            storage_ok: snapshot.outbox.storage_ok,
            evicted_total: snapshot.outbox.evicted_total,
            dead_letters_total: snapshot.outbox.dead_letters_total,
            link_refused: matches!(snapshot.link, crate::connection::LinkStatus::Refused { .. }),
            last_ack_unix_ms: snapshot.outbox.last_ack_unix_ms,
            on_duty: snapshot.outbox.duty == Some(DriverStatus::OnDuty),
            tracking,
            jobs: Vec::new(),
            messages: Vec::new(),
            jobs_loaded: false,
        }
    }

    /// The view with the driver's jobs and messages, as read from storage and the server.
    pub fn with_jobs(mut self, jobs: Vec<JobView>, messages: Vec<DispatchMessage>) -> SyncView {
        self.jobs = jobs;
        self.messages = messages;
        self.jobs_loaded = true;
        self
    }

    /// The view before anything is known.
    pub fn starting() -> SyncView {
        SyncView {
            link_label: "Starting".into(),
            link_detail: "The app is starting.".into(),
            link_tone: LinkTone::Busy.as_str().to_string(),
            waiting: 0,
            unsaved: 0,
            storage_ok: true,
            evicted_total: 0,
            dead_letters_total: 0,
            link_refused: false,
            last_ack_unix_ms: None,
            on_duty: false,
            tracking: TrackingView::default(),
            jobs: Vec::new(),
            messages: Vec::new(),
            jobs_loaded: false,
        }
    }

    /// "3 records waiting", "1 record waiting", "All sent".
    pub fn waiting_label(&self) -> String {
        match self.waiting {
            0 => "All sent".into(),
            1 => "1 record waiting".into(),
            count => format!("{count} records waiting"),
        }
    }

    /// "Last sync 14:05" style text for the last acknowledgement, given a formatter for the
    /// wall-clock time (the app formats it in the driver's time zone).
    pub fn last_sync_label(&self, format_time: impl Fn(i64) -> String) -> String {
        match self.last_ack_unix_ms {
            Some(unix_ms) => format!("Last sync {}", format_time(unix_ms)),
            None => "Not synced yet".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::LinkStatus;
    use crate::outbox::OutboxStatus;

    #[test]
    fn labels_read_naturally() {
        let snapshot = SyncSnapshot {
            link: LinkStatus::Online,
            outbox: OutboxStatus { waiting: 3, storage_ok: true, ..OutboxStatus::default() },
        };
        let view = SyncView::of(&snapshot, TrackingView::default(), Instant::default());
        assert_eq!(view.waiting_label(), "3 records waiting");
        assert_eq!(view.link_tone, "good");
        assert_eq!(view.last_sync_label(|_| unreachable!()), "Not synced yet");
        let synced = SyncView { waiting: 1, last_ack_unix_ms: Some(5), ..view };
        assert_eq!(synced.waiting_label(), "1 record waiting");
        assert_eq!(synced.last_sync_label(|unix_ms| format!("at {unix_ms}")), "Last sync at 5");
        assert_eq!(SyncView { waiting: 0, ..synced }.waiting_label(), "All sent");
    }

    #[test]
    fn the_view_round_trips_through_json_for_other_tabs() {
        let view = SyncView::starting();
        let text = serde_json::to_string(&view).unwrap();
        assert_eq!(serde_json::from_str::<SyncView>(&text).unwrap(), view);
    }
}

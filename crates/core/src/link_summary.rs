//! What the header says about the link to the server, in words a driver understands.

use crate::connection::LinkStatus;
use crate::time::Instant;
use enroute_protocol::ErrorCode;

/// The connection indicator's state: a short label and a tone for its colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSummary {
    /// Short text, e.g. "Online" or "Retrying in 4 s".
    pub label: String,
    /// Longer explanation for screen readers and the tooltip.
    pub detail: String,
    pub tone: LinkTone,
}

/// Colour family of the indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTone {
    Good,
    Busy,
    Bad,
}

impl LinkTone {
    /// CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkTone::Good => "good",
            LinkTone::Busy => "busy",
            LinkTone::Bad => "bad",
        }
    }
}

/// Describes `status` as seen at `now`.
pub fn summarize_link(status: &LinkStatus, now: Instant) -> LinkSummary {
    match status {
        LinkStatus::Idle => LinkSummary {
            label: "Not connected".into(),
            detail: "The app has not started connecting.".into(),
            tone: LinkTone::Bad,
        },
        LinkStatus::Connecting => LinkSummary {
            label: "Connecting".into(),
            detail: "Connecting to the dispatch server.".into(),
            tone: LinkTone::Busy,
        },
        LinkStatus::Online => LinkSummary {
            label: "Online".into(),
            detail: "Connected to the dispatch server.".into(),
            tone: LinkTone::Good,
        },
        LinkStatus::Waiting { retry_at, browser_offline } => {
            // Round up so the countdown never shows "0 s" while still waiting.
            let seconds = (retry_at.saturating_duration_since(now).as_millis() as u64).div_ceil(1000);
            let label = if *browser_offline { "Offline".to_string() } else { "Disconnected".to_string() };
            let why =
                if *browser_offline { "This phone has no network." } else { "The server cannot be reached." };
            LinkSummary {
                detail: format!("{why} Retrying in {seconds} s; nothing you record is lost."),
                label: format!("{label} · retrying in {seconds} s"),
                tone: LinkTone::Bad,
            }
        }
        LinkStatus::Refused { code: ErrorCode::Unauthorized, .. } => LinkSummary {
            label: "Sign-in rejected".into(),
            detail: "Dispatch did not accept this driver id and token. Check them in Settings; \
                     nothing you record is lost meanwhile."
                .into(),
            tone: LinkTone::Bad,
        },
        LinkStatus::Refused { code: ErrorCode::TokenRevoked, .. } => LinkSummary {
            label: "Sign-in rejected".into(),
            detail: "Dispatch revoked this token. Ask dispatch for a new one and enter it in Settings; \
                     nothing you record is lost meanwhile."
                .into(),
            tone: LinkTone::Bad,
        },
        LinkStatus::Refused { code: ErrorCode::Replaced, .. } => LinkSummary {
            label: "Signed in elsewhere".into(),
            detail: "This driver signed in on another phone or tab, which now sends the updates. \
                     Tap Reconnect to send from this one again."
                .into(),
            tone: LinkTone::Bad,
        },
        LinkStatus::Refused { code: ErrorCode::UnsupportedProtocol, message } => LinkSummary {
            label: "App update needed".into(),
            detail: format!(
                "This version of the app cannot talk to the dispatch server ({message}). Update the app."
            ),
            tone: LinkTone::Bad,
        },
        LinkStatus::Refused { message, .. } => LinkSummary {
            label: "Refused by server".into(),
            detail: format!("The server refused this app: {message}"),
            tone: LinkTone::Bad,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enroute_protocol::ErrorCode;

    #[test]
    fn waiting_counts_down_in_whole_seconds_rounded_up() {
        let status = LinkStatus::Waiting { retry_at: Instant::from_millis(10_500), browser_offline: false };
        let summary = summarize_link(&status, Instant::from_millis(6_000));
        assert_eq!(summary.label, "Disconnected · retrying in 5 s");
        assert_eq!(summary.tone, LinkTone::Bad);
        assert_eq!(
            summarize_link(&status, Instant::from_millis(10_499)).label,
            "Disconnected · retrying in 1 s"
        );
    }

    #[test]
    fn offline_browser_says_offline() {
        let status = LinkStatus::Waiting { retry_at: Instant::from_millis(20_000), browser_offline: true };
        let summary = summarize_link(&status, Instant::from_millis(0));
        assert_eq!(summary.label, "Offline · retrying in 20 s");
        assert!(summary.detail.contains("no network"));
    }

    #[test]
    fn online_and_refused() {
        assert_eq!(summarize_link(&LinkStatus::Online, Instant::default()).label, "Online");
        let refused =
            LinkStatus::Refused { code: ErrorCode::UnsupportedProtocol, message: "update the app".into() };
        let summary = summarize_link(&refused, Instant::default());
        assert_eq!(summary.label, "App update needed");
        assert!(summary.detail.contains("update the app"), "{}", summary.detail);
        let rejected = LinkStatus::Refused { code: ErrorCode::Unauthorized, message: "no".into() };
        assert_eq!(summarize_link(&rejected, Instant::default()).label, "Sign-in rejected");
        let replaced = LinkStatus::Refused { code: ErrorCode::Replaced, message: "no".into() };
        assert!(summarize_link(&replaced, Instant::default()).detail.contains("Reconnect"));
    }
}

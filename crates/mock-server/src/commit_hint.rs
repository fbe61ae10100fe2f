//! The one notification a PostgreSQL transaction sends when it commits something other nodes
//! must look at: which drivers got new events, and whether the dispatcher feed's shared changes
//! grew (`shared_feed.rs`). A hint only: nodes also look on a timer, so a lost one delays.
//!
//! The payload is a comma-separated list: driver ids (plain: letters, digits, `._-`), `*` for
//! "every driver" when the list would not fit PostgreSQL's 8,000 bytes, and `#` for "the feed
//! grew". This module must not know about connections: it only writes and reads payloads.

/// PostgreSQL's limit on a payload is 8,000 bytes: beyond this, "every driver".
const MAX_PAYLOAD: usize = 7_000;

/// Which drivers a hint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintedDrivers {
    Named(Vec<String>),
    Everyone,
}

/// What one committed transaction asks the other nodes to re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHint {
    pub drivers: HintedDrivers,
    pub feed_grew: bool,
}

/// The payload for a transaction that stored events for `driver_ids` and, if `feed_grew`,
/// shared feed changes; `None` when it did neither (no notification at all).
pub fn encode(driver_ids: &[&str], feed_grew: bool) -> Option<String> {
    if driver_ids.is_empty() && !feed_grew {
        return None;
    }
    let mut unique: Vec<&str> = driver_ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut listed = unique.join(",");
    if listed.len() > MAX_PAYLOAD {
        listed = "*".to_string();
    }
    if feed_grew {
        listed = if listed.is_empty() { "#".to_string() } else { format!("#,{listed}") };
    }
    Some(listed)
}

/// Reads a payload; items it does not know are driver ids to look at (harmless if none).
pub fn decode(payload: &str) -> CommitHint {
    let mut hint = CommitHint { drivers: HintedDrivers::Named(Vec::new()), feed_grew: false };
    for item in payload.split(',').filter(|item| !item.is_empty()) {
        match (item, &mut hint.drivers) {
            ("#", _) => hint.feed_grew = true,
            ("*", drivers) => *drivers = HintedDrivers::Everyone,
            (driver_id, HintedDrivers::Named(named)) => named.push(driver_id.to_string()),
            (_, HintedDrivers::Everyone) => {}
        }
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_round_trip() {
        assert_eq!(encode(&[], false), None);
        let both = encode(&["van-2", "van-1", "van-2"], true).unwrap();
        assert_eq!(both, "#,van-1,van-2");
        assert_eq!(
            decode(&both),
            CommitHint {
                drivers: HintedDrivers::Named(vec!["van-1".into(), "van-2".into()]),
                feed_grew: true
            }
        );
        assert_eq!(
            decode(&encode(&[], true).unwrap()),
            CommitHint { drivers: HintedDrivers::Named(vec![]), feed_grew: true }
        );
        let many: Vec<String> = (0..2_000).map(|index| format!("driver-{index}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let everyone = encode(&many, false).unwrap();
        assert_eq!(everyone, "*");
        assert_eq!(decode(&everyone).drivers, HintedDrivers::Everyone);
        assert_eq!(decode(",,").drivers, HintedDrivers::Named(vec![]));
    }
}

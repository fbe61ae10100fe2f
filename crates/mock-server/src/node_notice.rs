//! What one server process (node) tells the others sharing its database about drivers'
//! connections: a driver signed in on it (so another node ends its older connection of the
//! driver, as one node does for its own, and consoles everywhere show the driver connected),
//! the connection closed (consoles show it offline), or a driver's token was revoked through it
//! (so every node ends the driver's connection). Carried by PostgreSQL notifications
//! (`PgStore::tell_nodes`, `postgres_fanout`); with SQLite there is one node and nothing to tell.
//!
//! A notice is one line, `signed_in NODE AT_MS CONNECTION DRIVER`, `signed_out NODE CONNECTION
//! DRIVER` or `revoked NODE DRIVER`: node names are random hex, connections numbers, driver ids
//! plain (no spaces, `driver_registry::is_valid_driver_id`).

/// What happened to a driver's connections on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverNews {
    /// The driver signed in at `at_ms` (that node's clock) on that node's connection number
    /// `connection`.
    SignedIn { driver_id: String, at_ms: i64, connection: u64 },
    /// That connection closed, or was ended (not by a newer sign-in on the same node).
    SignedOut { driver_id: String, connection: u64 },
    /// The driver's token was revoked.
    Revoked { driver_id: String },
}

/// [`DriverNews`] from the node named `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeNotice {
    pub node: String,
    pub news: DriverNews,
}

impl NodeNotice {
    pub fn encode(&self) -> String {
        let node = &self.node;
        match &self.news {
            DriverNews::SignedIn { driver_id, at_ms, connection } => {
                format!("signed_in {node} {at_ms} {connection} {driver_id}")
            }
            DriverNews::SignedOut { driver_id, connection } => {
                format!("signed_out {node} {connection} {driver_id}")
            }
            DriverNews::Revoked { driver_id } => format!("revoked {node} {driver_id}"),
        }
    }

    /// `None` for anything else (a newer server's notice, say): ignored, never a panic.
    pub fn decode(text: &str) -> Option<NodeNotice> {
        let parts: Vec<&str> = text.split(' ').collect();
        let (node, news) = match parts.as_slice() {
            ["signed_in", node, at_ms, connection, driver_id] => (
                node,
                DriverNews::SignedIn {
                    driver_id: (*driver_id).to_string(),
                    at_ms: at_ms.parse().ok()?,
                    connection: connection.parse().ok()?,
                },
            ),
            ["signed_out", node, connection, driver_id] => (
                node,
                DriverNews::SignedOut {
                    driver_id: (*driver_id).to_string(),
                    connection: connection.parse().ok()?,
                },
            ),
            ["revoked", node, driver_id] => {
                (node, DriverNews::Revoked { driver_id: (*driver_id).to_string() })
            }
            _ => return None,
        };
        Some(NodeNotice { node: (*node).to_string(), news })
    }
}

/// PostgreSQL's limit on a notification's payload is 8,000 bytes; notices are joined by new
/// lines into payloads of at most this many.
const MAX_PAYLOAD: usize = 7_000;

/// The notices of `node` about `news`, in order, joined into as few payloads as fit.
pub fn payloads(node: &str, news: &[DriverNews]) -> Vec<String> {
    let mut payloads: Vec<String> = Vec::new();
    for news in news {
        let line = NodeNotice { node: node.to_string(), news: news.clone() }.encode();
        match payloads.last_mut() {
            Some(payload) if payload.len() + 1 + line.len() <= MAX_PAYLOAD => {
                payload.push('\n');
                payload.push_str(&line);
            }
            _ => payloads.push(line),
        }
    }
    payloads
}

/// Every notice in a payload, in order (`None` for a line this server does not know).
pub fn decode_payload(payload: &str) -> impl Iterator<Item = (&str, Option<NodeNotice>)> {
    payload.lines().map(|line| (line, NodeNotice::decode(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_anything_else_is_ignored() {
        for news in [
            DriverNews::SignedIn { driver_id: "van-7".into(), at_ms: 1_700_000_000_000, connection: 4 },
            DriverNews::SignedOut { driver_id: "van-7".into(), connection: 4 },
            DriverNews::Revoked { driver_id: "van-7".into() },
        ] {
            let notice = NodeNotice { node: "a1b2c3".into(), news };
            assert_eq!(NodeNotice::decode(&notice.encode()), Some(notice.clone()));
        }
        let news: Vec<DriverNews> = (0..400)
            .map(|connection| DriverNews::SignedOut { driver_id: format!("driver-{connection}"), connection })
            .collect();
        let payloads = payloads("a1b2c3", &news);
        assert!(payloads.len() > 1 && payloads.iter().all(|payload| payload.len() <= MAX_PAYLOAD));
        let decoded: Vec<DriverNews> = payloads
            .iter()
            .flat_map(|payload| decode_payload(payload).map(|(_, notice)| notice.unwrap().news))
            .collect();
        assert_eq!(decoded, news, "every notice, in order");
        for bad in [
            "",
            "signed_in",
            "signed_in a b c d",
            "revoked a",
            "moved a b c",
            "signed_in a 1 2 b c",
            "signed_out a x b",
        ] {
            assert_eq!(NodeNotice::decode(bad), None, "{bad:?}");
        }
    }
}

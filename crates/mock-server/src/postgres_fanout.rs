//! Events committed by another node reach the drivers connected to this one (PostgreSQL only).
//!
//! The tables are the truth; notifications are hints. Every transaction that stores events
//! sends one notification on `enroute_events` naming their drivers (`notify_events_in`, sent at
//! commit). A thread of this node listens on a connection of its own and, for each named driver
//! with a connection here, reads the driver's newest event and hands it to the hub: the
//! driver's session sends it, or, if it skips ids, reads the ones in between from the store
//! first (`Session::handle_pushed`), and drops what it already sent. Because a hint can be lost
//! (the listening connection dropped, the node paused), the thread also looks at every connected
//! driver's newest event on a timer and right after it connects again, so a lost hint only
//! delays an event.
//!
//! The same thread hears the other nodes' notices about drivers' connections
//! (`node_notice.rs`, channel `enroute_drivers`): a driver signed in elsewhere ends its older
//! connection here (`replaced`); a revoked token ends it (`token_revoked`). One connection per
//! driver across the nodes, as within one.
//!
//! This module must not know about sockets or sessions: it talks to the hub and the sign-ins.

use crate::hub::Hub;
use crate::node_notice::{DriverNews, NodeNotice};
use crate::postgres_sql::PgConnection;
use crate::sign_ins::SignIns;
use crate::sql::SqlConnection;
use enroute_protocol::Event;
use postgres::fallible_iterator::FallibleIterator;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often every connected driver's newest event is looked at, hint or not.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3);
/// How long to wait before connecting again after the listening connection was lost.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Starts the listening thread; it runs as long as the process.
/// `node`: this process's name among the nodes (`Store::node_name`): its own notices are not news.
/// `sweep_every`: how often it looks without a hint ([`SWEEP_EVERY`]; tests of the hints alone
/// pass a long one).
pub fn start(
    url: String,
    node: String,
    hub: Hub,
    sign_ins: SignIns,
    sweep_every: Duration,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("enroute-fanout".into()).spawn(move || {
        let mut pushed: HashMap<String, u64> = HashMap::new();
        loop {
            if let Err(error) = listen(&url, &node, &hub, &sign_ins, sweep_every, &mut pushed) {
                tracing::warn!(%error, "the node's listening connection was lost; connecting again");
            }
            std::thread::sleep(RECONNECT_AFTER);
        }
    })?;
    Ok(())
}

/// Listens until the connection fails.
fn listen(
    url: &str,
    node: &str,
    hub: &Hub,
    sign_ins: &SignIns,
    sweep_every: Duration,
    pushed: &mut HashMap<String, u64>,
) -> Result<(), crate::store::StoreError> {
    let mut connection = PgConnection::connect(url)?;
    // Named `enroute-fanout NODE`, so an operator (or a test) can find it in pg_stat_activity.
    // The channels are the schema's (`enroute_events_public`): several deployments may share
    // one database in schemas of their own, and must not hear each other.
    let schema = connection.query_one("SELECT current_schema()", &[])?.text(0)?;
    let (events_channel, drivers_channel) =
        (format!("enroute_events_{schema}"), format!("enroute_drivers_{schema}"));
    connection.batch(&format!(
        "SET application_name = 'enroute-fanout {}'; LISTEN \"{}\"; LISTEN \"{}\"",
        node.replace('\'', ""),
        events_channel.replace('"', "\"\""),
        drivers_channel.replace('"', "\"\"")
    ))?;
    // Whatever was committed while this node was not listening.
    sweep(&mut connection, node, hub, sign_ins, pushed)?;
    let mut last_sweep = Instant::now();
    loop {
        let wait = sweep_every.saturating_sub(last_sweep.elapsed());
        let mut named: Vec<String> = Vec::new();
        let mut everyone = false;
        {
            let mut take = |channel: &str, payload: &str| {
                if channel == drivers_channel {
                    match NodeNotice::decode(payload) {
                        Some(notice) if notice.node == node => {}
                        Some(NodeNotice { news: DriverNews::SignedIn { driver_id, at_ms }, .. }) => {
                            sign_ins.replaced_elsewhere(&driver_id, at_ms);
                        }
                        Some(NodeNotice { news: DriverNews::Revoked { driver_id }, .. }) => {
                            sign_ins.end(&driver_id, enroute_protocol::ErrorCode::TokenRevoked);
                        }
                        None => tracing::warn!(payload, "a notice from another node this one does not know"),
                    }
                } else if payload == "*" {
                    everyone = true;
                } else {
                    named.extend(payload.split(',').filter(|id| !id.is_empty()).map(str::to_string));
                }
            };
            let mut notifications = connection.client().notifications();
            let first = notifications.timeout_iter(wait).next()?;
            if let Some(notification) = first {
                take(notification.channel(), notification.payload());
                // And whatever else has arrived already, without waiting.
                let mut pending = notifications.iter();
                while let Some(notification) = pending.next()? {
                    take(notification.channel(), notification.payload());
                }
            }
        }
        if everyone || last_sweep.elapsed() >= sweep_every {
            sweep(&mut connection, node, hub, sign_ins, pushed)?;
            last_sweep = Instant::now();
        } else if !named.is_empty() {
            let here: Vec<String> =
                named.into_iter().filter(|driver_id| hub.listeners(driver_id) > 0).collect();
            push_newest(&mut connection, hub, pushed, &here)?;
        }
    }
}

/// Every driver connected here: its newest event, if newer than what was handed to the hub.
/// And every driver signed in here that signed in later on another node, or whose token was
/// revoked: its connection here ends (the notice was missed).
fn sweep(
    connection: &mut PgConnection,
    node: &str,
    hub: &Hub,
    sign_ins: &SignIns,
    pushed: &mut HashMap<String, u64>,
) -> Result<(), crate::store::StoreError> {
    let here = hub.drivers();
    let connected: std::collections::HashSet<&String> = here.iter().collect();
    pushed.retain(|driver_id, _| connected.contains(driver_id));
    push_newest(connection, hub, pushed, &here)?;
    let signed_in: Vec<String> = sign_ins.signed_in().into_iter().collect();
    if signed_in.is_empty() {
        return Ok(());
    }
    let elsewhere = connection
        .client()
        .query(
            "SELECT driver_id, at_ms FROM driver_sign_ins WHERE driver_id = ANY($1) AND node <> $2",
            &[&signed_in, &node],
        )
        .map_err(crate::store::StoreError::from)?;
    for row in elsewhere {
        sign_ins.replaced_elsewhere(row.get::<_, &str>(0), row.get(1));
    }
    // A token revoked through another node whose notice was missed.
    let revoked = connection
        .client()
        .query(
            "SELECT driver_id FROM driver_accounts WHERE driver_id = ANY($1) AND revoked_ms IS NOT NULL",
            &[&signed_in],
        )
        .map_err(crate::store::StoreError::from)?;
    for row in revoked {
        sign_ins.end(row.get::<_, &str>(0), enroute_protocol::ErrorCode::TokenRevoked);
    }
    Ok(())
}

/// Hands each driver's newest stored event to the hub when it is newer than the last handed.
fn push_newest(
    connection: &mut PgConnection,
    hub: &Hub,
    pushed: &mut HashMap<String, u64>,
    driver_ids: &[String],
) -> Result<(), crate::store::StoreError> {
    if driver_ids.is_empty() {
        return Ok(());
    }
    let rows = connection
        .client()
        .query(
            "SELECT DISTINCT ON (driver_id) driver_id, event_id, body FROM events
             WHERE driver_id = ANY($1) ORDER BY driver_id, event_id DESC",
            &[&driver_ids],
        )
        .map_err(crate::store::StoreError::from)?;
    for row in rows {
        let driver_id: String = row.get(0);
        let event_id = row.get::<_, i64>(1) as u64;
        if pushed.get(&driver_id).is_some_and(|&handed| handed >= event_id) {
            continue;
        }
        let body: String = row.get(2);
        match serde_json::from_str::<Event>(&body) {
            Ok(event) => {
                hub.publish(&driver_id, &event);
                pushed.insert(driver_id, event_id);
            }
            Err(error) => {
                tracing::error!(driver = %driver_id, event_id, %error, "a stored event cannot be read")
            }
        }
    }
    Ok(())
}

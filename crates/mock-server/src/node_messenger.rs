//! Tells the other nodes on the database about this node's drivers (`node_notice.rs`), from a
//! thread of its own: sign-ins and sign-outs happen on async tasks that must not wait for the
//! database, and one queue keeps each driver's news in the order it happened.
//!
//! This module must not know what the news means: `SignIns` makes it, the store sends it.

use crate::node_notice::DriverNews;
use crate::store::Store;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Most news told in one transaction.
const MAX_NEWS_AT_ONCE: usize = 500;

/// Starts the messenger thread for `store`; it ends when the last sender is dropped.
pub fn start(store: Arc<dyn Store>) -> std::io::Result<Sender<DriverNews>> {
    let (sender, receiver): (Sender<DriverNews>, Receiver<DriverNews>) = channel();
    std::thread::Builder::new().name("enroute-node-news".into()).spawn(move || {
        while let Ok(first) = receiver.recv() {
            // What has piled up meanwhile goes in the same transaction (a reconnect storm).
            let mut news = vec![first];
            while news.len() < MAX_NEWS_AT_ONCE
                && let Ok(more) = receiver.try_recv()
            {
                news.push(more);
            }
            // A failure is logged by the store; the other nodes' sweeps read the table anyway.
            store.tell_nodes(&news);
        }
    })?;
    Ok(sender)
}

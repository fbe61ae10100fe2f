//! Reusable pieces of the UI. Each renders state it finds in context.

mod connection_indicator;
mod header;
mod sync_status;

pub use connection_indicator::ConnectionIndicator;
pub use header::Header;
pub use sync_status::SyncStatus;

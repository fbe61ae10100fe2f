//! Reusable pieces of the UI. Each renders state it is given or finds in context.

mod connection_indicator;
mod header;

pub use connection_indicator::ConnectionIndicator;
pub use header::Header;

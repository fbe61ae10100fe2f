//! Reusable pieces of the UI. Each renders state it finds in context.

mod connection_indicator;
mod header;
mod offer_banner;
mod sync_status;
mod track_sketch;
mod tracking_panel;
mod update_banner;

pub use connection_indicator::ConnectionIndicator;
pub use header::Header;
pub use offer_banner::OfferBanner;
pub use sync_status::SyncStatus;
pub use track_sketch::TrackSketch;
pub use tracking_panel::TrackingPanel;
pub use update_banner::UpdateBanner;

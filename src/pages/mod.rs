//! One component per route.

mod assignments;
mod duty;
mod not_found;
mod settings;

pub use assignments::AssignmentsPage;
pub use duty::DutyPage;
pub use not_found::NotFoundPage;
pub use settings::SettingsPage;

//! One component per route.

mod assignment_detail;
mod assignments;
mod duty;
mod not_found;
mod settings;

pub use assignment_detail::AssignmentDetailPage;
pub use assignments::AssignmentsPage;
pub use duty::DutyPage;
pub use not_found::NotFoundPage;
pub use settings::SettingsPage;

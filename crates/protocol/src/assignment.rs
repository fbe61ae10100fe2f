use serde::{Deserialize, Serialize};
use std::fmt;

/// A job for one driver: pick something up and deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Chosen by the dispatch system; unique.
    pub id: String,
    pub pickup: Stop,
    pub dropoff: Stop,
    /// When the delivery is expected (Unix milliseconds).
    pub window: TimeWindow,
    /// Free text from the dispatcher, shown as text, never as HTML.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// An offer not accepted by then expires (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_by_ms: Option<i64>,
    /// Where the job stands, as the server sees it.
    pub status: AssignmentStatus,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// A place to stop at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub address: String,
    pub lat: f64,
    pub lon: f64,
}

/// A span of time, Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Where a job stands.
///
/// ```text
/// offered ─▶ accepted ─▶ en_route ─▶ arrived_at_pickup ─▶ picked_up ─▶ arrived_at_dropoff ─▶ delivered
///    │                                                                                  └──▶ failed
///    ├─▶ declined
///    └─▶ expired          any state before delivered, failed, declined, expired ─▶ cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    Offered,
    Accepted,
    Declined,
    Expired,
    EnRoute,
    ArrivedAtPickup,
    PickedUp,
    ArrivedAtDropoff,
    Delivered,
    Failed,
    Cancelled,
}

impl AssignmentStatus {
    /// Every status, in workflow order.
    pub const ALL: [AssignmentStatus; 11] = [
        AssignmentStatus::Offered,
        AssignmentStatus::Accepted,
        AssignmentStatus::Declined,
        AssignmentStatus::Expired,
        AssignmentStatus::EnRoute,
        AssignmentStatus::ArrivedAtPickup,
        AssignmentStatus::PickedUp,
        AssignmentStatus::ArrivedAtDropoff,
        AssignmentStatus::Delivered,
        AssignmentStatus::Failed,
        AssignmentStatus::Cancelled,
    ];

    /// Whether the job is over (nothing can change it any more).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AssignmentStatus::Declined
                | AssignmentStatus::Expired
                | AssignmentStatus::Delivered
                | AssignmentStatus::Failed
                | AssignmentStatus::Cancelled
        )
    }

    /// The status in words for the driver.
    pub fn label(self) -> &'static str {
        match self {
            AssignmentStatus::Offered => "Offered",
            AssignmentStatus::Accepted => "Accepted",
            AssignmentStatus::Declined => "Declined",
            AssignmentStatus::Expired => "Expired",
            AssignmentStatus::EnRoute => "On the way to pickup",
            AssignmentStatus::ArrivedAtPickup => "At pickup",
            AssignmentStatus::PickedUp => "Picked up",
            AssignmentStatus::ArrivedAtDropoff => "At drop-off",
            AssignmentStatus::Delivered => "Delivered",
            AssignmentStatus::Failed => "Failed",
            AssignmentStatus::Cancelled => "Cancelled",
        }
    }

    /// The status as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Offered => "offered",
            AssignmentStatus::Accepted => "accepted",
            AssignmentStatus::Declined => "declined",
            AssignmentStatus::Expired => "expired",
            AssignmentStatus::EnRoute => "en_route",
            AssignmentStatus::ArrivedAtPickup => "arrived_at_pickup",
            AssignmentStatus::PickedUp => "picked_up",
            AssignmentStatus::ArrivedAtDropoff => "arrived_at_dropoff",
            AssignmentStatus::Delivered => "delivered",
            AssignmentStatus::Failed => "failed",
            AssignmentStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for AssignmentStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the driver does to a job. Travels as an `assignment` record through the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverAction {
    Accept,
    Decline,
    StartRoute,
    ArriveAtPickup,
    PickUp,
    ArriveAtDropoff,
    Deliver,
    /// Needs a reason in the record.
    Fail,
}

impl DriverAction {
    /// Every action, in workflow order.
    pub const ALL: [DriverAction; 8] = [
        DriverAction::Accept,
        DriverAction::Decline,
        DriverAction::StartRoute,
        DriverAction::ArriveAtPickup,
        DriverAction::PickUp,
        DriverAction::ArriveAtDropoff,
        DriverAction::Deliver,
        DriverAction::Fail,
    ];

    /// A button label.
    pub fn label(self) -> &'static str {
        match self {
            DriverAction::Accept => "Accept",
            DriverAction::Decline => "Decline",
            DriverAction::StartRoute => "Start driving to pickup",
            DriverAction::ArriveAtPickup => "Arrived at pickup",
            DriverAction::PickUp => "Picked up",
            DriverAction::ArriveAtDropoff => "Arrived at drop-off",
            DriverAction::Deliver => "Delivered",
            DriverAction::Fail => "Could not deliver",
        }
    }

    /// The action as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DriverAction::Accept => "accept",
            DriverAction::Decline => "decline",
            DriverAction::StartRoute => "start_route",
            DriverAction::ArriveAtPickup => "arrive_at_pickup",
            DriverAction::PickUp => "pick_up",
            DriverAction::ArriveAtDropoff => "arrive_at_dropoff",
            DriverAction::Deliver => "deliver",
            DriverAction::Fail => "fail",
        }
    }
}

impl fmt::Display for DriverAction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

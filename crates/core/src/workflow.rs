//! The job workflow: which status changes are allowed. Shared by the app (to apply the
//! driver's actions at once, offline) and the server (to accept or refuse them, and to apply
//! the dispatcher's cancellations and expiries). Both refuse the same things with the same words.

use enroute_protocol::{AssignmentStatus, DriverAction};
use std::fmt;

/// Something that changes a job's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The driver acted.
    Driver(DriverAction),
    /// The dispatcher cancelled the job.
    Cancel,
    /// The offer's accept deadline passed.
    Expire,
}

impl fmt::Display for Change {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = match self {
            Change::Driver(DriverAction::Accept) => "accept",
            Change::Driver(DriverAction::Decline) => "decline",
            Change::Driver(DriverAction::StartRoute) => "start driving to the pickup of",
            Change::Driver(DriverAction::ArriveAtPickup) => "arrive at the pickup of",
            Change::Driver(DriverAction::PickUp) => "pick up",
            Change::Driver(DriverAction::ArriveAtDropoff) => "arrive at the drop-off of",
            Change::Driver(DriverAction::Deliver) => "deliver",
            Change::Driver(DriverAction::Fail) => "fail",
            Change::Cancel => "cancel",
            Change::Expire => "expire",
        };
        formatter.write_str(words)
    }
}

/// A change the workflow does not allow from a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionError {
    pub from: AssignmentStatus,
    pub change: Change,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "cannot {} a job that is {}", self.change, self.from.label().to_lowercase())
    }
}

impl std::error::Error for TransitionError {}

/// The status after `change`, or why it is not allowed from `from`.
pub fn next_status(from: AssignmentStatus, change: Change) -> Result<AssignmentStatus, TransitionError> {
    use AssignmentStatus as S;
    let refused = TransitionError { from, change };
    match (from, change) {
        (S::Offered, Change::Driver(DriverAction::Accept)) => Ok(S::Accepted),
        (S::Offered, Change::Driver(DriverAction::Decline)) => Ok(S::Declined),
        (S::Offered, Change::Expire) => Ok(S::Expired),
        (S::Accepted, Change::Driver(DriverAction::StartRoute)) => Ok(S::EnRoute),
        (S::EnRoute, Change::Driver(DriverAction::ArriveAtPickup)) => Ok(S::ArrivedAtPickup),
        (S::ArrivedAtPickup, Change::Driver(DriverAction::PickUp)) => Ok(S::PickedUp),
        (S::PickedUp, Change::Driver(DriverAction::ArriveAtDropoff)) => Ok(S::ArrivedAtDropoff),
        (S::ArrivedAtDropoff, Change::Driver(DriverAction::Deliver)) => Ok(S::Delivered),
        (S::ArrivedAtDropoff, Change::Driver(DriverAction::Fail)) => Ok(S::Failed),
        (status, Change::Cancel) if !status.is_final() => Ok(S::Cancelled),
        _ => Err(refused),
    }
}

/// The actions the driver can take from `status`, in the order the screen shows them.
pub fn driver_actions(status: AssignmentStatus) -> Vec<DriverAction> {
    DriverAction::ALL
        .into_iter()
        .filter(|action| next_status(status, Change::Driver(*action)).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssignmentStatus as S;

    /// Every allowed change, written out once; everything else must be refused.
    const ALLOWED: [(S, Change, S); 9] = [
        (S::Offered, Change::Driver(DriverAction::Accept), S::Accepted),
        (S::Offered, Change::Driver(DriverAction::Decline), S::Declined),
        (S::Offered, Change::Expire, S::Expired),
        (S::Accepted, Change::Driver(DriverAction::StartRoute), S::EnRoute),
        (S::EnRoute, Change::Driver(DriverAction::ArriveAtPickup), S::ArrivedAtPickup),
        (S::ArrivedAtPickup, Change::Driver(DriverAction::PickUp), S::PickedUp),
        (S::PickedUp, Change::Driver(DriverAction::ArriveAtDropoff), S::ArrivedAtDropoff),
        (S::ArrivedAtDropoff, Change::Driver(DriverAction::Deliver), S::Delivered),
        (S::ArrivedAtDropoff, Change::Driver(DriverAction::Fail), S::Failed),
    ];

    #[test]
    fn every_allowed_and_every_refused_transition() {
        let changes: Vec<Change> = DriverAction::ALL
            .iter()
            .map(|action| Change::Driver(*action))
            .chain([Change::Cancel, Change::Expire])
            .collect();
        for from in S::ALL {
            for change in &changes {
                let expected = ALLOWED
                    .iter()
                    .find(|(allowed_from, allowed_change, _)| {
                        *allowed_from == from && allowed_change == change
                    })
                    .map(|(_, _, to)| *to)
                    .or_else(|| (*change == Change::Cancel && !from.is_final()).then_some(S::Cancelled));
                match (next_status(from, *change), expected) {
                    (Ok(to), Some(expected)) => assert_eq!(to, expected, "{from} + {change}"),
                    (Err(error), None) => assert_eq!(error, TransitionError { from, change: *change }),
                    (got, expected) => panic!("{from} + {change}: got {got:?}, expected {expected:?}"),
                }
            }
        }
    }

    #[test]
    fn the_dispatcher_can_cancel_until_the_job_is_over() {
        for from in
            [S::Offered, S::Accepted, S::EnRoute, S::ArrivedAtPickup, S::PickedUp, S::ArrivedAtDropoff]
        {
            assert_eq!(next_status(from, Change::Cancel), Ok(S::Cancelled));
        }
        for from in [S::Delivered, S::Failed, S::Declined, S::Expired, S::Cancelled] {
            assert!(next_status(from, Change::Cancel).is_err());
        }
    }

    #[test]
    fn refusals_read_as_sentences() {
        let error = next_status(S::Cancelled, Change::Driver(DriverAction::Accept)).unwrap_err();
        assert_eq!(error.to_string(), "cannot accept a job that is cancelled");
        let error = next_status(S::Offered, Change::Driver(DriverAction::PickUp)).unwrap_err();
        assert_eq!(error.to_string(), "cannot pick up a job that is offered");
    }

    #[test]
    fn the_screen_offers_the_next_actions() {
        assert_eq!(driver_actions(S::Offered), vec![DriverAction::Accept, DriverAction::Decline]);
        assert_eq!(driver_actions(S::ArrivedAtDropoff), vec![DriverAction::Deliver, DriverAction::Fail]);
        assert!(driver_actions(S::Delivered).is_empty());
    }
}

//! Location tracking while on duty: what to do with positions, position errors, permission
//! changes and the page going to the background. It owns the [`Throttle`] and answers every
//! event with the records to make, so a stop in tracking is always on record, never silent.
//!
//! - On duty and visible, the app watches the position; every fix goes through the throttle.
//! - The page hidden (browsers stop delivering positions), the permission denied, or no position
//!   for the watch's timeout: the track is ended where the vehicle was last seen and a
//!   `tracking_paused` status with the reason is recorded; `tracking_resumed` when positions flow
//!   again. The dispatcher then sees a gap as a gap, not as a parked vehicle.
//! - After a pause (or the end of duty) the throttle starts a new segment: the first fix after it
//!   is sent and never doubted against the last one before it, and no heartbeat repeats the old
//!   position as current.
//! - "Position unavailable" errors are often momentary (a phone switching location sources
//!   reports one between two good positions): the pause is recorded only if no position arrives
//!   within [`UNAVAILABLE_GRACE_MS`], and then dated from the error.

use crate::throttle::{Decision, Throttle, ThrottlePolicy};
use enroute_protocol::{DriverStatus, Fix, PauseReason, RecordKind};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The browser's answer about the location permission (Permissions API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationPermission {
    /// Not known yet, or the browser cannot tell.
    Unknown,
    /// The browser will ask the driver.
    Prompt,
    Granted,
    Denied,
}

/// The three ways the Geolocation API fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeolocationError {
    PermissionDenied,
    PositionUnavailable,
    Timeout,
}

impl GeolocationError {
    fn pause_reason(self) -> PauseReason {
        match self {
            GeolocationError::PermissionDenied => PauseReason::PermissionDenied,
            GeolocationError::PositionUnavailable => PauseReason::PositionUnavailable,
            GeolocationError::Timeout => PauseReason::Timeout,
        }
    }
}

/// Where tracking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum TrackingState {
    OffDuty,
    /// On duty, no position yet.
    WaitingForPosition,
    Tracking,
    Paused(PauseReason),
}

/// A position as the duty screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub speed_kmh: Option<f64>,
    pub time_ms: i64,
}

/// What the duty screen shows about tracking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingView {
    pub state: TrackingState,
    pub permission: LocationPermission,
    pub position: Option<PositionView>,
    pub seen: u64,
    pub sent: u64,
    pub dropped: u64,
    /// Recent accepted fixes and recent sent fixes, oldest first, as `[lat, lon]`.
    pub recent_raw: Vec<(f64, f64)>,
    pub recent_sent: Vec<(f64, f64)>,
}

impl Default for TrackingView {
    fn default() -> TrackingView {
        TrackingView {
            state: TrackingState::OffDuty,
            permission: LocationPermission::Unknown,
            position: None,
            seen: 0,
            sent: 0,
            dropped: 0,
            recent_raw: Vec::new(),
            recent_sent: Vec::new(),
        }
    }
}

impl TrackingView {
    /// A headline and a sentence on what to do, in plain words.
    pub fn guidance(&self) -> (&'static str, &'static str) {
        match (self.state, self.permission) {
            (TrackingState::OffDuty, _) => {
                ("Tracking off", "Your position is not shared while you are off duty.")
            }
            (TrackingState::Paused(PauseReason::PermissionDenied), _) | (_, LocationPermission::Denied) => (
                "Location blocked",
                "Enroute cannot see your position. Open this site's settings in the browser (the icon left of the \
                 address), allow Location, then come back to this screen.",
            ),
            (TrackingState::Paused(PauseReason::PageHidden), _) => (
                "Tracking paused",
                "Enroute was in the background, where phones stop giving positions. Keep it open on screen while \
                 driving.",
            ),
            (TrackingState::Paused(PauseReason::PositionUnavailable), _) => (
                "No position",
                "Your phone cannot find its position. Turn on location services (GPS) and, if you are indoors, move \
                 outside. Tracking resumes by itself.",
            ),
            (TrackingState::Paused(PauseReason::Timeout), _) => (
                "Position late",
                "No position arrived for a while. Check that location services are on; tracking resumes by itself.",
            ),
            (TrackingState::WaitingForPosition, LocationPermission::Prompt | LocationPermission::Unknown) => {
                (
                    "Waiting for your position",
                    "If the browser asks, allow location: dispatch sees where you are only while you are on duty.",
                )
            }
            (TrackingState::WaitingForPosition, _) => ("Waiting for your position", "Looking for GPS."),
            (TrackingState::Tracking, _) => {
                ("Tracking", "Your position is shared with dispatch while you are on duty.")
            }
        }
    }
}

/// How long a "position unavailable" error may last before it counts as a pause.
pub const UNAVAILABLE_GRACE_MS: i64 = 15_000;

/// How many recent fixes the sketch on the duty screen keeps.
const RECENT_RAW: usize = 300;
const RECENT_SENT: usize = 100;

/// The tracking state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Tracker {
    throttle: Throttle,
    on_duty: bool,
    page_visible: bool,
    permission: LocationPermission,
    paused: Option<PauseReason>,
    /// A "position unavailable" error not followed by a position yet, and since when.
    unavailable_since_ms: Option<i64>,
    has_position: bool,
    position: Option<Fix>,
    recent_raw: VecDeque<Fix>,
    recent_sent: VecDeque<Fix>,
}

impl Tracker {
    pub fn new(policy: ThrottlePolicy, on_duty: bool) -> Tracker {
        Tracker {
            throttle: Throttle::new(policy),
            on_duty,
            page_visible: true,
            permission: LocationPermission::Unknown,
            paused: None,
            unavailable_since_ms: None,
            has_position: false,
            position: None,
            recent_raw: VecDeque::new(),
            recent_sent: VecDeque::new(),
        }
    }

    /// Whether the app should be watching the position now.
    pub fn wants_position(&self) -> bool {
        self.on_duty && self.page_visible && self.permission != LocationPermission::Denied
    }

    /// Whether the screen should be kept awake (on duty and on screen).
    pub fn wants_screen_awake(&self) -> bool {
        self.on_duty && self.page_visible
    }

    pub fn is_on_duty(&self) -> bool {
        self.on_duty
    }

    /// The driver started or ended duty.
    pub fn handle_duty(&mut self, on_duty: bool) -> Vec<RecordKind> {
        if on_duty == self.on_duty {
            return Vec::new();
        }
        let mut records = Vec::new();
        if on_duty {
            records.push(status(DriverStatus::OnDuty, None));
            let blocked = match (self.page_visible, self.permission) {
                (_, LocationPermission::Denied) => Some(PauseReason::PermissionDenied),
                (false, _) => Some(PauseReason::PageHidden),
                _ => None,
            };
            if let Some(reason) = blocked {
                self.paused = Some(reason);
                records.push(status(DriverStatus::TrackingPaused, Some(reason)));
            }
        } else {
            records.extend(self.end_track());
            records.push(status(DriverStatus::OffDuty, None));
            self.paused = None;
        }
        self.on_duty = on_duty;
        self.has_position = false;
        records
    }

    /// A position from the browser.
    pub fn handle_fix(&mut self, fix: Fix) -> Vec<RecordKind> {
        if !self.on_duty {
            return Vec::new();
        }
        let mut records = Vec::new();
        self.unavailable_since_ms = None;
        if let Some(reason) = self.paused
            && reason != PauseReason::PageHidden
        {
            // Positions flow again after an error.
            self.paused = None;
            records.push(status(DriverStatus::TrackingResumed, None));
        }
        if self.permission != LocationPermission::Granted {
            self.permission = LocationPermission::Granted; // a position proves it
        }
        let step = self.throttle.handle_fix(fix);
        if !matches!(step.decision, Decision::Drop(_)) {
            self.has_position = true;
            self.position = Some(fix);
            push_bounded(&mut self.recent_raw, fix, RECENT_RAW);
        }
        records.extend(step.send.into_iter().map(|sent| self.sent(sent)));
        records
    }

    /// The Geolocation API reported an error at `now_ms`.
    pub fn handle_error(&mut self, error: GeolocationError, now_ms: i64) -> Vec<RecordKind> {
        match error {
            GeolocationError::PermissionDenied => {
                self.permission = LocationPermission::Denied;
                self.pause(error.pause_reason())
            }
            GeolocationError::Timeout => self.pause(error.pause_reason()),
            GeolocationError::PositionUnavailable => {
                if self.on_duty && self.paused.is_none() {
                    self.unavailable_since_ms.get_or_insert(now_ms);
                }
                Vec::new()
            }
        }
    }

    /// The Permissions API reported the location permission.
    /// Allowed again after a denial, the watch restarts and the next position resumes tracking.
    pub fn handle_permission(&mut self, permission: LocationPermission) -> Vec<RecordKind> {
        self.permission = permission;
        if permission == LocationPermission::Denied {
            self.pause(PauseReason::PermissionDenied)
        } else {
            Vec::new()
        }
    }

    /// The page became visible or hidden.
    pub fn handle_visibility(&mut self, visible: bool) -> Vec<RecordKind> {
        if visible == self.page_visible {
            return Vec::new();
        }
        self.page_visible = visible;
        if !visible {
            return self.pause(PauseReason::PageHidden);
        }
        if self.paused == Some(PauseReason::PageHidden) && self.on_duty {
            self.paused = None;
            return vec![status(DriverStatus::TrackingResumed, None)];
        }
        Vec::new()
    }

    /// When [`Tracker::handle_timeout`] has something to do (Unix milliseconds): a heartbeat,
    /// or a "position unavailable" that lasted too long.
    pub fn timeout_ms(&self) -> Option<i64> {
        if !self.on_duty || self.paused.is_some() {
            return None;
        }
        let unavailable = self.unavailable_since_ms.map(|since| since + UNAVAILABLE_GRACE_MS);
        [self.throttle.heartbeat_due_ms(), unavailable].into_iter().flatten().min()
    }

    /// Time passed without a position: records a pause if "position unavailable" lasted
    /// [`UNAVAILABLE_GRACE_MS`], or sends a heartbeat if one is due at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: i64) -> Vec<RecordKind> {
        if !self.on_duty || self.paused.is_some() {
            return Vec::new();
        }
        if self.unavailable_since_ms.is_some_and(|since| now_ms >= since + UNAVAILABLE_GRACE_MS) {
            self.unavailable_since_ms = None;
            return self.pause(PauseReason::PositionUnavailable);
        }
        self.throttle.handle_heartbeat(now_ms).into_iter().map(|fix| self.sent(fix)).collect()
    }

    /// A new throttle policy (from the settings page). The current track ends first.
    pub fn set_policy(&mut self, policy: ThrottlePolicy) -> Vec<RecordKind> {
        if policy == self.throttle.policy() {
            return Vec::new();
        }
        let records = self.end_track();
        self.throttle = Throttle::new(policy);
        records
    }

    /// What the duty screen shows.
    pub fn view(&self) -> TrackingView {
        let stats = self.throttle.stats();
        let state = match (self.on_duty, self.paused, self.has_position) {
            (false, _, _) => TrackingState::OffDuty,
            (true, Some(reason), _) => TrackingState::Paused(reason),
            (true, None, false) => TrackingState::WaitingForPosition,
            (true, None, true) => TrackingState::Tracking,
        };
        TrackingView {
            state,
            permission: self.permission,
            position: self.position.map(|fix| PositionView {
                lat: (fix.lat * 1e5).round() / 1e5,
                lon: (fix.lon * 1e5).round() / 1e5,
                accuracy_m: fix.accuracy_m.round(),
                speed_kmh: fix.speed_mps.map(|speed| (speed * 3.6).round()),
                time_ms: fix.time_ms,
            }),
            seen: stats.seen,
            sent: stats.sent,
            dropped: stats.dropped_total(),
            recent_raw: self.recent_raw.iter().map(|fix| (fix.lat, fix.lon)).collect(),
            recent_sent: self.recent_sent.iter().map(|fix| (fix.lat, fix.lon)).collect(),
        }
    }

    fn pause(&mut self, reason: PauseReason) -> Vec<RecordKind> {
        if !self.on_duty || self.paused.is_some() {
            return Vec::new();
        }
        self.unavailable_since_ms = None;
        let mut records = self.end_track();
        self.paused = Some(reason);
        // Resumed, it waits for a new position rather than calling the old one current.
        self.has_position = false;
        records.push(status(DriverStatus::TrackingPaused, Some(reason)));
        records
    }

    /// Sends what is held so the track ends where the vehicle was last seen, and forgets
    /// it: what comes after a stop is a new segment, and the old position is never sent again
    /// as if it were current (regression: a heartbeat after a resume did that).
    fn end_track(&mut self) -> Vec<RecordKind> {
        let records = self.throttle.flush().into_iter().map(|fix| self.sent(fix)).collect();
        self.throttle.start_new_segment();
        records
    }

    fn sent(&mut self, fix: Fix) -> RecordKind {
        push_bounded(&mut self.recent_sent, fix, RECENT_SENT);
        RecordKind::Location { fix }
    }
}

fn status(status: DriverStatus, reason: Option<PauseReason>) -> RecordKind {
    RecordKind::Status { status, reason }
}

fn push_bounded(queue: &mut VecDeque<Fix>, fix: Fix, limit: usize) {
    if queue.len() == limit {
        queue.pop_front();
    }
    queue.push_back(fix);
}

/// Points of a polyline in sketch units, `(x, y)` with y growing downwards.
pub type SketchLine = Vec<(f64, f64)>;

/// Points of the recent track for a square sketch `size` units wide, north up: the raw fixes
/// and the sent ones, in the same projection, with a margin.
pub fn sketch(view: &TrackingView, size: f64) -> (SketchLine, SketchLine) {
    let all: Vec<(f64, f64)> = view.recent_raw.iter().chain(view.recent_sent.iter()).copied().collect();
    let Some(&(origin_lat, origin_lon)) = all.last() else { return (Vec::new(), Vec::new()) };
    let frame = crate::geo::LocalFrame::around(origin_lat, origin_lon);
    let local: Vec<(f64, f64)> = all.iter().map(|(lat, lon)| frame.to_local(*lat, *lon)).collect();
    let (min_x, max_x) =
        local.iter().fold((f64::MAX, f64::MIN), |(low, high), (x, _)| (low.min(*x), high.max(*x)));
    let (min_y, max_y) =
        local.iter().fold((f64::MAX, f64::MIN), |(low, high), (_, y)| (low.min(*y), high.max(*y)));
    // At least 100 m across, so GPS noise around a stop does not fill the sketch.
    let span = (max_x - min_x).max(max_y - min_y).max(100.0);
    let margin = size * 0.05;
    let scale = (size - 2.0 * margin) / span;
    let (centre_x, centre_y) = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    let project = |(x, y): (f64, f64)| {
        let px = size / 2.0 + (x - centre_x) * scale;
        let py = size / 2.0 - (y - centre_y) * scale;
        ((px * 10.0).round() / 10.0, (py * 10.0).round() / 10.0)
    };
    let raw_count = view.recent_raw.len();
    let raw = local[..raw_count].iter().copied().map(project).collect();
    let sent = local[raw_count..].iter().copied().map(project).collect();
    (raw, sent)
}

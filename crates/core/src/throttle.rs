//! The throttle: which location fixes become records.
//!
//! Every fix first passes sanity checks (finite, in range, newer than the last, accurate enough,
//! not an impossible jump); a fix that fails one is dropped with the reason. A sane fix is then
//! sent or held by the policy's mode:
//!
//! - **Error-bounded** (the default): the dispatcher's view of the track never strays more than
//!   `max_error_m` from where the vehicle really was. Two promises, both checked at every fix:
//!   the track rebuilt by joining sent fixes with straight lines at constant speed (what the
//!   replay tool measures as the time-synchronous error) is within the bound at every sane fix,
//!   and the position the server predicts by dead reckoning from the last sent fix (its speed and
//!   heading, or the velocity between the last two sent fixes) is within the bound of every fix
//!   when it happens. Held fixes are kept until one of them has to be sent: when the next fix
//!   would break the first promise, the held fix a straight segment reaches furthest within the
//!   bound is sent, and the rest are held again from there. Every position sent is one that was
//!   measured (a heartbeat repeats the last one, restamped): the throttle never computes one.
//! - **Traccar-style**: send when the vehicle moved `min_distance_m`, or its heading changed by
//!   `min_heading_change_deg`, at most once per `min_interval_s` — the filter common trackers use.
//!
//! Both send a heartbeat at least every `max_interval_s`, even when the vehicle stands still.
//! The throttle only reads the fixes' own timestamps: it has no clock.

use crate::geo::{LocalFrame, bearing_deg, bearing_difference_deg, distance_m};
use enroute_protocol::Fix;
use serde::{Deserialize, Serialize};

/// How the throttle decides. Plain data: the settings page edits it and the app persists it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlePolicy {
    /// Fixes with a worse accuracy radius than this are dropped.
    pub max_accuracy_m: f64,
    /// A fix implying a faster move from the last accepted one is dropped as a jump.
    pub max_speed_mps: f64,
    /// Traccar-style mode: never send twice within this many seconds. (The error-bounded mode
    /// ignores it: its bound comes first.)
    pub min_interval_s: f64,
    /// Send at least this often, moving or not.
    pub max_interval_s: f64,
    pub mode: ThrottleMode,
}

/// The sending rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThrottleMode {
    /// `max_error_m` bounds the rebuilt track; `live_error_m`, when set, bounds the server's
    /// dead-reckoned position of the vehicle at every fix.
    ErrorBounded {
        max_error_m: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live_error_m: Option<f64>,
    },
    Traccar {
        min_distance_m: f64,
        min_heading_change_deg: f64,
    },
}

impl Default for ThrottlePolicy {
    /// The default is chosen from the measurements in `docs/throttle.md`.
    fn default() -> ThrottlePolicy {
        ThrottlePolicy {
            max_accuracy_m: 100.0,
            max_speed_mps: 70.0,
            min_interval_s: 1.0,
            max_interval_s: 120.0,
            mode: ThrottleMode::ErrorBounded { max_error_m: 20.0, live_error_m: Some(DEFAULT_LIVE_ERROR_M) },
        }
    }
}

impl ThrottlePolicy {
    /// A Traccar-style policy with the given triggers and this policy's sanity limits.
    pub fn traccar(
        min_interval_s: f64,
        min_distance_m: f64,
        min_heading_change_deg: f64,
        max_interval_s: f64,
    ) -> ThrottlePolicy {
        ThrottlePolicy {
            min_interval_s,
            max_interval_s,
            mode: ThrottleMode::Traccar { min_distance_m, min_heading_change_deg },
            ..ThrottlePolicy::default()
        }
    }

    /// An error-bounded policy bounding only the rebuilt track, by `max_error_m`.
    pub fn error_bounded(max_error_m: f64, max_interval_s: f64) -> ThrottlePolicy {
        ThrottlePolicy {
            max_interval_s,
            mode: ThrottleMode::ErrorBounded { max_error_m, live_error_m: None },
            ..ThrottlePolicy::default()
        }
    }

    /// The same policy with the live position bounded by `live_error_m` too.
    pub fn with_live_bound(self, live_error_m: f64) -> ThrottlePolicy {
        match self.mode {
            ThrottleMode::ErrorBounded { max_error_m, .. } => ThrottlePolicy {
                mode: ThrottleMode::ErrorBounded { max_error_m, live_error_m: Some(live_error_m) },
                ..self
            },
            ThrottleMode::Traccar { .. } => self,
        }
    }

    /// Why this policy is unusable, if it is (for the settings form).
    pub fn problem(&self) -> Option<String> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        if !positive(self.max_accuracy_m) {
            return Some("the accuracy limit must be a positive number of metres".into());
        }
        if !positive(self.max_speed_mps) {
            return Some("the speed limit must be a positive number".into());
        }
        if !(self.min_interval_s.is_finite() && self.min_interval_s >= 0.0) {
            return Some("the minimum interval must be zero or more seconds".into());
        }
        if !positive(self.max_interval_s) || self.max_interval_s < self.min_interval_s {
            return Some("the heartbeat interval must be positive and at least the minimum interval".into());
        }
        match self.mode {
            ThrottleMode::ErrorBounded { max_error_m, .. } if !positive(max_error_m) => {
                Some("the error bound must be a positive number of metres".into())
            }
            ThrottleMode::ErrorBounded { live_error_m: Some(live), .. } if !positive(live) => {
                Some("the live position bound must be a positive number of metres".into())
            }
            ThrottleMode::Traccar { min_distance_m, min_heading_change_deg }
                if !(min_distance_m.is_finite()
                    && min_distance_m >= 0.0
                    && min_heading_change_deg.is_finite()
                    && min_heading_change_deg >= 0.0) =>
            {
                Some("the distance and heading triggers must be zero or more".into())
            }
            _ => None,
        }
    }
}

/// What became of one fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sent now.
    Send,
    /// Sane, not sent now; may still be sent later (error-bounded mode) or never.
    Hold,
    /// Not used, and why.
    Drop(DropReason),
}

/// Why a fix was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A coordinate, the accuracy or the time is not a finite number.
    NotFinite,
    /// Latitude outside ±90° or longitude outside ±180°.
    OutOfRange,
    /// Exactly 0°, 0°: what broken receivers report when they have nothing.
    ZeroPosition,
    /// Not newer than the last accepted fix (repeated or out of order).
    NotNewer,
    /// Accuracy radius worse than the limit.
    Inaccurate,
    /// Implies moving faster than the limit from the last accepted fix.
    ImpossibleJump,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 6] = [
        DropReason::NotFinite,
        DropReason::OutOfRange,
        DropReason::ZeroPosition,
        DropReason::NotNewer,
        DropReason::Inaccurate,
        DropReason::ImpossibleJump,
    ];

    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotFinite => "not_finite",
            DropReason::OutOfRange => "out_of_range",
            DropReason::ZeroPosition => "zero_position",
            DropReason::NotNewer => "not_newer",
            DropReason::Inaccurate => "inaccurate",
            DropReason::ImpossibleJump => "impossible_jump",
        }
    }
}

/// The throttle's answer to one fix: the decision about it, and the fixes to send now, oldest
/// first (in error-bounded mode this can include an earlier held fix).
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleStep {
    pub decision: Decision,
    pub send: Vec<Fix>,
}

/// Counts for the duty screen and the replay summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleStats {
    /// Fixes handed to the throttle.
    pub seen: u64,
    /// Fixes sent (including held fixes sent later and heartbeats).
    pub sent: u64,
    /// Fixes dropped, by reason (indexed like [`DropReason::ALL`]).
    pub dropped: [u64; 6],
}

impl ThrottleStats {
    /// All dropped fixes.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Dropped fixes for one reason.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped[DropReason::ALL.iter().position(|candidate| *candidate == reason).unwrap_or(0)]
    }
}

/// Jump suspects that agree with each other this many times in a row are believed: the vehicle
/// really moved (a ferry, a tunnel exit, a receiver that started far away).
const CONSISTENT_SUSPECTS_TO_ACCEPT: usize = 3;

/// The throttle state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Throttle {
    policy: ThrottlePolicy,
    last_accepted: Option<Fix>,
    jump_suspects: Vec<Fix>,
    /// The last fix sent, and the one before it (for the dead-reckoning velocity).
    last_sent: Option<Fix>,
    sent_before_last: Option<Fix>,
    /// Error-bounded mode: sane fixes since the last sent one, and the velocities (east, north
    /// in m/s, from the last sent fix) a straight segment may have and still pass within the
    /// bound of every one of them at its time. `None` when nothing is held.
    held: Vec<Fix>,
    feasible_velocities: Option<Vec<(f64, f64)>>,
    /// Traccar-style mode: the course when the last fix was sent, and the current course.
    course_at_last_sent: Option<f64>,
    current_course: Option<f64>,
    /// Accepted fixes of the last few seconds, to estimate velocity when a fix has none.
    recent: std::collections::VecDeque<Fix>,
    stats: ThrottleStats,
}

/// The default bound on the dispatcher's live (dead-reckoned) position: about a city block.
pub const DEFAULT_LIVE_ERROR_M: f64 = 100.0;

/// Velocity of a fix without speed and heading is estimated over about this long.
const VELOCITY_WINDOW_MS: i64 = 4_000;

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Throttle {
        Throttle {
            policy,
            last_accepted: None,
            jump_suspects: Vec::new(),
            last_sent: None,
            sent_before_last: None,
            held: Vec::new(),
            feasible_velocities: None,
            course_at_last_sent: None,
            current_course: None,
            recent: std::collections::VecDeque::new(),
            stats: ThrottleStats::default(),
        }
    }

    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// Forgets the track so far (call after [`Throttle::flush`] when tracking stops: a pause,
    /// the end of duty). The next fix starts a new segment and is never doubted against the old
    /// one, and no heartbeat repeats the old position as if it were current. Counts are kept.
    pub fn start_new_segment(&mut self) {
        *self = Throttle { stats: self.stats, ..Throttle::new(self.policy) };
    }

    pub fn stats(&self) -> ThrottleStats {
        self.stats
    }

    /// The last fix sent.
    pub fn last_sent(&self) -> Option<Fix> {
        self.last_sent
    }

    /// Where the dispatcher's live map places the vehicle at `time_ms` from what was sent so
    /// far: dead reckoning in error-bounded mode (see [`predict`]); the last sent position for
    /// a Traccar-style filter, as trackers that use one show it.
    pub fn predicted_position(&self, time_ms: i64) -> Option<(f64, f64)> {
        let last = self.last_sent?;
        Some(match self.policy.mode {
            ThrottleMode::ErrorBounded { .. } => {
                predict(&last, self.sent_before_last.as_ref(), time_ms, self.policy.max_interval_s)
            }
            ThrottleMode::Traccar { .. } => (last.lat, last.lon),
        })
    }

    /// Decides about one fix.
    pub fn handle_fix(&mut self, fix: Fix) -> ThrottleStep {
        self.stats.seen += 1;
        let teleported = match self.check_sanity(&fix) {
            Ok(teleported) => teleported,
            Err(reason) => {
                self.stats.dropped
                    [DropReason::ALL.iter().position(|candidate| *candidate == reason).unwrap_or(0)] += 1;
                return ThrottleStep { decision: Decision::Drop(reason), send: Vec::new() };
            }
        };
        let fix = self.with_velocity(fix, teleported);
        if teleported {
            // The vehicle really is elsewhere now. End the old track where it was last seen,
            // then start a new one here: nothing is predicted or interpolated across the jump.
            let mut send = self.close_held();
            self.sent_before_last = None;
            self.current_course = None;
            self.update_course(&fix);
            self.last_accepted = Some(fix);
            self.mark_sent(fix);
            send.push(fix);
            self.stats.sent += send.len() as u64;
            return ThrottleStep { decision: Decision::Send, send };
        }
        self.update_course(&fix);
        self.last_accepted = Some(fix);
        let step = match self.policy.mode {
            ThrottleMode::ErrorBounded { max_error_m, live_error_m } => {
                self.error_bounded(fix, max_error_m, live_error_m)
            }
            ThrottleMode::Traccar { min_distance_m, min_heading_change_deg } => {
                self.traccar(fix, min_distance_m, min_heading_change_deg)
            }
        };
        self.stats.sent += step.send.len() as u64;
        step
    }

    /// Sends what is held, ending with the last held fix, so the track ends where the vehicle
    /// is (going off duty, tracking paused, end of a replay). Empty when nothing is held.
    pub fn flush(&mut self) -> Vec<Fix> {
        let send = self.close_held();
        self.stats.sent += send.len() as u64;
        send
    }

    /// Sends what is held, through to the last held fix (see [`Throttle::send_through`]).
    fn close_held(&mut self) -> Vec<Fix> {
        if let ThrottleMode::Traccar { .. } = self.policy.mode {
            let last = self.last_accepted.filter(|fix| Some(*fix) != self.last_sent);
            if let Some(fix) = last {
                self.mark_sent(fix);
            }
            return last.into_iter().collect();
        }
        match self.held.pop() {
            Some(last) => self.send_through(last),
            None => Vec::new(),
        }
    }

    /// Sends `end` (a measured fix after every held one) and before it as few held fixes as keep
    /// the bound for every held fix, each segment a straight line between two measured fixes.
    /// Marks them sent.
    ///
    /// Regression (Firefox e2e, "fixes in the order driven"): a segment's end used to be a point
    /// computed beside the last held fix when the segment to it broke the bound for the others;
    /// such a point was never measured, and could lie behind the fix sent next.
    fn send_through(&mut self, end: Fix) -> Vec<Fix> {
        let ThrottleMode::ErrorBounded { max_error_m, .. } = self.policy.mode else {
            self.mark_sent(end);
            return vec![end];
        };
        let held = std::mem::take(&mut self.held);
        let mut send = Vec::new();
        let mut start = 0;
        while let Some(anchor) = self.last_sent
            && !interpolation_keeps_bound(&anchor, &held[start..], &end, max_error_m)
        {
            let reach = furthest_reach(&anchor, &held[start..], max_error_m) + start;
            self.mark_sent(held[reach]);
            send.push(held[reach]);
            start = reach + 1;
        }
        self.mark_sent(end);
        send.push(end);
        send
    }

    /// Holds `fix` (a sane fix after every held one). When no straight segment from the last sent
    /// fix passes within the bound of every held fix and this one, first sends the held fix the
    /// segment reaches furthest, and holds the rest again from there. Returns what was sent.
    fn hold(&mut self, fix: Fix, max_error_m: f64) -> Vec<Fix> {
        let mut send = Vec::new();
        loop {
            let Some(anchor) = self.last_sent else { return send };
            let region = self.region_with(&anchor, &fix, max_error_m);
            if !region.is_empty() || self.held.is_empty() {
                self.held.push(fix);
                self.feasible_velocities = Some(region);
                return send;
            }
            let held = std::mem::take(&mut self.held);
            let reach = furthest_reach(&anchor, &held, max_error_m);
            self.mark_sent(held[reach]);
            send.push(held[reach]);
            for later in &held[reach + 1..] {
                send.extend(self.hold(*later, max_error_m));
            }
        }
    }

    /// When a heartbeat is due, in fix time (Unix milliseconds), if anything was sent yet.
    pub fn heartbeat_due_ms(&self) -> Option<i64> {
        self.last_sent.map(|sent| sent.time_ms + (self.policy.max_interval_s * 1000.0) as i64)
    }

    /// No fix arrived for a while (browsers deliver none while the phone stands still). If a
    /// heartbeat is due at `now_ms`, returns the fix to send: the last held fix if there is one,
    /// or else the last sent position restamped to `now_ms` (no new fix means no movement).
    pub fn handle_heartbeat(&mut self, now_ms: i64) -> Vec<Fix> {
        if self.heartbeat_due_ms().is_none_or(|due| now_ms < due) {
            return Vec::new();
        }
        let mut send = self.close_held();
        if send.is_empty() {
            let Some(last_sent) = self.last_sent else { return Vec::new() };
            let fix = Fix { time_ms: now_ms, speed_mps: Some(0.0), heading_deg: None, ..last_sent };
            self.last_accepted = Some(fix);
            self.mark_sent(fix);
            send.push(fix);
        }
        self.stats.sent += send.len() as u64;
        send
    }

    /// `Ok(true)` when the fix is accepted as a real jump after consistent suspects.
    fn check_sanity(&mut self, fix: &Fix) -> Result<bool, DropReason> {
        if !(fix.lat.is_finite() && fix.lon.is_finite() && fix.accuracy_m.is_finite()) {
            return Err(DropReason::NotFinite);
        }
        if !(-90.0..=90.0).contains(&fix.lat) || !(-180.0..=180.0).contains(&fix.lon) || fix.accuracy_m < 0.0
        {
            return Err(DropReason::OutOfRange);
        }
        if fix.lat == 0.0 && fix.lon == 0.0 {
            return Err(DropReason::ZeroPosition);
        }
        if let Some(last) = self.last_accepted
            && fix.time_ms <= last.time_ms
        {
            return Err(DropReason::NotNewer);
        }
        if fix.accuracy_m > self.policy.max_accuracy_m {
            return Err(DropReason::Inaccurate);
        }
        let Some(last) = self.last_accepted else { return Ok(false) };
        if implied_speed_mps(&last, fix) <= self.policy.max_speed_mps {
            self.jump_suspects.clear();
            return Ok(false);
        }
        // A jump. Believe it only when several suspects in a row agree with each other.
        let agrees = self.jump_suspects.last().is_none_or(|previous| {
            fix.time_ms > previous.time_ms && implied_speed_mps(previous, fix) <= self.policy.max_speed_mps
        });
        if !agrees {
            self.jump_suspects.clear();
        }
        self.jump_suspects.push(*fix);
        if self.jump_suspects.len() >= CONSISTENT_SUSPECTS_TO_ACCEPT {
            self.jump_suspects.clear();
            return Ok(true);
        }
        Err(DropReason::ImpossibleJump)
    }

    /// A fix without speed and heading gets them estimated from the last few seconds of
    /// accepted fixes, so the server can dead-reckon from it as well as from a receiver that
    /// reports them. (Sent fixes carry the estimate; the server predicts from what it receives.)
    fn with_velocity(&mut self, fix: Fix, teleported: bool) -> Fix {
        if teleported {
            self.recent.clear();
        }
        while self.recent.front().is_some_and(|oldest| fix.time_ms - oldest.time_ms > VELOCITY_WINDOW_MS) {
            self.recent.pop_front();
        }
        let estimated = match (fix.speed_mps, fix.heading_deg, self.recent.front()) {
            (None, None, Some(oldest)) if fix.time_ms > oldest.time_ms => {
                let seconds = (fix.time_ms - oldest.time_ms) as f64 / 1000.0;
                let metres = distance_m(oldest.lat, oldest.lon, fix.lat, fix.lon);
                let speed = metres / seconds;
                if speed < 0.5 {
                    Fix { speed_mps: Some(0.0), ..fix }
                } else {
                    let heading = bearing_deg(oldest.lat, oldest.lon, fix.lat, fix.lon);
                    Fix {
                        speed_mps: Some((speed * 100.0).round() / 100.0),
                        heading_deg: Some((heading * 10.0).round() / 10.0),
                        ..fix
                    }
                }
            }
            _ => fix,
        };
        self.recent.push_back(fix);
        estimated
    }

    fn update_course(&mut self, fix: &Fix) {
        let reported = fix
            .heading_deg
            .filter(|heading| heading.is_finite())
            .filter(|_| fix.speed_mps.is_none_or(|speed| speed >= 1.0));
        self.current_course = match (reported, self.last_accepted) {
            (Some(heading), _) => Some(heading.rem_euclid(360.0)),
            (None, Some(last)) if distance_m(last.lat, last.lon, fix.lat, fix.lon) >= 3.0 => {
                Some(bearing_deg(last.lat, last.lon, fix.lat, fix.lon))
            }
            (None, _) => self.current_course,
        };
    }

    fn mark_sent(&mut self, fix: Fix) {
        self.sent_before_last = self.last_sent;
        self.last_sent = Some(fix);
        self.course_at_last_sent = self.current_course;
        self.held.clear();
        self.feasible_velocities = None;
    }

    fn heartbeat_due(&self, fix: &Fix) -> bool {
        self.last_sent
            .is_some_and(|sent| (fix.time_ms - sent.time_ms) as f64 >= self.policy.max_interval_s * 1000.0)
    }

    fn traccar(&mut self, fix: Fix, min_distance_m: f64, min_heading_change_deg: f64) -> ThrottleStep {
        let send = match self.last_sent {
            None => true,
            Some(sent) => {
                let elapsed_s = (fix.time_ms - sent.time_ms) as f64 / 1000.0;
                let moved = min_distance_m > 0.0
                    && distance_m(sent.lat, sent.lon, fix.lat, fix.lon) >= min_distance_m;
                let turned = min_heading_change_deg > 0.0
                    && matches!((self.course_at_last_sent, self.current_course),
                        (Some(before), Some(now)) if bearing_difference_deg(before, now) >= min_heading_change_deg);
                elapsed_s >= self.policy.min_interval_s && (moved || turned || self.heartbeat_due(&fix))
            }
        };
        if send {
            self.mark_sent(fix);
            ThrottleStep { decision: Decision::Send, send: vec![fix] }
        } else {
            ThrottleStep { decision: Decision::Hold, send: Vec::new() }
        }
    }

    fn error_bounded(&mut self, fix: Fix, max_error_m: f64, live_error_m: Option<f64>) -> ThrottleStep {
        if self.last_sent.is_none() {
            self.mark_sent(fix);
            return ThrottleStep { decision: Decision::Send, send: vec![fix] };
        }
        let mut send = self.hold(fix, max_error_m);
        let anchor = self.last_sent.expect("a fix was sent before");
        let live_violated = live_error_m.is_some_and(|live_error_m| {
            let predicted =
                predict(&anchor, self.sent_before_last.as_ref(), fix.time_ms, self.policy.max_interval_s);
            distance_m(predicted.0, predicted.1, fix.lat, fix.lon) > live_error_m
        });
        if live_violated || self.heartbeat_due(&fix) {
            // This fix goes now, with the held fixes its segment needs to keep the bound.
            self.held.pop();
            send.extend(self.send_through(fix));
            return ThrottleStep { decision: Decision::Send, send };
        }
        ThrottleStep { decision: Decision::Hold, send }
    }

    /// The velocities allowed for a segment from `anchor` once `fix` is held too.
    fn region_with(&self, anchor: &Fix, fix: &Fix, max_error_m: f64) -> Vec<(f64, f64)> {
        let (centre, radius) = velocity_disc(anchor, fix, max_error_m);
        match &self.feasible_velocities {
            Some(region) if self.last_sent.as_ref() == Some(anchor) => clip_to_disc(region, centre, radius),
            _ => disc_polygon(centre, radius),
        }
    }
}

/// Sides of the polygons that stand in for discs of allowed velocities. They are inscribed in
/// the discs, so every velocity they allow is truly allowed: the bound is never exceeded, at
/// the price of rejecting velocities within 1% of a disc's rim.
const DISC_SIDES: usize = 32;

/// The velocities (from `anchor`, in m/s) of straight segments that pass within `max_error_m` of
/// `fix` at its time: a disc centred on the fix's own velocity.
fn velocity_disc(anchor: &Fix, fix: &Fix, max_error_m: f64) -> ((f64, f64), f64) {
    let frame = LocalFrame::around(anchor.lat, anchor.lon);
    let seconds = ((fix.time_ms - anchor.time_ms) as f64 / 1000.0).max(0.001);
    let (east, north) = frame.to_local(fix.lat, fix.lon);
    ((east / seconds, north / seconds), max_error_m / seconds)
}

fn disc_vertex(centre: (f64, f64), radius: f64, index: usize) -> (f64, f64) {
    let angle = std::f64::consts::TAU * index as f64 / DISC_SIDES as f64;
    (centre.0 + radius * angle.cos(), centre.1 + radius * angle.sin())
}

fn disc_polygon(centre: (f64, f64), radius: f64) -> Vec<(f64, f64)> {
    (0..DISC_SIDES).map(|index| disc_vertex(centre, radius, index)).collect()
}

/// Cuts a convex polygon down to the part inside a disc (its inscribed polygon).
fn clip_to_disc(polygon: &[(f64, f64)], centre: (f64, f64), radius: f64) -> Vec<(f64, f64)> {
    let mut result = polygon.to_vec();
    for index in 0..DISC_SIDES {
        if result.is_empty() {
            break;
        }
        let start = disc_vertex(centre, radius, index);
        let end = disc_vertex(centre, radius, index + 1);
        // Inside is to the left of the counter-clockwise edge.
        let side = |point: (f64, f64)| {
            (end.0 - start.0) * (point.1 - start.1) - (end.1 - start.1) * (point.0 - start.0)
        };
        let mut clipped = Vec::with_capacity(result.len() + 1);
        for (position, current) in result.iter().enumerate() {
            let next = result[(position + 1) % result.len()];
            let (current_side, next_side) = (side(*current), side(next));
            if current_side >= 0.0 {
                clipped.push(*current);
            }
            if (current_side >= 0.0) != (next_side >= 0.0) {
                let fraction = current_side / (current_side - next_side);
                clipped.push((
                    current.0 + (next.0 - current.0) * fraction,
                    current.1 + (next.1 - current.1) * fraction,
                ));
            }
        }
        result = clipped;
    }
    // A sliver too thin to hold a velocity safely counts as empty.
    if result.len() < 3 || polygon_area(&result) < 1e-12 { Vec::new() } else { result }
}

fn polygon_area(polygon: &[(f64, f64)]) -> f64 {
    let mut twice_area = 0.0;
    for (index, current) in polygon.iter().enumerate() {
        let next = polygon[(index + 1) % polygon.len()];
        twice_area += current.0 * next.1 - next.0 * current.1;
    }
    twice_area.abs() / 2.0
}

/// Metres per second from `from` to `to`, less both accuracy radii (two honest but inaccurate
/// fixes can be that far apart without anyone moving).
fn implied_speed_mps(from: &Fix, to: &Fix) -> f64 {
    let seconds = (to.time_ms - from.time_ms) as f64 / 1000.0;
    if seconds <= 0.0 {
        return f64::INFINITY;
    }
    let distance = distance_m(from.lat, from.lon, to.lat, to.lon);
    (distance - from.accuracy_m - to.accuracy_m).max(0.0) / seconds
}

/// The index of the furthest of `held` that a straight segment from `anchor` reaches within
/// `max_error_m` of every held fix before it (0 at least: nothing lies before the first).
fn furthest_reach(anchor: &Fix, held: &[Fix], max_error_m: f64) -> usize {
    (1..held.len())
        .rev()
        .find(|&end| interpolation_keeps_bound(anchor, &held[..end], &held[end], max_error_m))
        .unwrap_or(0)
}

/// Whether joining `start` to `end` with a straight line at constant speed passes within
/// `max_error_m` of every fix in `between`, each compared at its own time.
pub fn interpolation_keeps_bound(start: &Fix, between: &[Fix], end: &Fix, max_error_m: f64) -> bool {
    let frame = LocalFrame::around(start.lat, start.lon);
    let (end_east, end_north) = frame.to_local(end.lat, end.lon);
    let span_ms = (end.time_ms - start.time_ms) as f64;
    between.iter().all(|fix| {
        let fraction = if span_ms > 0.0 {
            ((fix.time_ms - start.time_ms) as f64 / span_ms).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let (east, north) = frame.to_local(fix.lat, fix.lon);
        let (line_east, line_north) = (end_east * fraction, end_north * fraction);
        ((east - line_east).powi(2) + (north - line_north).powi(2)).sqrt() <= max_error_m
    })
}

/// Where the server would place the vehicle at `time_ms` from the last sent fix: dead reckoning
/// with the fix's own speed and heading when it has them, else with the velocity between the
/// last two sent fixes, for at most `horizon_s` seconds.
pub fn predict(last: &Fix, before_last: Option<&Fix>, time_ms: i64, horizon_s: f64) -> (f64, f64) {
    let elapsed_s = ((time_ms - last.time_ms) as f64 / 1000.0).clamp(0.0, horizon_s);
    let frame = LocalFrame::around(last.lat, last.lon);
    let velocity = match (last.speed_mps, last.heading_deg) {
        (Some(speed), Some(heading)) if speed.is_finite() && heading.is_finite() => {
            let radians = heading.to_radians();
            (speed * radians.sin(), speed * radians.cos())
        }
        (Some(speed), _) if speed.is_finite() && speed < 0.5 => (0.0, 0.0),
        _ => match before_last {
            Some(previous) if last.time_ms > previous.time_ms => {
                let (east, north) = frame.to_local(previous.lat, previous.lon);
                let seconds = (last.time_ms - previous.time_ms) as f64 / 1000.0;
                (-east / seconds, -north / seconds)
            }
            _ => (0.0, 0.0),
        },
    };
    frame.to_degrees(velocity.0 * elapsed_s, velocity.1 * elapsed_s)
}

//! The throttle policy as the settings form edits it: text fields in the units a driver or a
//! fleet operator thinks in, and the conversion both ways with clear errors.

use crate::throttle::{ThrottleMode, ThrottlePolicy};

/// The form's fields, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleForm {
    /// `"error_bounded"` or `"traccar"`.
    pub mode: String,
    pub max_error_m: String,
    /// Empty for no live bound.
    pub live_error_m: String,
    pub min_interval_s: String,
    pub min_distance_m: String,
    pub min_heading_change_deg: String,
    pub heartbeat_s: String,
    pub max_accuracy_m: String,
    pub max_speed_kmh: String,
}

fn format(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { rounded.to_string() }
}

impl ThrottleForm {
    /// The form showing `policy`. Fields of the other mode show the defaults.
    pub fn from_policy(policy: &ThrottlePolicy) -> ThrottleForm {
        let (mode, max_error_m, live_error_m, min_distance_m, min_heading_change_deg) = match policy.mode {
            ThrottleMode::ErrorBounded { max_error_m, live_error_m } => {
                ("error_bounded", max_error_m, live_error_m.map(format).unwrap_or_default(), 50.0, 30.0)
            }
            ThrottleMode::Traccar { min_distance_m, min_heading_change_deg } => (
                "traccar",
                20.0,
                format(crate::throttle::DEFAULT_LIVE_ERROR_M),
                min_distance_m,
                min_heading_change_deg,
            ),
        };
        ThrottleForm {
            mode: mode.into(),
            max_error_m: format(max_error_m),
            live_error_m,
            min_interval_s: format(policy.min_interval_s),
            min_distance_m: format(min_distance_m),
            min_heading_change_deg: format(min_heading_change_deg),
            heartbeat_s: format(policy.max_interval_s),
            max_accuracy_m: format(policy.max_accuracy_m),
            max_speed_kmh: format(policy.max_speed_mps * 3.6),
        }
    }

    /// The policy the form describes, or what is wrong with it.
    pub fn to_policy(&self) -> Result<ThrottlePolicy, String> {
        let number = |text: &str, label: &str| -> Result<f64, String> {
            text.trim().replace(',', ".").parse::<f64>().map_err(|_| format!("{label} must be a number"))
        };
        let mode = match self.mode.as_str() {
            "error_bounded" => ThrottleMode::ErrorBounded {
                max_error_m: number(&self.max_error_m, "Track error")?,
                live_error_m: if self.live_error_m.trim().is_empty() {
                    None
                } else {
                    Some(number(&self.live_error_m, "Live position error")?)
                },
            },
            "traccar" => ThrottleMode::Traccar {
                min_distance_m: number(&self.min_distance_m, "Distance")?,
                min_heading_change_deg: number(&self.min_heading_change_deg, "Heading change")?,
            },
            other => return Err(format!("unknown mode {other:?}")),
        };
        let policy = ThrottlePolicy {
            max_accuracy_m: number(&self.max_accuracy_m, "Accuracy limit")?,
            max_speed_mps: number(&self.max_speed_kmh, "Speed limit")? / 3.6,
            min_interval_s: number(&self.min_interval_s, "Minimum interval")?,
            max_interval_s: number(&self.heartbeat_s, "Heartbeat")?,
            mode,
        };
        match policy.problem() {
            Some(problem) => Err(capitalize(&problem)),
            None => Ok(policy),
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut characters = text.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_round_trips_through_the_form() {
        let policy = ThrottlePolicy::default();
        let form = ThrottleForm::from_policy(&policy);
        assert_eq!(form.max_speed_kmh, "252");
        assert_eq!(form.live_error_m, "100");
        let back = form.to_policy().unwrap();
        assert_eq!(back.mode, policy.mode);
        assert!((back.max_speed_mps - policy.max_speed_mps).abs() < 1e-9);
    }

    #[test]
    fn traccar_settings_and_an_empty_live_bound() {
        let mut form = ThrottleForm::from_policy(&ThrottlePolicy::default());
        form.mode = "traccar".into();
        form.min_distance_m = "75".into();
        form.min_heading_change_deg = "25,5".into();
        let policy = form.to_policy().unwrap();
        assert_eq!(policy.mode, ThrottleMode::Traccar { min_distance_m: 75.0, min_heading_change_deg: 25.5 });
        form.mode = "error_bounded".into();
        form.live_error_m = " ".into();
        assert_eq!(
            form.to_policy().unwrap().mode,
            ThrottleMode::ErrorBounded { max_error_m: 20.0, live_error_m: None }
        );
    }

    #[test]
    fn bad_input_is_explained() {
        let mut form = ThrottleForm::from_policy(&ThrottlePolicy::default());
        form.max_error_m = "twenty".into();
        assert_eq!(form.to_policy().unwrap_err(), "Track error must be a number");
        form.max_error_m = "0".into();
        assert!(
            form.to_policy().unwrap_err().starts_with("The error bound must be positive")
                || form.to_policy().unwrap_err().contains("error bound")
        );
        form.max_error_m = "20".into();
        form.heartbeat_s = "0.5".into();
        assert!(form.to_policy().unwrap_err().contains("heartbeat"));
    }
}

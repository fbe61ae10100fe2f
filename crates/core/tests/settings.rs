//! What saving settings means for the device state (issue: switching drivers mixed two
//! drivers' data; saving a new policy dropped the running engine).

use enroute_core::{Settings, SettingsChange, ThrottlePolicy};

const ORIGIN: &str = "https://dispatch.example";

fn signed_in(driver_id: &str) -> Settings {
    Settings { driver_id: driver_id.into(), token: Some(format!("{driver_id}-token")), ..Settings::default() }
}

#[test]
fn another_driver_or_server_is_other_device_state() {
    let a = signed_in("driver-a");
    assert_eq!(a.change_to(&signed_in("driver-b"), ORIGIN), SettingsChange::OtherDevice);
    let elsewhere = Settings { server_url: Some("wss://other.example/ws".into()), ..a.clone() };
    assert_eq!(a.change_to(&elsewhere, ORIGIN), SettingsChange::OtherDevice);
    // The page's own server named explicitly is the same server.
    let explicit = Settings { server_url: Some("wss://dispatch.example/ws".into()), ..a.clone() };
    assert_eq!(a.change_to(&explicit, ORIGIN), SettingsChange::Nothing);
}

#[test]
fn a_new_token_or_policy_keeps_the_device_state() {
    let a = signed_in("driver-a");
    let new_token = Settings { token: Some("rotated".into()), ..a.clone() };
    assert_eq!(a.change_to(&new_token, ORIGIN), SettingsChange::SameDevice);
    let new_policy = Settings { throttle: ThrottlePolicy::traccar(5.0, 50.0, 30.0, 120.0), ..a.clone() };
    assert_eq!(a.change_to(&new_policy, ORIGIN), SettingsChange::SameDevice);
    let padded = Settings { token: Some(" driver-a-token ".into()), ..a.clone() };
    assert_eq!(a.change_to(&padded, ORIGIN), SettingsChange::Nothing, "a token is compared as used");
}

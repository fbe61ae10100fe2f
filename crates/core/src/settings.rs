//! What the driver can change on the settings page, persisted by the app.

use crate::throttle::ThrottlePolicy;
use serde::{Deserialize, Serialize};

/// The app's settings. Missing fields in stored settings take their defaults, so settings saved
/// by an older version still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// WebSocket URL of the dispatch server; `None` means `/ws` on the page's own origin.
    pub server_url: Option<String>,
    /// The driver this device belongs to.
    pub driver_id: String,
    /// The driver's sign-in token, issued by dispatch; `None` until the driver enters one (the
    /// server then refuses the sign-in and the app says so).
    pub token: Option<String>,
    /// Which location fixes become records.
    pub throttle: ThrottlePolicy,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            server_url: None,
            driver_id: "demo-driver".into(),
            token: None,
            throttle: ThrottlePolicy::default(),
        }
    }
}

/// What saving new settings means for the device state the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsChange {
    /// Nothing that the connection or the tracking uses changed.
    Nothing,
    /// The same driver on the same server, with a new token or location policy: the running
    /// driver takes them over and keeps everything it holds.
    SameDevice,
    /// Another driver, or another server: other device state (outbox, numbering, jobs). The old
    /// driver's records are still sent, as that driver.
    OtherDevice,
}

impl Settings {
    /// What saving `new` over these settings changes, the page being at `page_origin`.
    pub fn change_to(&self, new: &Settings, page_origin: &str) -> SettingsChange {
        if self.driver_id != new.driver_id
            || self.websocket_url(page_origin) != new.websocket_url(page_origin)
        {
            SettingsChange::OtherDevice
        } else if self.sign_in_token() != new.sign_in_token() || self.throttle != new.throttle {
            SettingsChange::SameDevice
        } else {
            SettingsChange::Nothing
        }
    }

    /// The WebSocket URL to connect to, given the page's origin (`https://host:port`).
    /// `http` becomes `ws` and `https` becomes `wss`.
    pub fn websocket_url(&self, page_origin: &str) -> String {
        if let Some(url) = self.server_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
            return url.to_string();
        }
        let origin = page_origin.trim_end_matches('/');
        if let Some(rest) = origin.strip_prefix("https://") {
            format!("wss://{rest}/ws")
        } else if let Some(rest) = origin.strip_prefix("http://") {
            format!("ws://{rest}/ws")
        } else {
            format!("{origin}/ws")
        }
    }

    /// The token to sign in with: `None` when blank.
    pub fn sign_in_token(&self) -> Option<String> {
        self.token.as_deref().map(str::trim).filter(|token| !token.is_empty()).map(str::to_string)
    }

    /// Takes the credentials of a sign-in link (`?driver_id=…&token=…`, as the server prints and
    /// dispatch hands out) from a page's query string. Returns whether anything changed.
    pub fn apply_sign_in_link(&mut self, query: &str) -> bool {
        let mut driver_id = None;
        let mut token = None;
        for pair in query.trim_start_matches('?').split('&') {
            match pair.split_once('=') {
                Some(("driver_id", value)) if !value.is_empty() => driver_id = Some(value.to_string()),
                Some(("token", value)) if !value.is_empty() => token = Some(value.to_string()),
                _ => {}
            }
        }
        let (Some(driver_id), Some(token)) = (driver_id, token) else { return false };
        let changed = self.driver_id != driver_id || self.token.as_deref() != Some(token.as_str());
        self.driver_id = driver_id;
        self.token = Some(token);
        changed
    }

    /// The HTTP URL the service worker uploads waiting records to when no app window is open:
    /// `/sync/records` on the same server as the WebSocket (`ws` becomes `http`, `wss` `https`).
    pub fn records_upload_url(&self, page_origin: &str) -> String {
        let websocket_url = self.websocket_url(page_origin);
        let (scheme, rest) = match websocket_url.split_once("://") {
            Some(("wss", rest)) => ("https", rest),
            Some(("ws", rest)) => ("http", rest),
            Some((scheme, rest)) => (scheme, rest),
            None => ("http", websocket_url.as_str()),
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        format!("{scheme}://{host}/sync/records")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_go_to_the_websocket_server_over_http() {
        let settings = Settings::default();
        assert_eq!(
            settings.records_upload_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/sync/records"
        );
        assert_eq!(settings.records_upload_url("https://app.example"), "https://app.example/sync/records");
        let settings = Settings {
            server_url: Some("wss://dispatch.example:8443/ws?fleet=3".into()),
            ..Settings::default()
        };
        assert_eq!(
            settings.records_upload_url("http://localhost"),
            "https://dispatch.example:8443/sync/records"
        );
    }

    #[test]
    fn a_sign_in_link_sets_driver_and_token_only_when_both_are_there() {
        let mut settings = Settings::default();
        assert!(!settings.apply_sign_in_link("?driver_id=d-7"));
        assert_eq!(settings.sign_in_token(), None);
        assert!(settings.apply_sign_in_link("?debug&driver_id=d-7&token=abc123"));
        assert_eq!(settings.driver_id, "d-7");
        assert_eq!(settings.sign_in_token().as_deref(), Some("abc123"));
        assert!(!settings.apply_sign_in_link("driver_id=d-7&token=abc123"), "same credentials: no change");
    }

    #[test]
    fn a_blank_token_means_none() {
        let settings = Settings { token: Some("  ".into()), ..Settings::default() };
        assert_eq!(settings.sign_in_token(), None);
    }

    #[test]
    fn default_url_follows_the_page_origin() {
        let settings = Settings::default();
        assert_eq!(settings.websocket_url("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(settings.websocket_url("https://fleet.example/"), "wss://fleet.example/ws");
    }

    #[test]
    fn configured_url_wins_and_blank_means_default() {
        let mut settings =
            Settings { server_url: Some(" wss://dispatch.example/ws ".into()), ..Settings::default() };
        assert_eq!(settings.websocket_url("http://localhost"), "wss://dispatch.example/ws");
        settings.server_url = Some("   ".into());
        assert_eq!(settings.websocket_url("http://localhost"), "ws://localhost/ws");
    }
}

#[cfg(test)]
mod storage_tests {
    use super::*;

    #[test]
    fn settings_saved_by_an_older_version_still_load() {
        let old: Settings = serde_json::from_str(r#"{"driver_id":"d-1"}"#).unwrap();
        assert_eq!(old.driver_id, "d-1");
        assert_eq!(old.throttle, ThrottlePolicy::default());
    }
}

//! What the phone's browser offers, and what the app tells the driver about what it lacks.
//!
//! The app detects the facts (`src/platform/browser_support.rs`); this module decides what they
//! mean for the driver, so the wording is tested natively and the same on every screen.
//! `docs/browsers.md` has the table per engine.

/// Facts about the browser the app runs in. Each is `true` when the feature is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserSupport {
    /// The Screen Wake Lock API (`navigator.wakeLock`).
    pub wake_lock: bool,
    /// `navigator.vibrate`.
    pub vibration: bool,
    /// Background Sync (`SyncManager`): the service worker uploads after the app is closed.
    pub background_sync: bool,
    /// The Notification API (on iPhones only inside an app added to the Home Screen).
    pub notifications: bool,
    /// Web Locks (`navigator.locks`), for one tracking tab.
    pub web_locks: bool,
    /// A service worker: the app starts offline.
    pub service_worker: bool,
    /// An iPhone or iPad, whatever the browser (they are all WebKit there).
    pub apple_mobile: bool,
    /// Running as an installed app (from the Home Screen), not in a browser tab.
    pub installed: bool,
}

impl Default for BrowserSupport {
    /// Everything there: what a test or a preview assumes unless it says otherwise.
    fn default() -> BrowserSupport {
        BrowserSupport {
            wake_lock: true,
            vibration: true,
            background_sync: true,
            notifications: true,
            web_locks: true,
            service_worker: true,
            apple_mobile: false,
            installed: false,
        }
    }
}

/// Something the driver should know about this browser, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportNote {
    /// A stable name for tests and styling (`"wake-lock"`, `"add-to-home-screen"`, …).
    pub key: &'static str,
    /// What is missing and what the app does instead, in the driver's words.
    pub text: &'static str,
}

impl BrowserSupport {
    /// Whether the app should suggest adding it to the Home Screen: iPhones have no install
    /// prompt, and only an app on the Home Screen gets notifications and kept storage there.
    pub fn suggest_add_to_home_screen(&self) -> bool {
        self.apple_mobile && !self.installed
    }

    /// What to tell the driver about job alerts in the background, if there is nothing to ask
    /// for (`None`: the app can ask for the notification permission).
    pub fn background_alerts_note(&self) -> Option<&'static str> {
        if self.notifications {
            None
        } else if self.suggest_add_to_home_screen() {
            Some(
                "On iPhone, job alerts in the background need Enroute on your Home Screen: tap Share, then \"Add to Home Screen\", and open Enroute from there. Until then, offers show here while Enroute is open.",
            )
        } else {
            Some(
                "This browser cannot show job alerts in the background. Offers show here while Enroute is open.",
            )
        }
    }

    /// The hint shown on the duty screen while tracking, when the screen may turn off by itself.
    pub fn keep_screen_on_note(&self) -> Option<&'static str> {
        (!self.wake_lock).then_some(
            "Keep the screen on while you drive: this browser cannot keep it awake for Enroute, and tracking pauses when the screen turns off.",
        )
    }

    /// Everything this browser lacks that changes what the driver sees or must do, for the
    /// settings page.
    pub fn notes(&self) -> Vec<SupportNote> {
        let mut notes = Vec::new();
        if self.suggest_add_to_home_screen() {
            notes.push(SupportNote {
                key: "add-to-home-screen",
                text: "Add Enroute to your Home Screen: tap Share, then \"Add to Home Screen\". It then opens like an app, starts without a network and can show job alerts.",
            });
        }
        if !self.wake_lock {
            notes.push(SupportNote {
                key: "wake-lock",
                text: "The screen is not kept on for you: keep it on while you drive, or tracking pauses when it turns off.",
            });
        }
        if !self.vibration {
            notes.push(SupportNote {
                key: "vibration",
                text: "This phone's browser cannot vibrate: new jobs play a sound and show a banner.",
            });
        }
        if !self.notifications {
            notes.push(SupportNote {
                key: "notifications",
                text: "No job alerts in the background here: offers show while Enroute is open.",
            });
        }
        if !self.background_sync {
            notes.push(SupportNote {
                key: "background-sync",
                text: "Waiting records are sent while Enroute is open (at start, when the network returns, when you come back to it), not after you close it.",
            });
        }
        if !self.service_worker {
            notes.push(SupportNote {
                key: "offline-start",
                text: "This browser cannot start Enroute without a network. Records are still kept on the phone and sent later.",
            });
        }
        if !self.web_locks {
            notes.push(SupportNote {
                key: "web-locks",
                text: "Open Enroute in one tab only: this browser cannot fully prevent two tabs from tracking at once.",
            });
        }
        notes
    }
}

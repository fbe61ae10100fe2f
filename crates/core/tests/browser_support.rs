//! What the driver is told about a browser that lacks a feature.

use enroute_core::BrowserSupport;

fn keys(support: &BrowserSupport) -> Vec<&'static str> {
    support.notes().iter().map(|note| note.key).collect()
}

#[test]
fn a_browser_with_everything_has_nothing_to_say() {
    let support = BrowserSupport::default();
    assert!(support.notes().is_empty());
    assert_eq!(support.keep_screen_on_note(), None);
    assert_eq!(support.background_alerts_note(), None);
    assert!(!support.suggest_add_to_home_screen());
}

#[test]
fn iphone_safari_in_a_tab_suggests_the_home_screen_for_alerts() {
    // iOS 17 Safari, not installed: no Notification API, no vibration, no Background Sync.
    let safari = BrowserSupport {
        vibration: false,
        background_sync: false,
        notifications: false,
        apple_mobile: true,
        installed: false,
        ..BrowserSupport::default()
    };
    assert!(safari.suggest_add_to_home_screen());
    assert_eq!(keys(&safari), ["add-to-home-screen", "vibration", "notifications", "background-sync"]);
    assert!(safari.background_alerts_note().unwrap().contains("Add to Home Screen"));
}

#[test]
fn an_installed_iphone_app_has_notifications_and_no_install_hint() {
    let installed = BrowserSupport {
        vibration: false,
        background_sync: false,
        apple_mobile: true,
        installed: true,
        ..BrowserSupport::default()
    };
    assert!(!installed.suggest_add_to_home_screen());
    assert_eq!(installed.background_alerts_note(), None);
    assert_eq!(keys(&installed), ["vibration", "background-sync"]);
}

#[test]
fn desktop_firefox_without_notifications_says_offers_show_while_open() {
    let firefox = BrowserSupport { notifications: false, ..BrowserSupport::default() };
    let note = firefox.background_alerts_note().unwrap();
    assert!(note.contains("while Enroute is open"));
    assert!(!note.contains("Home Screen"));
}

#[test]
fn no_wake_lock_asks_the_driver_to_keep_the_screen_on() {
    let support = BrowserSupport { wake_lock: false, ..BrowserSupport::default() };
    assert!(support.keep_screen_on_note().unwrap().contains("Keep the screen on"));
    assert_eq!(keys(&support), ["wake-lock"]);
}

#[test]
fn every_missing_feature_has_its_own_note() {
    let nothing = BrowserSupport {
        wake_lock: false,
        vibration: false,
        background_sync: false,
        notifications: false,
        web_locks: false,
        service_worker: false,
        apple_mobile: false,
        installed: false,
    };
    assert_eq!(
        keys(&nothing),
        ["wake-lock", "vibration", "notifications", "background-sync", "offline-start", "web-locks"]
    );
}

//! Asking the browser to keep the app's storage (`navigator.storage.persist()`): without it the
//! browser may evict IndexedDB, outbox included, when the phone runs short of space. Chromium
//! decides by itself (an installed app is granted), Firefox asks the driver, Safari decides by
//! itself; some browsers have no Storage API at all.

use crate::platform::js_api;

/// What the browser said about keeping the app's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Storage is kept until the driver clears it.
    Persistent,
    /// The browser may evict it under storage pressure.
    BestEffort,
    /// No Storage API here: best effort, and no way to ask.
    Unsupported,
}

impl Persistence {
    /// In the driver's words, for the settings page.
    pub fn describe(self) -> &'static str {
        match self {
            Persistence::Persistent => "Kept: the phone will not delete waiting records to free space.",
            Persistence::BestEffort => {
                "Not guaranteed: if the phone runs out of space it may delete waiting records. Install the app (Add to Home Screen) to keep them."
            }
            Persistence::Unsupported => {
                "This browser cannot promise to keep waiting records if the phone runs out of space."
            }
        }
    }
}

async fn ask(method: &str) -> Persistence {
    let Some(storage) = js_api::navigator_property("storage") else { return Persistence::Unsupported };
    match js_api::call_async(&storage, &format!("navigator.storage.{method}"), method, &[]).await {
        Ok(answer) if answer.as_bool() == Some(true) => Persistence::Persistent,
        Ok(_) => Persistence::BestEffort,
        Err(error) => {
            log::info!("{error}");
            Persistence::Unsupported
        }
    }
}

/// Whether storage is persistent now, without asking for it.
pub async fn current() -> Persistence {
    ask("persisted").await
}

/// Asks for persistent storage (once per start is enough: browsers remember the answer).
pub async fn request() -> Persistence {
    match current().await {
        Persistence::BestEffort => ask("persist").await,
        other => other,
    }
}

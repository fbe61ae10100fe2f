use crate::state::SyncState;
use enroute_core::Settings;
use leptos::prelude::*;

/// The home screen: who is signed in on this device and how the link to dispatch is doing.
#[component]
pub fn DutyPage() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let settings = expect_context::<RwSignal<Settings>>();
    view! {
        <section class="page" aria-labelledby="duty-title">
            <h1 id="duty-title">"Duty"</h1>
            <dl class="facts">
                <dt>"Driver"</dt>
                <dd data-testid="driver-id">{move || settings.with(|settings| settings.driver_id.clone())}</dd>
                <dt>"Dispatch link"</dt>
                <dd data-testid="link-detail">{move || state.link.with(|link| link.detail.clone())}</dd>
            </dl>
        </section>
    }
}

use crate::components::TrackingPanel;
use crate::state::{Intent, Intents, SyncState, TabRole};
use enroute_core::{BrowserSupport, Settings};
use leptos::prelude::*;

/// The home screen: on or off duty, location tracking, who is signed in, and how the link to
/// dispatch is doing.
#[component]
pub fn DutyPage() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let settings = expect_context::<RwSignal<Settings>>();
    let intents = expect_context::<Intents>();
    let on_duty = move || state.view.with(|view| view.on_duty);
    let leading = move || state.role.get() == TabRole::Leader;
    let add_to_home_screen = use_context::<BrowserSupport>().unwrap_or_default().suggest_add_to_home_screen();
    view! {
        <section class="page" aria-labelledby="duty-title">
            <h1 id="duty-title">"Duty"</h1>
            <p class="duty-state" data-testid="duty-state">
                {move || if on_duty() { "You are on duty." } else { "You are off duty." }}
            </p>
            <button
                type="button"
                class=move || if on_duty() { "button button--wide button--stop" } else { "button button--wide button--primary" }
                data-testid="duty-toggle"
                disabled=move || !leading()
                on:click=move |_| intents.send(Intent::SetDuty(!on_duty()))
            >
                {move || if on_duty() { "End duty" } else { "Start duty" }}
            </button>
            <TrackingPanel />
            <dl class="facts">
                <dt>"Driver"</dt>
                <dd data-testid="driver-id">{move || settings.with(|settings| settings.driver_id.clone())}</dd>
                <dt>"Dispatch link"</dt>
                <dd data-testid="link-detail">{move || state.view.with(|view| view.link_detail.clone())}</dd>
            </dl>
            <Show when=move || add_to_home_screen>
                <p class="notice" data-testid="add-to-home-screen">
                    "Tip: add Enroute to your Home Screen (Share, then \"Add to Home Screen\") so it opens like an app, works without a network and can alert you to jobs."
                </p>
            </Show>
        </section>
    }
}

use enroute_core::LinkSummary;
use leptos::prelude::*;

/// A coloured dot and a short label saying whether the app can reach the server.
#[component]
pub fn ConnectionIndicator(
    /// What to show; usually `SyncState::link`.
    #[prop(into)]
    link: Signal<LinkSummary>,
) -> impl IntoView {
    view! {
        <p
            class=move || format!("connection connection--{}", link.with(|summary| summary.tone.as_str()))
            role="status"
            aria-live="polite"
            title=move || link.with(|summary| summary.detail.clone())
            data-testid="connection"
        >
            <span class="connection__dot" aria-hidden="true"></span>
            <span class="connection__label">{move || link.with(|summary| summary.label.clone())}</span>
            <span class="visually-hidden">{move || link.with(|summary| format!(": {}", summary.detail))}</span>
        </p>
    }
}

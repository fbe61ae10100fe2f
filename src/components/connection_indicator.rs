use crate::state::SyncState;
use leptos::prelude::*;

/// A coloured dot and a short label saying whether the app can reach the server.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let view = expect_context::<SyncState>().view;
    view! {
        <p
            class=move || view.with(|view| format!("connection connection--{}", view.link_tone))
            role="status"
            aria-live="polite"
            title=move || view.with(|view| view.link_detail.clone())
            data-testid="connection"
        >
            <span class="connection__dot" aria-hidden="true"></span>
            <span class="connection__label">{move || view.with(|view| view.link_label.clone())}</span>
            <span class="visually-hidden">{move || view.with(|view| format!(": {}", view.link_detail))}</span>
        </p>
    }
}

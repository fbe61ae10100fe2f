use crate::components::{ConnectionIndicator, OfferBanner, SyncStatus};
use leptos::prelude::*;
use leptos_router::components::A;

/// The top bar: the app's name, the connection indicator, the sync status and the navigation.
#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="app-header">
            <div class="app-header__row">
                <span class="app-header__name">"Enroute"</span>
                <ConnectionIndicator />
            </div>
            <SyncStatus />
            <OfferBanner />
            <nav class="app-nav" aria-label="Main">
                <A href="/">"Duty"</A>
                <A href="/assignments">"Jobs"</A>
                <A href="/settings">"Settings"</A>
            </nav>
        </header>
    }
}

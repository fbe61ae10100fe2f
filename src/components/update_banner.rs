use leptos::prelude::*;

/// Offers the new version of the app once it has installed. The app switches only when the
/// driver taps "Update now", never by itself in the middle of a shift; queued records are in
/// IndexedDB and survive the reload.
#[component]
pub fn UpdateBanner(
    /// Whether a new version has installed and waits to take over.
    #[prop(into)]
    ready: Signal<bool>,
    /// Switches to the new version (the page reloads once it has taken over).
    on_update: Callback<()>,
) -> impl IntoView {
    let updating = RwSignal::new(false);
    view! {
        <Show when=move || ready.get()>
            <div class="update-banner" role="status" data-testid="update-banner">
                <span>"Update available"</span>
                <button
                    type="button"
                    data-testid="update-now"
                    disabled=move || updating.get()
                    on:click=move |_| {
                        updating.set(true);
                        on_update.run(());
                    }
                >
                    {move || if updating.get() { "Updating…" } else { "Update now" }}
                </button>
            </div>
        </Show>
    }
}

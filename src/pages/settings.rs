use crate::APP_VERSION;
use enroute_core::Settings;
use leptos::prelude::*;

/// Driver id and server address. Saving reconnects with the new values.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = expect_context::<RwSignal<Settings>>();
    let driver_id = RwSignal::new(settings.get_untracked().driver_id);
    let server_url = RwSignal::new(settings.get_untracked().server_url.unwrap_or_default());
    let saved = RwSignal::new(false);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let driver_id = driver_id.get().trim().to_string();
        let server_url = server_url.get().trim().to_string();
        settings.set(Settings {
            driver_id: if driver_id.is_empty() { Settings::default().driver_id } else { driver_id },
            server_url: if server_url.is_empty() { None } else { Some(server_url) },
        });
        saved.set(true);
    };
    view! {
        <section class="page" aria-labelledby="settings-title">
            <h1 id="settings-title">"Settings"</h1>
            <form class="form" on:submit=save>
                <label for="driver-id">"Driver ID"</label>
                <input
                    id="driver-id"
                    name="driver-id"
                    autocomplete="username"
                    prop:value=driver_id
                    on:input=move |event| {
                        driver_id.set(event_target_value(&event));
                        saved.set(false);
                    }
                />
                <label for="server-url">"Server address"</label>
                <input
                    id="server-url"
                    name="server-url"
                    type="url"
                    placeholder="Same as this page"
                    prop:value=server_url
                    on:input=move |event| {
                        server_url.set(event_target_value(&event));
                        saved.set(false);
                    }
                />
                <p class="hint">"Leave empty to use the server this app was loaded from."</p>
                <button type="submit" class="button button--primary">"Save and reconnect"</button>
                <p class="saved" role="status" aria-live="polite">
                    {move || if saved.get() { "Saved." } else { "" }}
                </p>
            </form>
            <p class="version">"App version " {APP_VERSION}</p>
        </section>
    }
}

use crate::platform::browser::format_clock_time;
use crate::state::{Intent, Intents, SyncState, TabRole};
use enroute_core::Settings;
use leptos::prelude::*;

/// What the sign-in warning says while the phone has no token, before dispatch answers and after.
const NO_TOKEN_YET: &str = "This phone has no sign-in token yet. Open the sign-in link from dispatch, or enter \
     your driver id and token in Settings; nothing you record is lost meanwhile.";

/// One line under the header: records waiting and the last sync; below it, lasting warnings
/// (sign-in refused, records not durable, records refused by dispatch, fixes dropped, tracking
/// run by another tab) with what the driver can do about them.
#[component]
pub fn SyncStatus() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let view = state.view;
    let intents = use_context::<Intents>();
    let settings = use_context::<RwSignal<Settings>>();
    let signed_out =
        move || settings.is_some_and(|settings| settings.with(|settings| settings.sign_in_token().is_none()));
    let send = move |intent: Intent| {
        if let Some(intents) = intents {
            intents.send(intent);
        }
    };
    view! {
        <div class="sync-status">
            <p class="sync-status__line">
                <span data-testid="waiting" data-waiting=move || view.with(|view| view.waiting.to_string())
                    data-unsaved=move || view.with(|view| view.unsaved.to_string())>
                    {move || view.with(|view| view.waiting_label())}
                </span>
                " · "
                <span data-testid="last-sync">{move || view.with(|view| view.last_sync_label(format_clock_time))}</span>
            </p>
            // Shown from the first frame when the phone has no token yet, rather than once dispatch
            // refuses it: the warning appearing later would push the screen down under the
            // driver's thumb (and count as layout shift).
            <Show when=move || view.with(|view| view.link_refused || (signed_out() && view.link_tone != "good"))>
                <p class="warning" role="alert" data-testid="refused">
                    // With no token the cause is known before and after dispatch answers: the same
                    // words throughout, so the warning keeps its size.
                    {move || if signed_out() {
                        NO_TOKEN_YET.to_string()
                    } else {
                        view.with(|view| view.link_detail.clone())
                    }}
                    " "
                    <a href="/settings">"Settings"</a>
                    " "
                    <button type="button" class="button" data-testid="reconnect" on:click=move |_| send(Intent::Reconnect)>
                        "Reconnect"
                    </button>
                </p>
            </Show>
            <Show when=move || !view.with(|view| view.storage_ok)>
                <p class="warning" role="alert" data-testid="storage-warning">
                    "This phone cannot save records right now. They are kept until the app is closed: keep it open until they are sent."
                </p>
            </Show>
            <Show when=move || view.with(|view| view.dead_letters_total > 0)>
                <p class="warning" data-testid="dead-letters">
                    {move || view.with(|view| match view.dead_letters_total {
                        1 => "1 record was refused by dispatch and set aside.".to_string(),
                        count => format!("{count} records were refused by dispatch and set aside."),
                    })}
                    " "
                    <button type="button" class="button" data-testid="export-dead-letters" on:click=move |_| send(Intent::ExportDeadLetters)>
                        "Export them"
                    </button>
                </p>
            </Show>
            <Show when=move || view.with(|view| view.evicted_total > 0)>
                <p class="warning" data-testid="evicted">
                    {move || view.with(|view| format!(
                        "{} old location updates were dropped to save space; the dispatcher was told.",
                        view.evicted_total
                    ))}
                </p>
            </Show>
            <Show when=move || state.role.get() == TabRole::Follower>
                <p class="notice" data-testid="follower">
                    "Enroute is open in another tab, which does the tracking. This tab only shows its status."
                </p>
            </Show>
        </div>
    }
}

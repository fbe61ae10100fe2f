use crate::components::TrackSketch;
use crate::state::SyncState;
use enroute_core::{BrowserSupport, TrackingState, TrackingView};
use leptos::prelude::*;

/// Where tracking stands, in plain words with what to do next; the current position, accuracy
/// and speed; how many positions were seen, sent and dropped; and the recent track.
#[component]
pub fn TrackingPanel() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let keep_screen_on = use_context::<BrowserSupport>().unwrap_or_default().keep_screen_on_note();
    let tracking = Signal::derive(move || state.view.with(|view| view.tracking.clone()));
    let guidance = move || tracking.with(|view| view.guidance());
    let tone = move || {
        tracking.with(|view| match view.state {
            TrackingState::Tracking => "tracking tracking--good",
            TrackingState::OffDuty | TrackingState::WaitingForPosition => "tracking tracking--neutral",
            TrackingState::Paused(_) => "tracking tracking--bad",
        })
    };
    view! {
        <section class=tone aria-labelledby="tracking-title" data-testid="tracking">
            <h2 id="tracking-title" data-testid="tracking-headline">{move || guidance().0}</h2>
            <p role="status" aria-live="polite" data-testid="tracking-guidance">{move || guidance().1}</p>
            <Show when=move || keep_screen_on.is_some() && tracking.with(|view| view.state != TrackingState::OffDuty)>
                <p class="hint" data-testid="keep-screen-on">{keep_screen_on}</p>
            </Show>
            <Show when=move || tracking.with(|view| view.position.is_some())>
                <dl class="facts facts--compact">
                    <dt>"Position"</dt>
                    <dd data-testid="position">{move || tracking.with(position_text)}</dd>
                    <dt>"Accuracy"</dt>
                    <dd data-testid="accuracy">{move || tracking.with(accuracy_text)}</dd>
                    <dt>"Speed"</dt>
                    <dd data-testid="speed">{move || tracking.with(speed_text)}</dd>
                </dl>
            </Show>
            <p class="counts" data-testid="fix-counts">
                {move || tracking.with(|view| format!("Positions: {} seen · {} sent · {} dropped", view.seen, view.sent, view.dropped))}
            </p>
            <Show when=move || tracking.with(|view| !view.recent_raw.is_empty())>
                <TrackSketch tracking />
            </Show>
        </section>
    }
}

fn position_text(view: &TrackingView) -> String {
    view.position.map(|position| format!("{:.5}, {:.5}", position.lat, position.lon)).unwrap_or_default()
}

fn accuracy_text(view: &TrackingView) -> String {
    view.position.map(|position| format!("± {:.0} m", position.accuracy_m)).unwrap_or_default()
}

fn speed_text(view: &TrackingView) -> String {
    match view.position.and_then(|position| position.speed_kmh) {
        Some(speed) => format!("{speed:.0} km/h"),
        None => "unknown".into(),
    }
}

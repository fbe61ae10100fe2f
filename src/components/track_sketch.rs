use enroute_core::TrackingView;
use enroute_core::tracking::sketch;
use leptos::prelude::*;

/// Side of the square sketch, in SVG units.
const SIZE: f64 = 200.0;

fn polyline(points: &[(f64, f64)]) -> String {
    points.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(" ")
}

/// A small map-less sketch of the recent track, north up: every position the phone gave (thin
/// grey line) and the ones sent to dispatch (blue dots joined), so the throttle can be seen at work.
#[component]
pub fn TrackSketch(
    /// The tracking view to draw.
    #[prop(into)]
    tracking: Signal<TrackingView>,
) -> impl IntoView {
    let points = Memo::new(move |_| tracking.with(|view| sketch(view, SIZE)));
    view! {
        <figure class="sketch">
            <svg
                viewBox=format!("0 0 {SIZE} {SIZE}")
                role="img"
                aria-label="Recent track: grey line for every position, blue dots for those sent to dispatch"
                data-testid="track-sketch"
            >
                <rect x="0" y="0" width=SIZE height=SIZE class="sketch__background" />
                <polyline class="sketch__raw" points=move || points.with(|(raw, _)| polyline(raw)) />
                <polyline class="sketch__sent-line" points=move || points.with(|(_, sent)| polyline(sent)) />
                {move || {
                    points
                        .with(|(_, sent)| sent.clone())
                        .into_iter()
                        .map(|(x, y)| view! { <circle class="sketch__sent" cx=x cy=y r="3" /> })
                        .collect_view()
                }}
            </svg>
            <figcaption class="sketch__legend">
                <span class="sketch__key sketch__key--raw"></span>
                "from the phone "
                <span class="sketch__key sketch__key--sent"></span>
                "sent to dispatch"
            </figcaption>
        </figure>
    }
}

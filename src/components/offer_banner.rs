use crate::state::SyncState;
use enroute_core::JobView;
use enroute_core::job_view::accept_countdown;
use enroute_protocol::AssignmentStatus;
use leptos::prelude::*;
use leptos_router::components::A;

/// The newest job offer, on every screen, with the time left to accept it.
#[component]
pub fn OfferBanner() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let offer = Memo::new(move |_| {
        state.view.with(|view| {
            view.jobs
                .iter()
                .filter(|job| job.status == AssignmentStatus::Offered)
                .max_by_key(|job| job.received_at_ms)
                .cloned()
        })
    });
    let countdown = move |job: &JobView| accept_countdown(job, state.clock_ms.get());
    view! {
        <Show when=move || offer.with(Option::is_some)>
            <div class="offer-banner" role="alert" data-testid="offer-banner">
                <p class="offer-banner__title">
                    "New job: "
                    <span data-testid="offer-route">
                        {move || offer.with(|job| job.as_ref().map(|job| format!("{} → {}", job.pickup.address, job.dropoff.address)).unwrap_or_default())}
                    </span>
                </p>
                <p class="offer-banner__countdown" data-testid="offer-countdown">
                    {move || offer.with(|job| job.as_ref().and_then(countdown).map(|left| format!("Accept within {left}")).unwrap_or_default())}
                </p>
                <A href=move || offer.with(|job| job.as_ref().map(|job| format!("/assignments/{}", job.id)).unwrap_or_default())>
                    "Open the job"
                </A>
            </div>
        </Show>
    }
}

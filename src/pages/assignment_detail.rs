use crate::platform::browser::format_clock_time;
use crate::state::{Intent, Intents, SyncState, TabRole};
use enroute_core::JobView;
use enroute_core::assignments::{ChangedBy, Confirmation};
use enroute_core::job_view::{accept_countdown, delivery_distance_warning};
use enroute_protocol::{AssignmentStatus, DriverAction};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// One job: where and when, the notes, the server's notice, the next actions as large
/// buttons, and the history of its status changes with whether each is confirmed.
#[component]
pub fn AssignmentDetailPage() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let params = use_params_map();
    let job_id = Memo::new(move |_| params.with(|params| params.get("id").unwrap_or_default()));
    let job = Memo::new(move |_| {
        let id = job_id.get();
        state.view.with(|view| view.jobs.iter().find(|job| job.id == id).cloned())
    });
    view! {
        <section class="page" aria-labelledby="job-title">
            <Show
                when=move || job.with(Option::is_some)
                fallback=move || {
                    if state.view.with(|view| view.jobs_loaded) {
                        view! {
                            <h1 id="job-title">"Job not found"</h1>
                            <p>"This job is not on this phone (or it was finished before today). " <A href="/assignments">"See all jobs"</A> "."</p>
                        }
                        .into_any()
                    } else {
                        view! { <h1 id="job-title">"Loading the job…"</h1> }.into_any()
                    }
                }
            >
                // Keyed by the job's id: updates to the job (a confirmation, a notice) re-render
                // its parts, not the whole page, so what the driver is typing or confirming stays.
                {move || {
                    let id = job_id.get();
                    let job = Signal::derive(move || job.get());
                    view! { <JobDetail id job /> }
                }}
            </Show>
        </section>
    }
}

#[component]
fn JobDetail(
    /// The job's id.
    id: String,
    /// The job, kept up to date.
    job: Signal<Option<JobView>>,
) -> impl IntoView {
    let state = expect_context::<SyncState>();
    let intents = expect_context::<Intents>();
    let leading = move || state.role.get() == TabRole::Leader;
    let field = move |read: fn(&JobView) -> String| {
        move || job.with(|job| job.as_ref().map(read).unwrap_or_default())
    };
    let status = Memo::new(move |_| job.with(|job| job.as_ref().map(|job| job.status)));
    let countdown = Signal::derive(move || {
        let now = state.clock_ms.get();
        job.with(|job| {
            job.as_ref()
                .filter(|job| job.status == AssignmentStatus::Offered)
                .and_then(|job| accept_countdown(job, now))
        })
    });
    let fail_reason = RwSignal::new(String::new());
    let confirming_far_delivery = RwSignal::new(None::<f64>);
    let act = {
        let id = id.clone();
        move |action: DriverAction, reason: Option<String>| {
            intents.send(Intent::Act { job_id: id.clone(), action, reason });
            confirming_far_delivery.set(None);
        }
    };
    let dismiss = {
        let id = id.clone();
        move |_| intents.send(Intent::DismissNotice { job_id: id.clone() })
    };
    let actions =
        Memo::new(move |_| job.with(|job| job.as_ref().map(|job| job.actions.clone()).unwrap_or_default()));
    let deliver = {
        let act = act.clone();
        move || {
            let position =
                state.view.with(|view| view.tracking.position.map(|position| (position.lat, position.lon)));
            match job.with(|job| job.as_ref().and_then(|job| delivery_distance_warning(job, position))) {
                Some(distance) => confirming_far_delivery.set(Some(distance)),
                None => act(DriverAction::Deliver, None),
            }
        }
    };
    let act_for_buttons = act.clone();
    let act_for_warning = act.clone();
    view! {
        <h1 id="job-title">{field(|job| format!("{} → {}", job.pickup.address, job.dropoff.address))}</h1>
        <p class=move || format!("job-status job-status--{}", status.get().map(AssignmentStatus::as_str).unwrap_or_default()) data-testid="job-status">
            {move || status.get().map(AssignmentStatus::label).unwrap_or_default()}
        </p>
        <Show when=move || job.with(|job| job.as_ref().is_some_and(|job| job.notice.is_some()))>
            <div class="warning" role="alert" data-testid="job-notice">
                <p>{field(|job| job.notice.clone().unwrap_or_default())}</p>
                <button type="button" class="button" on:click=dismiss.clone()>"OK"</button>
            </div>
        </Show>
        <Show when=move || countdown.with(Option::is_some)>
            <p class="countdown" data-testid="job-countdown">{move || countdown.get().map(|left| format!("Accept within {left}"))}</p>
        </Show>
        <dl class="facts">
            <dt>"Pickup"</dt>
            <dd>{field(|job| job.pickup.address.clone())}</dd>
            <dt>"Drop-off"</dt>
            <dd>{field(|job| job.dropoff.address.clone())}</dd>
            <dt>"Deliver"</dt>
            <dd>{field(|job| format!("{}–{}", format_clock_time(job.window.from_ms), format_clock_time(job.window.to_ms)))}</dd>
            <dt>"Notes"</dt>
            // Text from the server is always text: Leptos sets it as a text node, never as HTML.
            <dd class="notes" data-testid="job-notes">{field(|job| if job.notes.is_empty() { "—".to_string() } else { job.notes.clone() })}</dd>
            <Show when=move || job.with(|job| job.as_ref().is_some_and(|job| job.failure_reason.is_some()))>
                <dt>"Failed because"</dt>
                <dd>{field(|job| job.failure_reason.clone().unwrap_or_default())}</dd>
            </Show>
        </dl>
        <div class="actions" data-testid="job-actions">
            <For each=move || actions.get() key=|action| *action let:action>
                {
                    let act = act_for_buttons.clone();
                    let deliver = deliver.clone();
                    let class = if matches!(action, DriverAction::Decline | DriverAction::Fail) { "button button--wide button--stop" } else { "button button--wide button--primary" };
                    match action {
                        DriverAction::Fail => view! {
                            <label for="fail-reason">"Why could you not deliver?"</label>
                            <input id="fail-reason" prop:value=fail_reason on:input=move |event| fail_reason.set(event_target_value(&event)) />
                            <button type="button" class=class data-action=action.as_str()
                                disabled=move || !leading() || fail_reason.with(|reason| reason.trim().is_empty())
                                on:click=move |_| act(DriverAction::Fail, Some(fail_reason.get().trim().to_string()))>
                                {action.label()}
                            </button>
                        }.into_any(),
                        DriverAction::Deliver => view! {
                            <button type="button" class=class disabled=move || !leading() data-action=action.as_str()
                                on:click=move |_| deliver()>
                                {action.label()}
                            </button>
                        }.into_any(),
                        _ => view! {
                            <button type="button" class=class disabled=move || !leading() data-action=action.as_str()
                                on:click=move |_| act(action, None)>
                                {action.label()}
                            </button>
                        }.into_any(),
                    }
                }
            </For>
        </div>
        {move || confirming_far_delivery.get().map(|distance| {
            let act = act_for_warning.clone();
            view! {
                <div class="warning" role="alertdialog" aria-labelledby="far-delivery" data-testid="far-delivery">
                    <p id="far-delivery">{format!("You are {:.0} m from the drop-off. Mark this job delivered anyway?", distance)}</p>
                    <button type="button" class="button button--primary" on:click=move |_| act(DriverAction::Deliver, None)>"Delivered anyway"</button>
                    <button type="button" class="button" on:click=move |_| confirming_far_delivery.set(None)>"Not yet"</button>
                </div>
            }
        })}
        <h2>"History"</h2>
        <ol class="history" data-testid="job-history">
            {move || job.with(|job| job.as_ref().map(|job| job.history.clone()).unwrap_or_default()).into_iter().map(|item| {
                let who = match item.by { ChangedBy::Driver => "you", ChangedBy::Dispatch => "dispatch" };
                let confirmation = match item.confirmation {
                    Confirmation::Pending => "waiting for the server",
                    Confirmation::Confirmed => "confirmed",
                    Confirmation::Refused => "refused by the server",
                    Confirmation::FromServer => "from the server",
                };
                view! {
                    <li>
                        <span class="history__time">{format_clock_time(item.at_ms)}</span>
                        " " {item.status.label()} " · " {who} " · "
                        <span class="history__confirmation">{confirmation}</span>
                    </li>
                }
            }).collect_view()}
        </ol>
        <p><A href="/assignments">"All jobs"</A></p>
    }
}

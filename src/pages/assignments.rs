use crate::platform::alerts::{notification_permission, request_notification_permission};
use crate::platform::browser::format_clock_time;
use crate::state::SyncState;
use enroute_core::assignments::JobGroup;
use enroute_core::{BrowserSupport, JobView};
use leptos::prelude::*;
use leptos_router::components::A;

/// The driver's jobs: active first, then offers, then those done today; and the dispatcher's
/// messages.
#[component]
pub fn AssignmentsPage() -> impl IntoView {
    let state = expect_context::<SyncState>();
    let jobs = Memo::new(move |_| state.view.with(|view| view.jobs.clone()));
    let group = move |wanted: JobGroup| {
        jobs.with(|jobs| jobs.iter().filter(|job| job.group == wanted).cloned().collect::<Vec<_>>())
    };
    view! {
        <section class="page" aria-labelledby="assignments-title">
            <h1 id="assignments-title">"Jobs"</h1>
            <NotificationPrompt />
            <Show when=move || jobs.with(Vec::is_empty)>
                <p class="empty" data-testid="no-assignments">"No jobs assigned to you right now."</p>
            </Show>
            <JobGroupList title="Active" jobs=Signal::derive(move || group(JobGroup::Active)) />
            <JobGroupList title="Offers" jobs=Signal::derive(move || group(JobGroup::Offered)) />
            <JobGroupList title="Done today" jobs=Signal::derive(move || group(JobGroup::Done)) />
            <Show when=move || state.view.with(|view| !view.messages.is_empty())>
                <h2>"Messages from dispatch"</h2>
                <ul class="messages" data-testid="messages">
                    {move || {
                        state
                            .view
                            .with(|view| view.messages.iter().rev().cloned().collect::<Vec<_>>())
                            .into_iter()
                            .map(|message| view! { <li><span class="muted">{format_clock_time(message.at_ms)} " "</span>{message.text}</li> })
                            .collect_view()
                    }}
                </ul>
            </Show>
        </section>
    }
}

/// One group of jobs, if it has any.
#[component]
fn JobGroupList(
    /// The group's heading.
    title: &'static str,
    /// The jobs in it.
    #[prop(into)]
    jobs: Signal<Vec<JobView>>,
) -> impl IntoView {
    view! {
        <Show when=move || jobs.with(|jobs| !jobs.is_empty())>
            <h2>{title}</h2>
            <ul class="jobs">
                {move || jobs.get().into_iter().map(|job| view! { <JobCard job /> }).collect_view()}
            </ul>
        </Show>
    }
}

/// A job in the list: where from, where to, its status; a link to the job.
#[component]
fn JobCard(
    /// The job.
    job: JobView,
) -> impl IntoView {
    let href = format!("/assignments/{}", job.id);
    let status_class = format!("job-card__status job-card__status--{}", job.status.as_str());
    view! {
        <li class="job-card" data-testid="job-card" data-job=job.id.clone()>
            <A href=href>
                <span class=status_class>{job.status.label()}</span>
                <span class="job-card__route">{job.pickup.address.clone()} " → " {job.dropoff.address.clone()}</span>
                <span class="job-card__window muted">
                    "Deliver " {format_clock_time(job.window.from_ms)} "–" {format_clock_time(job.window.to_ms)}
                </span>
            </A>
        </li>
    }
}

/// Asks for the notification permission from a tap, saying why, until the driver decided.
#[component]
fn NotificationPrompt() -> impl IntoView {
    let permission = RwSignal::new(notification_permission());
    let unavailable = use_context::<BrowserSupport>().unwrap_or_default().background_alerts_note();
    let ask = move |_| {
        leptos::task::spawn_local(async move {
            permission.set(request_notification_permission().await);
        });
    };
    view! {
        <Show when=move || unavailable.is_some()>
            <p class="hint" data-testid="notification-unavailable">{unavailable}</p>
        </Show>
        <Show when=move || permission.get() == "default">
            <div class="notice" data-testid="notification-prompt">
                <p>"Get job offers even when Enroute is in the background: your phone shows a notification and opens the job when you tap it."</p>
                <button type="button" class="button button--primary" on:click=ask>"Turn on job alerts"</button>
            </div>
        </Show>
        <Show when=move || permission.get() == "denied">
            <p class="hint">"Job alerts are off for this site. Offers still appear here and on every screen while Enroute is open."</p>
        </Show>
    }
}

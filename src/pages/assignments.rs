use leptos::prelude::*;

/// The driver's jobs. The server does not assign jobs yet, so the list is empty.
#[component]
pub fn AssignmentsPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="assignments-title">
            <h1 id="assignments-title">"Jobs"</h1>
            <p class="empty" data-testid="no-assignments">"No jobs assigned to you right now."</p>
        </section>
    }
}

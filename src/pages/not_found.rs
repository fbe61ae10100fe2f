use leptos::prelude::*;
use leptos_router::components::A;

/// Shown for any address the app does not know.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"This page does not exist. " <A href="/">"Go to the duty screen"</A> "."</p>
        </section>
    }
}

use crate::APP_VERSION;
use crate::platform::storage_persistence;
use crate::state::OtherDrivers;
use enroute_core::{BrowserSupport, Settings, ThrottleForm};
use leptos::prelude::*;

/// One labelled number field of the location form.
#[component]
fn NumberField(
    /// The input's id (and name).
    id: &'static str,
    /// What the field is, in words.
    label: &'static str,
    /// Unit shown after the field.
    unit: &'static str,
    /// The text being edited.
    value: RwSignal<String>,
    /// Cleared when the field changes.
    saved: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <span class="field-with-unit">
            <input
                id=id
                name=id
                inputmode="decimal"
                prop:value=value
                on:input=move |event| {
                    value.set(event_target_value(&event));
                    saved.set(false);
                }
            />
            <span class="unit">{unit}</span>
        </span>
    }
}

/// Driver id, sign-in token, server address and how location is sent. Saving reconnects with the new values.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = expect_context::<RwSignal<Settings>>();
    let initial = settings.get_untracked();
    let driver_id = RwSignal::new(initial.driver_id.clone());
    let server_url = RwSignal::new(initial.server_url.clone().unwrap_or_default());
    let token = RwSignal::new(initial.token.clone().unwrap_or_default());
    let form = ThrottleForm::from_policy(&initial.throttle);
    let mode = RwSignal::new(form.mode.clone());
    let max_error_m = RwSignal::new(form.max_error_m.clone());
    let live_error_m = RwSignal::new(form.live_error_m.clone());
    let min_interval_s = RwSignal::new(form.min_interval_s.clone());
    let min_distance_m = RwSignal::new(form.min_distance_m.clone());
    let min_heading_change_deg = RwSignal::new(form.min_heading_change_deg.clone());
    let heartbeat_s = RwSignal::new(form.heartbeat_s.clone());
    let max_accuracy_m = RwSignal::new(form.max_accuracy_m.clone());
    let max_speed_kmh = RwSignal::new(form.max_speed_kmh.clone());
    let saved = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let form = ThrottleForm {
            mode: mode.get(),
            max_error_m: max_error_m.get(),
            live_error_m: live_error_m.get(),
            min_interval_s: min_interval_s.get(),
            min_distance_m: min_distance_m.get(),
            min_heading_change_deg: min_heading_change_deg.get(),
            heartbeat_s: heartbeat_s.get(),
            max_accuracy_m: max_accuracy_m.get(),
            max_speed_kmh: max_speed_kmh.get(),
        };
        let throttle = match form.to_policy() {
            Ok(throttle) => throttle,
            Err(message) => {
                problem.set(Some(message));
                saved.set(false);
                return;
            }
        };
        problem.set(None);
        let driver_id = driver_id.get().trim().to_string();
        let server_url = server_url.get().trim().to_string();
        let token = token.get().trim().to_string();
        settings.set(Settings {
            token: if token.is_empty() { None } else { Some(token) },
            driver_id: if driver_id.is_empty() { Settings::default().driver_id } else { driver_id },
            server_url: if server_url.is_empty() { None } else { Some(server_url) },
            throttle,
        });
        saved.set(true);
    };
    let error_bounded = move || mode.get() == "error_bounded";
    view! {
        <section class="page" aria-labelledby="settings-title">
            <h1 id="settings-title">"Settings"</h1>
            <form class="form" on:submit=save novalidate>
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
                <label for="token">"Sign-in token"</label>
                <input
                    id="token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    prop:value=token
                    on:input=move |event| {
                        token.set(event_target_value(&event));
                        saved.set(false);
                    }
                />
                <p class="hint">"From your dispatcher, or open the sign-in link they sent you."</p>
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
                <p class="hint">"Leave empty to use the server this app was loaded from. Another server works only if that one allows it: ask your dispatcher."</p>

                <fieldset class="fieldset">
                    <legend>"Location updates"</legend>
                    <label for="throttle-mode">"Send positions"</label>
                    <select
                        id="throttle-mode"
                        name="throttle-mode"
                        prop:value=mode
                        on:change=move |event| {
                            mode.set(event_target_value(&event));
                            saved.set(false);
                        }
                    >
                        <option value="error_bounded">"When the track would be off (recommended)"</option>
                        <option value="traccar">"By time, distance and turn"</option>
                    </select>
                    <Show
                        when=error_bounded
                        fallback=move || {
                            view! {
                                <NumberField id="min-interval" label="At most every" unit="s" value=min_interval_s saved />
                                <NumberField id="min-distance" label="After moving" unit="m" value=min_distance_m saved />
                                <NumberField id="min-heading" label="After turning" unit="°" value=min_heading_change_deg saved />
                            }
                        }
                    >
                        <NumberField id="max-error" label="Recorded track at most off by" unit="m" value=max_error_m saved />
                        <NumberField id="live-error" label="Live position at most off by (empty: no limit)" unit="m" value=live_error_m saved />
                    </Show>
                    <NumberField id="heartbeat" label="Send at least every" unit="s" value=heartbeat_s saved />
                    <NumberField id="max-accuracy" label="Ignore positions less accurate than" unit="m" value=max_accuracy_m saved />
                    <NumberField id="max-speed" label="Ignore jumps faster than" unit="km/h" value=max_speed_kmh saved />
                </fieldset>

                <button type="submit" class="button button--primary">"Save and reconnect"</button>
                <p class="problem" role="alert" data-testid="settings-problem">{move || problem.get().unwrap_or_default()}</p>
                <p class="saved" role="status" aria-live="polite">
                    {move || if saved.get() { "Saved." } else { "" }}
                </p>
            </form>
            <OtherDriversSending />
            <ThisPhone />
            <p class="version">"App version " {APP_VERSION}</p>
        </section>
    }
}

/// What this phone's browser keeps and lacks: whether waiting records are safe from storage
/// clean-ups, and each missing feature with what the app does instead.
#[component]
fn ThisPhone() -> impl IntoView {
    let notes = use_context::<BrowserSupport>().unwrap_or_default().notes();
    let persistence = RwSignal::new(None::<storage_persistence::Persistence>);
    leptos::task::spawn_local(async move { persistence.set(Some(storage_persistence::current().await)) });
    view! {
        <section class="this-phone" aria-labelledby="this-phone-title" data-testid="this-phone">
            <h2 id="this-phone-title">"This phone"</h2>
            <p data-testid="storage-persistence">
                "Waiting records: "
                {move || persistence.get().map_or("checking…", |persistence| persistence.describe())}
            </p>
            <ul class="support-notes">
                {notes
                    .into_iter()
                    .map(|note| view! { <li data-testid="support-note" data-note=note.key>{note.text}</li> })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// Records other drivers left on this phone (after a switch), and how their sending goes: they
/// go up as the driver who made them, never as the one signed in now.
#[component]
fn OtherDriversSending() -> impl IntoView {
    let others = use_context::<OtherDrivers>().unwrap_or_default();
    view! {
        <Show when=move || others.0.with(|list| !list.is_empty())>
            <section class="other-drivers" aria-labelledby="other-drivers-title" data-testid="other-drivers">
                <h2 id="other-drivers-title">"Other drivers on this phone"</h2>
                <ul>
                    {move || {
                        others
                            .0
                            .get()
                            .into_iter()
                            .map(|other| {
                                let view = other.state.view;
                                view! {
                                    <li data-testid="other-driver" data-driver=move || other.driver_id.get()
                                        data-waiting=move || view.with(|view| view.waiting.to_string())>
                                        <strong>{move || other.driver_id.get()}</strong>
                                        ": "
                                        {move || view.with(|view| {
                                            if view.waiting == 0 && view.jobs_loaded {
                                                "every record sent to dispatch.".to_string()
                                            } else {
                                                format!("{} · {}", view.waiting_label(), view.link_label)
                                            }
                                        })}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </section>
        </Show>
    }
}

use leptos::prelude::*;

use crate::app::browser::{copy_to_clipboard, sleep_ms};

/// How long a confirmation stays before it fades.
const FLASH_MS: u32 = 3_000;

/// A button that copies `text()` and confirms with `copied_message` in a status line that
/// fades after a few seconds.
#[component]
pub fn CopyButton(
    #[prop(into)] label: String,
    #[prop(into)] copied_message: String,
    text: Signal<Option<String>>,
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    let (message, set_message) = signal(None::<(bool, String)>);
    let generation = StoredValue::new(0u64);
    let copied_message = StoredValue::new(copied_message);
    let copy = move |_| {
        let Some(value) = text.get_untracked() else {
            return;
        };
        generation.update_value(|n| *n += 1);
        let this = generation.get_value();
        leptos::task::spawn_local(async move {
            match copy_to_clipboard(value).await {
                Ok(()) => set_message.set(Some((true, copied_message.get_value()))),
                Err(err) => set_message.set(Some((false, format!("Could not copy: {err}")))),
            }
            sleep_ms(FLASH_MS).await;
            // A newer click owns the message now.
            if generation.get_value() == this {
                set_message.set(None);
            }
        });
    };
    view! {
        <span class="copy">
            <button
                type="button"
                class="button secondary"
                on:click=copy
                disabled=move || disabled.get() || text.with(Option::is_none)
            >
                {label}
            </button>
            <span role="status" class="flash" class:error=move || matches!(message.get(), Some((false, _)))>
                {move || message.get().map(|(_, text)| text)}
            </span>
        </span>
    }
}

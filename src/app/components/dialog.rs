use leptos::{ev::KeyboardEvent, html, prelude::*, wasm_bindgen::JsCast, web_sys::HtmlElement};

/// A modal confirmation. When it opens, focus moves to its first input, select or textarea
/// (or to the dialog itself); Escape cancels; Tab stays inside.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    #[prop(into)] title: String,
    /// Called when the admin confirms. The dialog closes itself, unless `stay_open`: then
    /// `on_confirm` closes it (when its work succeeded, so that an error shows inside).
    on_confirm: Callback<()>,
    #[prop(into)] confirm_label: String,
    #[prop(optional)] stay_open: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let dialog_ref = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if open.get() {
            if let Some(dialog) = dialog_ref.get() {
                let control = dialog
                    .query_selector("input, select, textarea")
                    .ok()
                    .flatten()
                    .and_then(|control| control.dyn_into::<HtmlElement>().ok());
                let _ = match control {
                    Some(control) => control.focus(),
                    None => dialog.focus(),
                };
            }
        }
    });
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            open.set(false);
        }
    };
    let children = StoredValue::new(children);
    let title = StoredValue::new(title);
    let confirm_label = StoredValue::new(confirm_label);
    view! {
        <Show when=move || open.get()>
            <div class="backdrop" on:click=move |_| open.set(false)></div>
            <div
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="dialog-title"
                tabindex="-1"
                node_ref=dialog_ref
                on:keydown=on_keydown
            >
                <h3 id="dialog-title">{title.get_value()}</h3>
                {children.with_value(|children| children())}
                <div class="actions">
                    <button type="button" class="button secondary" on:click=move |_| open.set(false)>
                        "Cancel"
                    </button>
                    <button
                        type="button"
                        class="button danger"
                        on:click=move |_| {
                            if !stay_open {
                                open.set(false);
                            }
                            on_confirm.run(());
                        }
                    >
                        {confirm_label.get_value()}
                    </button>
                </div>
            </div>
        </Show>
    }
}

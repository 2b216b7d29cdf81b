use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_location};

use crate::{
    app::browser::encode_query_value,
    domain::{ApiError, FieldError},
};

/// A server-function error next to the control that caused it. A lost session sends the
/// admin to sign in and back here afterwards.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    if error.is_unauthenticated() {
        let location = use_location();
        let here = location.pathname.get_untracked();
        let path = format!("/login?next={}", encode_query_value(&here));
        return view! { <Redirect path=path/> }.into_any();
    }
    let details = error.details.clone();
    view! {
        <div role="alert" class="error">
            <p>{error.describe()}</p>
            <FieldErrors errors=details/>
        </div>
    }
    .into_any()
}

/// The message of `error`'s detail about `field` (its path is `/field`), to show under the
/// input it concerns.
pub fn field_message(error: Option<&ApiError>, field: &str) -> Option<String> {
    error?
        .details
        .iter()
        .find(|detail| detail.path.trim_start_matches('/') == field)
        .map(|detail| detail.message.clone())
}

#[component]
pub fn FieldErrors(errors: Vec<FieldError>) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        view! {
            <ul class="field-errors">
                {errors
                    .into_iter()
                    .map(|error| {
                        let path = if error.path.is_empty() { "(root)".to_owned() } else { error.path };
                        view! { <li><code>{path}</code>": "{error.message}</li> }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let class = format!("badge badge-{status}");
    view! { <span class=class>{status}</span> }
}

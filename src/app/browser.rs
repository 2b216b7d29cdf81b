//! The few browser APIs the UI uses, in one place. On the server (and before hydration)
//! they do nothing: controls that need them only act once the WASM runs.

/// Puts `text` on the clipboard.
pub async fn copy_to_clipboard(text: String) -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        let window = web_sys::window().ok_or("no window")?;
        let promise = window.navigator().clipboard().write_text(&text);
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map(drop)
            .map_err(|err| format!("the browser refused: {err:?}"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        Err("the clipboard is only available in the browser".into())
    }
}

/// Waits `ms` milliseconds (gloo-timers in the browser).
pub async fn sleep_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

/// Percent-encodes a path for use as a query value.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

//! Resources whose server-rendered values the browser decodes with serde_json's byte reader.
//!
//! Leptos's default resource codec decodes with `serde_json::from_str`, while server functions
//! decode their answers with `serde_json::from_slice`: two readers, so the WASM carried two
//! copies of the deserializer of every type a page loads. Decoding the resource's text as bytes
//! shares one copy (docs/decisions.md, "WASM size").

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};

/// JSON, decoded from bytes (the same text as Leptos's `JsonSerdeCodec`).
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A resource loaded on the server while the page renders and handed to the browser, like
/// `Resource::new`, with the [`JsonBytes`] codec.
pub fn server_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

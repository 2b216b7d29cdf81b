//! `JsonOrForm`, the argument encoding of the server functions the browser calls with plain
//! values: the WASM sends JSON, and the server also takes the form encoding of Leptos's
//! default (`PostUrl`), which an HTML form posts before the page has hydrated (sign-in and
//! sign-out work without JavaScript) and which scripts and the integration tests use.
//!
//! Writing arguments with `serde_qs` (and `ActionForm` reading its form with it) was why that
//! crate was in the WASM (docs/decisions.md, "WASM size"); JSON costs nothing there, since
//! every answer is JSON already.

use leptos::server_fn::{codec::Post, Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// `#[server(input = JsonOrForm)]`: arguments as a JSON object or form-encoded, in a POST.
pub type JsonOrForm = Post<JsonOrFormEncoding>;

pub struct JsonOrFormEncoding;

impl ContentType for JsonOrFormEncoding {
    /// What the browser sends.
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonOrFormEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonOrFormEncoding {
    type Error = serde_json::Error;

    fn encode(args: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(args).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonOrFormEncoding {
    type Error = String;

    /// A body that starts with `{` is JSON: the form encoding percent-encodes `{`, so a form
    /// body never does (and an empty one, the arguments of a function without any, is a form).
    fn decode(body: Bytes) -> Result<T, String> {
        if body.trim_ascii_start().first() == Some(&b'{') {
            return serde_json::from_slice(&body).map_err(|err| err.to_string());
        }
        let text = std::str::from_utf8(&body).map_err(|err| err.to_string())?;
        // PostUrl's own settings (server_fn's codec/url.rs).
        serde_qs::Config::new(5, false)
            .deserialize_str(text)
            .map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Args {
        id: u32,
        next: Option<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct NoArgs {}

    fn decode<T: DeserializeOwned>(body: &'static str) -> Result<T, String> {
        <JsonOrFormEncoding as Decodes<T>>::decode(Bytes::from_static(body.as_bytes()))
    }

    #[test]
    fn takes_what_the_browser_sends() {
        let args = Args {
            id: 7,
            next: Some("/agents?tab=audit".into()),
        };
        let body = <JsonOrFormEncoding as Encodes<Args>>::encode(&args).unwrap();
        assert_eq!(
            body,
            Bytes::from_static(br#"{"id":7,"next":"/agents?tab=audit"}"#)
        );
        assert_eq!(
            <JsonOrFormEncoding as Decodes<Args>>::decode(body),
            Ok(args)
        );
        assert_eq!(decode::<NoArgs>("{}"), Ok(NoArgs {}));
        assert_eq!(decode::<NoArgs>(" \n{}"), Ok(NoArgs {}));
    }

    #[test]
    fn takes_what_a_form_posts() {
        assert_eq!(
            decode::<Args>("id=7&next=%2Fagents%3Ftab%3Daudit"),
            Ok(Args {
                id: 7,
                next: Some("/agents?tab=audit".into())
            })
        );
        assert_eq!(decode::<Args>("id=7"), Ok(Args { id: 7, next: None }));
        // A sign-out form has no fields; a form value that starts with `{` is encoded.
        assert_eq!(decode::<NoArgs>(""), Ok(NoArgs {}));
        assert_eq!(
            decode::<Args>("id=7&next=%7B"),
            Ok(Args {
                id: 7,
                next: Some("{".into())
            })
        );
    }

    #[test]
    fn refuses_broken_arguments_either_way() {
        assert!(decode::<Args>(r#"{"id":"seven"}"#).is_err());
        assert!(decode::<Args>("{id=7").is_err());
        assert!(decode::<Args>("id=seven").is_err());
        assert!(decode::<Args>("").is_err());
    }
}

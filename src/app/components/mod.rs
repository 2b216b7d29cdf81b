//! Reusable controls: copy buttons with a fading confirmation, the confirmation dialog,
//! error display, status badges and outbound signing secrets.

mod copy_button;
mod dialog;
mod errors;
mod secret_field;

pub use copy_button::CopyButton;
pub use dialog::ConfirmDialog;
pub use errors::{field_message, ErrorNotice, FieldErrors, StatusBadge};
pub use secret_field::{SecretField, SecretKind};

//! Reusable controls: copy buttons with a fading confirmation, the confirmation dialog,
//! error display and status badges.

mod copy_button;
mod dialog;
mod errors;

pub use copy_button::CopyButton;
pub use dialog::ConfirmDialog;
pub use errors::{ErrorNotice, FieldErrors, StatusBadge};

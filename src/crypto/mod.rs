//! All raw key material lives in this module.

//! Timestamps as the UI shows them. Written out with chrono's accessors instead of its
//! `format`: the strftime machinery behind `format` is the largest part of chrono in the
//! WASM bundle, and the UI needs two fixed patterns (docs/decisions.md, "WASM size").

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `2026-11-29 19:04:05 UTC`
pub fn utc_seconds(at: &DateTime<Utc>) -> String {
    format!("{}:{:02} UTC", date_hour_minute(at), at.second())
}

/// `2026-11-29 19:04 UTC`
pub fn utc_minutes(at: &DateTime<Utc>) -> String {
    format!("{} UTC", date_hour_minute(at))
}

fn date_hour_minute(at: &DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn the_patterns_match_chronos_format() {
        for at in [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(999, 7, 8, 0, 0, 0).unwrap(),
        ] {
            assert_eq!(
                utc_seconds(&at),
                at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            );
            assert_eq!(
                utc_minutes(&at),
                at.format("%Y-%m-%d %H:%M UTC").to_string()
            );
        }
    }
}

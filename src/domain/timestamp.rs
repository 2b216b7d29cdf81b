//! Points in time in the shared types.
//!
//! The server computes with chrono's `DateTime<Utc>`. The browser only shows timestamps and
//! subtracts two of them, so there a [`Timestamp`] is the text the server sent
//! ([`Rfc3339Utc`]): that keeps chrono, its RFC 3339 parser above all, out of the WASM
//! (docs/decisions.md, "WASM size"). Both read and write the same JSON, chrono's
//! `2026-11-29T19:04:05.123456Z`.

use serde::{Deserialize, Serialize};

/// A point in time: chrono's `DateTime<Utc>` on the server.
#[cfg(feature = "ssr")]
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// A point in time: in the browser, the RFC 3339 text the server sent.
#[cfg(not(feature = "ssr"))]
pub type Timestamp = Rfc3339Utc;

/// A UTC timestamp as chrono writes it in JSON: `YYYY-MM-DDTHH:MM:SS`, a fraction of 3, 6 or 9
/// digits unless it is zero, then `Z`. Parsed when it is read, so its methods can rely on the shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rfc3339Utc {
    text: String,
    /// Where the date ends (the index of `T`).
    date_end: usize,
    /// Whole seconds since 1970-01-01T00:00:00Z, and the fraction in nanoseconds.
    unix_seconds: i64,
    nanos: u32,
}

impl Rfc3339Utc {
    pub fn parse(text: String) -> Result<Self, String> {
        let invalid = || format!("not an RFC 3339 UTC timestamp: {text:?}");
        let (date, time) = text.split_once('T').ok_or_else(invalid)?;
        let time = time.strip_suffix('Z').ok_or_else(invalid)?;
        // Years outside 0..=9999 carry a sign (chrono writes `+10000-01-01`).
        let (negative, unsigned_date) = match date.as_bytes().first() {
            Some(b'-') => (true, &date[1..]),
            Some(b'+') => (false, &date[1..]),
            _ => (false, date),
        };
        let mut date_parts = unsigned_date.split('-');
        let year = digits(date_parts.next(), 4..=9).ok_or_else(invalid)?;
        let year = if negative { -year } else { year };
        let month = digits(date_parts.next(), 2..=2).ok_or_else(invalid)?;
        let day = digits(date_parts.next(), 2..=2).ok_or_else(invalid)?;
        let (hms, fraction) = match time.split_once('.') {
            Some((hms, fraction)) => (hms, Some(fraction)),
            None => (time, None),
        };
        let mut time_parts = hms.split(':');
        let hour = digits(time_parts.next(), 2..=2).ok_or_else(invalid)?;
        let minute = digits(time_parts.next(), 2..=2).ok_or_else(invalid)?;
        let second = digits(time_parts.next(), 2..=2).ok_or_else(invalid)?;
        let nanos = match fraction {
            None => 0,
            Some(fraction) => {
                let value = digits(Some(fraction), 1..=9).ok_or_else(invalid)?;
                value * 10_i64.pow(9 - fraction.len() as u32)
            }
        };
        let in_range = date_parts.next().is_none()
            && time_parts.next().is_none()
            && (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second <= 60; // 60: a leap second
        if !in_range {
            return Err(invalid());
        }
        let unix_seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
        Ok(Self {
            date_end: date.len(),
            text,
            unix_seconds,
            nanos: nanos as u32,
        })
    }

    /// As chrono's `to_rfc3339`: `2026-11-29T19:04:05.123456+00:00`.
    pub fn to_rfc3339(&self) -> String {
        let without_z = &self.text[..self.text.len() - 1];
        format!("{without_z}+00:00")
    }

    /// `2026-11-29 19:04:05 UTC`
    pub fn utc_seconds(&self) -> String {
        format!("{} {} UTC", self.date(), &self.time()[..8])
    }

    /// `2026-11-29 19:04 UTC`
    pub fn utc_minutes(&self) -> String {
        format!("{} {} UTC", self.date(), &self.time()[..5])
    }

    /// Whole milliseconds from `earlier` to `self`, truncated toward zero as chrono's
    /// `(self - earlier).num_milliseconds()`.
    pub fn millis_since(&self, earlier: &Self) -> i64 {
        let mut seconds = self.unix_seconds - earlier.unix_seconds;
        let mut nanos = i64::from(self.nanos) - i64::from(earlier.nanos);
        // Give both parts the same sign, so that dividing truncates the whole toward zero.
        if seconds > 0 && nanos < 0 {
            seconds -= 1;
            nanos += 1_000_000_000;
        } else if seconds < 0 && nanos > 0 {
            seconds += 1;
            nanos -= 1_000_000_000;
        }
        seconds * 1_000 + nanos / 1_000_000
    }

    fn date(&self) -> &str {
        &self.text[..self.date_end]
    }

    /// `HH:MM:SS`, then any fraction and `Z`.
    fn time(&self) -> &str {
        &self.text[self.date_end + 1..]
    }
}

impl TryFrom<String> for Rfc3339Utc {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl From<Rfc3339Utc> for String {
    fn from(timestamp: Rfc3339Utc) -> String {
        timestamp.text
    }
}

/// The text chrono's serde writes for `at`.
#[cfg(feature = "ssr")]
impl From<&chrono::DateTime<chrono::Utc>> for Rfc3339Utc {
    fn from(at: &chrono::DateTime<chrono::Utc>) -> Self {
        let text = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        Self::parse(text).expect("chrono writes RFC 3339")
    }
}

/// Whole milliseconds from `earlier` to `later`, truncated toward zero.
#[cfg(feature = "ssr")]
pub fn millis_between(earlier: &Timestamp, later: &Timestamp) -> i64 {
    (*later - *earlier).num_milliseconds()
}

/// Whole milliseconds from `earlier` to `later`, truncated toward zero.
#[cfg(not(feature = "ssr"))]
pub fn millis_between(earlier: &Timestamp, later: &Timestamp) -> i64 {
    later.millis_since(earlier)
}

/// The decimal number of `text`, when it is a run of ASCII digits of a length in `len`.
fn digits(text: Option<&str>, len: std::ops::RangeInclusive<usize>) -> Option<i64> {
    let text = text?;
    if !len.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;

    fn samples() -> Vec<DateTime<Utc>> {
        let base = [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(999, 7, 8, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(12345, 3, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap(),
        ];
        let fractions = [0, 123_000_000, 123_456_000, 123_456_789, 900_000, 1];
        base.iter()
            .flat_map(|at| {
                fractions
                    .iter()
                    .map(move |nanos| *at + chrono::Duration::nanoseconds(*nanos))
            })
            .collect()
    }

    #[test]
    fn reads_and_writes_the_json_chrono_writes() {
        for at in samples() {
            let json = serde_json::to_string(&at).unwrap();
            let text: Rfc3339Utc = serde_json::from_str(&json).unwrap();
            assert_eq!(text, Rfc3339Utc::from(&at));
            assert_eq!(serde_json::to_string(&text).unwrap(), json);
        }
    }

    #[test]
    fn shows_what_chrono_shows() {
        for at in samples() {
            let text = Rfc3339Utc::from(&at);
            assert_eq!(text.to_rfc3339(), at.to_rfc3339(), "{at:?}");
            if (0..=9999).contains(&chrono::Datelike::year(&at)) {
                assert_eq!(
                    text.utc_seconds(),
                    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                );
                assert_eq!(
                    text.utc_minutes(),
                    at.format("%Y-%m-%d %H:%M UTC").to_string()
                );
            }
        }
    }

    #[test]
    fn subtracts_as_chrono_does() {
        let all = samples();
        for a in &all {
            for b in &all {
                assert_eq!(
                    Rfc3339Utc::from(a).millis_since(&Rfc3339Utc::from(b)),
                    (*a - *b).num_milliseconds(),
                    "{a:?} - {b:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_other_text() {
        for bad in [
            "",
            "2026-11-29",
            "2026-11-29T19:04:05",
            "2026-11-29T19:04:05+00:00",
            "2026-11-29 19:04:05Z",
            "2026-13-29T19:04:05Z",
            "2026-11-29T24:04:05Z",
            "2026-11-29T19:04:05.Z",
            "2026-11-29T19:04:05.1234567890Z",
            "2026-1-29T19:04:05Z",
            "2026-11-29T19:04Z",
            "2026-11-29T19:04:05:06Z",
            "２026-11-29T19:04:05Z",
        ] {
            assert!(Rfc3339Utc::parse(bad.to_owned()).is_err(), "{bad}");
        }
    }
}

//! What PostgreSQL's `jsonb` refuses although it is valid JSON: the `\u0000` escape (text
//! cannot hold NUL) and numbers outside `numeric` (more than 131,072 digits before the
//! decimal point, or more than 16,383 after it, exponents included). Checked before a body
//! reaches a group commit, so such a body is a 400 for its sender alone instead of a failed
//! batch that is then retried row by row.

/// Whether `json` (already known to be valid JSON) can be stored as `jsonb`.
pub fn can_store(json: &[u8]) -> bool {
    let mut at = 0;
    while at < json.len() {
        match json[at] {
            b'"' => match string_end(json, at + 1) {
                Some(end) => at = end + 1,
                None => return false,
            },
            b'-' | b'0'..=b'9' => match number_end(json, at) {
                Some(end) => at = end,
                None => return false,
            },
            _ => at += 1,
        }
    }
    true
}

const MAX_INTEGER_DIGITS: i64 = 131_072;
const MAX_FRACTION_DIGITS: i64 = 16_383;

/// The index of the closing quote of the string whose contents start at `at`, or `None`
/// when the string holds a `\u0000` escape.
fn string_end(json: &[u8], mut at: usize) -> Option<usize> {
    while at < json.len() {
        match json[at] {
            b'"' => return Some(at),
            b'\\' if json.get(at + 1) == Some(&b'u') => {
                if json.get(at + 2..at + 6) == Some(b"0000") {
                    return None;
                }
                at += 6;
            }
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    Some(at)
}

/// The index after the number starting at `at`, or `None` when `numeric` cannot hold it.
fn number_end(json: &[u8], mut at: usize) -> Option<usize> {
    let digits = |at: &mut usize| {
        let start = *at;
        while *at < json.len() && json[*at].is_ascii_digit() {
            *at += 1;
        }
        &json[start..*at]
    };
    if json[at] == b'-' {
        at += 1;
    }
    let integer = digits(&mut at);
    let fraction: &[u8] = if json.get(at) == Some(&b'.') {
        at += 1;
        digits(&mut at)
    } else {
        &[]
    };
    let mut exponent: i64 = 0;
    if matches!(json.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative = json.get(at) == Some(&b'-');
        if matches!(json.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        for &digit in digits(&mut at) {
            // Anything past a million is out of range either way.
            exponent = (exponent * 10 + i64::from(digit - b'0')).min(1_000_000_000);
        }
        if negative {
            exponent = -exponent;
        }
    }
    let scale = fraction.len() as i64 - exponent;
    if scale > MAX_FRACTION_DIGITS {
        return None;
    }
    // Digits before the decimal point once the exponent is applied, counted from the first
    // significant digit (a zero value has none).
    let significant_integer = integer.iter().skip_while(|&&d| d == b'0').count() as i64;
    let integer_digits = if significant_integer > 0 {
        significant_integer + exponent
    } else {
        match fraction.iter().position(|&d| d != b'0') {
            Some(zeros) => exponent - zeros as i64,
            None => 0,
        }
    };
    (integer_digits <= MAX_INTEGER_DIGITS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_json_is_storable() {
        assert!(can_store(
            br#"{"a":[1,-2.5,3e10,0.001,"x\\u0000y","\u00e9"],"b":null}"#
        ));
        assert!(can_store(br#""\\""#));
        assert!(can_store(b"1e131071"));
        assert!(can_store(b"1e-16383"));
        assert!(can_store(b"0.5e5"));
    }

    #[test]
    fn what_postgres_refuses_is_caught() {
        // Each checked against PostgreSQL 15: "unsupported Unicode escape sequence" or
        // "value overflows numeric format".
        assert!(!can_store(br#"{"a":"x\u0000y"}"#));
        assert!(!can_store(format!("0.{}", "1".repeat(16_384)).as_bytes()));
        assert!(!can_store(b"1e131072"));
        assert!(!can_store(b"1e-16384"));
        assert!(!can_store(b"1.5e-16383"));
        assert!(!can_store("1".repeat(131_073).as_bytes()));
        assert!(!can_store(b"[1e99999999999999999999]"));
    }
}

//! Escaping and number formatting, appending to a `String`.

use std::fmt::Write as _;

/// Appends a label value escaped for both formats: `\` → `\\`, `"` → `\"`, line feed →
/// `\n`; every other character as is (both formats take any UTF-8 between the quotes).
#[inline]
pub(crate) fn push_label_value(out: &mut String, value: &str) {
    push_escaped(out, value, true);
}

/// Appends a HELP text escaped for the format: `\` and line feed in both, `"` too in
/// OpenMetrics (whose HELP is an escaped string like a label value; the text format
/// leaves quotes in HELP alone and would read `\"` back as two characters).
#[inline]
pub(crate) fn push_help(out: &mut String, help: &str, escape_quotes: bool) {
    push_escaped(out, help, escape_quotes);
}

#[inline]
fn push_escaped(out: &mut String, s: &str, escape_quotes: bool) {
    let special = |b: u8| b == b'\\' || b == b'\n' || (escape_quotes && b == b'"');
    if !s.bytes().any(special) {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if special(b) {
            // `i` is at an ASCII byte, so both slices end on character boundaries.
            out.push_str(&s[start..i]);
            out.push_str(match b {
                b'\\' => "\\\\",
                b'\n' => "\\n",
                _ => "\\\"",
            });
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// Two ASCII digits for each of 0..100.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `n` in decimal, exactly.
#[inline]
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    // Byte by byte: cheaper for these few ASCII bytes than `str::from_utf8` and a copy.
    for &digit in &buf[i..] {
        out.push(char::from(digit));
    }
}

/// Appends `n` in decimal, exactly.
#[inline]
pub(crate) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `n` in decimal, exactly.
pub(crate) fn push_u128(out: &mut String, n: u128) {
    match u64::try_from(n) {
        Ok(small) => push_u64(out, small),
        Err(_) => {
            let _ = write!(out, "{n}");
        }
    }
}

/// The `f64` equal to the integer `n`, or `None` if there is none: where a format carries
/// numbers as `f64` (the protobuf format), this is the rule that keeps integers exact, as
/// [`push_u64`] and its siblings do in the text formats. Exact means at most 53 significant
/// bits: every integer up to 2^53 in magnitude, and beyond only those whose low bits are
/// zeros (2^53 + 2, 2^64 − 2^11), never 2^53 + 1 or `u64::MAX`.
pub(crate) fn exact_f64(n: i128) -> Option<f64> {
    // `as` rounds to nearest; with at most 53 significant bits there is nothing to round.
    fits_f64(n.unsigned_abs()).then_some(n as f64)
}

/// [`exact_f64`] of a `u128` (a histogram's sum of steps).
pub(crate) fn exact_f64_u128(n: u128) -> Option<f64> {
    fits_f64(n).then_some(n as f64)
}

/// Whether `magnitude` has at most 53 significant bits.
fn fits_f64(magnitude: u128) -> bool {
    magnitude == 0
        || 128 - magnitude.leading_zeros() - magnitude.trailing_zeros() <= f64::MANTISSA_DIGITS
}

/// Appends a float as both formats and both reference parsers read it back to the same
/// `f64`: the shortest decimal that round-trips, with `.0` on integral values (`1.0`,
/// `0.005`, `2.5e-6`, `1e21`), and `+Inf`, `-Inf`, `NaN` spelled as the formats spell them.
pub(crate) fn push_f64(out: &mut String, v: f64) {
    if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.is_nan() {
        out.push_str("NaN");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn integers_are_exact_at_every_width() {
        for n in [0, 1, 9, 10, 99, 100, 101, 999, 1000, 9_007_199_254_740_993, u64::MAX] {
            assert_eq!(s(|o| push_u64(o, n)), n.to_string());
        }
        for n in [i64::MIN, -1, 0, 1, i64::MAX] {
            assert_eq!(s(|o| push_i64(o, n)), n.to_string());
        }
        for n in [0, u128::from(u64::MAX), u128::from(u64::MAX) + 1, u128::MAX] {
            assert_eq!(s(|o| push_u128(o, n)), n.to_string());
        }
    }

    #[test]
    fn exact_f64_accepts_exactly_the_integers_an_f64_holds() {
        let two53 = 1i128 << 53;
        for n in [0, 1, -1, two53, -two53, two53 + 2, (1 << 64) - (1 << 11), i128::from(i64::MIN)] {
            let f = exact_f64(n).unwrap_or_else(|| panic!("{n} is an f64"));
            assert_eq!(f as i128, n, "{n}");
        }
        for n in [two53 + 1, -two53 - 1, i128::from(u64::MAX), i128::from(i64::MAX), i128::MAX] {
            assert_eq!(exact_f64(n), None, "{n} is not an f64");
        }
        assert_eq!(exact_f64_u128(u128::MAX), None);
        assert_eq!(exact_f64_u128(1 << 127), Some(2f64.powi(127)));
        assert_eq!(exact_f64_u128(u128::from(u64::MAX) * 2), None);
        assert_eq!(exact_f64_u128(7), Some(7.0));
    }

    #[test]
    fn floats_round_trip_and_spell_infinity_as_the_formats_do() {
        assert_eq!(s(|o| push_f64(o, 1.0)), "1.0");
        assert_eq!(s(|o| push_f64(o, 2.5e-6)), "2.5e-6");
        assert_eq!(s(|o| push_f64(o, 1000.0 / 1e9)), "1e-6");
        assert_eq!(s(|o| push_f64(o, f64::INFINITY)), "+Inf");
        assert_eq!(s(|o| push_f64(o, f64::NEG_INFINITY)), "-Inf");
        assert_eq!(s(|o| push_f64(o, f64::NAN)), "NaN");
        for v in [0.1, 1e300, 5e-324, 123_456.789] {
            assert_eq!(s(|o| push_f64(o, v)).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn escaping_covers_exactly_backslash_quote_and_newline() {
        assert_eq!(s(|o| push_label_value(o, "plain ü")), "plain ü");
        assert_eq!(s(|o| push_label_value(o, "a\\b\"c\nd\re")), "a\\\\b\\\"c\\nd\re");
        assert_eq!(s(|o| push_help(o, "a\\b\"c\nd", false)), "a\\\\b\"c\\nd");
        assert_eq!(s(|o| push_help(o, "a\\b\"c\nd", true)), "a\\\\b\\\"c\\nd");
    }
}

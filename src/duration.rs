//! Durations as config files, rule files and the command line write them:
//! `250ms`, `90s`, `5m`, `1h`, `7d`, `2w`, and sums of those (`1h30m`).
//!
//! Owns parsing ([`parse_duration`]) and formatting ([`format_duration`]);
//! every stage that reads or prints a duration goes through here.
//!
//! Invariants: parsing uses checked arithmetic, so a number or a sum too
//! large for a [`Duration`] is a "too large" error, never a panic or a
//! silent wrap, and anything above [`MAX_DURATION`] is refused; errors are lowercase and say how to write a valid duration.

use std::time::Duration;

use crate::limits::MAX_DURATION;

/// What an error message suggests.
const EXAMPLES: &str = "e.g. 90s, 5m, 1h or 7d";

/// Parses a duration such as `90s`, `5m`, `1h`, `7d`, `250ms` or `1h30m`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("empty duration: write {EXAMPLES}"));
    }
    if s.contains(char::is_whitespace) {
        return Err(format!(
            "bad duration `{s}`: write it without spaces, {EXAMPLES}"
        ));
    }
    let too_large = || format!("bad duration `{s}`: too large");
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("bad duration `{s}`: write {EXAMPLES}"));
        }
        // Only ASCII digits are left, so the only failure is overflow.
        let n: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs_per_unit: u64 = match unit {
            "ms" => 0,
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            "" => {
                return Err(format!(
                    "bad duration `{s}`: missing unit (ms, s, m, h, d or w), e.g. {n}s"
                ));
            }
            _ => {
                return Err(format!(
                    "bad duration `{s}`: unknown unit `{unit}` (use ms, s, m, h, d or w)"
                ));
            }
        };
        let d = if unit == "ms" {
            Duration::from_millis(n)
        } else {
            Duration::from_secs(n.checked_mul(secs_per_unit).ok_or_else(too_large)?)
        };
        total = total.checked_add(d).ok_or_else(too_large)?;
    }
    if total > MAX_DURATION {
        return Err(format!(
            "bad duration `{s}`: longer than the maximum, {}",
            format_duration(MAX_DURATION)
        ));
    }
    Ok(total)
}

/// Formats a duration the way config files write them (`90s`, `5m`, `2h`).
pub(crate) fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{}ms", d.as_millis())
    } else if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str, expected: Result<Duration, &str>) {
        match (parse_duration(s), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{s:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{s:?}: {got}"),
            (got, want) => panic!("{s:?}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn durations() {
        let secs = |n| Ok(Duration::from_secs(n));
        check("90s", secs(90));
        check("5m", secs(300));
        check("1h", secs(3600));
        check("7d", secs(604_800));
        check("1h30m", secs(5400));
        check("2w", secs(1_209_600));
        check(" 180d ", secs(180 * 86_400));
        check("250ms", Ok(Duration::from_millis(250)));
        check("1s500ms", Ok(Duration::from_millis(1500)));
        check("", Err("empty duration"));
        check("5", Err("missing unit"));
        check("m", Err("bad duration"));
        check("5x", Err("unknown unit `x`"));
        check("1.5h", Err("unknown unit `.`"));
        check("-1s", Err("bad duration"));
        check("5 m", Err("without spaces"));
    }

    #[test]
    fn too_large_is_an_error_not_a_panic_or_a_wrap() {
        // Each term fits a u64 of seconds; their sum does not fit a Duration.
        check(
            "10000000000000000000s10000000000000000000s",
            Err("`10000000000000000000s10000000000000000000s`: too large"),
        );
        // Days times 86 400 overflows u64 seconds.
        check("213503982334602d", Err("`213503982334602d`: too large"));
        // A number that does not fit a u64 at all.
        check("99999999999999999999999s", Err("too large"));
        check("30500568904944w", Err("too large"));
        // What fits a Duration but not the limit is refused as such.
        check("30500568904943w", Err("longer than the maximum, 3660d"));
        check("18446744073709551615s", Err("longer than the maximum"));
        check("18446744073709551615s999ms", Err("longer than the maximum"));
        check("18446744073709551615s1000ms", Err("too large"));
        // The maximum itself is accepted, a millisecond more is not.
        check("3660d", Ok(MAX_DURATION));
        check("3660d1ms", Err("longer than the maximum"));
    }

    #[test]
    fn formatting_round_trips() {
        for (d, s) in [
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(180 * 86_400), "180d"),
            (Duration::from_millis(250), "250ms"),
            (Duration::ZERO, "0ms"),
        ] {
            assert_eq!(format_duration(d), s);
            assert_eq!(parse_duration(s).unwrap(), d, "{s}");
        }
    }
}

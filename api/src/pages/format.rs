//! How pages write times, sizes and statuses for people.

use std::time::{Duration, UNIX_EPOCH};

/// A timestamp in nanoseconds since the epoch, to the second, in UTC.
pub fn time_ns(ns: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_nanos(ns);
    humantime::format_rfc3339_seconds(at).to_string().replace('T', " ").replace('Z', " UTC")
}

/// A store timestamp in milliseconds since the epoch.
pub fn time_ms(ms: i64) -> String {
    time_ns(u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000))
}

/// A byte count in the unit that keeps it short.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A count with thousands separated.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A cost or hour range `[low, high]`.
pub fn range(values: [f64; 2], unit: &str) -> String {
    if values[0] == values[1] {
        format!("{} {unit}", values[0])
    } else {
        format!("{}–{} {unit}", values[0], values[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_these() {
        assert_eq!(time_ns(1_767_399_616_251_736_600), "2026-01-03 00:20:16 UTC");
        assert_eq!(time_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(bytes(45), "45 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(range([80.0, 250.0], "EUR"), "80–250 EUR");
    }
}

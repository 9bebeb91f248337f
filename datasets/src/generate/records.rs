//! The record stream of one session: DTC snapshots and ECU log lines, timestamps a
//! fraction of a millisecond to two milliseconds apart. Each record borrows its message
//! from a fixed table or one reused buffer, so generating allocates nothing per record.

use argus_parser::{KIND_DTC, KIND_LOG, Record};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use super::vehicle::Vehicle;

/// ISO 14229-1 status bytes with testFailed (bit 0) set: failing now, confirmed, with or
/// without the warning lamp.
const FAILED: [u8; 8] = [0x09, 0x0B, 0x2F, 0x89, 0x8B, 0x29, 0x01, 0x2B];
/// Status bytes without testFailed: pending, confirmed but passing now, not yet tested.
const NOT_FAILED: [u8; 8] = [0x08, 0x04, 0x28, 0x24, 0x50, 0x0C, 0x88, 0x2C];

/// A log line: text, then optionally a number in `lo..hi` and a suffix.
type Line = (&'static str, Option<(u32, u32)>, &'static str);

const TRACE: [Line; 4] = [
    ("tx frame dlc 8 seq ", Some((0, 65536)), ""),
    ("rx frame dlc 8 seq ", Some((0, 65536)), ""),
    ("poll cycle ", Some((0, 1_000_000)), " done"),
    ("task scheduler tick", None, ""),
];
const DEBUG: [Line; 5] = [
    ("sensor sample adc=", Some((0, 4096)), ""),
    ("state machine enter RUN", None, ""),
    ("nvm block ", Some((0, 64)), " checksum ok"),
    ("lambda sensor heater duty ", Some((0, 100)), " %"),
    ("diagnostic session default", None, ""),
];
const INFO: [Line; 10] = [
    ("ignition on", None, ""),
    ("engine start, cranking ", Some((300, 1200)), " ms"),
    ("gear change to ", Some((1, 9)), ""),
    ("coolant temperature ", Some((20, 105)), " C"),
    ("battery voltage ", Some((12_100, 14_600)), " mV"),
    ("vehicle speed ", Some((0, 180)), " km/h"),
    ("door closed", None, ""),
    ("ota check: no update available", None, ""),
    ("fuel level ", Some((3, 100)), " %"),
    ("odometer ", Some((1_000, 240_000)), " km"),
];
const WARN: [Line; 5] = [
    ("battery voltage low: ", Some((10_500, 11_800)), " mV"),
    ("can frame late by ", Some((5, 120)), " ms"),
    ("sensor plausibility check marginal", None, ""),
    ("tire pressure low on wheel ", Some((1, 5)), ""),
    ("retrying eeprom write, attempt ", Some((2, 5)), ""),
];
const ERROR: [Line; 5] = [
    ("can bus off, recovering", None, ""),
    ("lost communication with node 0x", Some((0x700, 0x7FF)), ""),
    ("checksum error in frame ", Some((0, 65536)), ""),
    ("eeprom write failed at block ", Some((0, 64)), ""),
    ("actuator did not reach target position", None, ""),
];
const FATAL: [Line; 3] = [
    ("watchdog reset", None, ""),
    ("stack overflow in task ", Some((1, 32)), ""),
    ("flash integrity check failed", None, ""),
];

/// Generates one session's records in timestamp order.
pub struct RecordStream<'v> {
    vehicle: &'v Vehicle,
    rng: ChaCha8Rng,
    ts_ns: u64,
    message: Vec<u8>,
}

impl<'v> RecordStream<'v> {
    pub fn new(vehicle: &'v Vehicle, rng: ChaCha8Rng, session_start_ns: u64) -> Self {
        Self { vehicle, rng, ts_ns: session_start_ns, message: Vec::with_capacity(128) }
    }

    /// The next record; its message borrows from this stream until the next call.
    pub fn next_record(&mut self) -> Record<'_> {
        self.ts_ns += 100_000 + u64::from(self.below(1_900_000));
        // About a third of the records are DTC snapshots, the rest log lines.
        if self.below(3) == 0 { self.dtc() } else { self.log() }
    }

    /// A number in `0..n` from one 32-bit draw (multiply-shift: no rejection loop in the
    /// hot path; the bias, below n / 2^32, does not matter for synthetic data).
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.rng.next_u32()) * u64::from(n)) >> 32) as u32
    }

    fn dtc(&mut self) -> Record<'_> {
        let source = &self.vehicle.dtcs[self.vehicle.dtc_rank.sample(self.rng.next_u32())];
        let failed = self.below(1000) < source.failed_permille;
        let statuses = if failed { &FAILED } else { &NOT_FAILED };
        let status = statuses[self.below(statuses.len() as u32) as usize];
        // The lamp (bit 7) makes it an error for the driver; otherwise a warning.
        let severity = if status & 0x80 != 0 { 4 } else { 3 };
        Record {
            kind: KIND_DTC,
            severity,
            ecu: source.ecu,
            ts_ns: self.ts_ns,
            code: source.dtc,
            dtc_status: status,
            message: source.text.as_bytes(),
        }
    }

    fn log(&mut self) -> Record<'_> {
        let v = self.vehicle;
        // Mostly info; errors and fatals rare, as in a healthy car's log.
        let severity = match self.below(100) {
            0..5 => 0,
            5..20 => 1,
            20..75 => 2,
            75..90 => 3,
            90..98 => 4,
            _ => 5,
        };
        let (ecu, code) = if severity >= 4 && self.below(10) < 9 {
            let app = v.apps[v.app_rank.sample(self.rng.next_u32())];
            (app.ecu, app.code)
        } else {
            let ecu = v.ecus[self.below(v.ecus.len() as u32) as usize];
            // Warnings often carry a code too; they are not error events (severity 3).
            let code = if severity == 3 && self.below(2) == 0 { 1 + self.below(499) } else { 0 };
            (ecu, code)
        };
        let table: &[Line] = match severity {
            0 => &TRACE,
            1 => &DEBUG,
            2 => &INFO,
            3 => &WARN,
            4 => &ERROR,
            _ => &FATAL,
        };
        let (text, number, suffix) = table[self.below(table.len() as u32) as usize];
        self.message.clear();
        self.message.extend_from_slice(text.as_bytes());
        if let Some((lo, hi)) = number {
            let n = lo + self.below(hi - lo);
            if text.ends_with("0x") {
                push_hex(&mut self.message, n)
            } else {
                push_decimal(&mut self.message, n)
            }
        }
        self.message.extend_from_slice(suffix.as_bytes());
        Record {
            kind: KIND_LOG,
            severity,
            ecu,
            ts_ns: self.ts_ns,
            code,
            dtc_status: 0,
            message: &self.message,
        }
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn push_hex(out: &mut Vec<u8>, n: u32) {
    for shift in [8, 4, 0] {
        out.push(b"0123456789ABCDEF"[(n >> shift) as usize & 0xF]);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn records_are_ordered_varied_and_well_formed() {
        let vehicle = Vehicle::from_seed(3).unwrap();
        let mut stream = RecordStream::new(&vehicle, ChaCha8Rng::seed_from_u64(3), 1_767_225_600_000_000_000);
        let mut last = 0;
        let mut severities = [0u32; 6];
        let (mut failed, mut passing) = (0, 0);
        for _ in 0..20_000 {
            let r = stream.next_record();
            assert!(r.ts_ns > last);
            last = r.ts_ns;
            assert!(std::str::from_utf8(r.message).is_ok());
            if r.kind == KIND_LOG {
                severities[usize::from(r.severity)] += 1;
            } else if r.dtc_status & 1 == 1 {
                failed += 1;
            } else {
                passing += 1;
            }
        }
        assert!(severities.iter().all(|&n| n > 0), "{severities:?}");
        assert!(severities[2] > severities.iter().sum::<u32>() / 3, "mostly info: {severities:?}");
        assert!(failed > passing && passing > 0, "{failed} {passing}");
    }

    #[test]
    fn numbers_are_spelled() {
        let mut out = Vec::new();
        push_decimal(&mut out, 0);
        out.push(b' ');
        push_decimal(&mut out, 4_294_967_295);
        out.push(b' ');
        push_hex(&mut out, 0x7E0);
        assert_eq!(out, b"0 4294967295 7E0");
    }
}

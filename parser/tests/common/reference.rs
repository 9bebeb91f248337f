//! A deliberately naive reader written straight from rec-format.md, sharing no code with the
//! crate's reader (byte-by-byte resynchronisation, no memchr, no decoder reuse, keys spelled
//! with `format!`). Tests compare the crate against it, so a rule the crate gets wrong
//! shows up as a disagreement rather than as a consistently wrong split.

use std::collections::BTreeMap;

use argus_parser::FileScan;

/// Everything the spec says a reader reports, in plain types.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub rejected: bool,
    pub good: u64,
    pub corrupt: u64,
    pub skipped: u64,
    pub truncated: bool,
    pub records: u64,
    pub events: u64,
    pub ts_range: Option<(u64, u64)>,
    /// Spelled key → (count, first ts, last ts).
    pub keys: BTreeMap<String, (u64, u64, u64)>,
}

impl Outcome {
    /// The same facts taken from the crate's scan.
    pub fn of(scan: &FileScan) -> Self {
        if scan.rejection.is_some() {
            return Self { rejected: true, ..Self::default() };
        }
        let mut keys = BTreeMap::new();
        for (key, c) in scan.content.codes.iter() {
            add_key(&mut keys, key.code().key(), c.count, c.first_ts_ns, c.last_ts_ns);
        }
        Self {
            rejected: false,
            good: scan.content.chunks_good,
            corrupt: scan.content.chunks_corrupt,
            skipped: scan.layout.bytes_skipped,
            truncated: scan.layout.truncated,
            records: scan.content.records,
            events: scan.content.error_events,
            ts_range: scan.content.ts_range,
            keys,
        }
    }
}

fn add_key(keys: &mut BTreeMap<String, (u64, u64, u64)>, key: String, n: u64, first: u64, last: u64) {
    let e = keys.entry(key).or_insert((0, u64::MAX, 0));
    e.0 += n;
    e.1 = e.1.min(first);
    e.2 = e.2.max(last);
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(b[at]) | u64::from(b[at + 1]) << 8
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u16_at(b, at) | u16_at(b, at + 2) << 16
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) | u32_at(b, at + 4) << 32
}

/// Check 1 at `pos`.
fn header_ok(b: &[u8], pos: usize) -> bool {
    b.len() >= pos + 48
        && &b[pos..pos + 8] == b"ARGCHUNK"
        && u64::from(crc32c::crc32c(&b[pos..pos + 44])) == u32_at(b, pos + 44)
}

/// Reads a whole file as the spec's "Reading a file, with corruption" describes.
pub fn read(b: &[u8]) -> Outcome {
    let mut o = Outcome::default();
    let rejected = b.len() < 64
        || &b[..8] != b"ARGUSREC"
        || u16_at(b, 8) != 1
        || u16_at(b, 10) < 64
        || u16_at(b, 10) as usize > b.len()
        || u32_at(b, 12) != 0;
    if rejected {
        o.rejected = true;
        return o;
    }
    let mut pos = u16_at(b, 10) as usize;
    while pos < b.len() {
        if !header_ok(b, pos) {
            let mut next = pos + 1;
            while next < b.len() && !header_ok(b, next) {
                next += 1;
            }
            o.skipped += (next - pos) as u64;
            pos = next;
            continue;
        }
        let end = pos as u64 + 48 + u32_at(b, pos + 8);
        if end > b.len() as u64 {
            o.skipped += (b.len() - pos) as u64;
            o.truncated = true;
            break;
        }
        chunk(b, pos, end as usize, &mut o);
        pos = end as usize;
    }
    o
}

/// Checks 2 to 5 of the chunk at `pos`, counting its records when it is good.
fn chunk(b: &[u8], pos: usize, end: usize, o: &mut Outcome) {
    let (stored_len, raw_len, count) = (u32_at(b, pos + 8), u32_at(b, pos + 12), u32_at(b, pos + 16));
    let stored = &b[pos + 48..end];
    let limit = 64 * 1024 * 1024;
    let crc_ok = u64::from(crc32c::crc32c(stored)) == u32_at(b, pos + 40);
    let raw: Option<Vec<u8>> = match b[pos + 20] {
        _ if stored_len > limit || raw_len > limit || !crc_ok => None,
        0 if raw_len == stored_len => Some(stored.to_vec()),
        1 => one_zstd_frame(stored, raw_len as usize),
        _ => None,
    };
    match raw.and_then(|raw| records(&raw, count)) {
        Some(found) => {
            o.good += 1;
            for (kind, severity, ecu, ts, code, status) in found {
                o.records += 1;
                o.ts_range = Some(match o.ts_range {
                    Some((f, l)) => (f.min(ts), l.max(ts)),
                    None => (ts, ts),
                });
                let key = match kind {
                    1 if status & 1 == 1 => Some(j2012(code)),
                    2 if (severity == 4 || severity == 5) && code != 0 => {
                        Some(format!("APP-{ecu:04X}-{code}"))
                    }
                    _ => None,
                };
                if let Some(key) = key {
                    o.events += 1;
                    add_key(&mut o.keys, key, 1, ts, ts);
                }
            }
        }
        None => o.corrupt += 1,
    }
}

/// Exactly one standard zstd frame spanning the stored bytes, holding exactly `raw_len` bytes.
fn one_zstd_frame(stored: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    if !stored.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return None;
    }
    if zstd::zstd_safe::find_frame_compressed_size(stored).ok()? != stored.len() {
        return None;
    }
    let raw = zstd::bulk::decompress(stored, raw_len).ok()?;
    (raw.len() == raw_len).then_some(raw)
}

type Fields = (u8, u8, u16, u64, u32, u8);

/// Check 5; the records' fields when it holds.
fn records(raw: &[u8], count: u64) -> Option<Vec<Fields>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        if raw.len() - at < 24 {
            return None;
        }
        let len = u32_at(raw, at) as usize;
        if len < 24 || len > raw.len() - at || !matches!(raw[at + 4], 1 | 2) {
            return None;
        }
        let r = &raw[at..];
        out.push((r[4], r[5], u16_at(r, 6) as u16, u64_at(r, 8), u32_at(r, 16) as u32, r[20]));
        at += len;
    }
    (out.len() as u64 == count).then_some(out)
}

/// `P0301-00`: letter from bits 15-14 of the high 16 bits, a digit from bits 13-12, three hex
/// digits, then the failure-type byte; the DTC's top byte (bits 24-31) is ignored.
fn j2012(code: u32) -> String {
    let high = (code >> 8) & 0xFFFF;
    let letter = ["P", "C", "B", "U"][(high >> 14) as usize];
    format!("{letter}{}{:03X}-{:02X}", (high >> 12) & 3, high & 0xFFF, code & 0xFF)
}

//! Error events: which records are events, and how their keys are spelled (J2012 + FTB for
//! DTCs, `APP-EEEE-N` for application errors).

mod common;

use std::collections::BTreeMap;

use argus_parser::{CodeAtEcu, ErrorCode, KIND_DTC, KIND_LOG, Record, app_key, dtc_key, ecu_hex, scan_file};
use common::{dtc, file, good_chunk, log};
use proptest::prelude::*;

#[test]
fn the_spec_examples_spell_all_four_letters() {
    assert_eq!(dtc_key(0x03_0100), "P0301-00");
    assert_eq!(dtc_key(0xC1_0087), "U0100-87");
    assert_eq!(dtc_key(0x41_2311), "C0123-11");
    assert_eq!(dtc_key(0x9A_BCFF), "B1ABC-FF");
}

#[test]
fn every_letter_and_first_digit() {
    let letters = ['P', 'C', 'B', 'U'];
    for letter in 0..4u32 {
        for digit in 0..4u32 {
            let high = letter << 14 | digit << 12 | 0xA5F;
            let expected = format!("{}{digit}A5F-3C", letters[letter as usize]);
            assert_eq!(dtc_key(high << 8 | 0x3C), expected);
        }
    }
    assert_eq!(dtc_key(0), "P0000-00");
    assert_eq!(dtc_key(0xFF_FFFF), "U3FFF-FF");
}

#[test]
fn the_high_byte_of_a_dtc_code_is_ignored() {
    for high in [0x01u32, 0x80, 0xFF] {
        assert_eq!(dtc_key(high << 24 | 0x03_0100), "P0301-00");
        let a = CodeAtEcu::of(&dtc(0x07E0, high << 24 | 0x03_0100, 1, 0)).unwrap();
        let b = CodeAtEcu::of(&dtc(0x07E0, 0x03_0100, 1, 0)).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn app_keys_are_ecu_hex_and_decimal_code() {
    assert_eq!(app_key(0x07E0, 1234), "APP-07E0-1234");
    assert_eq!(app_key(0xABCD, u32::MAX), "APP-ABCD-4294967295");
    assert_eq!(app_key(0x000A, 1), "APP-000A-1");
    assert_eq!(ecu_hex(0x7e8), "07E8");
    let key = CodeAtEcu::of(&log(0x07E0, 4, 1234, 0, b"")).unwrap();
    assert_eq!((key.code().key(), key.ecu()), ("APP-07E0-1234".to_owned(), 0x07E0));
}

#[test]
fn a_dtc_is_an_event_exactly_when_test_failed_is_set() {
    for status in 0..=255u8 {
        for severity in [0u8, 4, 5, 200] {
            let record = Record { severity, ..dtc(0x07E0, 0x03_0100, status, 0) };
            assert_eq!(CodeAtEcu::of(&record).is_some(), status & 1 == 1, "status {status:#04x}");
        }
    }
}

#[test]
fn a_log_is_an_event_exactly_at_severity_4_or_5_with_a_code() {
    for severity in 0..=255u8 {
        for code in [0u32, 1, 1234, u32::MAX] {
            let record = log(0x07E0, severity, code, 0, b"");
            let expected = matches!(severity, 4 | 5) && code != 0;
            assert_eq!(CodeAtEcu::of(&record).is_some(), expected, "severity {severity} code {code}");
        }
    }
    // Severities 6 and 7 occur in real data; they are not "worse than fatal".
    assert_eq!(CodeAtEcu::of(&log(0x07E0, 6, 99, 0, b"")), None);
    assert_eq!(CodeAtEcu::of(&log(0x07E0, 7, 99, 0, b"")), None);
}

#[test]
fn the_kind_decides_which_rule_applies() {
    // A LOG's status byte and a DTC's severity do not matter.
    let log_with_status = Record { dtc_status: 0xFF, ..log(0x07E0, 2, 5, 0, b"") };
    assert_eq!(CodeAtEcu::of(&log_with_status), None);
    let severe_dtc = Record { severity: 5, ..dtc(0x07E0, 0x03_0100, 0x08, 0) };
    assert_eq!(CodeAtEcu::of(&severe_dtc), None);
    assert_eq!((KIND_DTC, KIND_LOG), (1, 2));
}

#[test]
fn a_scan_counts_events_by_spelled_key() {
    let records = [
        dtc(0x07E0, 0x03_0100, 0x09, 10),
        dtc(0x07E8, 0xFF03_0100, 0x01, 30), // same DTC from another ECU, high byte set
        dtc(0x07E0, 0x03_0100, 0x08, 40),   // not failed
        dtc(0x07E0, 0xC1_0087, 0xFF, 20),
        log(0x07E0, 4, 1234, 50, b""),
        log(0x07E8, 5, 1234, 5, b""), // another ECU: another APP key
        log(0x07E0, 6, 1234, 60, b""),
        log(0x07E0, 4, 0, 70, b""),
    ];
    let scan = scan_file(&file(&[&good_chunk(&records)]));
    assert_eq!((scan.content.records, scan.content.error_events), (8, 5));
    assert_eq!(scan.content.ts_range, Some((5, 70)));
    let mut by_key = BTreeMap::new();
    for (key, count) in scan.content.codes.iter() {
        let e = by_key.entry(key.code().key()).or_insert((0, u64::MAX, 0));
        *e = (e.0 + count.count, e.1.min(count.first_ts_ns), e.2.max(count.last_ts_ns));
    }
    let expected = BTreeMap::from([
        ("APP-07E0-1234".to_owned(), (1, 50, 50)),
        ("APP-07E8-1234".to_owned(), (1, 5, 5)),
        ("P0301-00".to_owned(), (2, 10, 30)),
        ("U0100-87".to_owned(), (1, 20, 20)),
    ]);
    assert_eq!(by_key, expected);
    // Per (code, ECU), P0301-00 is two entries, one per ECU.
    assert_eq!(scan.content.codes.len(), 5);
}

/// An error code from the fields of an error event: a DTC (any ECU) or an application
/// error of `ecu`.
fn error_code(is_dtc: bool, ecu: u16, code: u32) -> ErrorCode {
    let record = if is_dtc { dtc(ecu, code, 1, 0) } else { log(ecu, 4, code.max(1), 0, b"") };
    CodeAtEcu::of(&record).expect("an error event").code()
}

/// Codes that exercise the edges: every letter, decimal lengths 1 to 10, equal prefixes.
fn code_strategy() -> impl Strategy<Value = ErrorCode> {
    let app_code = prop_oneof![1u32..20, 1u32..1000, any::<u32>(), Just(u32::MAX), Just(10), Just(9)];
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(ecu, code)| error_code(true, ecu, code)),
        (prop_oneof![Just(0x07E0u16), any::<u16>()], app_code).prop_map(|(e, c)| error_code(false, e, c)),
    ]
}

proptest! {
    #[test]
    fn codes_order_as_their_spelled_keys(a in code_strategy(), b in code_strategy()) {
        prop_assert_eq!(a.cmp(&b), a.key().cmp(&b.key()), "{} vs {}", a, b);
    }

    #[test]
    fn a_spelled_key_parses_back(code in code_strategy()) {
        prop_assert_eq!(code.key().parse::<ErrorCode>(), Ok(code));
        let bits: u64 = code.into();
        prop_assert_eq!(ErrorCode::try_from(bits), Ok(code));
        let json = serde_json::to_string(&code).unwrap();
        prop_assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
    }
}

#[test]
fn application_codes_order_as_text_not_as_numbers() {
    let ten = error_code(false, 0x07E0, 10);
    let nine = error_code(false, 0x07E0, 9);
    assert!(ten < nine, "\"APP-07E0-10\" < \"APP-07E0-9\"");
    // A prefix sorts first, also where the longer code only adds zeros.
    let [one, hundred, two] = [1, 100, 2].map(|code| error_code(false, 0x07E0, code));
    assert!(one < ten && ten < hundred && hundred < two && two < nine);
    let [max, max_prefix] = [u32::MAX, u32::MAX / 10].map(|code| error_code(false, 0x07E0, code));
    assert!(max_prefix < max, "\"429496729\" < \"4294967295\"");
    assert!(error_code(false, 0xFFFF, u32::MAX) < error_code(true, 0, 0), "APP sorts before B, C, P, U");
    let [p, c, b, u] = [0u32, 1, 2, 3].map(|letter| error_code(true, 0, letter << 22));
    assert!(b < c && c < p && p < u);
}

#[test]
fn only_packed_forms_of_real_codes_unpack() {
    let code = error_code(false, 0x07E0, 12);
    let bits: u64 = code.into();
    assert_eq!(ErrorCode::try_from(bits), Ok(code));
    for bad in [
        0,                 // an application code of length 0
        bits & !0xF | 1,   // "12" claiming a length of 1
        bits + (1 << 4),   // digits not left-aligned
        bits & !0xF | 11,  // eleven digits
        1 << 38 | bits,    // a bit between the digits and the ECU
        1 << 56 | bits,    // a bit above the ECU
        1 << 63 | 1 << 24, // a DTC wider than 24 bits
    ] {
        assert!(ErrorCode::try_from(bad).is_err(), "{bad:#x} unpacked");
    }
}

#[test]
fn only_canonical_keys_parse() {
    assert_eq!("P0301-00".parse::<ErrorCode>().map(|c| c.key()).as_deref(), Ok("P0301-00"));
    assert_eq!("APP-07E0-1234".parse::<ErrorCode>().map(|c| c.key()).as_deref(), Ok("APP-07E0-1234"));
    for bad in [
        "",
        "P0301",
        "p0301-00",
        "P0301-0",
        "P4301-00",
        "X0301-00",
        "P0301-00x",
        "P+301-00",
        "APP-07e0-1",
        "APP-07E0-01",
        "APP-07E0-+1",
        "APP-7E0-1",
        "APP-07E0-",
        "APP-07E0-4294967296",
        "APP-07E0-0",
    ] {
        assert!(bad.parse::<ErrorCode>().is_err(), "{bad:?} parsed");
    }
}

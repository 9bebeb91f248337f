//! Golden rule diagnoses of canonical batch profiles, compared byte for byte with
//! `sinks/tests/golden/<profile>.json`. They are read by people: a change of ranking or
//! wording shows up in review as a diff of these files. `ARGUS_BLESS=1` rewrites them.

use std::path::PathBuf;

use argus_pipeline::report::FinishedBatch;
use argus_sinks::diagnosis::Diagnoser;

use crate::common::fixtures::synthetic;

const MINUTE: u64 = 60 * 1_000_000_000;
/// 2026-01-21T07:00:00Z, the start of every profile's logging.
const START: u64 = 1_768_978_800 * 1_000_000_000;

/// One code of a profile: events, the ECUs that raised it, its first and last event in
/// minutes from the start.
struct Logged(&'static str, u64, &'static [&'static str], u64, u64);

fn profile(id: &str, codes: &[Logged]) -> FinishedBatch {
    let counts: Vec<(&str, u64)> = codes.iter().map(|l| (l.0, l.1)).collect();
    let mut batch = synthetic(id, "WAUZZZ8V1KA000001", &counts);
    for top in &mut batch.report.top_errors {
        let l = codes.iter().find(|l| l.0 == top.code).expect("a profile code");
        top.ecus = l.2.iter().map(|e| (*e).to_owned()).collect();
        (top.first_ts_ns, top.last_ts_ns) = (START + l.3 * MINUTE, START + l.4 * MINUTE);
    }
    let last = codes.iter().map(|l| l.4).max().unwrap_or(0);
    (batch.report.first_ts_ns, batch.report.last_ts_ns) = (Some(START), Some(START + (last + 1) * MINUTE));
    batch
}

fn profiles() -> Vec<(&'static str, FinishedBatch)> {
    let day = 24 * 60;
    vec![
        (
            "one_cylinder_misfire",
            profile(
                "one-cylinder",
                &[Logged("P0301-00", 1712, &["07E0"], 1, 59), Logged("P0302-00", 1, &["07E0"], 33, 33)],
            ),
        ),
        (
            "random_misfire",
            profile(
                "random-misfire",
                &[
                    Logged("P0300-00", 640, &["07E0"], 2, 54),
                    Logged("P0301-00", 180, &["07E0"], 4, 50),
                    Logged("P0304-00", 170, &["07E0"], 3, 52),
                    Logged("P0303-00", 150, &["07E0"], 6, 49),
                    Logged("P0171-00", 60, &["07E0"], 10, 55),
                ],
            ),
        ),
        (
            "lost_can_communication",
            profile(
                "lost-can",
                &[
                    Logged("U0100-87", 320, &["07E1", "0720"], 12, 53),
                    Logged("U0101-87", 290, &["07E0", "0720"], 12, 53),
                    Logged("U0140-87", 240, &["07E0"], 13, 52),
                    Logged("U0121-87", 210, &["07E0", "07E1"], 12, 53),
                ],
            ),
        ),
        (
            "evap_leak",
            profile(
                "evap-leak",
                &[
                    Logged("P0456-00", 30, &["07E0"], 20, 3 * day),
                    Logged("P0442-00", 12, &["07E0"], day + 15, 3 * day - 30),
                    Logged("P0455-00", 4, &["07E0"], 2 * day + 10, 2 * day + 40),
                ],
            ),
        ),
        (
            "transmission_fault",
            profile(
                "transmission",
                &[
                    Logged("P0731-00", 140, &["07E1"], 8, 47),
                    Logged("P0732-00", 120, &["07E1"], 9, 47),
                    Logged("P0700-00", 85, &["07E0"], 8, 47),
                ],
            ),
        ),
        (
            "abs_wheel_speed_sensor",
            profile(
                "abs-sensor",
                &[Logged("C0035-5F", 420, &["0728"], 3, 118), Logged("C0040-5F", 3, &["0728"], 70, 70)],
            ),
        ),
    ]
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn golden_diagnoses() {
    let bless = std::env::var_os("ARGUS_BLESS").is_some_and(|v| v == "1");
    let diagnoser = Diagnoser::rules_only();
    let mut differ = Vec::new();
    for (name, batch) in profiles() {
        let got = serde_json::to_string_pretty(&diagnoser.rules(&batch)).expect("json") + "\n";
        let path = golden_dir().join(format!("{name}.json"));
        if bless {
            std::fs::create_dir_all(golden_dir()).expect("golden dir");
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            differ.push(format!("{name}: got\n{got}"));
        }
    }
    assert!(
        differ.is_empty(),
        "golden diagnoses differ (ARGUS_BLESS=1 rewrites them):\n{}",
        differ.join("\n")
    );
}

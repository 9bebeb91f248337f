//! A vehicle's profile: VIN, firmware, ECUs, and its own skewed (Zipf-like) mix of trouble
//! codes and application errors. Every file of a batch is written from the same profile.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::codes::{self, COMMON, KnownCode, MANUFACTURER};

/// ECU addresses (UDS diagnostic request ids) and what they control.
pub const ECUS: [(u16, &str); 9] = [
    (0x07E0, "engine"),
    (0x07E1, "transmission"),
    (0x07E2, "hybrid"),
    (0x0760, "abs"),
    (0x0720, "cluster"),
    (0x0740, "body"),
    (0x07A0, "gateway"),
    (0x0710, "airbag"),
    (0x0730, "steering"),
];

/// Failure-type bytes (ISO 14229-1 annex D); 0x00 "no sub-type" is by far the most common.
const FAILURE_TYPES: [u8; 16] =
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x12, 0x13, 0x1C, 0x29, 0x31, 0x62, 0x64, 0x87, 0x96];

/// One trouble code this vehicle raises, from one ECU.
#[derive(Debug, Clone)]
pub struct DtcSource {
    /// The 24-bit DTC: J2012 high 16 bits, then the failure-type byte.
    pub dtc: u32,
    pub ecu: u16,
    pub text: &'static str,
    /// How often an occurrence has testFailed set (per mille); the rest are pending,
    /// confirmed-but-passing or not-yet-tested snapshots.
    pub failed_permille: u32,
}

/// One application error (a LOG code) this vehicle's software raises.
#[derive(Debug, Clone, Copy)]
pub struct AppSource {
    pub ecu: u16,
    pub code: u32,
}

/// A sampler over ranks 0..n with weight 1/(rank+1)^s.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// Cumulative weights scaled to u32; the last is u32::MAX.
    cumulative: Vec<u32>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let weights: Vec<f64> = (0..n).map(|r| 1.0 / ((r + 1) as f64).powf(s)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cumulative: Vec<u32> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                (acc * f64::from(u32::MAX)) as u32
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = u32::MAX;
        }
        Self { cumulative }
    }

    /// A rank drawn from one uniform u32.
    #[inline]
    pub fn sample(&self, u: u32) -> usize {
        self.cumulative.partition_point(|&c| c < u).min(self.cumulative.len() - 1)
    }
}

/// Everything a file needs to know about its vehicle.
#[derive(Debug, Clone)]
pub struct Vehicle {
    pub vin: [u8; 17],
    pub firmware: String,
    pub ecus: Vec<u16>,
    /// By rank: the first is the vehicle's most frequent code.
    pub dtcs: Vec<DtcSource>,
    pub dtc_rank: Zipf,
    pub apps: Vec<AppSource>,
    pub app_rank: Zipf,
    /// Start of the vehicle's first recorded session.
    pub first_session_ns: u64,
}

/// 2026-01-01T00:00:00Z, the start of the synthetic fleet's calendar.
const EPOCH_2026_NS: u64 = 1_767_225_600_000_000_000;
const DAY_NS: u64 = 86_400 * 1_000_000_000;

impl Vehicle {
    /// The profile of vehicle `seed`; the same seed always gives the same vehicle.
    pub fn from_seed(seed: u64) -> anyhow::Result<Self> {
        let known = codes::knowledge_base()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5645_4849_434C_4500);
        let vin = vin(&mut rng);
        let firmware = firmware(&mut rng);
        let mut ecus: Vec<u16> = ECUS.iter().map(|e| e.0).collect();
        // Engine, ABS and cluster exist in every car; the others vary by model.
        let (core, optional) = ecus.split_at_mut(1);
        optional.shuffle(&mut rng);
        let extra = rng.random_range(3..=optional.len());
        let mut ecus: Vec<u16> = core.iter().chain(&optional[..extra]).copied().collect();
        for must in [0x0760, 0x0720] {
            if !ecus.contains(&must) {
                ecus.push(must);
            }
        }
        ecus.sort_unstable();
        let dtcs = dtc_sources(&mut rng, known, &ecus);
        let dtc_rank = Zipf::new(dtcs.len(), rng.random_range(1.1..1.5));
        let apps: Vec<AppSource> = (0..rng.random_range(6..14))
            .map(|_| AppSource { ecu: *ecus.choose(&mut rng).unwrap_or(&0x07E0), code: app_code(&mut rng) })
            .collect();
        let app_rank = Zipf::new(apps.len(), 1.0);
        let first_session_ns = EPOCH_2026_NS
            + rng.random_range(0..60) * DAY_NS
            + rng.random_range(5 * 3600..21 * 3600) * 1_000_000_000
            + rng.random_range(0..1_000_000_000);
        Ok(Self { vin, firmware, ecus, dtcs, dtc_rank, apps, app_rank, first_session_ns })
    }
}

fn ecu_for(ecus: &[u16], high: u16, rng: &mut ChaCha8Rng) -> u16 {
    let has = |e: u16| ecus.contains(&e).then_some(e);
    let preferred = match high >> 14 {
        // P07xx-P09xx are transmission codes; the rest of P belongs to the engine.
        0 if (0x0700..0x0A00).contains(&(high & 0x3FFF)) => has(0x07E1),
        0 => has(0x07E0),
        1 => has(0x0760).or(has(0x0730)),
        2 => [0x0740, 0x0720, 0x0710].choose(rng).and_then(|&e| has(e)).or(has(0x0720)),
        // Network codes come from whichever node noticed the silence.
        _ => None,
    };
    preferred.unwrap_or_else(|| *ecus.choose(rng).unwrap_or(&0x07E0))
}

fn dtc_sources(rng: &mut ChaCha8Rng, known: &'static [KnownCode], ecus: &[u16]) -> Vec<DtcSource> {
    let common: Vec<&KnownCode> = COMMON.iter().filter_map(|c| codes::find(known, c)).collect();
    let n = rng.random_range(24..48);
    let mut sources: Vec<DtcSource> = Vec::with_capacity(n + MANUFACTURER.len());
    while sources.len() < n {
        let pick = if rng.random_bool(0.5) { common.choose(rng).copied() } else { known.choose(rng) };
        let Some(code) = pick else { break };
        let dtc = u32::from(code.high) << 8 | u32::from(*FAILURE_TYPES.choose(rng).unwrap_or(&0));
        if sources.iter().any(|s| s.dtc == dtc) {
            continue;
        }
        let ecu = ecu_for(ecus, code.high, rng);
        sources.push(DtcSource { dtc, ecu, text: code.title, failed_permille: failed_permille(rng) });
    }
    // The ranking is the vehicle's own: which code dominates differs from car to car.
    sources.shuffle(rng);
    let count = rng.random_range(2..6);
    let chosen: Vec<&(&str, &'static str)> = MANUFACTURER.choose_multiple(rng, count).collect();
    for &(code, text) in chosen {
        let Some(high) = codes::parse_j2012(code) else { continue };
        // Manufacturer codes rank high: they are what a make's own ECUs report most.
        let at = rng.random_range(0..=sources.len().min(12));
        let ecu = ecu_for(ecus, high, rng);
        let source =
            DtcSource { dtc: u32::from(high) << 8, ecu, text, failed_permille: failed_permille(rng) };
        sources.insert(at, source);
    }
    sources
}

fn failed_permille(rng: &mut ChaCha8Rng) -> u32 {
    rng.random_range(450..950)
}

fn app_code(rng: &mut ChaCha8Rng) -> u32 {
    // Small enumerations, HTTP-like families and a few 0xFFFF sentinels, as firmware has.
    match rng.random_range(0..10) {
        0..=5 => rng.random_range(1..200),
        6..=8 => rng.random_range(1000..9999),
        _ => 65535,
    }
}

/// World manufacturer identifiers of real makes (VW, Audi, BMW, Mercedes, Renault, Fiat,
/// Honda, Toyota, Hyundai, Volvo, Land Rover, Tesla, Škoda, SEAT, Ford Germany).
const WMIS: [&[u8; 3]; 15] = [
    b"WVW", b"WAU", b"WBA", b"WDD", b"VF1", b"ZFA", b"1HG", b"JTD", b"KMH", b"YV1", b"SAL", b"5YJ", b"TMB",
    b"VSS", b"WF0",
];
/// VIN characters: digits and letters except I, O and Q.
const VIN_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

/// A 17-character VIN with a valid North-American check digit (position 9).
fn vin(rng: &mut ChaCha8Rng) -> [u8; 17] {
    let mut vin = [b'0'; 17];
    vin[..3].copy_from_slice(WMIS.choose(rng).map_or(b"WVW", |w| *w));
    for c in &mut vin[3..8] {
        *c = *VIN_CHARS.choose(rng).unwrap_or(&b'Z');
    }
    vin[9] = *b"LMNPRST".choose(rng).unwrap_or(&b'T'); // model years 2020-2026
    vin[10] = *VIN_CHARS[10..].choose(rng).unwrap_or(&b'A');
    for c in &mut vin[11..] {
        *c = b'0' + rng.random_range(0..10);
    }
    vin[8] = check_digit(&vin);
    vin
}

fn check_digit(vin: &[u8; 17]) -> u8 {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(c - b'S') + 2,
            _ => 0,
        }
    };
    let sum: u32 = vin.iter().zip(WEIGHTS).map(|(&c, w)| value(c) * w).sum();
    match sum % 11 {
        10 => b'X',
        d => b'0' + d as u8,
    }
}

/// A firmware string of at most 16 ASCII bytes, in one of the styles vendors use.
fn firmware(rng: &mut ChaCha8Rng) -> String {
    let (major, minor, patch) = (rng.random_range(1..40), rng.random_range(0..20), rng.random_range(0..100));
    match rng.random_range(0..4) {
        0 => format!("{major}.{minor}.{patch}"),
        1 => format!("SW{major:02}{minor:02}.{patch:03}"),
        2 => format!("fw-{major}.{minor}.{patch}-r{}", rng.random_range(1..9)),
        _ => format!("{}{major}{minor:02}", ["H", "X", "K"].choose(rng).unwrap_or(&"H")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_a_known_vin() {
        // 1M8GDM9AXKP042788 is the standard worked example of the check digit.
        assert_eq!(check_digit(b"1M8GDM9AXKP042788"), b'X');
    }

    #[test]
    fn profiles_are_plausible_and_deterministic() {
        let a = Vehicle::from_seed(7).unwrap();
        let b = Vehicle::from_seed(7).unwrap();
        assert_eq!(a.vin, b.vin);
        assert_eq!(
            a.dtcs.iter().map(|d| d.dtc).collect::<Vec<_>>(),
            b.dtcs.iter().map(|d| d.dtc).collect::<Vec<_>>()
        );
        assert!(a.firmware.len() <= 16 && a.firmware.is_ascii(), "{}", a.firmware);
        assert!(a.vin.iter().all(|c| VIN_CHARS.contains(c)));
        assert!(a.ecus.contains(&0x07E0) && a.ecus.len() >= 4);
        assert!(a.dtcs.iter().all(|d| a.ecus.contains(&d.ecu) && d.dtc >> 24 == 0));
        let c = Vehicle::from_seed(8).unwrap();
        assert_ne!(a.vin, c.vin);
    }

    #[test]
    fn zipf_ranks_are_skewed() {
        let zipf = Zipf::new(30, 1.2);
        let mut counts = [0u32; 30];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100_000 {
            counts[zipf.sample(rng.random())] += 1;
        }
        assert!(counts[0] > 2 * counts[1] && counts[1] > counts[5] && counts[5] > counts[29], "{counts:?}");
    }
}

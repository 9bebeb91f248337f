//! Trouble codes: the generic codes of the knowledge base, manufacturer codes, and the
//! J2012 spelling ↔ 16-bit form of rec-format.md ("DTC encoding").

use std::sync::OnceLock;

use anyhow::anyhow;

use crate::kb::KnowledgeBase;

/// A code a vehicle may raise: its high 16 bits (J2012) and the text written as message.
#[derive(Debug, Clone, Copy)]
pub struct KnownCode {
    pub high: u16,
    pub title: &'static str,
}

/// Codes workshops see often; a vehicle's dominant codes are drawn from these half of the
/// time, so that fleets share some hot codes the way real fleets do.
pub const COMMON: [&str; 24] = [
    "P0300", "P0301", "P0302", "P0303", "P0304", "P0171", "P0174", "P0420", "P0430", "P0128", "P0442",
    "P0455", "P0401", "P0113", "P0335", "P0507", "P0700", "U0100", "U0121", "U0140", "U0155", "C0035",
    "C0040", "B0020",
];

/// Manufacturer-specific codes (P1xxx, C1xxx, B1xxx, U1xxx …), which the generic knowledge
/// base does not hold, with the kind of text an ECU logs for them.
pub const MANUFACTURER: [(&str, &str); 12] = [
    ("P1128", "closed loop fuelling lean limit"),
    ("P1296", "cooling system malfunction"),
    ("P1336", "crankshaft position sensor variation not learned"),
    ("P1570", "engine immobilizer active"),
    ("P1690", "malfunction indicator lamp circuit"),
    ("C1145", "right front wheel speed sensor input circuit"),
    ("C1234", "hydraulic unit pump motor current high"),
    ("B1318", "battery voltage low"),
    ("B1A05", "seat occupancy sensor circuit"),
    ("B2AAA", "ambient light sensor plausibility"),
    ("U1000", "class 2 data link malfunction"),
    ("U2100", "can bus initial configuration not complete"),
];

/// The 16 high bits of a J2012 code such as `P0301` (no failure-type byte), or `None`.
pub fn parse_j2012(code: &str) -> Option<u16> {
    let bytes = code.as_bytes();
    if bytes.len() != 5 {
        return None;
    }
    let letter: u16 = match bytes[0] {
        b'P' => 0,
        b'C' => 1,
        b'B' => 2,
        b'U' => 3,
        _ => return None,
    };
    let first = u16::from(bytes[1].checked_sub(b'0').filter(|d| *d <= 3)?);
    let rest = u16::from_str_radix(code.get(2..)?, 16).ok()?;
    // from_str_radix accepts a leading '+'; a J2012 code has three hex digits only.
    if !code[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(letter << 14 | first << 12 | rest)
}

/// The generic codes of the embedded knowledge base, in its order, built once per process.
pub fn knowledge_base() -> anyhow::Result<&'static [KnownCode]> {
    static CODES: OnceLock<Result<Vec<KnownCode>, String>> = OnceLock::new();
    CODES
        .get_or_init(|| known_codes(KnowledgeBase::embedded()))
        .as_deref()
        .map_err(|e| anyhow!("the embedded dtc knowledge base is unusable: {e}"))
}

/// Refuses a base with a skipped line or an unspellable code rather than drawing from a
/// list other than the committed one: the same seed must give the same fleet.
fn known_codes(kb: &'static KnowledgeBase) -> Result<Vec<KnownCode>, String> {
    if kb.skipped() > 0 {
        return Err(format!("{} lines do not parse", kb.skipped()));
    }
    let codes = kb
        .entries()
        .iter()
        .map(|entry| match parse_j2012(&entry.code) {
            Some(high) => Ok(KnownCode { high, title: &entry.title }),
            None => Err(format!("{:?} is not a J2012 code", entry.code)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if codes.is_empty() {
        return Err("no codes".to_owned());
    }
    Ok(codes)
}

/// Looks a J2012 code up in the knowledge base.
pub fn find(codes: &'static [KnownCode], code: &str) -> Option<&'static KnownCode> {
    let high = parse_j2012(code)?;
    codes.iter().find(|c| c.high == high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_like_the_spec() {
        assert_eq!(parse_j2012("P0301"), Some(0x0301));
        assert_eq!(parse_j2012("U0100"), Some(0xC100));
        assert_eq!(parse_j2012("C0123"), Some(0x4123));
        assert_eq!(parse_j2012("B1ABC"), Some(0x9ABC));
        for bad in ["P4301", "X0301", "P030", "P0+01", "P03011", "P0G01"] {
            assert_eq!(parse_j2012(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_embedded_base_is_whole() {
        let codes = knowledge_base().unwrap();
        assert_eq!(codes.len(), 9533);
        for code in COMMON {
            assert!(find(codes, code).is_some(), "{code} is not in the knowledge base");
        }
        for (code, _) in MANUFACTURER {
            assert!(parse_j2012(code).is_some(), "{code}");
            assert!(find(codes, code).is_none(), "{code} is generic");
        }
    }
}

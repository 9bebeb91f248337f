//! What a report's code says by its structure alone: SAE J2012 DTCs (`P0301-1A`: system
//! letter, four characters, failure-type byte) and application errors (`APP-07E0-1234`).
//! The rule engine falls back on this for codes the knowledge base does not hold.

use std::fmt;

/// The vehicle system of a DTC (its letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Powertrain,
    Chassis,
    Body,
    Network,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::Powertrain => "powertrain",
            System::Chassis => "chassis",
            System::Body => "body",
            System::Network => "network",
        })
    }
}

/// Who defines a DTC's meaning (J2012's allocation of the first two characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// SAE-defined: the same meaning in every vehicle.
    Generic,
    /// Defined by the vehicle manufacturer.
    Manufacturer,
    /// Reserved by J2012 for future allocation.
    Reserved,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Generic => "generic",
            Origin::Manufacturer => "manufacturer-specific",
            Origin::Reserved => "reserved",
        })
    }
}

/// A report code, read by its structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeKind {
    Dtc {
        system: System,
        origin: Origin,
        /// The J2012 code without the failure-type byte: the knowledge base's key.
        base: String,
        /// The failure-type byte, two hex digits.
        ftb: String,
    },
    /// An application error logged by an ECU.
    App { ecu: String, number: u32 },
    /// Anything else (not produced by Argus; kept so a foreign code cannot fail a diagnosis).
    Other,
}

impl CodeKind {
    pub fn parse(code: &str) -> CodeKind {
        if let Some(rest) = code.strip_prefix("APP-") {
            return match rest.split_once('-') {
                Some((ecu, n)) if is_hex(ecu, 4) => match n.parse() {
                    Ok(number) => CodeKind::App { ecu: ecu.to_owned(), number },
                    Err(_) => CodeKind::Other,
                },
                _ => CodeKind::Other,
            };
        }
        let Some((base, ftb)) = code.split_once('-') else { return CodeKind::Other };
        let mut chars = base.chars();
        let (Some(letter), Some(first)) = (chars.next(), chars.next()) else { return CodeKind::Other };
        if base.len() != 5 || !is_hex(&base[1..], 4) || !is_hex(ftb, 2) {
            return CodeKind::Other;
        }
        let system = match letter {
            'P' => System::Powertrain,
            'C' => System::Chassis,
            'B' => System::Body,
            'U' => System::Network,
            _ => return CodeKind::Other,
        };
        let second = base.as_bytes()[2];
        let origin = match (system, first) {
            (_, '0') => Origin::Generic,
            (_, '1') => Origin::Manufacturer,
            (System::Powertrain, '2') => Origin::Generic,
            (_, '2') => Origin::Manufacturer,
            // P30xx-P33xx belong to manufacturers, P34xx-P3Fxx are generic.
            (System::Powertrain, '3') if second <= b'3' => Origin::Manufacturer,
            (System::Powertrain | System::Network, '3') => Origin::Generic,
            (_, '3') => Origin::Reserved,
            _ => return CodeKind::Other,
        };
        CodeKind::Dtc { system, origin, base: base.to_owned(), ftb: ftb.to_owned() }
    }

    /// The knowledge-base key, for DTCs.
    pub fn base(&self) -> Option<&str> {
        match self {
            CodeKind::Dtc { base, .. } => Some(base),
            _ => None,
        }
    }

    /// A short phrase for a code without a knowledge-base entry.
    pub fn describe(&self) -> String {
        match self {
            CodeKind::Dtc { system, origin, .. } => format!("{origin} {system} code"),
            CodeKind::App { ecu, number } => format!("application error {number} of {}", ecu_label(ecu)),
            CodeKind::Other => "unrecognised code".to_owned(),
        }
    }
}

/// Names the standard OBD-II request addresses (ISO 15765-4: 0x7E0 engine, 0x7E1
/// transmission, 0x7E2-0x7E7 other emission-related modules); any other address is only
/// an address, since its meaning is the manufacturer's.
pub fn ecu_label(ecu: &str) -> String {
    match ecu {
        "07E0" => "the engine control module (07E0)".to_owned(),
        "07E1" => "the transmission control module (07E1)".to_owned(),
        "07E2" | "07E3" | "07E4" | "07E5" | "07E6" | "07E7" => format!("emission-related module {ecu}"),
        _ => format!("ECU {ecu}"),
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j2012_structure() {
        let p = CodeKind::parse("P0301-1A");
        assert_eq!(p.base(), Some("P0301"));
        assert!(matches!(p, CodeKind::Dtc { system: System::Powertrain, origin: Origin::Generic, .. }));
        assert!(matches!(CodeKind::parse("P1234-00"), CodeKind::Dtc { origin: Origin::Manufacturer, .. }));
        assert!(matches!(
            CodeKind::parse("B1123-00"),
            CodeKind::Dtc { system: System::Body, origin: Origin::Manufacturer, .. }
        ));
        assert!(matches!(
            CodeKind::parse("C3FFF-1A"),
            CodeKind::Dtc { system: System::Chassis, origin: Origin::Reserved, .. }
        ));
        assert!(matches!(
            CodeKind::parse("U3000-00"),
            CodeKind::Dtc { system: System::Network, origin: Origin::Generic, .. }
        ));
        assert!(matches!(CodeKind::parse("P3400-00"), CodeKind::Dtc { origin: Origin::Generic, .. }));
        assert!(matches!(CodeKind::parse("P3000-00"), CodeKind::Dtc { origin: Origin::Manufacturer, .. }));
    }

    #[test]
    fn app_codes_and_garbage() {
        assert_eq!(CodeKind::parse("APP-07A0-65535"), CodeKind::App { ecu: "07A0".into(), number: 65535 });
        assert_eq!(CodeKind::parse("APP-7A0-1"), CodeKind::Other);
        assert_eq!(CodeKind::parse("X0301-00"), CodeKind::Other);
        assert_eq!(CodeKind::parse("P03-00"), CodeKind::Other);
        assert_eq!(ecu_label("07E0"), "the engine control module (07E0)");
        assert_eq!(ecu_label("0710"), "ECU 0710");
    }
}

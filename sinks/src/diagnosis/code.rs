//! What a report's code says by its structure alone: SAE J2012 DTCs (`P0301-1A`: system
//! letter, four characters, failure-type byte) and application errors (`APP-07E0-1234`).
//! The rule engine falls back on this for codes the knowledge base does not hold.

use std::fmt;

use argus_parser::{ErrorCode, ecu_hex};

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
    /// Reads a code with the parser's own reading of keys ([`ErrorCode`]), so that the
    /// diagnosis knows exactly the codes that reports can hold: anything else (`APP-…-0`,
    /// an APP number with leading zeros, a lowercase DTC) is [`CodeKind::Other`].
    pub fn parse(code: &str) -> CodeKind {
        let Ok(code) = code.parse::<ErrorCode>() else { return CodeKind::Other };
        if let Some((ecu, number)) = code.app_parts() {
            return CodeKind::App { ecu: ecu_hex(ecu), number };
        }
        let Some(dtc) = code.dtc_code() else { return CodeKind::Other };
        let key = code.key();
        let Some((base, ftb)) = key.split_once('-') else { return CodeKind::Other };
        // J2012: two bits of system letter, two of the first character, then three hex digits.
        let high = dtc >> 8;
        let system =
            [System::Powertrain, System::Chassis, System::Body, System::Network][(high >> 14) as usize & 3];
        let (first, second) = ((high >> 12) & 3, (high >> 8) & 0xF);
        let origin = match (system, first) {
            (_, 0) => Origin::Generic,
            (_, 1) => Origin::Manufacturer,
            (System::Powertrain, 2) => Origin::Generic,
            (_, 2) => Origin::Manufacturer,
            // P30xx-P33xx belong to manufacturers, P34xx-P3Fxx are generic.
            (System::Powertrain, _) if second <= 3 => Origin::Manufacturer,
            (System::Powertrain | System::Network, _) => Origin::Generic,
            _ => Origin::Reserved,
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
        // Keys that no report holds: code 0 is never an error event, and numbers are spelled
        // without leading zeros, as DTCs are in uppercase.
        assert_eq!(CodeKind::parse("APP-07A0-0"), CodeKind::Other);
        assert_eq!(CodeKind::parse("APP-07A0-007"), CodeKind::Other);
        assert_eq!(CodeKind::parse("p0301-1a"), CodeKind::Other);
        assert_eq!(CodeKind::parse("P4301-00"), CodeKind::Other);
        assert_eq!(CodeKind::parse("X0301-00"), CodeKind::Other);
        assert_eq!(CodeKind::parse("P03-00"), CodeKind::Other);
        assert_eq!(ecu_label("07E0"), "the engine control module (07E0)");
        assert_eq!(ecu_label("0710"), "ECU 0710");
    }
}

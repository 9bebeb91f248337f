//! How severe one code is in one batch: what the fault can do to the vehicle (its class,
//! from the knowledge base) and whether the batch shows it persisting.
//!
//! | class (first that applies)                                                    | isolated | persistent |
//! |-------------------------------------------------------------------------------|----------|------------|
//! | safety system: a braking, steering, stability or occupant-restraint component  | high     | critical   |
//! | limp mode possible (the ECU may cut power or lock a gear)                     | medium   | high       |
//! | warning lamp: MIL or emissions-relevant                                       | medium   | medium     |
//! | information: in the knowledge base, none of the above                         | low      | low        |
//! | not in the knowledge base: a DTC (manufacturer-specific, reserved, …)         | medium   | medium     |
//! | not in the knowledge base: an application error or an unrecognised code       | low      | low        |
//!
//! *Persistent*: at least [`PERSISTENT_EVENTS`] events and at least [`PERSISTENT_SPAN_NS`]
//! between the code's first and last event in the batch: the fault came back over a drive,
//! not in one burst (a cranking dip can log a hundred events in a second). Reports do not
//! say in how many files a code occurred, so the time span stands for it.
//!
//! Only a safety-system code can make a batch `critical`, and only when it persists: a
//! limp-mode code (3,622 of the base's 9,533) at most makes it `high`. Safety systems are
//! recognised by the knowledge base's `affected_components` ([`is_safety_component`]),
//! since its `category` says only chassis/body/network/powertrain (a brake-light switch is
//! powertrain, a wiper is body).

use super::code::CodeKind;
use super::kb::KbEntry;
use super::model::RiskLevel;

/// Events of one code from which it can count as persistent.
pub const PERSISTENT_EVENTS: u64 = 20;
/// Time between a code's first and last event from which it can count as persistent.
pub const PERSISTENT_SPAN_NS: u64 = 10 * 60 * 1_000_000_000;

/// What a fault can do, as the knowledge base (or the code's structure) tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    SafetySystem,
    LimpMode,
    WarningLamp,
    Information,
    UnknownDtc,
    UnknownOther,
}

impl FaultClass {
    pub fn of(entry: Option<&KbEntry>, kind: &CodeKind) -> Self {
        match entry {
            Some(e) if e.affected_components.iter().any(|c| is_safety_component(c)) => {
                FaultClass::SafetySystem
            }
            Some(e) if e.flags.limp_mode_possible => FaultClass::LimpMode,
            Some(e) if e.flags.mil || e.flags.emissions_relevant => FaultClass::WarningLamp,
            Some(_) => FaultClass::Information,
            None if matches!(kind, CodeKind::Dtc { .. }) => FaultClass::UnknownDtc,
            None => FaultClass::UnknownOther,
        }
    }

    /// The table of the module doc.
    pub fn severity(self, persistent: bool) -> RiskLevel {
        match (self, persistent) {
            (FaultClass::SafetySystem, true) => RiskLevel::Critical,
            (FaultClass::SafetySystem, false) | (FaultClass::LimpMode, true) => RiskLevel::High,
            (FaultClass::LimpMode, false) | (FaultClass::WarningLamp | FaultClass::UnknownDtc, _) => {
                RiskLevel::Medium
            }
            (FaultClass::Information | FaultClass::UnknownOther, _) => RiskLevel::Low,
        }
    }

    /// Words for a summary: why a code has its severity.
    pub fn describe(self) -> &'static str {
        match self {
            FaultClass::SafetySystem => "braking, steering or restraint system",
            FaultClass::LimpMode => "can put the vehicle into limp mode",
            FaultClass::WarningLamp => "lights the warning lamp",
            FaultClass::Information => "informational",
            FaultClass::UnknownDtc => "effect unknown without the manufacturer's documentation",
            FaultClass::UnknownOther => "application error",
        }
    }
}

/// Whether a knowledge-base component belongs to braking, steering, stability control or
/// occupant restraints. `exhaust_brake` (an engine brake) and `steering_wheel_controls`
/// (radio buttons) are not.
pub fn is_safety_component(component: &str) -> bool {
    const PARTS: [&str; 9] =
        ["brake", "abs", "steering", "airbag", "srs", "restraint", "seat_belt", "esc", "ebcm"];
    if component.starts_with("exhaust_brake") || component.starts_with("steering_wheel_controls") {
        return false;
    }
    // Whole words of the snake_case name: `abs` must not match `manifold_absolute_pressure`.
    component.split('_').any(|word| PARTS.contains(&word)) || component.contains("seat_belt")
}

/// Whether a code with these events counts as persistent (module doc).
pub fn is_persistent(events: u64, first_ts_ns: u64, last_ts_ns: u64) -> bool {
    events >= PERSISTENT_EVENTS && last_ts_ns.saturating_sub(first_ts_ns) >= PERSISTENT_SPAN_NS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::kb::KnowledgeBase;

    fn class(code: &str) -> FaultClass {
        let kind = CodeKind::parse(&format!("{code}-00"));
        FaultClass::of(KnowledgeBase::embedded().get(code), &kind)
    }

    #[test]
    fn classes_from_the_knowledge_base() {
        assert_eq!(class("C0035"), FaultClass::SafetySystem, "wheel speed sensor of the ABS");
        assert_eq!(class("B0001"), FaultClass::SafetySystem, "driver airbag");
        assert_eq!(class("U0121"), FaultClass::SafetySystem, "lost communication with the ABS module");
        assert_eq!(class("U0100"), FaultClass::LimpMode);
        assert_eq!(class("P0301"), FaultClass::WarningLamp);
        assert_ne!(class("P0106"), FaultClass::SafetySystem, "manifold absolute pressure is not ABS");
        assert_eq!(class("P1234"), FaultClass::UnknownDtc);
        assert!(
            !is_safety_component("exhaust_brake_actuator") && !is_safety_component("steering_wheel_controls")
        );
    }

    #[test]
    fn only_a_persistent_safety_fault_is_critical() {
        assert_eq!(FaultClass::SafetySystem.severity(true), RiskLevel::Critical);
        assert_eq!(FaultClass::SafetySystem.severity(false), RiskLevel::High);
        assert_eq!(FaultClass::LimpMode.severity(true), RiskLevel::High);
        assert_eq!(FaultClass::WarningLamp.severity(true), RiskLevel::Medium);
        let minute = 60 * 1_000_000_000;
        assert!(is_persistent(20, 0, 10 * minute));
        assert!(!is_persistent(1000, 0, minute), "a burst");
        assert!(!is_persistent(19, 0, 60 * minute), "too few events");
    }
}

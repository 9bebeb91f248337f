//! The VIN shape the store holds: ISO 3779, as the database checks it (migration 0006).

/// Whether `vin` has the ISO 3779 shape: 17 characters, each a digit or a capital letter
/// other than I, O and Q. The check digit is not verified: the rec format carries the VIN
/// as the vehicle reports it.
pub fn is_vin(vin: &str) -> bool {
    vin.len() == 17
        && vin.bytes().all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOQ".contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::is_vin;

    #[test]
    fn iso_3779_shape() {
        assert!(is_vin("WAUZZZ8V1KA000001"));
        for bad in
            ["", "abc", "WAUZZZ8V1KA00000", "WAUZZZ8V1KA0000011", "WAUZZZ8V1KA00000I", "wauzzz8v1ka000001"]
        {
            assert!(!is_vin(bad), "{bad:?}");
        }
        assert!(!is_vin("WAUZZZ8V1KA00000\u{FFFD}"), "a replaced byte is not a VIN character");
    }
}

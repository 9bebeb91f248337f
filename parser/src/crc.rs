//! CRC-32C (Castagnoli), which the rec format uses for chunk headers and payloads.

/// The CRC-32C of `bytes`. `crc-fast` picks the fastest kernel the CPU has when the program
/// starts: on AVX-512 machines it folds 64-byte blocks with VPCLMULQDQ and keeps up with
/// reading memory, about twice as fast as the `crc32` instruction alone.
#[inline]
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    // CRC-32/ISCSI is CRC-32C; a 32-bit CRC comes back in the low half.
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

/// The raw CRC-32C register (not inverted) `reg` continued over `bytes`, by the same
/// kernel: for finishing what the walk's fused streams (fused_crc.rs) did not reach.
#[cfg(target_arch = "x86_64")]
pub(crate) fn continue_raw(reg: u32, bytes: &[u8]) -> u32 {
    let mut digest =
        crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Iscsi, u64::from(reg));
    digest.update(bytes);
    // `finalize` applies the algorithm's final inversion; undo it for the raw register.
    !(digest.finalize() as u32)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The same CRC as the `crc32c` crate, which the tests' reference reader uses.
        #[test]
        fn equals_the_crc32c_crate(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
            prop_assert_eq!(super::crc32c(&bytes), crc32c::crc32c(&bytes));
        }
    }
}

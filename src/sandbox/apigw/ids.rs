//! Ids and dates of new objects.

use super::*;
use crate::sandbox::clock;

/// Now, in whole seconds since the epoch (API Gateway's dates).
pub(super) fn now() -> i64 {
    clock::now_ms() / 1000
}

/// A fresh id: 10 lowercase alphanumerics, derived from the persisted counter (splitmix64).
pub(super) fn next_id(state: &mut ApiGatewayState) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    state.id_counter = state.id_counter.wrapping_add(1);
    let mut z = state.id_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (0..10)
        .map(|_| {
            let c = ALPHABET[(z % 36) as usize];
            z /= 36;
            c as char
        })
        .collect()
}

//! Intrinsic functions (`States.Format(...)`, ...) of JSONPath states: the shared pieces the
//! validator and the interpreter both need.

/// The hex digest of `data` with one of the algorithms `States.Hash` and JSONata's `$hash` take
/// (`MD5`, `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`); `None` for any other name.
pub fn hash_hex(algorithm: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_digests() {
        assert_eq!(
            hash_hex("MD5", b"abc").unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hash_hex("SHA-1", b"abc").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hash_hex("SHA-256", b"abc").unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_hex("SHA-384", b"").unwrap().len(), 96);
        assert_eq!(hash_hex("SHA-512", b"").unwrap().len(), 128);
        assert_eq!(hash_hex("SHA-3", b"abc"), None);
    }
}

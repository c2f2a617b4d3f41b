//! Lower-case hexadecimal text of bytes and of their SHA-256 digest: the one form every hash
//! and token rebound stores or prints takes (config hashes, token digests, command and
//! rollout parameter hashes, backup checksums, page tokens).

use sha2::{Digest, Sha256};

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Hex SHA-256 of `data` (64 digits).
pub fn sha256(data: impl AsRef<[u8]>) -> String {
    encode(&Sha256::digest(data.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lower_case_digits_a_byte() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let every: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(encode(&(0..=255u8).collect::<Vec<_>>()), every);
    }

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! Lowercase hex, both ways (the vector file's encoding).

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Hex (either case) to bytes. Panics on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Hex to a fixed-size array. Panics on the wrong length.
pub fn unhex_array<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().expect("hex of the expected length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(unhex("00AB7f"), [0, 0xab, 0x7f]);
        assert_eq!(unhex_array::<2>("0102"), [1, 2]);
    }
}

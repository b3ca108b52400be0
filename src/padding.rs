//! Length-hiding padding: `inner(p) = p || 0x80 || 0x00 * k`.
//!
//! `k` is the smallest value ≥ 0 that makes `len(inner)` a multiple of the sender's block size
//! (1 ≤ block ≤ 4096). The receiver does not know the block: it strips trailing zeros and requires
//! the 0x80 marker. Unpadding runs only after the AEAD tag verified, so its timing reveals nothing
//! an attacker could not already compute; a bad marker is reported as [`Error::DecryptionFailed`],
//! the same error as a bad tag.

#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// The padding marker byte.
pub const MARKER: u8 = 0x80;
/// The largest allowed padding block.
pub const MAX_BLOCK: usize = 4096;
/// The default padding block.
pub const DEFAULT_BLOCK: usize = 64;

/// Check a padding block size (1..=4096).
#[inline]
pub fn check_block(block: usize) -> Result<()> {
    if (1..=MAX_BLOCK).contains(&block) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// The padded length of a `len`-byte plaintext with block size `block` (already checked).
///
/// Returns `None` on arithmetic overflow.
#[inline]
pub fn padded_len(len: usize, block: usize) -> Option<usize> {
    let with_marker = len.checked_add(1)?;
    if block.is_power_of_two() {
        // The usual blocks (1, 16, 64, 256, ...): a mask, no division.
        return with_marker.checked_add(block - 1).map(|n| n & !(block - 1));
    }
    with_marker.div_ceil(block).checked_mul(block)
}

/// Write the marker and zeros into `tail` (the bytes after the plaintext).
pub fn write_padding(tail: &mut [u8]) {
    if let Some((first, rest)) = tail.split_first_mut() {
        *first = MARKER;
        rest.fill(0);
    }
}

/// The plaintext length inside a decrypted `inner` buffer.
pub fn unpadded_len(inner: &[u8]) -> Result<usize> {
    let end = inner
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(Error::DecryptionFailed)?;
    if inner[end] != MARKER {
        return Err(Error::DecryptionFailed);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(padded_len(0, 1), Some(1));
        assert_eq!(padded_len(5, 1), Some(6));
        assert_eq!(padded_len(0, 64), Some(64));
        assert_eq!(padded_len(63, 64), Some(64));
        assert_eq!(padded_len(64, 64), Some(128));
        assert_eq!(padded_len(usize::MAX, 64), None);
        assert_eq!(padded_len(usize::MAX - 64, 64), Some(usize::MAX - 63));
        assert_eq!(padded_len(usize::MAX - 63, 64), None);
        assert_eq!(padded_len(usize::MAX - 1, 1), Some(usize::MAX));
        // The power-of-two fast path agrees with the division everywhere (a smaller square under
        // Miri, where this loop alone would take a minute and a half).
        let (blocks, lens) = if cfg!(miri) { (70, 140) } else { (300, 700) };
        for block in 1..=blocks {
            for len in 0..lens {
                assert_eq!(
                    padded_len(len, block),
                    (len + 1).div_ceil(block).checked_mul(block),
                    "{len} {block}"
                );
            }
        }
        assert!(check_block(0).is_err());
        assert!(check_block(4097).is_err());
        assert!(check_block(4096).is_ok());
    }

    #[test]
    fn unpad() {
        assert_eq!(unpadded_len(&[1, 2, 0x80]), Ok(2));
        assert_eq!(unpadded_len(&[0x80, 0, 0, 0]), Ok(0));
        assert_eq!(unpadded_len(&[0x80, 0x80, 0]), Ok(1));
        assert_eq!(unpadded_len(&[]), Err(Error::DecryptionFailed));
        assert_eq!(unpadded_len(&[0, 0]), Err(Error::DecryptionFailed));
        assert_eq!(unpadded_len(&[1, 0x81, 0]), Err(Error::DecryptionFailed));
        let mut buf = [9u8; 8];
        write_padding(&mut buf[3..]);
        assert_eq!(buf, [9, 9, 9, 0x80, 0, 0, 0, 0]);
        assert_eq!(unpadded_len(&buf), Ok(3));
    }
}

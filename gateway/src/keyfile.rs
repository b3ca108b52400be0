//! Server key files (`scv2 keygen`): JSON `{"keyId", "algorithm" (the suite, the document's
//! `algorithm` name), "privateKey" (base64 of the suite's private key form: the 32 raw X25519
//! bytes, or the 96 bytes `s || d || z` of X25519MLKEM768), "createdAt" (ms), "expiresAt" (ms
//! or null)}`, written with mode 0600. A file without `algorithm` (written before the hybrid
//! suite) is an X25519 key.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use base64ct::{Base64, Encoding};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::store::StoredKey;

/// Serialize a key (the text holds the private key: handle it as a secret).
pub fn to_json(key: &scv2::ServerKey) -> Zeroizing<String> {
    let private = key.private_key();
    let b64 = Zeroizing::new(Base64::encode_string(&private[..]));
    Zeroizing::new(format!(
        "{{\"keyId\":{},\"algorithm\":\"{}\",\"privateKey\":\"{}\",\"createdAt\":{},\"expiresAt\":{}}}\n",
        Value::String(key.key_id().to_owned()),
        key.suite().name(),
        b64.as_str(),
        key.created_at_ms(),
        key.expires_at_ms().map_or(Value::Null, |e| json!(e))
    ))
}

/// Write `key` to a new file `path` with mode 0600 (refuses to overwrite).
pub fn write(path: &Path, key: &scv2::ServerKey) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating key file {} (it must not exist)", path.display()))?;
    f.write_all(to_json(key).as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Read a key file.
pub fn read(path: &Path) -> anyhow::Result<StoredKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading key file {}", path.display()))?,
    );
    parse(&text).with_context(|| format!("key file {}", path.display()))
}

/// Parse the text of a key file.
pub fn parse(text: &str) -> anyhow::Result<StoredKey> {
    let v: Value = serde_json::from_str(text)
        .ok()
        .context("not JSON (the parser's message is not shown: it may quote the key)")?;
    let key_id = v
        .get("keyId")
        .and_then(Value::as_str)
        .context("keyId missing")?
        .to_owned();
    scv2::check_key_id(&key_id).map_err(|e| anyhow::anyhow!("keyId: {e}"))?;
    let suite = match v.get("algorithm") {
        None | Some(Value::Null) => scv2::Suite::X25519,
        Some(a) => {
            let name = a.as_str().context("algorithm must be a string")?;
            scv2::Suite::from_name(name).with_context(|| {
                format!(
                    "unknown algorithm {name:?} (this scv2 knows {})",
                    known_suites()
                )
            })?
        }
    };
    let b64 = v
        .get("privateKey")
        .and_then(Value::as_str)
        .context("privateKey missing")?;
    let private = Zeroizing::new(Base64::decode_vec(b64).ok().unwrap_or_default());
    if private.len() != suite.private_key_len() {
        bail!(
            "privateKey must be base64 of {} bytes for {suite}",
            suite.private_key_len()
        );
    }
    Ok(StoredKey {
        key_id,
        suite,
        private,
        created_at_ms: v.get("createdAt").and_then(Value::as_u64).unwrap_or(0),
        expires_at_ms: v.get("expiresAt").and_then(Value::as_u64),
    })
}

fn known_suites() -> String {
    scv2::Suite::ALL.map(|s| s.name()).join(", ")
}

/// The public-key document as the API's `data` object.
pub fn document_json(doc: &scv2::PublicKeyDocument) -> Value {
    json!({
        "keyId": doc.key_id,
        "publicKey": doc.public_key,
        "algorithm": doc.algorithm,
        "keySize": doc.key_size_bits,
        "createdAt": doc.created_at_ms,
        "expiresAt": doc.expires_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_in_both_suites() -> anyhow::Result<()> {
        for suite in scv2::Suite::ALL {
            let key =
                scv2::ServerKey::generate_with_suite(suite, "k-f", 5, Some(9), &mut scv2::OsRng)?;
            let text = to_json(&key);
            let back = parse(&text)?;
            assert_eq!(back.suite, suite);
            assert_eq!(back.private.len(), suite.private_key_len());
            let loaded = back.server_key()?;
            assert_eq!(loaded.public_key_bytes(), key.public_key_bytes());
            assert_eq!((back.created_at_ms, back.expires_at_ms), (5, Some(9)));
        }
        Ok(())
    }

    #[test]
    fn old_key_files_are_x25519_and_lengths_are_checked() -> anyhow::Result<()> {
        let old = format!(
            "{{\"keyId\":\"k-old\",\"privateKey\":\"{}\",\"createdAt\":1,\"expiresAt\":null}}",
            Base64::encode_string(&[3u8; 32])
        );
        let k = parse(&old)?;
        assert_eq!((k.suite, k.private.len()), (scv2::Suite::X25519, 32));
        let wrong = old.replace(
            "\"privateKey\"",
            "\"algorithm\":\"X25519MLKEM768-HKDF-SHA256-AES-256-GCM\",\"privateKey\"",
        );
        let e = format!(
            "{:#}",
            parse(&wrong).err().context("a 32-byte hybrid key loaded")?
        );
        assert!(e.contains("96 bytes"), "{e}");
        let unknown = old.replace("\"privateKey\"", "\"algorithm\":\"X448\",\"privateKey\"");
        assert!(parse(&unknown).is_err());
        Ok(())
    }
}

//! Server key files (`scv2 keygen`): JSON `{"keyId", "privateKey" (base64 of the 32 raw X25519
//! private bytes), "createdAt" (ms), "expiresAt" (ms or null)}`, written with mode 0600.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use base64ct::{Base64, Encoding};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::store::StoredKey;

/// Serialize a key (the text holds the private key: handle it as a secret).
pub fn to_json(key: &scv2::ServerKey) -> Zeroizing<String> {
    let private = key.private_bytes();
    let b64 = Zeroizing::new(Base64::encode_string(&private[..]));
    Zeroizing::new(format!(
        "{{\"keyId\":{},\"privateKey\":\"{}\",\"createdAt\":{},\"expiresAt\":{}}}\n",
        Value::String(key.key_id().to_owned()),
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
    let v: Value = serde_json::from_str(&text).context("key file is not JSON")?;
    let key_id = v
        .get("keyId")
        .and_then(Value::as_str)
        .context("key file: keyId missing")?
        .to_owned();
    let b64 = v
        .get("privateKey")
        .and_then(Value::as_str)
        .context("key file: privateKey missing")?;
    let raw = Zeroizing::new(Base64::decode_vec(b64).ok().unwrap_or_default());
    if raw.len() != 32 {
        bail!("key file: privateKey must be base64 of 32 bytes");
    }
    let mut private = Zeroizing::new([0u8; 32]);
    private.copy_from_slice(&raw);
    scv2::check_key_id(&key_id).map_err(|e| anyhow::anyhow!("key file: keyId: {e}"))?;
    Ok(StoredKey {
        key_id,
        private,
        created_at_ms: v.get("createdAt").and_then(Value::as_u64).unwrap_or(0),
        expires_at_ms: v.get("expiresAt").and_then(Value::as_u64),
    })
}

/// The public-key document as the API's `data` object.
pub fn document_json(doc: &scv2::PublicKeyDocument) -> Value {
    json!({
        "keyId": doc.key_id,
        "publicKey": doc.public_key,
        "algorithm": doc.algorithm,
        "keySize": 256,
        "createdAt": doc.created_at_ms,
        "expiresAt": doc.expires_at_ms,
    })
}

//! Argon2id password hashing (PHC strings only; the password is never stored).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use scv2::rand_core::TryRng;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Argon2Params {
        Argon2Params {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl Argon2Params {
    /// Cheap parameters for tests (m = 8 MiB, t = 1).
    pub fn cheap() -> Argon2Params {
        Argon2Params {
            m_kib: 8 * 1024,
            t: 1,
            p: 1,
        }
    }

    fn argon2(&self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Hash `password` with a fresh 16-byte salt; returns the PHC string.
    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        scv2::OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|_| anyhow::anyhow!("OS RNG failed"))?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?;
        let hash = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(hash.to_string())
    }
}

/// Check `password` against a PHC string.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let p = Argon2Params {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
        let h = p.hash("NewP@ssw0rd").unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{h}");
        assert!(verify(&h, "NewP@ssw0rd"));
        assert!(!verify(&h, "other"));
    }
}

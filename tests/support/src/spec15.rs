//! The model of SPEC.md section 15.6 (the hybrid suite's order of checks) for the entry points
//! that read a hybrid type 1 or type 130, and the hybrid vector-file fixture `HybridCase`
//! (`tests/vectors/scv2-x25519mlkem768.json`). Written from SPEC.md, not from the core: the
//! encapsulation-key check is spelled out here from FIPS 203's byte formula. `tests/hostile.rs`,
//! `tests/properties.rs` and the fuzz targets compare the core against it.

use scv2::{Error, Limits};

use crate::spec10::{is_low_order, model_prefix, MIN_AEAD};

/// ML-KEM-768 lengths (FIPS 203): ciphertext, encapsulation key.
pub const CT_LEN: usize = 1088;
/// `ek` length.
pub const EK_LEN: usize = 1184;
/// `reqKeyLen` of the hybrid suite (`ct1 || E`).
pub const REQ_KEY_LEN: usize = CT_LEN + 32;
/// `header2` of the hybrid suite (`"SC" 02 82 || ct2 || F`).
pub const HEADER2_LEN: usize = 4 + CT_LEN + 32;

/// FIPS 203 section 7.2 on 1184 bytes: every 12-bit coefficient of `ek[0..1152]` below 3329.
pub fn ek_passes_check(ek: &[u8]) -> bool {
    ek.len() == EK_LEN
        && ek[..1152].chunks_exact(3).all(|b| {
            let c0 = u16::from(b[0]) | (u16::from(b[1] & 0x0f) << 8);
            let c1 = u16::from(b[1] >> 4) | (u16::from(b[2]) << 4);
            c0 < 3329 && c1 < 3329
        })
}

/// `(keyId, reqKey, respKey)` of a type 1.
pub type Type1Keys<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Step 5 of 15.6: the structure common to every type 1.
pub fn model_common_type1(env: &[u8]) -> Result<Type1Keys<'_>, Error> {
    let m = Err(Error::MalformedEnvelope);
    let rest = &env[4..];
    let Some((&kl, rest)) = rest.split_first() else {
        return m;
    };
    let kl = usize::from(kl);
    if kl == 0 || rest.len() < kl {
        return m;
    }
    let (key_id, rest) = rest.split_at(kl);
    if !key_id.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return m;
    }
    let take = |r: &[u8]| -> Option<(usize, usize)> {
        let n = usize::from(u16::from_be_bytes(r.get(..2)?.try_into().ok()?));
        (r.len() >= 2 + n).then_some((n, 2 + n))
    };
    let Some((rql, used)) = take(rest) else {
        return m;
    };
    let req = &rest[2..2 + rql];
    let rest = &rest[used..];
    let Some((rsl, used)) = take(rest) else {
        return m;
    };
    let resp = &rest[2..2 + rsl];
    if rest.len() - used < MIN_AEAD {
        return m;
    }
    Ok((key_id, req, resp))
}

/// What `Server::accept` must return for a type 1 at a server holding the hybrid key `hybrid`
/// and, optionally, the X25519-suite key `x25519` (both valid, default limits). `Ok(suite)`
/// means: only authentication is left to decide, with the key of that suite.
pub fn expected_accept_hybrid(
    hybrid: &[u8],
    x25519: Option<&[u8]>,
    env: &[u8],
) -> Result<scv2::Suite, Error> {
    if env.len() > Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge); // 1.
    }
    if model_prefix(env)? != 1 {
        return Err(Error::MalformedEnvelope); // 2.-4.
    }
    let (key_id, req, resp) = model_common_type1(env)?; // 5.
    if key_id == hybrid {
        if req.len() != REQ_KEY_LEN || resp.len() != EK_LEN {
            return Err(Error::MalformedEnvelope); // 6a.
        }
        if !ek_passes_check(resp) {
            return Err(Error::InvalidPublicKey); // 6b.
        }
        if is_low_order(req[CT_LEN..].try_into().expect("E")) {
            return Err(Error::InvalidPublicKey); // 6c.
        }
        Ok(scv2::Suite::X25519MlKem768)
    } else if Some(key_id) == x25519 {
        if req.len() != 32 || !resp.is_empty() {
            return Err(Error::MalformedEnvelope); // the X25519 suite's rules after step 6
        }
        if is_low_order(req.try_into().expect("E")) {
            return Err(Error::InvalidPublicKey);
        }
        Ok(scv2::Suite::X25519)
    } else {
        Err(Error::UnknownKeyId) // 6.
    }
}

/// What a hybrid `ClientHandshake::finish` must return for a type 130 (default limits).
pub fn expected_finish_hybrid(env: &[u8]) -> Result<(), Error> {
    if env.len() > Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge);
    }
    if model_prefix(env)? != 0x82 {
        return Err(Error::MalformedEnvelope);
    }
    if env.len() < HEADER2_LEN + MIN_AEAD {
        return Err(Error::MalformedEnvelope);
    }
    if is_low_order(env[4 + CT_LEN..HEADER2_LEN].try_into().expect("F")) {
        return Err(Error::InvalidPublicKey);
    }
    Ok(())
}

#[cfg(feature = "test-vectors")]
pub use fixture::{HybridCase, HYBRID_VECTORS};

#[cfg(feature = "test-vectors")]
mod fixture {
    use scv2::{
        ClientConfig, ClientHandshake, ClientSession, HybridClientTestInputs, PinnedKey, Server,
        ServerConfig, ServerKey, ServerSession, Suite,
    };
    use serde_json::Value;

    use crate::hex::{unhex, unhex_array as arr};

    /// The hybrid vector file, compiled in.
    pub const HYBRID_VECTORS: &str = include_str!("../../vectors/scv2-x25519mlkem768.json");

    /// One case of the hybrid vector file (the fields the fixtures need).
    #[derive(Clone, Debug)]
    pub struct HybridCase {
        pub name: String,
        pub key_id: String,
        pub private: Vec<u8>,
        pub public: Vec<u8>,
        pub e: [u8; 32],
        pub client_seed: [u8; 64],
        pub m1: [u8; 32],
        pub m2: [u8; 32],
        pub f: [u8; 32],
        pub iv1: [u8; 12],
        pub padding_block: usize,
        pub now_ms: u64,
        pub kx_payload: Vec<u8>,
        pub kx_envelope: Vec<u8>,
        pub session_id: String,
        pub expires_at_ms: u64,
        pub kxr_payload: Vec<u8>,
        pub kxr_envelope: Vec<u8>,
    }

    fn s<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap_or_else(|| panic!("field {k}"))
    }

    impl HybridCase {
        /// Load the case `name` from the compiled-in hybrid vector file.
        pub fn load(name: &str) -> HybridCase {
            let file: Value = serde_json::from_str(HYBRID_VECTORS).expect("JSON");
            let c = file["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("no case {name}"));
            let u = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("field {k}"));
            HybridCase {
                name: name.to_owned(),
                key_id: s(c, "key_id").to_owned(),
                private: [
                    unhex(s(c, "server_static_private")),
                    unhex(s(c, "server_mlkem_seed")),
                ]
                .concat(),
                public: unhex(s(c, "server_static_public")),
                e: arr(s(c, "client_ephemeral_private")),
                client_seed: arr(s(c, "client_mlkem_seed")),
                m1: arr(s(c, "encaps_randomness_1")),
                m2: arr(s(c, "encaps_randomness_2")),
                f: arr(s(c, "server_ephemeral_private")),
                iv1: arr(s(c, "iv1")),
                padding_block: u("padding_block") as usize,
                now_ms: u("now_ms"),
                kx_payload: unhex(s(c, "kx_payload")),
                kx_envelope: unhex(s(c, "kx_envelope")),
                session_id: s(c, "session_id").to_owned(),
                expires_at_ms: u("expires_at_ms"),
                kxr_payload: unhex(s(c, "kxr_payload")),
                kxr_envelope: unhex(s(c, "kxr_envelope")),
            }
        }

        /// The case's server key (valid forever).
        pub fn server_key(&self) -> ServerKey {
            ServerKey::from_private_key(Suite::X25519MlKem768, &self.key_id, &self.private, 0, None)
                .expect("hybrid key")
        }

        /// A server holding only the case's key.
        pub fn server(&self) -> Server {
            let cfg = ServerConfig::default()
                .with_padding_block(self.padding_block)
                .expect("block");
            let mut server = Server::new(cfg);
            server.add_key(self.server_key()).expect("add");
            server
        }

        /// A client configuration pinning the case's key.
        pub fn client_config(&self) -> ClientConfig {
            let mut c = ClientConfig::new();
            c.pin(
                PinnedKey::with_suite(&self.key_id, Suite::X25519MlKem768, &self.public)
                    .expect("pin"),
            );
            c.set_padding_block(self.padding_block).expect("block");
            c
        }

        /// The case's client handshake (its type 1 is the file's `kx_envelope`).
        pub fn client_handshake(&self) -> ClientHandshake {
            let (hs, kx) = ClientHandshake::start_hybrid_with_ephemeral_for_test_vectors(
                &self.client_config(),
                &self.key_id,
                &self.kx_payload,
                self.e,
                HybridClientTestInputs {
                    mlkem_seed: self.client_seed,
                    encaps_randomness: self.m1,
                },
                self.iv1,
            )
            .expect("start");
            assert_eq!(kx, self.kx_envelope, "{}: type 1", self.name);
            hs
        }

        /// The case's server session, from `server` accepting the file's type 1.
        pub fn server_session(&self, server: &Server) -> (ServerSession, Vec<u8>) {
            server
                .accept(&self.kx_envelope, self.now_ms)
                .expect("accept")
                .respond_hybrid_with_ephemeral_for_test_vectors(
                    &self.session_id,
                    self.expires_at_ms,
                    &self.kxr_payload,
                    self.f,
                    self.m2,
                )
                .expect("respond")
        }

        /// The case's client session.
        pub fn client_session(&self) -> ClientSession {
            self.client_handshake()
                .finish(&self.kxr_envelope, self.now_ms)
                .expect("finish")
        }
    }
}

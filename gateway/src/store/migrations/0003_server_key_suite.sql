-- scv2 gateway, PostgreSQL schema version 3: the suite of each server key (SPEC.md section 15:
-- the suite is a property of the key id). Stored by the document's `algorithm` name; every key
-- of version 2 is an X25519 key. The sealed private key is 32 bytes (X25519) or 96 bytes
-- (X25519MLKEM768: s || d || z), sealed as before (gateway/src/store/keyseal.rs).
--
-- The default stays: a gateway of version 2 still running during a rolling upgrade stores only
-- X25519 keys, without naming the column, and they are X25519 keys.

ALTER TABLE server_keys ADD COLUMN suite text NOT NULL DEFAULT 'X25519-HKDF-SHA256-AES-256-GCM';

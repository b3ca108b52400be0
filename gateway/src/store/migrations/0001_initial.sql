-- scv2 gateway, PostgreSQL schema version 1 (applied by `scv2 serve` at start, under an advisory
-- lock; see src/store/postgres.rs). Times are milliseconds since the Unix epoch, given by the
-- gateway (its clock), never the database's.

-- Server keys, shared by every gateway: the X25519 private key sealed (AES-256-GCM) under the
-- storage key, which never enters this database.
CREATE TABLE server_keys (
    key_id         text PRIMARY KEY,
    sealed_private bytea NOT NULL,
    created_at_ms  bigint NOT NULL,
    expires_at_ms  bigint
);

-- SC sessions: `ServerSession::export` sealed under the storage key, with its generation (the
-- number of requests it accepted). A request holds its row (`SELECT … FOR UPDATE`) from before
-- it is opened to its commit.
CREATE TABLE sc_sessions (
    session_id    text PRIMARY KEY,
    sealed        bytea NOT NULL,
    generation    bigint NOT NULL,
    expires_at_ms bigint NOT NULL,
    client_group  text NOT NULL,
    created_at_ms bigint NOT NULL,
    last_used_ms  bigint NOT NULL,
    -- creation order (the per-address cap evicts the oldest; times can tie)
    created_seq   bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX sc_sessions_expiry ON sc_sessions (expires_at_ms);
CREATE INDEX sc_sessions_group ON sc_sessions (client_group, created_seq);

-- The last 16 answers of each session (slot = generation after the request, modulo 16), for
-- byte-identical retransmissions.
CREATE TABLE sc_answers (
    session_id text NOT NULL REFERENCES sc_sessions (session_id) ON DELETE CASCADE,
    slot       smallint NOT NULL,
    generation bigint NOT NULL,
    digest     bytea NOT NULL,
    status     smallint NOT NULL,
    code       text NOT NULL,
    envelope   bytea NOT NULL,
    PRIMARY KEY (session_id, slot)
);

-- Pending registrations, by the SHA-256 of their init token. A request claims one by locking its
-- row (`FOR UPDATE SKIP LOCKED`) in its transaction: concurrent claims, on any gateway, see it
-- unavailable; a crash releases it.
CREATE TABLE registrations (
    token_hash    bytea PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    created_at_ms bigint NOT NULL,
    expires_at_ms bigint NOT NULL,
    used_at_ms    bigint
);
CREATE INDEX registrations_email ON registrations (email);
CREATE INDEX registrations_used ON registrations (used_at_ms);
CREATE INDEX registrations_expiry ON registrations (expires_at_ms);

CREATE SEQUENCE users_id_seq;
CREATE TABLE users (
    id            bigint PRIMARY KEY,
    biz_id        text NOT NULL UNIQUE,
    email         text NOT NULL,
    name          text NOT NULL,
    status        bigint NOT NULL,
    password_hash text NOT NULL,
    created_at_ms bigint NOT NULL
);
CREATE INDEX users_email ON users (email);

-- Rate limits: an exact log of the last counted hits per (table, key), as in memory.
CREATE TABLE rate_limits (
    tbl           smallint NOT NULL,
    key           bytea NOT NULL,
    hits          bigint[] NOT NULL,
    expires_at_ms bigint NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at_ms);

-- Count one request at p_now against every (table, key), all or none. Returns 0 when allowed
-- (counted when p_count), else the milliseconds until every key would allow it (counted nowhere).
-- Rows are created and locked in (table, key) order, so concurrent calls cannot deadlock.
CREATE FUNCTION scv2_rate(p_tbl smallint[], p_key bytea[], p_limit integer[], p_window bigint[],
                          p_now bigint, p_count boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    i    integer;
    live bigint[];
    wait bigint := 0;
BEGIN
    IF p_count THEN
        INSERT INTO rate_limits (tbl, key, hits, expires_at_ms)
            SELECT u.t, u.k, '{}', 0 FROM unnest(p_tbl, p_key) AS u(t, k) ORDER BY 1, 2
            ON CONFLICT DO NOTHING;
        PERFORM 1 FROM rate_limits r
            WHERE (r.tbl, r.key) IN (SELECT u.t, u.k FROM unnest(p_tbl, p_key) AS u(t, k))
            ORDER BY r.tbl, r.key FOR UPDATE;
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_tbl, 1), 0) LOOP
        SELECT ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > p_now - p_window[i] ORDER BY h)
            INTO live FROM rate_limits r WHERE r.tbl = p_tbl[i] AND r.key = p_key[i];
        IF FOUND AND cardinality(live) >= p_limit[i] THEN
            wait := greatest(wait, live[cardinality(live) - p_limit[i] + 1] + p_window[i] - p_now);
        END IF;
    END LOOP;
    IF wait > 0 OR NOT p_count THEN
        RETURN wait;
    END IF;
    UPDATE rate_limits r
        SET hits = ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > p_now - u.w ORDER BY h)
                   || p_now,
            expires_at_ms = greatest(r.expires_at_ms, p_now + u.w)
        FROM unnest(p_tbl, p_key, p_window) AS u(t, k, w)
        WHERE r.tbl = u.t AND r.key = u.k;
    RETURN 0;
END $$;

-- The commit of an accepted request, inside its transaction (the session row is held): the
-- registration it claimed becomes used and its user is created (when p_token is given), then the
-- session row is deleted (p_end) or gets its new state, compare-and-set on the generation, and
-- the sealed answer is kept (when p_answer). Any failure raises, so that the COMMIT sent with
-- this call rolls everything back: SC001 generation conflict, SC002 registration gone.
CREATE FUNCTION scv2_commit(p_sid text, p_expected bigint, p_sealed bytea, p_generation bigint,
                            p_last_used bigint, p_end boolean, p_answer boolean, p_digest bytea,
                            p_status smallint, p_code text, p_envelope bytea, p_token bytea,
                            p_now bigint, p_user_id bigint, p_biz_id text, p_password_hash text,
                            p_user_status bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r_email text;
    r_name  text;
BEGIN
    IF p_token IS NOT NULL THEN
        UPDATE registrations SET used_at_ms = p_now
            WHERE token_hash = p_token AND used_at_ms IS NULL
            RETURNING email, name INTO r_email, r_name;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'scv2: the claimed registration is gone' USING ERRCODE = 'SC002';
        END IF;
        INSERT INTO users (id, biz_id, email, name, status, password_hash, created_at_ms)
            VALUES (p_user_id, p_biz_id, r_email, r_name, p_user_status, p_password_hash, p_now);
    END IF;
    IF p_end THEN
        DELETE FROM sc_sessions WHERE session_id = p_sid AND generation = p_expected;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'scv2: generation conflict' USING ERRCODE = 'SC001';
        END IF;
        RETURN;
    END IF;
    IF p_sealed IS NOT NULL THEN
        UPDATE sc_sessions SET sealed = p_sealed, generation = p_generation,
                               last_used_ms = p_last_used
            WHERE session_id = p_sid AND generation = p_expected;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'scv2: generation conflict' USING ERRCODE = 'SC001';
        END IF;
    END IF;
    IF p_answer THEN
        INSERT INTO sc_answers (session_id, slot, generation, digest, status, code, envelope)
            VALUES (p_sid, (p_generation % 16)::smallint, p_generation, p_digest, p_status,
                    p_code, p_envelope)
            ON CONFLICT (session_id, slot) DO UPDATE
                SET generation = EXCLUDED.generation, digest = EXCLUDED.digest,
                    status = EXCLUDED.status, code = EXCLUDED.code,
                    envelope = EXCLUDED.envelope;
    END IF;
END $$;

-- scv2 gateway, PostgreSQL schema version 2: the response headers kept with a cached answer
-- (proxy mode passes an upstream's `Set-Cookie`, … through, sealed under the storage key, so
-- that a retransmission gets them too), and the commit function that stores them.

ALTER TABLE sc_answers ADD COLUMN headers bytea NOT NULL DEFAULT ''::bytea;

DROP FUNCTION scv2_commit(text, bigint, bytea, bigint, bigint, boolean, boolean, bytea, smallint,
                          text, bytea, bytea, bigint, bigint, text, text, bigint);

-- The commit of an accepted request, inside its transaction (the session row is held): the
-- registration it claimed becomes used and its user is created (when p_token is given), then the
-- session row is deleted (p_end) or gets its new state, compare-and-set on the generation, and
-- the sealed answer is kept (when p_answer). Any failure raises, so that the COMMIT sent with
-- this call rolls everything back: SC001 generation conflict, SC002 registration gone.
CREATE FUNCTION scv2_commit(p_sid text, p_expected bigint, p_sealed bytea, p_generation bigint,
                            p_last_used bigint, p_end boolean, p_answer boolean, p_digest bytea,
                            p_status smallint, p_code text, p_envelope bytea, p_token bytea,
                            p_now bigint, p_user_id bigint, p_biz_id text, p_password_hash text,
                            p_user_status bigint, p_headers bytea) RETURNS void
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
        INSERT INTO sc_answers (session_id, slot, generation, digest, status, code, envelope,
                                headers)
            VALUES (p_sid, (p_generation % 16)::smallint, p_generation, p_digest, p_status,
                    p_code, p_envelope, p_headers)
            ON CONFLICT (session_id, slot) DO UPDATE
                SET generation = EXCLUDED.generation, digest = EXCLUDED.digest,
                    status = EXCLUDED.status, code = EXCLUDED.code,
                    envelope = EXCLUDED.envelope, headers = EXCLUDED.headers;
    END IF;
END $$;

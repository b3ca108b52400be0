/* Misuse and bad input through the C ABI: NULLs, short buffers, truncated and bit-flipped
 * envelopes, replays, wrong ctx, expired sessions, handshakes finished twice, responses for
 * unknown or already answered sequence numbers. Each must return its documented status. */
#include "common.h"

#define C(s) ((const uint8_t *)(s)), strlen(s)

static void status_strings(void) {
    CHECK(strcmp(scv2_status_str(SCV2_OK), "ok") == 0);
    CHECK(strcmp(scv2_status_str(SCV2_DECRYPTION_FAILED), "decryption_failed") == 0);
    CHECK(strcmp(scv2_status_str(SCV2_INTERNAL), "internal") == 0);
    CHECK(strcmp(scv2_status_str(16), "unknown") == 0);
    CHECK(strcmp(scv2_status_str(0xFFFFFFFFu), "unknown") == 0);
    CHECK(scv2_sealed_len(0, 0) == 0);
    CHECK(scv2_sealed_len(0, 4097) == 0);
    CHECK(scv2_sealed_len((size_t)-1, 64) == 0);
    CHECK(scv2_sealed_len(0, 1) == 33);
    CHECK(scv2_max_open_len(3) == 0);
    CHECK(scv2_type1_len(0, 0, 64) == 0);
    CHECK(scv2_type1_len(256, 0, 64) == 0);
    CHECK(scv2_type130_len(65, 0, 64) == 0);
    CHECK(scv2_type130_len(0, 0, 64) == 0);
}

static void null_handles(void) {
    size_t n = 0;
    uint64_t seq = 0, exp = 0;
    uint8_t buf[64];
    scv2_client_config *cfg = NULL;
    scv2_client_handshake *hs = NULL;
    scv2_client_session *cs = NULL;
    scv2_server *srv = NULL;
    scv2_server_handshake *shs = NULL;
    scv2_server_session *ss = NULL;
    CHECK_STATUS(scv2_client_config_new(NULL), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_new(0, 0, NULL), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_new(4097, 0, &srv), SCV2_INVALID_ARGUMENT);
    CHECK(srv == NULL);
    CHECK_STATUS(scv2_server_new(0, 65, &srv), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_config_pin(NULL, C(KEY_ID), buf, 32), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_config_set_padding_block(NULL, 64), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_handshake_start(NULL, C(KEY_ID), NULL, 0, buf, sizeof buf, &n, &hs),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_handshake_finish(NULL, buf, 10, NOW_MS, &cs), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_accept(NULL, buf, 10, NOW_MS, &shs), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_add_key(NULL, C(KEY_ID), buf, 32, 0, 0), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_generate_key(NULL, C(KEY_ID), 0, 0), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_handshake_respond(NULL, NULL, 0, EXPIRES_MS, NULL, 0, buf, sizeof buf,
                                               &n, &ss), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request(NULL, NULL, 0, NULL, 0, NOW_MS, buf, sizeof buf, &n, &seq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request_in_place(NULL, NULL, 0, buf, sizeof buf, 0, NOW_MS, &n, &seq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_open_response(NULL, 1, NULL, 0, buf, 40, buf, 0, &n), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_open_request(NULL, NULL, 0, buf, 40, NOW_MS, buf, 0, &n, &seq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_seal_response(NULL, 1, NULL, 0, NULL, 0, buf, sizeof buf, &n),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_session_id(NULL, buf, sizeof buf, &n), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_session_expires_at_ms(NULL, &exp), SCV2_INVALID_ARGUMENT);
    CHECK(scv2_client_session_sealed_len(NULL, 10) == 0);
    CHECK(scv2_server_session_sealed_len(NULL, 10) == 0);
    CHECK(hs == NULL && cs == NULL && shs == NULL && ss == NULL && cfg == NULL);
}

int main(void) {
    struct pair p;
    uint8_t env[256], plain[256], resp[256], out[256], saved[256];
    size_t env_len = 0, plain_len = 0, resp_len = 0, out_len = 0, n = 0, saved_len = 0;
    uint64_t cseq = 0, sseq = 0, seq = 0;
    const char *body = "{\"password\":\"hunter2\"}";

    status_strings();
    null_handles();
    REQUIRE_OK(pair_new(&p, 0, EXPIRES_MS));

    /* ---- config and key misuse */
    {
        uint8_t key[32] = {0};
        CHECK_STATUS(scv2_client_config_pin(p.config, NULL, 0, key, 32), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_config_pin(p.config, C("bad id"), key, 32), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_config_pin(p.config, C("k"), key, 31), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_config_pin(p.config, C("k"), NULL, 32), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_config_pin_spki_base64(p.config, C("k"), C("AAAA")), SCV2_INVALID_PUBLIC_KEY);
        CHECK_STATUS(scv2_client_config_set_padding_block(p.config, 0), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_server_add_key(p.server, C(KEY_ID), key, 32, NOW_MS, 0), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_server_remove_key(p.server, C("nope")), SCV2_UNKNOWN_KEY_ID);
        CHECK_STATUS(scv2_server_public_key(p.server, C("nope"), out, sizeof out, &n), SCV2_UNKNOWN_KEY_ID);
        CHECK_STATUS(scv2_server_public_key(p.server, C(KEY_ID), out, 31, &n), SCV2_BUFFER_TOO_SMALL);
        CHECK(n == 32);
        CHECK_STATUS(scv2_server_public_key(p.server, C(KEY_ID), out, sizeof out, NULL), SCV2_INVALID_ARGUMENT);
    }

    /* ---- handshake misuse */
    {
        scv2_client_handshake *hs = NULL;
        scv2_server_handshake *shs = NULL;
        scv2_client_session *cs = NULL;
        scv2_server_session *ss = NULL;
        uint8_t t1[512], t130[512];
        size_t t1_len = 0, t130_len = 0;
        CHECK_STATUS(scv2_client_handshake_start(p.config, C("unpinned"), NULL, 0, t1, sizeof t1, &t1_len, &hs),
                     SCV2_UNTRUSTED_SERVER_KEY);
        CHECK(hs == NULL);
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), NULL, 5, t1, sizeof t1, &t1_len, &hs),
                     SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), NULL, 0, t1, sizeof t1, &t1_len, NULL),
                     SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), NULL, 0, t1, 10, &t1_len, &hs),
                     SCV2_BUFFER_TOO_SMALL);
        CHECK(hs == NULL && t1_len == scv2_type1_len(strlen(KEY_ID), 0, 64));
        /* A payload above the 1 MiB maximum is refused before the (bogus) pointer is read. */
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), (const uint8_t *)16, (1u << 20) + 1,
                                                 t1, sizeof t1, &t1_len, &hs), SCV2_PAYLOAD_TOO_LARGE);
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), NULL, 0, t1, sizeof t1, &t1_len, &hs), SCV2_OK);
        /* Truncated / bit-flipped type 1. */
        CHECK_STATUS(scv2_server_accept(p.server, t1, t1_len - 1, NOW_MS, &shs), SCV2_DECRYPTION_FAILED);
        CHECK_STATUS(scv2_server_accept(p.server, t1, 5, NOW_MS, &shs), SCV2_MALFORMED_ENVELOPE);
        t1[t1_len - 1] ^= 1;
        CHECK_STATUS(scv2_server_accept(p.server, t1, t1_len, NOW_MS, &shs), SCV2_DECRYPTION_FAILED);
        t1[t1_len - 1] ^= 1;
        t1[2] = 3;
        CHECK_STATUS(scv2_server_accept(p.server, t1, t1_len, NOW_MS, &shs), SCV2_UNSUPPORTED_VERSION);
        t1[2] = 2;
        CHECK_STATUS(scv2_server_accept(p.server, NULL, 0, NOW_MS, &shs), SCV2_MALFORMED_ENVELOPE);
        CHECK_STATUS(scv2_server_accept(p.server, (const uint8_t *)16, (size_t)-1, NOW_MS, &shs),
                     SCV2_PAYLOAD_TOO_LARGE);
        CHECK(shs == NULL);
        CHECK_STATUS(scv2_server_accept(p.server, t1, t1_len, NOW_MS, &shs), SCV2_OK);
        CHECK_STATUS(scv2_server_handshake_respond(shs, C("bad sid"), EXPIRES_MS, NULL, 0, t130, sizeof t130,
                                                   &t130_len, &ss), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_server_handshake_respond(shs, NULL, 0, EXPIRES_MS, NULL, 0, t130, 8, &t130_len, &ss),
                     SCV2_BUFFER_TOO_SMALL);
        CHECK(t130_len == scv2_type130_len(22, 0, 64) && ss == NULL);
        CHECK_STATUS(scv2_server_handshake_respond(shs, C("s2"), EXPIRES_MS, NULL, 0, t130, sizeof t130,
                                                   &t130_len, &ss), SCV2_OK);
        /* Responding twice. */
        CHECK_STATUS(scv2_server_handshake_respond(shs, C("s3"), EXPIRES_MS, NULL, 0, t130, sizeof t130,
                                                   &n, &ss), SCV2_INVALID_STATE);
        CHECK_STATUS(scv2_server_handshake_payload(shs, out, sizeof out, &n), SCV2_INVALID_STATE);
        /* Finish: argument errors do not consume the handshake; a bit flip does. */
        CHECK_STATUS(scv2_client_handshake_finish(hs, t130, t130_len, NOW_MS, NULL), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_handshake_finish(hs, NULL, 4, NOW_MS, &cs), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_client_handshake_finish(hs, t130, t130_len, EXPIRES_MS, &cs), SCV2_SESSION_EXPIRED);
        CHECK_STATUS(scv2_client_handshake_finish(hs, t130, t130_len, NOW_MS, &cs), SCV2_INVALID_STATE);
        CHECK(cs == NULL);
        scv2_client_handshake_free(hs);
        hs = NULL;
        /* A fresh handshake: bit-flipped type 130, then finished twice. */
        CHECK_STATUS(scv2_client_handshake_start(p.config, C(KEY_ID), NULL, 0, t1, sizeof t1, &t1_len, &hs), SCV2_OK);
        scv2_server_handshake_free(shs);
        shs = NULL;
        scv2_server_session_free(ss);
        ss = NULL;
        CHECK_STATUS(scv2_server_accept(p.server, t1, t1_len, NOW_MS, &shs), SCV2_OK);
        CHECK_STATUS(scv2_server_handshake_respond(shs, C("s4"), EXPIRES_MS, NULL, 0, t130, sizeof t130,
                                                   &t130_len, &ss), SCV2_OK);
        memcpy(saved, t130, t130_len);
        saved[t130_len / 2] ^= 0x40;
        CHECK_STATUS(scv2_client_handshake_finish(hs, saved, t130_len, NOW_MS, &cs), SCV2_DECRYPTION_FAILED);
        CHECK_STATUS(scv2_client_handshake_finish(hs, t130, t130_len, NOW_MS, &cs), SCV2_INVALID_STATE);
        CHECK(cs == NULL);
        scv2_client_handshake_free(hs);
        scv2_server_handshake_free(shs);
        scv2_server_session_free(ss);
    }

    /* ---- request misuse */
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS, env, sizeof env, &env_len, NULL),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS, env, sizeof env, NULL, &cseq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request(p.client, NULL, 5, C(body), NOW_MS, env, sizeof env, &env_len, &cseq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), NULL, 5, NOW_MS, env, sizeof env, &env_len, &cseq),
                 SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_seal_request(p.client, (const uint8_t *)16, 70000, C(body), NOW_MS, env,
                                          sizeof env, &env_len, &cseq), SCV2_PAYLOAD_TOO_LARGE);
    /* Short buffer: needed size reported, sequence counter untouched. */
    env_len = 0;
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS, env, 10, &env_len, &cseq),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(env_len == scv2_client_session_sealed_len(p.client, strlen(body)));
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS, NULL, 0, &env_len, &cseq),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK_STATUS(scv2_client_seal_request_in_place(p.client, C(CTX), env, 20, strlen(body), NOW_MS, &n, &cseq),
                 SCV2_BUFFER_TOO_SMALL);
    /* Overlapping input and output. */
    memcpy(env, body, strlen(body));
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), env, strlen(body), NOW_MS, env, sizeof env,
                                          &env_len, &cseq), SCV2_INVALID_ARGUMENT);
    /* Expired. */
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), EXPIRES_MS, env, sizeof env, &env_len,
                                          &cseq), SCV2_SESSION_EXPIRED);
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS, env, sizeof env, &env_len, &cseq),
                 SCV2_OK);
    CHECK(cseq == 1);
    memcpy(saved, env, env_len);
    saved_len = env_len;

    /* Server side: short buffer changes nothing (the same request still opens afterwards). */
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, 3, &plain_len, &sseq),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(plain_len == scv2_max_open_len(env_len));
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len - 1, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_DECRYPTION_FAILED);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, 20, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_MALFORMED_ENVELOPE);
    env[env_len - 3] ^= 0x01;
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_DECRYPTION_FAILED);
    env[env_len - 3] ^= 0x01;
    env[3] = 0x7f; /* type byte: not an SCv2 type */
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_UNKNOWN_TYPE);
    env[3] = 0x81; /* a response at the request entry point */
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_MALFORMED_ENVELOPE);
    env[3] = 0x02;
    CHECK_STATUS(scv2_server_open_request(p.session, C("POST /other"), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_DECRYPTION_FAILED);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, EXPIRES_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_SESSION_EXPIRED);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_OK);
    CHECK(sseq == 1 && plain_len == strlen(body) && memcmp(plain, body, plain_len) == 0);
    /* Replay. */
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), saved, saved_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &seq), SCV2_REPLAYED);
    CHECK_STATUS(scv2_server_open_request_in_place(p.session, C(CTX), saved, saved_len, NOW_MS, &n, &plain_len,
                                                   &seq), SCV2_REPLAYED);

    /* ---- response misuse */
    CHECK_STATUS(scv2_server_seal_response(p.session, 2, C(CTX), C("{}"), resp, sizeof resp, &resp_len),
                 SCV2_INVALID_STATE); /* never opened */
    CHECK_STATUS(scv2_server_seal_response(p.session, 1, C(CTX), C("{}"), resp, 5, &resp_len),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(resp_len == scv2_server_session_sealed_len(p.session, 2));
    CHECK_STATUS(scv2_server_seal_response(p.session, 1, C(CTX), C("{}"), resp, sizeof resp, &resp_len), SCV2_OK);
    CHECK_STATUS(scv2_server_seal_response(p.session, 1, C(CTX), C("{}"), out, sizeof out, &n),
                 SCV2_INVALID_STATE); /* second response for the same seq */
    CHECK_STATUS(scv2_client_open_response(p.client, 2, C(CTX), resp, resp_len, out, sizeof out, &out_len),
                 SCV2_INVALID_STATE); /* never sealed */
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), resp, resp_len, out, 1, &out_len),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(out_len == scv2_max_open_len(resp_len));
    resp[resp_len - 1] ^= 0x01;
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), resp, resp_len, out, sizeof out, &out_len),
                 SCV2_DECRYPTION_FAILED);
    resp[resp_len - 1] ^= 0x01;
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C("GET /x"), resp, resp_len, out, sizeof out, &out_len),
                 SCV2_DECRYPTION_FAILED);
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), resp, resp_len - 1, out, sizeof out, &out_len),
                 SCV2_DECRYPTION_FAILED);
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), saved, saved_len, out, sizeof out, &out_len),
                 SCV2_MALFORMED_ENVELOPE); /* a request at the response entry point */
    /* After all those failures the token is still there: the right envelope opens. */
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), resp, resp_len, out, sizeof out, &out_len), SCV2_OK);
    CHECK(out_len == 2 && memcmp(out, "{}", 2) == 0);
    CHECK_STATUS(scv2_client_open_response(p.client, 1, C(CTX), resp, resp_len, out, sizeof out, &out_len),
                 SCV2_INVALID_STATE); /* answered already */

    /* Response to another request: seal 2 and 3, answer 3, open it as 2. */
    {
        uint64_t s2 = 0, s3 = 0, t2 = 0, t3 = 0;
        uint8_t e2[128], e3[128];
        size_t e2_len = 0, e3_len = 0;
        CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C("a"), NOW_MS, e2, sizeof e2, &e2_len, &s2), SCV2_OK);
        CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C("b"), NOW_MS, e3, sizeof e3, &e3_len, &s3), SCV2_OK);
        CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), e3, e3_len, NOW_MS, plain, sizeof plain, &n, &t3), SCV2_OK);
        CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), e2, e2_len, NOW_MS, plain, sizeof plain, &n, &t2), SCV2_OK);
        CHECK(t2 == s2 && t3 == s3);
        CHECK_STATUS(scv2_server_seal_response(p.session, t3, C(CTX), C("r3"), resp, sizeof resp, &resp_len), SCV2_OK);
        CHECK_STATUS(scv2_client_open_response(p.client, s2, C(CTX), resp, resp_len, out, sizeof out, &out_len),
                     SCV2_RESPONSE_MISMATCH);
        CHECK_STATUS(scv2_client_open_response(p.client, s3, C(CTX), resp, resp_len, out, sizeof out, &out_len), SCV2_OK);
    }

    /* ---- the table of outstanding requests is bounded (client side) */
    {
        int sealed = 0;
        scv2_status st = SCV2_OK;
        uint64_t last = 0;
        while (sealed < SCV2_MAX_OUTSTANDING + 5) {
            st = scv2_client_seal_request(p.client, C(CTX), C("x"), NOW_MS, env, sizeof env, &env_len, &cseq);
            if (st != SCV2_OK) break;
            last = cseq;
            sealed++;
        }
        CHECK(st == SCV2_INVALID_STATE);
        CHECK(sealed == SCV2_MAX_OUTSTANDING - 1); /* seq 2 is still outstanding */
        /* The refused call consumed no sequence number. */
        CHECK_STATUS(scv2_client_open_response(p.client, 2, C(CTX), NULL, 0, out, sizeof out, &out_len),
                     SCV2_MALFORMED_ENVELOPE);
        (void)last;
    }

    pair_free(&p);

    /* ---- expired session on the server; response still sealable after expiry */
    REQUIRE_OK(pair_new(&p, 1, NOW_MS + 10));
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS + 9, env, sizeof env, &env_len, &cseq),
                 SCV2_OK);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS + 10, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_SESSION_EXPIRED);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS + 9, plain, sizeof plain,
                                          &plain_len, &sseq), SCV2_OK);
    CHECK_STATUS(scv2_server_seal_response(p.session, sseq, C(CTX), C("late"), resp, sizeof resp, &resp_len), SCV2_OK);
    CHECK_STATUS(scv2_client_open_response(p.client, cseq, C(CTX), resp, resp_len, out, sizeof out, &out_len), SCV2_OK);
    CHECK(resp_len == scv2_sealed_len(4, 1));
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C(body), NOW_MS + 10, env, sizeof env, &env_len, &cseq),
                 SCV2_SESSION_EXPIRED);
    pair_free(&p);
    return report();
}

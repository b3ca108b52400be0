/* A full client <-> server exchange through the C ABI only: handshake, 1000 requests and
 * responses (copying and in-place variants), accessors, free. */
#include "common.h"

int main(void) {
    struct pair p;
    uint8_t type1[512], type130[512], sid_c[64], sid_s[64], app[16];
    size_t type1_len = 0, type130_len = 0, sid_c_len = 0, sid_s_len = 0, app_len = 0;
    scv2_client_handshake *hs = NULL;
    scv2_server_handshake *shs = NULL;
    uint64_t exp = 0;

    printf("scv2 %s (ABI %d)\n", scv2_version(), SCV2_ABI_VERSION);
    CHECK(strcmp(scv2_version(), SCV2_VERSION_STRING) == 0);

    /* Step by step once, checking the size helpers. */
    REQUIRE_OK(pair_new(&p, 0, EXPIRES_MS));
    pair_free(&p);
    REQUIRE_OK(scv2_server_new(64, 1024, &p.server));
    REQUIRE_OK(scv2_server_generate_key(p.server, (const uint8_t *)KEY_ID, strlen(KEY_ID), NOW_MS, 0));
    {
        uint8_t pub[SCV2_KEY_LEN];
        size_t pub_len = 0;
        REQUIRE_OK(scv2_server_public_key(p.server, (const uint8_t *)KEY_ID, strlen(KEY_ID), pub,
                                          sizeof pub, &pub_len));
        CHECK(pub_len == 32);
        REQUIRE_OK(scv2_client_config_new(&p.config));
        REQUIRE_OK(scv2_client_config_pin(p.config, (const uint8_t *)KEY_ID, strlen(KEY_ID), pub, pub_len));
    }
    /* Size query with NULL/0. */
    CHECK_STATUS(scv2_client_handshake_start(p.config, (const uint8_t *)KEY_ID, strlen(KEY_ID),
                                             (const uint8_t *)"{\"a\":1}", 7, NULL, 0, &type1_len, &hs),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(hs == NULL);
    CHECK(type1_len == scv2_type1_len(strlen(KEY_ID), 7, 64));
    REQUIRE_OK(scv2_client_handshake_start(p.config, (const uint8_t *)KEY_ID, strlen(KEY_ID),
                                           (const uint8_t *)"{\"a\":1}", 7, type1, sizeof type1,
                                           &type1_len, &hs));
    CHECK(type1_len == scv2_type1_len(strlen(KEY_ID), 7, 64));
    REQUIRE_OK(scv2_server_accept(p.server, type1, type1_len, NOW_MS, &shs));
    {
        uint8_t pl[16], kid[32];
        size_t pl_len = 0, kid_len = 0;
        REQUIRE_OK(scv2_server_handshake_payload(shs, pl, sizeof pl, &pl_len));
        CHECK(pl_len == 7 && memcmp(pl, "{\"a\":1}", 7) == 0);
        REQUIRE_OK(scv2_server_handshake_key_id(shs, kid, sizeof kid, &kid_len));
        CHECK(kid_len == strlen(KEY_ID) && memcmp(kid, KEY_ID, kid_len) == 0);
    }
    REQUIRE_OK(scv2_server_handshake_respond(shs, (const uint8_t *)"session-1", 9, EXPIRES_MS,
                                             (const uint8_t *)"app", 3, type130, sizeof type130,
                                             &type130_len, &p.session));
    CHECK(type130_len == scv2_type130_len(9, 3, 64));
    REQUIRE_OK(scv2_client_handshake_finish(hs, type130, type130_len, NOW_MS, &p.client));
    scv2_server_handshake_free(shs);
    scv2_client_handshake_free(hs);

    REQUIRE_OK(scv2_client_session_id(p.client, sid_c, sizeof sid_c, &sid_c_len));
    REQUIRE_OK(scv2_server_session_id(p.session, sid_s, sizeof sid_s, &sid_s_len));
    CHECK(sid_c_len == 9 && sid_s_len == 9 && memcmp(sid_c, sid_s, 9) == 0);
    REQUIRE_OK(scv2_client_session_app_payload(p.client, app, sizeof app, &app_len));
    CHECK(app_len == 3 && memcmp(app, "app", 3) == 0);
    REQUIRE_OK(scv2_client_session_expires_at_ms(p.client, &exp));
    CHECK(exp == EXPIRES_MS);
    REQUIRE_OK(scv2_server_session_expires_at_ms(p.session, &exp));
    CHECK(exp == EXPIRES_MS);

    /* 1000 requests and responses. */
    for (int i = 0; i < 1000; i++) {
        char body[128], answer[128];
        uint8_t env[512], plain[512], resp[512], out[512];
        size_t body_len = (size_t)snprintf(body, sizeof body,
                                           "{\"sessionId\":\"init-%d\",\"password\":\"NewP@ss%d\"}", i, i * 7);
        size_t answer_len = (size_t)snprintf(answer, sizeof answer, "{\"success\":true,\"n\":%d}", i);
        size_t env_len = 0, plain_len = 0, resp_len = 0, out_len = 0, off = 0;
        uint64_t cseq = 0, sseq = 0;
        int in_place = i % 2;
        size_t need = scv2_client_session_sealed_len(p.client, body_len);
        CHECK(need == scv2_sealed_len(body_len, 64));
        if (!in_place) {
            CHECK_STATUS(scv2_client_seal_request(p.client, (const uint8_t *)CTX, strlen(CTX),
                                                  (const uint8_t *)body, body_len, NOW_MS, env,
                                                  sizeof env, &env_len, &cseq), SCV2_OK);
        } else {
            memcpy(env + SCV2_BODY_OFFSET, body, body_len);
            CHECK_STATUS(scv2_client_seal_request_in_place(p.client, (const uint8_t *)CTX, strlen(CTX),
                                                           env, sizeof env, body_len, NOW_MS,
                                                           &env_len, &cseq), SCV2_OK);
        }
        CHECK(env_len == need);
        CHECK(cseq == (uint64_t)i + 1);
        if (!in_place) {
            CHECK_STATUS(scv2_server_open_request(p.session, (const uint8_t *)CTX, strlen(CTX), env,
                                                  env_len, NOW_MS, plain, scv2_max_open_len(env_len),
                                                  &plain_len, &sseq), SCV2_OK);
            CHECK(plain_len == body_len && memcmp(plain, body, body_len) == 0);
        } else {
            CHECK_STATUS(scv2_server_open_request_in_place(p.session, (const uint8_t *)CTX, strlen(CTX),
                                                           env, env_len, NOW_MS, &off, &plain_len, &sseq),
                         SCV2_OK);
            CHECK(off == SCV2_BODY_OFFSET && plain_len == body_len &&
                  memcmp(env + off, body, body_len) == 0);
        }
        CHECK(sseq == cseq);
        if (!in_place) {
            CHECK_STATUS(scv2_server_seal_response(p.session, sseq, (const uint8_t *)CTX, strlen(CTX),
                                                   (const uint8_t *)answer, answer_len, resp,
                                                   sizeof resp, &resp_len), SCV2_OK);
            CHECK(resp_len == scv2_server_session_sealed_len(p.session, answer_len));
            CHECK_STATUS(scv2_client_open_response(p.client, cseq, (const uint8_t *)CTX, strlen(CTX),
                                                   resp, resp_len, out, sizeof out, &out_len), SCV2_OK);
            CHECK(out_len == answer_len && memcmp(out, answer, answer_len) == 0);
        } else {
            memcpy(resp + SCV2_BODY_OFFSET, answer, answer_len);
            CHECK_STATUS(scv2_server_seal_response_in_place(p.session, sseq, (const uint8_t *)CTX,
                                                            strlen(CTX), resp, sizeof resp, answer_len,
                                                            &resp_len), SCV2_OK);
            CHECK_STATUS(scv2_client_open_response_in_place(p.client, cseq, (const uint8_t *)CTX,
                                                            strlen(CTX), resp, resp_len, &off, &out_len),
                         SCV2_OK);
            CHECK(off == SCV2_BODY_OFFSET && out_len == answer_len &&
                  memcmp(resp + off, answer, answer_len) == 0);
        }
    }

    /* Empty body and empty ctx (NULL pointers with length 0). */
    {
        uint8_t env[128], resp[128];
        size_t env_len = 0, plain_len = 99, resp_len = 0, out_len = 99;
        uint64_t cseq = 0, sseq = 0;
        CHECK_STATUS(scv2_client_seal_request(p.client, NULL, 0, NULL, 0, NOW_MS, env, sizeof env,
                                              &env_len, &cseq), SCV2_OK);
        CHECK_STATUS(scv2_server_open_request(p.session, NULL, 0, env, env_len, NOW_MS, NULL, 0,
                                              &plain_len, &sseq), SCV2_BUFFER_TOO_SMALL);
        {
            uint8_t plain[128];
            CHECK_STATUS(scv2_server_open_request(p.session, NULL, 0, env, env_len, NOW_MS, plain,
                                                  sizeof plain, &plain_len, &sseq), SCV2_OK);
        }
        CHECK(plain_len == 0 && sseq == cseq);
        CHECK_STATUS(scv2_server_seal_response(p.session, sseq, NULL, 0, NULL, 0, resp, sizeof resp,
                                               &resp_len), SCV2_OK);
        {
            uint8_t out[128];
            CHECK_STATUS(scv2_client_open_response(p.client, cseq, NULL, 0, resp, resp_len, out,
                                                   sizeof out, &out_len), SCV2_OK);
        }
        CHECK(out_len == 0);
    }

    pair_free(&p);
    /* Freeing NULL is a no-op. */
    scv2_client_session_free(NULL);
    scv2_server_session_free(NULL);
    scv2_client_handshake_free(NULL);
    scv2_server_handshake_free(NULL);
    scv2_client_config_free(NULL);
    scv2_server_free(NULL);
    return report();
}

/* One exchange of the hybrid suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15)
 * through the C ABI only: a hybrid key next to an X25519-suite key in one key set, its public key
 * (1216 bytes) pinned with its suite, the handshake with the suite's size helpers, one request and
 * its response; keys loaded from the 96-byte private form; the suite arguments refused when
 * wrong. */
#include "common.h"

#define PQ_KEY_ID "k-2026-pq"
#define X_KEY_ID "k-2026-x"

static const uint8_t PAYLOAD[] = "{\"platform\":\"c\"}";

int main(void) {
    scv2_server *server = NULL;
    scv2_client_config *config = NULL;
    scv2_client_handshake *hs = NULL;
    scv2_server_handshake *shs = NULL;
    scv2_client_session *client = NULL;
    scv2_server_session *session = NULL;
    uint8_t pub[2048], type1[4096], type130[2048];
    size_t pub_len = 0, type1_len = 0, type130_len = 0;
    uint32_t suite = 0;
    const size_t payload_len = sizeof PAYLOAD - 1;

    CHECK(SCV2_SUITE_X25519 == 1 && SCV2_SUITE_X25519MLKEM768 == 2);
    CHECK(scv2_suite_public_key_len(SCV2_SUITE_X25519MLKEM768) == 1216);
    CHECK(scv2_suite_private_key_len(SCV2_SUITE_X25519MLKEM768) == 96);
    CHECK(scv2_suite_public_key_len(SCV2_SUITE_X25519) == 32);
    CHECK(scv2_suite_public_key_len(0) == 0 && scv2_suite_public_key_len(3) == 0);
    /* SPEC 15.7: 2414 bytes for a 9-byte keyId and "{}" with block 64; 1216 for a 22-byte sid. */
    CHECK(scv2_suite_type1_len(SCV2_SUITE_X25519MLKEM768, 9, 2, 64) == 2414);
    CHECK(scv2_suite_type130_len(SCV2_SUITE_X25519MLKEM768, 22, 0, 64) == 1216);
    CHECK(scv2_suite_type1_len(SCV2_SUITE_X25519, 9, 2, 64) == scv2_type1_len(9, 2, 64));
    CHECK(scv2_suite_type1_len(7, 9, 2, 64) == 0);

    REQUIRE_OK(scv2_server_new(64, 1024, &server));
    REQUIRE_OK(scv2_server_generate_suite_key(server, SCV2_SUITE_X25519MLKEM768,
                                              (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), NOW_MS, 0));
    REQUIRE_OK(scv2_server_generate_suite_key(server, SCV2_SUITE_X25519, (const uint8_t *)X_KEY_ID,
                                              strlen(X_KEY_ID), NOW_MS, 0));
    CHECK_STATUS(scv2_server_generate_suite_key(server, 9, (const uint8_t *)"k-9", 3, NOW_MS, 0),
                 SCV2_INVALID_ARGUMENT);
    REQUIRE_OK(scv2_server_key_suite(server, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), &suite));
    CHECK(suite == SCV2_SUITE_X25519MLKEM768);
    REQUIRE_OK(scv2_server_key_suite(server, (const uint8_t *)X_KEY_ID, strlen(X_KEY_ID), &suite));
    CHECK(suite == SCV2_SUITE_X25519);
    CHECK_STATUS(scv2_server_key_suite(server, (const uint8_t *)"nope", 4, &suite), SCV2_UNKNOWN_KEY_ID);

    /* The public key: a size query says 1216. */
    CHECK_STATUS(scv2_server_public_key(server, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), NULL, 0,
                                        &pub_len), SCV2_BUFFER_TOO_SMALL);
    CHECK(pub_len == 1216);
    REQUIRE_OK(scv2_server_public_key(server, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), pub,
                                      sizeof pub, &pub_len));
    CHECK(pub_len == 1216);

    REQUIRE_OK(scv2_client_config_new(&config));
    /* The wrong length for the suite, and an unknown suite, are refused. */
    CHECK_STATUS(scv2_client_config_pin_suite(config, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)PQ_KEY_ID,
                                              strlen(PQ_KEY_ID), pub, 32), SCV2_INVALID_PUBLIC_KEY);
    CHECK_STATUS(scv2_client_config_pin_suite(config, SCV2_SUITE_X25519, (const uint8_t *)PQ_KEY_ID,
                                              strlen(PQ_KEY_ID), pub, pub_len), SCV2_INVALID_PUBLIC_KEY);
    CHECK_STATUS(scv2_client_config_pin_suite(config, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)PQ_KEY_ID,
                                              strlen(PQ_KEY_ID), pub, 1217), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_client_config_pin_suite(config, 0, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID),
                                              pub, pub_len), SCV2_INVALID_ARGUMENT);
    {
        /* ek_s failing the encapsulation-key check (first coefficient 4095). */
        uint8_t bad[1216];
        memcpy(bad, pub, sizeof bad);
        bad[0] = 0xff;
        bad[1] |= 0x0f;
        CHECK_STATUS(scv2_client_config_pin_suite(config, SCV2_SUITE_X25519MLKEM768,
                                                  (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), bad,
                                                  sizeof bad), SCV2_INVALID_PUBLIC_KEY);
    }
    REQUIRE_OK(scv2_client_config_pin_suite(config, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)PQ_KEY_ID,
                                            strlen(PQ_KEY_ID), pub, pub_len));

    /* Handshake: the size query gives the hybrid length, from the pin's suite. */
    CHECK_STATUS(scv2_client_handshake_start(config, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID),
                                             PAYLOAD, payload_len, NULL, 0, &type1_len, &hs),
                 SCV2_BUFFER_TOO_SMALL);
    CHECK(hs == NULL);
    CHECK(type1_len == scv2_suite_type1_len(SCV2_SUITE_X25519MLKEM768, strlen(PQ_KEY_ID), payload_len, 64));
    REQUIRE_OK(scv2_client_handshake_start(config, (const uint8_t *)PQ_KEY_ID, strlen(PQ_KEY_ID), PAYLOAD,
                                           payload_len, type1, sizeof type1, &type1_len, &hs));
    CHECK(type1_len == scv2_suite_type1_len(SCV2_SUITE_X25519MLKEM768, strlen(PQ_KEY_ID), payload_len, 64));
    REQUIRE_OK(scv2_server_accept(server, type1, type1_len, NOW_MS, &shs));
    {
        uint8_t pl[64];
        size_t pl_len = 0;
        REQUIRE_OK(scv2_server_handshake_payload(shs, pl, sizeof pl, &pl_len));
        CHECK(pl_len == payload_len && memcmp(pl, PAYLOAD, pl_len) == 0);
    }
    CHECK_STATUS(scv2_server_handshake_respond(shs, NULL, 0, EXPIRES_MS, NULL, 0, NULL, 0, &type130_len,
                                               &session), SCV2_BUFFER_TOO_SMALL);
    CHECK(type130_len == scv2_suite_type130_len(SCV2_SUITE_X25519MLKEM768,
                                                scv2_generated_session_id_len(), 0, 64));
    REQUIRE_OK(scv2_server_handshake_respond(shs, NULL, 0, EXPIRES_MS, NULL, 0, type130, sizeof type130,
                                             &type130_len, &session));
    REQUIRE_OK(scv2_client_handshake_finish(hs, type130, type130_len, NOW_MS, &client));

    /* One request and its response. */
    {
        const char *body = "{\"sessionId\":\"init-pq\",\"password\":\"Quantum-Res1stant!\"}";
        const char *answer = "{\"success\":true,\"code\":\"2000\"}";
        uint8_t env[256], plain[256], resp[256], out[256];
        size_t env_len = 0, plain_len = 0, resp_len = 0, out_len = 0;
        uint64_t cseq = 0, sseq = 0;
        REQUIRE_OK(scv2_client_seal_request(client, (const uint8_t *)CTX, strlen(CTX), (const uint8_t *)body,
                                            strlen(body), NOW_MS, env, sizeof env, &env_len, &cseq));
        REQUIRE_OK(scv2_server_open_request(session, (const uint8_t *)CTX, strlen(CTX), env, env_len, NOW_MS,
                                            plain, sizeof plain, &plain_len, &sseq));
        CHECK(sseq == cseq && plain_len == strlen(body) && memcmp(plain, body, plain_len) == 0);
        CHECK_STATUS(scv2_server_open_request(session, (const uint8_t *)CTX, strlen(CTX), env, env_len,
                                              NOW_MS, plain, sizeof plain, &plain_len, &sseq), SCV2_REPLAYED);
        REQUIRE_OK(scv2_server_seal_response(session, sseq, (const uint8_t *)CTX, strlen(CTX),
                                             (const uint8_t *)answer, strlen(answer), resp, sizeof resp,
                                             &resp_len));
        REQUIRE_OK(scv2_client_open_response(client, cseq, (const uint8_t *)CTX, strlen(CTX), resp, resp_len,
                                             out, sizeof out, &out_len));
        CHECK(out_len == strlen(answer) && memcmp(out, answer, out_len) == 0);
    }
    scv2_client_session_free(client);
    scv2_server_session_free(session);
    scv2_server_handshake_free(shs);
    scv2_client_handshake_free(hs);

    /* A key loaded from its 96-byte private form has a deterministic public key; other lengths are
     * refused. */
    {
        uint8_t priv[96], pub2[1216], pub3[1216];
        size_t n2 = 0, n3 = 0;
        scv2_server *s2 = NULL;
        for (size_t i = 0; i < sizeof priv; i++) priv[i] = (uint8_t)(i * 7 + 1);
        REQUIRE_OK(scv2_server_new(0, 0, &s2));
        CHECK_STATUS(scv2_server_add_suite_key(s2, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)"a", 1, priv,
                                               32, NOW_MS, 0), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_server_add_suite_key(s2, SCV2_SUITE_X25519, (const uint8_t *)"a", 1, priv, 96,
                                               NOW_MS, 0), SCV2_INVALID_ARGUMENT);
        CHECK_STATUS(scv2_server_add_suite_key(s2, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)"a", 1, priv,
                                               97, NOW_MS, 0), SCV2_INVALID_ARGUMENT);
        REQUIRE_OK(scv2_server_add_suite_key(s2, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)"a", 1, priv,
                                             96, NOW_MS, 0));
        REQUIRE_OK(scv2_server_add_suite_key(s2, SCV2_SUITE_X25519MLKEM768, (const uint8_t *)"b", 1, priv,
                                             96, NOW_MS, 0));
        REQUIRE_OK(scv2_server_public_key(s2, (const uint8_t *)"a", 1, pub2, sizeof pub2, &n2));
        REQUIRE_OK(scv2_server_public_key(s2, (const uint8_t *)"b", 1, pub3, sizeof pub3, &n3));
        CHECK(n2 == 1216 && n3 == 1216 && memcmp(pub2, pub3, n2) == 0);
        scv2_server_free(s2);
    }

    scv2_client_config_free(config);
    scv2_server_free(server);
    return report();
}

/* A client whose requests are answered in plaintext (HTTP 429, 400, 401: no type 129 ever comes
 * back) releases each one with scv2_client_forget_request. Without it the session's table of
 * SCV2_MAX_OUTSTANDING outstanding requests fills up and the next request is refused; with it,
 * 3000 such requests are followed by a normal exchange on the same session. The server side
 * forgets the requests it opened and then answered in plaintext (scv2_server_forget_request). */
#include "common.h"

#define C(s) ((const uint8_t *)(s)), strlen(s)

int main(void) {
    struct pair p;
    uint8_t env[256], plain[256], resp[256], out[256];
    size_t env_len = 0, plain_len = 0, resp_len = 0, out_len = 0;
    uint64_t seq = 0, sseq = 0;

    /* Without forgetting: request SCV2_MAX_OUTSTANDING + 1 is refused, and stays refused. */
    REQUIRE_OK(pair_new(&p, 0, EXPIRES_MS));
    for (uint64_t i = 1; i <= SCV2_MAX_OUTSTANDING; i++) {
        REQUIRE_OK(scv2_client_seal_request(p.client, C(CTX), C("{}"), NOW_MS, env, sizeof env, &env_len, &seq));
        CHECK(seq == i);
    }
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C("{}"), NOW_MS, env, sizeof env, &env_len, &seq),
                 SCV2_INVALID_STATE);
    CHECK_STATUS(scv2_client_forget_request(p.client, 3), SCV2_OK);
    CHECK_STATUS(scv2_client_forget_request(p.client, 3), SCV2_INVALID_STATE);
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C("{}"), NOW_MS, env, sizeof env, &env_len, &seq),
                 SCV2_OK);
    CHECK(seq == SCV2_MAX_OUTSTANDING + 1);
    pair_free(&p);

    /* 3000 requests answered in plaintext and forgotten, then a normal exchange. */
    REQUIRE_OK(pair_new(&p, 0, EXPIRES_MS));
    int ok = 1;
    for (uint64_t i = 1; i <= 3000 && ok; i++) {
        scv2_status st = scv2_client_seal_request(p.client, C(CTX), C("{\"password\":\"x\"}"), NOW_MS, env,
                                                  sizeof env, &env_len, &seq);
        if (st != SCV2_OK || seq != i) ok = 0;
        if (ok && i % 3 == 0) {
            /* The server opened this one, then answered in plaintext. */
            st = scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain,
                                          &plain_len, &sseq);
            if (st != SCV2_OK || scv2_server_forget_request(p.session, sseq) != SCV2_OK) ok = 0;
        }
        if (ok && scv2_client_forget_request(p.client, seq) != SCV2_OK) ok = 0;
    }
    CHECK(ok);
    /* A late type 129 for a forgotten request cannot be opened. */
    CHECK_STATUS(scv2_client_open_response(p.client, 5, C(CTX), (const uint8_t *)"SC\x02\x81", 4, out, sizeof out,
                                           &out_len),
                 SCV2_INVALID_STATE);
    CHECK_STATUS(scv2_client_seal_request(p.client, C(CTX), C("ping"), NOW_MS, env, sizeof env, &env_len, &seq),
                 SCV2_OK);
    CHECK(seq == 3001);
    CHECK_STATUS(scv2_server_open_request(p.session, C(CTX), env, env_len, NOW_MS, plain, sizeof plain, &plain_len,
                                          &sseq),
                 SCV2_OK);
    CHECK(plain_len == 4 && memcmp(plain, "ping", 4) == 0);
    CHECK_STATUS(scv2_server_seal_response(p.session, sseq, C(CTX), C("pong"), resp, sizeof resp, &resp_len),
                 SCV2_OK);
    CHECK_STATUS(scv2_client_open_response(p.client, seq, C(CTX), resp, resp_len, out, sizeof out, &out_len), SCV2_OK);
    CHECK(out_len == 4 && memcmp(out, "pong", 4) == 0);
    CHECK_STATUS(scv2_client_forget_request(NULL, 1), SCV2_INVALID_ARGUMENT);
    CHECK_STATUS(scv2_server_forget_request(NULL, 1), SCV2_INVALID_ARGUMENT);
    pair_free(&p);
    return report();
}

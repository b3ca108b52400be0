/* Shared helpers of the C test programs: check counting, setup of a client/server pair. */
#ifndef SCV2_TEST_COMMON_H
#define SCV2_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scv2.h"

static unsigned long g_passed = 0, g_failed = 0;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (cond) {                                                                            \
            g_passed++;                                                                        \
        } else {                                                                               \
            g_failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
        }                                                                                      \
    } while (0)

/* Check that an expression returns the expected status. */
#define CHECK_STATUS(expr, expected)                                                           \
    do {                                                                                       \
        scv2_status st_ = (expr);                                                              \
        if (st_ == (scv2_status)(expected)) {                                                  \
            g_passed++;                                                                        \
        } else {                                                                               \
            g_failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s returned %u (%s), expected %s\n", __FILE__,       \
                    __LINE__, #expr, (unsigned)st_, scv2_status_str(st_), #expected);          \
        }                                                                                      \
    } while (0)

/* Abort the program (counted as a failure) when a setup step fails. */
#define REQUIRE_OK(expr)                                                                       \
    do {                                                                                       \
        scv2_status st_ = (expr);                                                              \
        if (st_ != SCV2_OK) {                                                                  \
            fprintf(stderr, "FATAL %s:%d: %s returned %u (%s)\n", __FILE__, __LINE__, #expr,   \
                    (unsigned)st_, scv2_status_str(st_));                                      \
            g_failed++;                                                                        \
            return report();                                                                   \
        }                                                                                      \
        g_passed++;                                                                            \
    } while (0)

static inline int report(void) {
    printf("RESULT passed=%lu failed=%lu\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

#define NOW_MS 1764400000000ULL
#define EXPIRES_MS (NOW_MS + 600000ULL)
#define KEY_ID "k-2026-11"
#define CTX "POST /web/v1/system/auth/password/init"

/* A connected client/server pair built through the C ABI only. */
struct pair {
    scv2_server *server;
    scv2_client_config *config;
    scv2_client_session *client;
    scv2_server_session *session;
};

static inline void pair_free(struct pair *p) {
    scv2_client_session_free(p->client);
    scv2_server_session_free(p->session);
    scv2_client_config_free(p->config);
    scv2_server_free(p->server);
    memset(p, 0, sizeof *p);
}

/* Handshake with the given padding block (0: defaults) and session expiry. Returns SCV2_OK or the
 * first failing status. */
static inline scv2_status pair_new(struct pair *p, size_t padding_block, uint64_t expires_at_ms) {
    scv2_status st;
    uint8_t pub[SCV2_KEY_LEN];
    size_t pub_len = 0;
    uint8_t type1[512], type130[512];
    size_t type1_len = 0, type130_len = 0;
    scv2_client_handshake *hs = NULL;
    scv2_server_handshake *shs = NULL;
    memset(p, 0, sizeof *p);
    if ((st = scv2_server_new(padding_block, 0, &p->server)) != SCV2_OK) return st;
    if ((st = scv2_server_generate_key(p->server, (const uint8_t *)KEY_ID, strlen(KEY_ID), NOW_MS,
                                       0)) != SCV2_OK)
        return st;
    if ((st = scv2_server_public_key(p->server, (const uint8_t *)KEY_ID, strlen(KEY_ID), pub,
                                     sizeof pub, &pub_len)) != SCV2_OK)
        return st;
    if ((st = scv2_client_config_new(&p->config)) != SCV2_OK) return st;
    if (padding_block != 0 &&
        (st = scv2_client_config_set_padding_block(p->config, padding_block)) != SCV2_OK)
        return st;
    if ((st = scv2_client_config_pin(p->config, (const uint8_t *)KEY_ID, strlen(KEY_ID), pub,
                                     pub_len)) != SCV2_OK)
        return st;
    if ((st = scv2_client_handshake_start(p->config, (const uint8_t *)KEY_ID, strlen(KEY_ID),
                                          (const uint8_t *)"{}", 2, type1, sizeof type1, &type1_len,
                                          &hs)) != SCV2_OK)
        return st;
    st = scv2_server_accept(p->server, type1, type1_len, NOW_MS, &shs);
    if (st == SCV2_OK)
        st = scv2_server_handshake_respond(shs, NULL, 0, expires_at_ms, (const uint8_t *)"app", 3,
                                           type130, sizeof type130, &type130_len, &p->session);
    if (st == SCV2_OK)
        st = scv2_client_handshake_finish(hs, type130, type130_len, NOW_MS, &p->client);
    scv2_server_handshake_free(shs);
    scv2_client_handshake_free(hs);
    return st;
}

#endif

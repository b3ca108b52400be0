/* Several threads sealing from ONE client session and opening on ONE server session at once
 * (pthreads); then two threads racing to open the same envelopes: each is accepted exactly once. */
#include <pthread.h>

#include "common.h"

#define THREADS 4
#define PER_THREAD 250
#define RACE 200

static struct pair P;
static uint64_t seqs[THREADS][PER_THREAD];

struct worker {
    int id;
    unsigned long passed, failed;
};

#define TCHECK(w, cond)                                                                        \
    do {                                                                                       \
        if (cond) (w)->passed++;                                                               \
        else {                                                                                 \
            (w)->failed++;                                                                     \
            fprintf(stderr, "FAIL thread %d %s:%d: %s\n", (w)->id, __FILE__, __LINE__, #cond); \
        }                                                                                      \
    } while (0)

static void *work(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char body[64], answer[64];
        uint8_t env[256], plain[256], resp[256], out[256];
        size_t body_len = (size_t)snprintf(body, sizeof body, "{\"t\":%d,\"i\":%d}", w->id, i);
        size_t answer_len = (size_t)snprintf(answer, sizeof answer, "{\"ok\":%d}", w->id * 1000 + i);
        size_t env_len = 0, plain_len = 0, resp_len = 0, out_len = 0;
        uint64_t cseq = 0, sseq = 0;
        TCHECK(w, scv2_client_seal_request(P.client, (const uint8_t *)CTX, strlen(CTX), (const uint8_t *)body,
                                           body_len, NOW_MS, env, sizeof env, &env_len, &cseq) == SCV2_OK);
        seqs[w->id][i] = cseq;
        TCHECK(w, scv2_server_open_request(P.session, (const uint8_t *)CTX, strlen(CTX), env, env_len, NOW_MS,
                                           plain, sizeof plain, &plain_len, &sseq) == SCV2_OK);
        TCHECK(w, sseq == cseq && plain_len == body_len && memcmp(plain, body, body_len) == 0);
        TCHECK(w, scv2_server_seal_response(P.session, sseq, (const uint8_t *)CTX, strlen(CTX),
                                            (const uint8_t *)answer, answer_len, resp, sizeof resp,
                                            &resp_len) == SCV2_OK);
        TCHECK(w, scv2_client_open_response(P.client, cseq, (const uint8_t *)CTX, strlen(CTX), resp, resp_len,
                                            out, sizeof out, &out_len) == SCV2_OK);
        TCHECK(w, out_len == answer_len && memcmp(out, answer, answer_len) == 0);
    }
    return NULL;
}

static uint8_t race_env[RACE][128];
static size_t race_len[RACE];

struct racer {
    int id;
    int accepted, replayed, other;
};

static void *race(void *arg) {
    struct racer *r = arg;
    for (int i = 0; i < RACE; i++) {
        uint8_t plain[128];
        size_t n = 0;
        uint64_t seq = 0;
        scv2_status st = scv2_server_open_request(P.session, (const uint8_t *)CTX, strlen(CTX), race_env[i],
                                                  race_len[i], NOW_MS, plain, sizeof plain, &n, &seq);
        if (st == SCV2_OK) r->accepted++;
        else if (st == SCV2_REPLAYED) r->replayed++;
        else r->other++;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    pthread_t th[THREADS];
    struct worker ws[THREADS];
    REQUIRE_OK(pair_new(&P, 0, EXPIRES_MS));
    for (int t = 0; t < THREADS; t++) {
        ws[t] = (struct worker){.id = t};
        CHECK(pthread_create(&th[t], NULL, work, &ws[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK(pthread_join(th[t], NULL) == 0);
        g_passed += ws[t].passed;
        g_failed += ws[t].failed;
    }
    /* Every sequence number 1..THREADS*PER_THREAD was used exactly once. */
    {
        uint64_t *all = malloc(sizeof seqs);
        CHECK(all != NULL);
        if (all) {
            memcpy(all, seqs, sizeof seqs);
            qsort(all, THREADS * PER_THREAD, sizeof *all, cmp_u64);
            int ok = 1;
            for (int i = 0; i < THREADS * PER_THREAD; i++) ok &= all[i] == (uint64_t)i + 1;
            CHECK(ok);
            free(all);
        }
    }

    /* Race: two threads open the same RACE envelopes. */
    for (int i = 0; i < RACE; i++) {
        uint64_t seq = 0;
        CHECK_STATUS(scv2_client_seal_request(P.client, (const uint8_t *)CTX, strlen(CTX), (const uint8_t *)"r", 1,
                                              NOW_MS, race_env[i], sizeof race_env[i], &race_len[i], &seq),
                     SCV2_OK);
    }
    {
        struct racer rs[2] = {{.id = 0}, {.id = 1}};
        pthread_t rt[2];
        for (int t = 0; t < 2; t++) CHECK(pthread_create(&rt[t], NULL, race, &rs[t]) == 0);
        for (int t = 0; t < 2; t++) CHECK(pthread_join(rt[t], NULL) == 0);
        CHECK(rs[0].accepted + rs[1].accepted == RACE);
        CHECK(rs[0].replayed + rs[1].replayed == RACE);
        CHECK(rs[0].other + rs[1].other == 0);
    }
    pair_free(&P);
    return report();
}

/* Rebuild the checked-in test vectors (tests/vectors/scv2-x25519.json, converted to flat text by
 * vectors_to_text.py) byte for byte through the C ABI's test-only entry points, and check every
 * negative case's error. Usage: vectors <vectors.txt> */
#include "common.h"

#ifndef SCV2_TEST_VECTORS
#error "build with -DSCV2_TEST_VECTORS against a library built with --features test-vectors"
#endif

struct bytes {
    uint8_t *p;
    size_t n;
};

struct exchange {
    uint64_t seq;
    struct bytes ctx, request, request_envelope, response, response_envelope;
};

struct negative {
    struct bytes kind, stage, ctx, envelope, error; /* strings are NUL-terminated bytes */
    uint64_t seq;
};

struct vcase {
    struct bytes name, key_id, session_id;
    struct bytes server_static_private, server_static_public, client_ephemeral_private,
        server_ephemeral_private, iv1, kx_payload, kx_envelope, kxr_payload, kxr_envelope;
    uint64_t padding_block, expires_at_ms, now_ms;
    struct exchange *x;
    size_t nx;
    struct negative *neg;
    size_t nneg;
};

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decode a hex token ("-" is empty); the buffer is NUL-terminated for string use. */
static int unhex(const char *s, struct bytes *b) {
    size_t len = strcmp(s, "-") == 0 ? 0 : strlen(s);
    if (len % 2) return -1;
    b->n = len / 2;
    b->p = malloc(b->n + 1);
    if (!b->p) return -1;
    for (size_t i = 0; i < b->n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        b->p[i] = (uint8_t)(hi * 16 + lo);
    }
    b->p[b->n] = 0;
    return 0;
}

static void bfree(struct bytes *b) {
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static void case_free(struct vcase *c) {
    struct bytes *all[] = {&c->name, &c->key_id, &c->session_id, &c->server_static_private,
                           &c->server_static_public, &c->client_ephemeral_private,
                           &c->server_ephemeral_private, &c->iv1, &c->kx_payload, &c->kx_envelope,
                           &c->kxr_payload, &c->kxr_envelope};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(all[i]);
    for (size_t i = 0; i < c->nx; i++) {
        bfree(&c->x[i].ctx);
        bfree(&c->x[i].request);
        bfree(&c->x[i].request_envelope);
        bfree(&c->x[i].response);
        bfree(&c->x[i].response_envelope);
    }
    for (size_t i = 0; i < c->nneg; i++) {
        bfree(&c->neg[i].kind);
        bfree(&c->neg[i].stage);
        bfree(&c->neg[i].ctx);
        bfree(&c->neg[i].envelope);
        bfree(&c->neg[i].error);
    }
    free(c->x);
    free(c->neg);
    memset(c, 0, sizeof *c);
}

static int set_field(struct vcase *c, const char *k, const char *v) {
    struct {
        const char *name;
        struct bytes *b;
    } hex[] = {{"server_static_private", &c->server_static_private},
               {"server_static_public", &c->server_static_public},
               {"client_ephemeral_private", &c->client_ephemeral_private},
               {"server_ephemeral_private", &c->server_ephemeral_private},
               {"iv1", &c->iv1},
               {"kx_payload", &c->kx_payload},
               {"kx_envelope", &c->kx_envelope},
               {"kxr_payload", &c->kxr_payload},
               {"kxr_envelope", &c->kxr_envelope},
               {"key_id", &c->key_id},
               {"session_id", &c->session_id}};
    for (size_t i = 0; i < sizeof hex / sizeof *hex; i++)
        if (strcmp(k, hex[i].name) == 0) return unhex(v, hex[i].b);
    if (strcmp(k, "padding_block") == 0) c->padding_block = strtoull(v, NULL, 10);
    else if (strcmp(k, "expires_at_ms") == 0) c->expires_at_ms = strtoull(v, NULL, 10);
    else if (strcmp(k, "now_ms") == 0) c->now_ms = strtoull(v, NULL, 10);
    else return -1;
    return 0;
}

static int same(const uint8_t *a, size_t an, const struct bytes *b) {
    return an == b->n && (an == 0 || memcmp(a, b->p, an) == 0);
}

static int status_is(scv2_status st, const struct bytes *name) {
    return strcmp(scv2_status_str(st), (const char *)name->p) == 0;
}

/* Start the client handshake of case c (fixed ephemeral, iv1). */
static scv2_status start(const struct vcase *c, const scv2_client_config *cfg, uint8_t *out, size_t cap,
                         size_t *out_len, scv2_client_handshake **hs) {
    return scv2_client_handshake_start_for_test_vectors(
        cfg, c->key_id.p, c->key_id.n, c->kx_payload.p, c->kx_payload.n, c->client_ephemeral_private.p,
        c->client_ephemeral_private.n, c->iv1.p, c->iv1.n, out, cap, out_len, hs);
}

static void run_case(const struct vcase *c) {
    scv2_server *server = NULL;
    scv2_client_config *cfg = NULL;
    scv2_client_handshake *hs = NULL;
    scv2_server_handshake *shs = NULL;
    scv2_client_session *client = NULL, *client2 = NULL;
    scv2_server_session *session = NULL;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t cap = 4096, n = 0, m = 0;
    uint64_t maxseq = 0, maxneg = 0;
    unsigned long failed_before = g_failed;

    for (size_t i = 0; i < c->nx; i++) {
        size_t need = c->x[i].request_envelope.n + c->x[i].response_envelope.n + 64;
        if (c->x[i].seq > maxseq) maxseq = c->x[i].seq;
        if (need > cap) cap = need;
    }
    for (size_t i = 0; i < c->nneg; i++) {
        if (c->neg[i].envelope.n + 64 > cap) cap = c->neg[i].envelope.n + 64;
        if (strcmp((const char *)c->neg[i].stage.p, "response") == 0 && c->neg[i].seq > maxneg)
            maxneg = c->neg[i].seq;
    }
    if (c->kx_envelope.n + c->kxr_envelope.n + 64 > cap) cap = c->kx_envelope.n + c->kxr_envelope.n + 64;
    buf = malloc(cap);
    buf2 = malloc(cap);
    CHECK(buf && buf2);
    if (!buf || !buf2) goto done;

    CHECK_STATUS(scv2_server_new((size_t)c->padding_block, 0, &server), SCV2_OK);
    CHECK_STATUS(scv2_server_add_key(server, c->key_id.p, c->key_id.n, c->server_static_private.p,
                                     c->server_static_private.n, 0, 0), SCV2_OK);
    CHECK_STATUS(scv2_server_public_key(server, c->key_id.p, c->key_id.n, buf, cap, &n), SCV2_OK);
    CHECK(same(buf, n, &c->server_static_public));
    CHECK_STATUS(scv2_client_config_new(&cfg), SCV2_OK);
    CHECK_STATUS(scv2_client_config_set_padding_block(cfg, (size_t)c->padding_block), SCV2_OK);
    CHECK_STATUS(scv2_client_config_pin(cfg, c->key_id.p, c->key_id.n, c->server_static_public.p,
                                        c->server_static_public.n), SCV2_OK);

    /* Handshake, byte for byte. */
    CHECK_STATUS(start(c, cfg, buf, cap, &n, &hs), SCV2_OK);
    CHECK(same(buf, n, &c->kx_envelope));
    CHECK(n == scv2_type1_len(c->key_id.n, c->kx_payload.n, (size_t)c->padding_block));
    CHECK_STATUS(scv2_server_accept(server, c->kx_envelope.p, c->kx_envelope.n, c->now_ms, &shs), SCV2_OK);
    CHECK_STATUS(scv2_server_handshake_payload(shs, buf, cap, &n), SCV2_OK);
    CHECK(same(buf, n, &c->kx_payload));
    CHECK_STATUS(scv2_server_handshake_respond_for_test_vectors(
                     shs, c->session_id.p, c->session_id.n, c->expires_at_ms, c->kxr_payload.p, c->kxr_payload.n,
                     c->server_ephemeral_private.p, c->server_ephemeral_private.n, buf, cap, &n, &session),
                 SCV2_OK);
    CHECK(same(buf, n, &c->kxr_envelope));
    CHECK_STATUS(scv2_client_handshake_finish(hs, c->kxr_envelope.p, c->kxr_envelope.n, c->now_ms, &client),
                 SCV2_OK);
    if (!client || !session) goto done;
    CHECK_STATUS(scv2_client_session_app_payload(client, buf, cap, &n), SCV2_OK);
    CHECK(same(buf, n, &c->kxr_payload));
    CHECK_STATUS(scv2_client_session_id(client, buf, cap, &n), SCV2_OK);
    CHECK(same(buf, n, &c->session_id));

    /* The client seals in increasing seq order (a filler request for any seq not listed). */
    for (uint64_t s = 1; s <= maxseq; s++) {
        const struct exchange *x = NULL;
        uint64_t seq = 0;
        for (size_t i = 0; i < c->nx; i++)
            if (c->x[i].seq == s) x = &c->x[i];
        if (x) {
            CHECK_STATUS(scv2_client_seal_request(client, x->ctx.p, x->ctx.n, x->request.p, x->request.n, c->now_ms,
                                                  buf, cap, &n, &seq), SCV2_OK);
            CHECK(same(buf, n, &x->request_envelope));
        } else {
            CHECK_STATUS(scv2_client_seal_request(client, NULL, 0, NULL, 0, c->now_ms, buf, cap, &n, &seq), SCV2_OK);
        }
        CHECK(seq == s);
    }
    /* The server opens and answers in the listed order; the client opens the answers. */
    for (size_t i = 0; i < c->nx; i++) {
        const struct exchange *x = &c->x[i];
        uint64_t seq = 0;
        CHECK_STATUS(scv2_server_open_request(session, x->ctx.p, x->ctx.n, x->request_envelope.p,
                                              x->request_envelope.n, c->now_ms, buf, cap, &n, &seq), SCV2_OK);
        CHECK(seq == x->seq && same(buf, n, &x->request));
        CHECK_STATUS(scv2_server_seal_response(session, seq, x->ctx.p, x->ctx.n, x->response.p, x->response.n, buf,
                                               cap, &n), SCV2_OK);
        CHECK(same(buf, n, &x->response_envelope));
        CHECK_STATUS(scv2_client_open_response(client, x->seq, x->ctx.p, x->ctx.n, x->response_envelope.p,
                                               x->response_envelope.n, buf, cap, &n), SCV2_OK);
        CHECK(same(buf, n, &x->response));
    }

    /* A second client session (same handshake inputs) with requests 1..maxneg outstanding, for the
     * response-stage negatives. */
    if (maxneg > 0) {
        scv2_client_handshake *h2 = NULL;
        CHECK_STATUS(start(c, cfg, buf, cap, &n, &h2), SCV2_OK);
        CHECK_STATUS(scv2_client_handshake_finish(h2, c->kxr_envelope.p, c->kxr_envelope.n, c->now_ms, &client2),
                     SCV2_OK);
        scv2_client_handshake_free(h2);
        for (uint64_t s = 1; client2 && s <= maxneg; s++) {
            uint64_t seq = 0;
            CHECK_STATUS(scv2_client_seal_request(client2, NULL, 0, NULL, 0, c->now_ms, buf, cap, &n, &seq), SCV2_OK);
        }
    }

    for (size_t i = 0; i < c->nneg; i++) {
        const struct negative *g = &c->neg[i];
        const char *stage = (const char *)g->stage.p;
        scv2_status st = SCV2_OK;
        uint64_t seq = 0;
        if (strcmp(stage, "kx") == 0) {
            scv2_server_handshake *x = NULL;
            st = scv2_server_accept(server, g->envelope.p, g->envelope.n, c->now_ms, &x);
            scv2_server_handshake_free(x);
        } else if (strcmp(stage, "kxr") == 0) {
            scv2_client_handshake *h = NULL;
            scv2_client_session *s = NULL;
            CHECK_STATUS(start(c, cfg, buf2, cap, &m, &h), SCV2_OK);
            st = scv2_client_handshake_finish(h, g->envelope.p, g->envelope.n, c->now_ms, &s);
            scv2_client_session_free(s);
            scv2_client_handshake_free(h);
        } else if (strcmp(stage, "request") == 0) {
            st = scv2_server_open_request(session, g->ctx.p, g->ctx.n, g->envelope.p, g->envelope.n, c->now_ms, buf,
                                          cap, &n, &seq);
        } else if (strcmp(stage, "response") == 0) {
            st = scv2_client_open_response(client2, g->seq, g->ctx.p, g->ctx.n, g->envelope.p, g->envelope.n, buf,
                                           cap, &n);
        } else {
            fprintf(stderr, "unknown stage %s\n", stage);
        }
        if (status_is(st, &g->error)) {
            g_passed++;
        } else {
            g_failed++;
            fprintf(stderr, "FAIL negative %s/%s/%s: got %s, expected %s\n", (const char *)c->name.p, stage,
                    (const char *)g->kind.p, scv2_status_str(st), (const char *)g->error.p);
        }
    }

done:
    printf("%s case %s (%zu exchanges, %zu negatives)\n", g_failed == failed_before ? "ok  " : "FAIL",
           c->name.p ? (const char *)c->name.p : "?", c->nx, c->nneg);
    scv2_client_session_free(client2);
    scv2_client_session_free(client);
    scv2_server_session_free(session);
    scv2_server_handshake_free(shs);
    scv2_client_handshake_free(hs);
    scv2_client_config_free(cfg);
    scv2_server_free(server);
    free(buf);
    free(buf2);
}

int main(int argc, char **argv) {
    FILE *f;
    char *line = NULL;
    size_t line_cap = 0;
    struct vcase c;
    int cases = 0, in_case = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s vectors.txt\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        g_failed++;
        return report();
    }
    memset(&c, 0, sizeof c);
    while (getline(&line, &line_cap, f) > 0) {
        char *save = NULL, *tok[8] = {0};
        int nt = 0;
        line[strcspn(line, "\r\n")] = 0;
        for (char *t = strtok_r(line, " ", &save); t && nt < 8; t = strtok_r(NULL, " ", &save)) tok[nt++] = t;
        if (nt == 0) continue;
        if (strcmp(tok[0], "case") == 0 && nt == 2) {
            memset(&c, 0, sizeof c);
            in_case = unhex(tok[1], &c.name) == 0;
            CHECK(in_case);
        } else if (strcmp(tok[0], "f") == 0 && nt == 3 && in_case) {
            CHECK(set_field(&c, tok[1], tok[2]) == 0);
        } else if (strcmp(tok[0], "x") == 0 && nt == 7 && in_case) {
            struct exchange *nx = realloc(c.x, (c.nx + 1) * sizeof *c.x);
            CHECK(nx != NULL);
            if (!nx) break;
            c.x = nx;
            memset(&c.x[c.nx], 0, sizeof *c.x);
            c.x[c.nx].seq = strtoull(tok[1], NULL, 10);
            CHECK(unhex(tok[2], &c.x[c.nx].ctx) == 0 && unhex(tok[3], &c.x[c.nx].request) == 0 &&
                  unhex(tok[4], &c.x[c.nx].request_envelope) == 0 && unhex(tok[5], &c.x[c.nx].response) == 0 &&
                  unhex(tok[6], &c.x[c.nx].response_envelope) == 0);
            c.nx++;
        } else if (strcmp(tok[0], "n") == 0 && nt == 7 && in_case) {
            struct negative *ng = realloc(c.neg, (c.nneg + 1) * sizeof *c.neg);
            CHECK(ng != NULL);
            if (!ng) break;
            c.neg = ng;
            memset(&c.neg[c.nneg], 0, sizeof *c.neg);
            c.neg[c.nneg].seq = strtoull(tok[3], NULL, 10);
            CHECK(unhex(tok[1], &c.neg[c.nneg].kind) == 0 && unhex(tok[2], &c.neg[c.nneg].stage) == 0 &&
                  unhex(tok[4], &c.neg[c.nneg].ctx) == 0 && unhex(tok[5], &c.neg[c.nneg].envelope) == 0 &&
                  unhex(tok[6], &c.neg[c.nneg].error) == 0);
            c.nneg++;
        } else if (strcmp(tok[0], "end") == 0 && in_case) {
            run_case(&c);
            case_free(&c);
            in_case = 0;
            cases++;
        } else {
            fprintf(stderr, "bad line starting with %s\n", tok[0]);
            g_failed++;
        }
    }
    free(line);
    fclose(f);
    if (in_case) case_free(&c);
    CHECK(cases > 0);
    printf("%d cases\n", cases);
    return report();
}

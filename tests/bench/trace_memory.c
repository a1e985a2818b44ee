/*
 * trace_memory.c - what the trace store's memory figure says, against what
 * glibc's allocator says is in use (no Redis).
 *
 * Builds N transactions of a command and its result shaped like the bench's
 * (tests/bench/fill.c: uuid ids, tx "tx-<16 hex>", corr "<tx>.<step>", a
 * worker and step from a few names, a reported duration, payload sizes),
 * 10 % of them failures with an error type and message, in a trace store
 * with the agent's default caps, and prints
 *
 *   trace-memory: N transactions, estimate E bytes/transaction, glibc in use G bytes/transaction
 *
 * E is trace_store_heap_bytes (the figure /metrics, the summary and
 * run.sh report: 16 bytes counted per allocation); G is mallinfo2's
 * uordblks difference (what the allocator really hands out, its own
 * headers included). E >= G means the reported figure does not flatter.
 *
 * Usage: bench-trace-memory [N]   (default 100000)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/trace_store.h"
#include "proto/event_internal.h" /* bm_event_reset */

static bm_event mk(bm_event_type type, const char *tx, const char *id, int64_t ts)
{
    bm_event e;
    bm_event_reset(&e); /* nothing decoded: strings "", numbers absent */
    e.type = type;
    e.id = id;
    e.tx = tx;
    e.ts_us = ts;
    return e;
}

static void uuid(uint64_t *rng, char out[37])
{
    uint64_t a = (*rng = *rng * 6364136223846793005ull + 1442695040888963407ull);
    uint64_t b = (*rng = *rng * 6364136223846793005ull + 1442695040888963407ull);
    snprintf(out, 37, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 52),
             (unsigned long long)(b & 0xffffffffffffull));
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n < 1 || n > 10000000) {
        fprintf(stderr, "usage: bench-trace-memory [N]   (N: 1-10000000 transactions)\n");
        return 2;
    }
    static const char *workers[] = {"fast-worker-1", "fast-worker-2", "slow-worker-1",
                                    "slow-worker-2", "flaky-worker",  "enrich-worker"};
    static const char *steps[] = {"extract", "transform", "load", "enrich", "notify"};
    trace_store_limits lim = {(size_t)n, 512, 0};
    trace_store *s = trace_store_new(&lim);
    if (!s) return 1;
    struct mallinfo2 before = mallinfo2();
    size_t h0 = trace_store_heap_bytes(s);
    uint64_t rng = 42;
    char tx[32], id1[37], id2[37], corr[64];
    for (long i = 0; i < n; i++) {
        snprintf(tx, sizeof tx, "tx-%016llx",
                 (unsigned long long)(rng = rng * 6364136223846793005ull + 1));
        uuid(&rng, id1);
        uuid(&rng, id2);
        const char *w = workers[i % 6], *st = steps[i % 5];
        snprintf(corr, sizeof corr, "%s.%s", tx, st);
        bm_event c = mk(BM_EV_COMMAND, tx, id1, 1000000 + i);
        c.worker = w;
        c.step = st;
        c.corr = corr;
        c.payload_bytes = 38;
        bm_event r = mk(i % 10 == 9 ? BM_EV_ERROR : BM_EV_RESULT, tx, id2, 1002000 + i);
        r.worker = w;
        r.step = st;
        r.corr = corr;
        r.cmd = id1;
        r.duration_us = 2000 + i % 5000;
        if (r.type == BM_EV_ERROR) {
            r.error_type = "TimeoutError";
            r.error_message = "upstream did not answer within 30 s";
        } else {
            r.ok = 1;
            r.payload_bytes = 24;
        }
        if (trace_store_apply(s, &c, 1, NULL, NULL) != TRACE_STORE_APPLIED ||
            trace_store_apply(s, &r, 1, NULL, NULL) != TRACE_STORE_APPLIED) {
            fprintf(stderr, "bench-trace-memory: transaction %ld not applied\n", i);
            return 1;
        }
    }
    struct mallinfo2 after = mallinfo2();
    double est = (double)(trace_store_heap_bytes(s) - h0) / (double)n;
    if (after.uordblks > before.uordblks)
        printf("trace-memory: %ld transactions, estimate %.1f bytes/transaction, glibc in use %.1f "
               "bytes/transaction\n",
               n, est, (double)(after.uordblks - before.uordblks) / (double)n);
    else /* another allocator (a sanitizer's): mallinfo2 does not see it */
        printf(
            "trace-memory: %ld transactions, estimate %.1f bytes/transaction, glibc in use n/a\n",
            n, est);
    trace_store_free(s);
    return 0;
}

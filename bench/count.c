/* count.c (acms-bench-count): counts the messages of a topic (every partition, from the beginning, or
 * from the current end with --from-end) until --expect distinct keys were seen or --timeout-s passed,
 * and measures the rate at which they were produced from their broker timestamps (CreateTime: when
 * the producing service handed them to its client):
 *   {"count":N,"unique":U,"first_ms":..,"last_ms":..,"events_per_s":(U-1)/(last-first)}
 * Exit 0 when unique == expect. Keys are run ids, so unique counts distinct runs (a redelivery under
 * at-least-once shows as count > unique). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

typedef struct keyset {
    uint64_t *slot; /* 0 = empty; hashes of keys */
    size_t cap, n;
} keyset;

static uint64_t hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* 1 when the key is new. A 64-bit hash collision would undercount by one: negligible here. */
static int keyset_add(keyset *k, uint64_t h)
{
    if ((k->n + 1) * 2 > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1 << 16;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            abort();
        for (size_t i = 0; i < k->cap; i++)
            if (k->slot[i])
                for (size_t j = k->slot[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!s[j]) {
                        s[j] = k->slot[i];
                        break;
                    }
        free(k->slot);
        k->slot = s;
        k->cap = cap;
    }
    for (size_t j = h & (k->cap - 1);; j = (j + 1) & (k->cap - 1)) {
        if (k->slot[j] == h)
            return 0;
        if (!k->slot[j]) {
            k->slot[j] = h;
            k->n++;
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    const char *topic = NULL;
    size_t expect = 0;
    double timeout_s = 120;
    int from_end = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--topic"))
            topic = v, i++;
        else if (!strcmp(argv[i], "--expect"))
            expect = strtoul(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--timeout-s"))
            timeout_s = atof(v), i++;
        else if (!strcmp(argv[i], "--from-end"))
            from_end = 1;
    }
    const char *brokers = getenv("ACMS_KAFKA_BROKERS");
    if (!topic || !expect || !brokers) {
        fprintf(stderr, "usage: ACMS_KAFKA_BROKERS=.. acms-bench-count --topic T --expect N [--timeout-s S] [--from-end]\n");
        return 2;
    }
    rd_kafka_t *rk = bench_consumer(brokers, topic, from_end);
    if (!rk)
        return 1;
    keyset ks = {0};
    size_t count = 0;
    int64_t first = -1, last = -1, deadline = bench_now_us() + (int64_t)(timeout_s * 1e6);
    while (ks.n < expect && bench_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            int64_t ts = rd_kafka_message_timestamp(m, NULL);
            count++;
            keyset_add(&ks, hash(m->key, m->key_len));
            if (first < 0 || ts < first)
                first = ts;
            if (ts > last)
                last = ts;
        }
        rd_kafka_message_destroy(m);
    }
    double secs = last > first ? (double)(last - first) / 1000.0 : 0;
    printf("{\"topic\":\"%s\",\"expect\":%zu,\"count\":%zu,\"unique\":%zu,\"first_ms\":%lld,\"last_ms\":%lld,"
           "\"seconds\":%.3f,\"events_per_s\":%.1f}\n",
           topic, expect, count, ks.n, (long long)first, (long long)last, secs,
           secs > 0 ? (double)(ks.n - 1) / secs : 0.0);
    bench_consumer_close(rk);
    free(ks.slot);
    return ks.n == expect ? 0 : 1;
}

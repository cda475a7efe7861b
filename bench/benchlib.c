/* benchlib.c: shared pieces of the bench programs (see benchlib.h). The generator writes documents
 * that the example "dev" environment accepts without errors, so every bench measures the path a
 * good configuration takes; the same seed always gives the same text. */
#include "benchlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/adapter.h"
#include "doc.h"
#include "profile.h"
#include "strbuf.h"

/* --- a growing string ------------------------------------------------------------------------ */

typedef acms_strbuf sbuf;

/* Appends printf output; a generator has no use for a partial text: out of memory aborts. */
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = acms_strbuf_vaddf(b, fmt, ap);
    va_end(ap);
    if (rc != ACMS_OK)
        abort();
}

/* --- the generator ----------------------------------------------------------------------------- */

uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

typedef struct step_kind {
    const char *prefix, *type, *instance;
    unsigned runtime_s;
} step_kind;

static const step_kind kinds[] = {
    {"extract", "processing", "ml.m5.large", 600},  {"clean", "processing", "ml.c5.xlarge", 900},
    {"transform", "transform", "ml.c5.large", 600}, {"features", "processing", "ml.m5.xlarge", 1200},
    {"train", "training", "ml.m5.xlarge", 1800},    {"evaluate", "evaluation", "ml.t3.medium", 300},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* Kind of step i of n: the first extracts, the last evaluates, training near the end. */
static const step_kind *kind_of(size_t i, size_t n, uint64_t *rs)
{
    if (i == 0)
        return &kinds[0];
    if (i == n - 1)
        return &kinds[5];
    if (i == n - 2)
        return &kinds[4];
    return &kinds[1 + bench_rand(rs) % 3];
}

/* Emits one key/value in JSON ("k":v) or YAML block style inside a step ("      k: v"). */
static void kv(sbuf *b, int json, int *first, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void kv(sbuf *b, int json, int *first, const char *key, const char *fmt, ...)
{
    char val[512];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof val)
        abort();
    if (json)
        sb_printf(b, "%s\"%s\":%s", *first ? "" : ",", key, val);
    else
        sb_printf(b, "%s%s: %s\n", *first ? "    - " : "      ", key, val);
    *first = 0;
}

static void realistic_step(sbuf *b, int json, size_t i, size_t n, uint64_t *rs, char (*names)[32])
{
    const step_kind *k = kind_of(i, n, rs);
    int first = 1;
    snprintf(names[i], sizeof names[i], "%s-%zu", k->prefix, i);
    if (json)
        sb_printf(b, "%s{", i ? "," : "");
    kv(b, json, &first, "name", "\"%s\"", names[i]);
    kv(b, json, &first, "type", "\"%s\"", k->type);
    kv(b, json, &first, "command", "[\"sh\", \"-c\", \"echo %s %zu\"]", k->prefix, i);
    kv(b, json, &first, "instance_type", "\"%s\"", k->instance);
    kv(b, json, &first, "instance_count", "1");
    kv(b, json, &first, "max_runtime_s", "%u", k->runtime_s);
    kv(b, json, &first, "output_path", "\"s3://acme-ml/bench/%s\"", names[i]);
    if (bench_rand(rs) % 2)
        kv(b, json, &first, "env", "{\"ROWS\": \"%u\"}", (unsigned)(1000 + bench_rand(rs) % 9000));
    if (i > 0) {
        /* one or two dependencies among the earlier steps (the previous one keeps it connected) */
        char deps[128];
        size_t other = (size_t)(bench_rand(rs) % i);
        if (other != i - 1 && bench_rand(rs) % 2)
            snprintf(deps, sizeof deps, "[\"%s\", \"%s\"]", names[i - 1], names[other]);
        else
            snprintf(deps, sizeof deps, "[\"%s\"]", names[i - 1]);
        kv(b, json, &first, "depends_on", "%s", deps);
    }
    kv(b, json, &first, "tags", "{\"owner\": \"bench\"}");
    if (json)
        sb_printf(b, "}");
}

static void tree_step(sbuf *b, int json, size_t i)
{
    int first = 1;
    if (json)
        sb_printf(b, "%s{", i ? "," : "");
    kv(b, json, &first, "name", "\"s%zu\"", i);
    kv(b, json, &first, "type", "\"processing\"");
    kv(b, json, &first, "command", "[\"true\"]");
    kv(b, json, &first, "instance_type", "\"ml.t3.medium\"");
    kv(b, json, &first, "max_runtime_s", "60");
    kv(b, json, &first, "output_path", "\"s3://acme-ml/bench/tree/s%zu\"", i);
    if (i > 0)
        kv(b, json, &first, "depends_on", "[\"s%zu\"]", (i - 1) / 2);
    if (json)
        sb_printf(b, "}");
}

char *bench_pipeline(size_t nsteps, uint64_t seed, int json, bench_shape shape, int max_parallel)
{
    sbuf b = ACMS_STRBUF_INIT;
    uint64_t rs = seed * 0x9E3779B97F4A7C15ULL + 1;
    char (*names)[32] = calloc(nsteps ? nsteps : 1, sizeof *names);
    char pname[64];
    if (!names)
        abort();
    if (shape == BENCH_SHAPE_TREE)
        snprintf(pname, sizeof pname, "bench-tree-%zu", nsteps);
    else
        snprintf(pname, sizeof pname, "bench-%llu", (unsigned long long)(seed % 1000));
    if (json) {
        sb_printf(&b, "{\"apiVersion\":\"acms/v1\",\"kind\":\"Pipeline\",\"metadata\":{\"name\":\"%s\","
                      "\"labels\":{\"team\":\"bench\"}},\"spec\":{",
                  pname);
        if (max_parallel > 0)
            sb_printf(&b, "\"max_parallel\":%d,", max_parallel);
        sb_printf(&b, "\"steps\":[");
    } else {
        sb_printf(&b, "apiVersion: acms/v1\nkind: Pipeline\nmetadata:\n  name: %s\n  labels: {team: bench}\nspec:\n",
                  pname);
        if (max_parallel > 0)
            sb_printf(&b, "  max_parallel: %d\n", max_parallel);
        sb_printf(&b, "  steps:\n");
    }
    for (size_t i = 0; i < nsteps; i++) {
        if (shape == BENCH_SHAPE_TREE)
            tree_step(&b, json, i);
        else
            realistic_step(&b, json, i, nsteps, &rs, names);
    }
    if (json)
        sb_printf(&b, "]}}");
    free(names);
    return acms_strbuf_detach(&b, NULL);
}

/* --- time and statistics ----------------------------------------------------------------------- */

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)rank;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (rank - (double)lo);
}

double bench_median(double *v, size_t n)
{
    return bench_percentile(v, n, 50);
}

/* --- librdkafka helpers ------------------------------------------------------------------------ */

static int set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

rd_kafka_t *bench_producer(const char *brokers, int linger_ms,
                           void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque), void *opaque)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char linger[16], err[256];
    snprintf(linger, sizeof linger, "%d", linger_ms);
    if (set(c, "bootstrap.servers", brokers) || set(c, "linger.ms", linger) ||
        set(c, "queue.buffering.max.messages", "1000000") || set(c, "queue.buffering.max.kbytes", "1048576") ||
        set(c, "batch.num.messages", "10000") || set(c, "enable.idempotence", "true")) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    if (dr)
        rd_kafka_conf_set_dr_msg_cb(c, dr);
    rd_kafka_conf_set_opaque(c, opaque);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench: producer: %s\n", err);
        rd_kafka_conf_destroy(c);
    }
    return rk;
}

int bench_partitions(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    for (int attempt = 0; attempt < 50 && n < 0; attempt++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
                n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n < 0) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    rd_kafka_topic_destroy(t);
    return n;
}

rd_kafka_t *bench_consumer(const char *brokers, const char *topic, int from_end)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    if (set(c, "bootstrap.servers", brokers) || set(c, "group.id", "acms-bench-reader") ||
        set(c, "enable.auto.commit", "false") || set(c, "fetch.wait.max.ms", "5") ||
        set(c, "fetch.error.backoff.ms", "5") || set(c, "enable.partition.eof", "false")) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench: consumer: %s\n", err);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    int np = bench_partitions(rk, topic);
    if (np <= 0) {
        fprintf(stderr, "bench: topic %s: no metadata\n", topic);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            from_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        fprintf(stderr, "bench: assign %s: %s\n", topic, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

void bench_consumer_close(rd_kafka_t *rk)
{
    if (!rk)
        return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* --- pre-packed events --------------------------------------------------------------------------- */

static uint8_t *pack_arena(acms_arena *a, const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf = NULL;
    if (acms_pb_pack(m, &buf, len) != ACMS_OK)
        return NULL;
    (void)a;
    return buf;
}

int bench_templates_build(bench_templates *t, size_t n, int prepared, const char *config_dir, const char *env)
{
    acms_profiles prof;
    char err[512];
    size_t total = 0;
    int have_prof = 0, rc = -1;
    memset(t, 0, sizeof *t);
    t->body = calloc(n, sizeof *t->body);
    t->len = calloc(n, sizeof *t->len);
    if (!t->body || !t->len)
        return -1;
    t->n = n;
    if (prepared) {
        if (acms_profiles_load(&prof, config_dir, err, sizeof err) != ACMS_OK) {
            fprintf(stderr, "bench: %s: %s\n", config_dir, err);
            return -1;
        }
        have_prof = 1;
    }
    for (size_t i = 0; i < n; i++) {
        acms_arena *a = acms_arena_new(0);
        char *text = bench_pipeline(5 + i % 6, 1000 + i, 1, BENCH_SHAPE_REALISTIC, 0);
        Acms__V1__Value **docs = NULL;
        size_t ndocs = 0;
        if (acms_doc_parse(a, text, strlen(text), &docs, &ndocs, err, sizeof err) != ACMS_OK || ndocs != 1) {
            fprintf(stderr, "bench: generated document %zu: %s\n", i, err);
            free(text);
            acms_arena_free(a);
            goto out;
        }
        free(text);
        Acms__V1__ConfigSubmitted *cs = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
        cs->environment = (char *)env;
        cs->document = docs[0];
        cs->source_name = acms_arena_printf(a, "bench-%zu.json", i);
        if (!prepared) {
            t->body[i] = pack_arena(a, &cs->base, &t->len[i]);
        } else {
            adapter_ctx actx = {.profiles = &prof, .redis = NULL, .check_secrets = 0};
            acms_issues is;
            Acms__V1__RuntimeConfiguration *rc_out = NULL;
            acms_issues_init(&is, a, "syntax");
            cs->meta = acms_meta_new(a, "bench", "acms-bench", NULL, NULL, NULL);
            if (adapter_prepare(&actx, a, cs, &rc_out, &is) != ACMS_OK) {
                fprintf(stderr, "bench: generated document %zu cannot be prepared for %s\n", i, env);
                acms_arena_free(a);
                goto out;
            }
            Acms__V1__ConfigPrepared *cp = acms_pb_new(a, &acms__v1__config_prepared__descriptor);
            cp->runtime = rc_out;
            cp->document = docs[0];
            t->body[i] = pack_arena(a, &cp->base, &t->len[i]);
        }
        acms_arena_free(a);
        if (!t->body[i])
            goto out;
        total += t->len[i];
    }
    t->avg_event_bytes = total / n + 120; /* + the meta */
    rc = 0;
out:
    if (have_prof)
        acms_profiles_release(&prof);
    return rc;
}

void bench_templates_free(bench_templates *t)
{
    for (size_t i = 0; t->body && i < t->n; i++)
        free(t->body[i]);
    free(t->body);
    free(t->len);
    memset(t, 0, sizeof *t);
}

uint8_t *bench_event(const bench_templates *t, size_t i, const char *run_id, size_t *len)
{
    acms_arena *a = acms_arena_new(4096);
    Acms__V1__ConfigSubmitted *m = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    uint8_t *meta = NULL, *out = NULL;
    size_t mlen = 0, k = i % t->n;
    m->meta = acms_meta_new(a, run_id, "acms-bench", NULL, NULL, NULL);
    if (acms_pb_pack(&m->base, &meta, &mlen) == ACMS_OK && (out = malloc(mlen + t->len[k])) != NULL) {
        memcpy(out, meta, mlen);
        memcpy(out + mlen, t->body[k], t->len[k]);
        *len = mlen + t->len[k];
    }
    free(meta);
    acms_arena_free(a);
    return out;
}

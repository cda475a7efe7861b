/* topics.c: the topic spec parser (topics.h). The document goes through the one YAML/JSON parser
 * (doc.h); values are checked here, each error naming the file, the line and the key. */
#include "topics.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "pb.h"

static const char *const KEYS[] = {"name",         "partitions",     "replication",      "min_insync_replicas",
                                   "retention_ms", "cleanup_policy", "max_message_bytes"};

static int fail(char *errstr, size_t size, const char *path, const Acms__V1__Value *v, const char *fmt,
                const char *what)
{
    snprintf(errstr, size, "%s: line %u: %s%s", path, v ? v->line : 0, what ? what : "", fmt);
    return ACMS_ERR_INVALID;
}

/* An integer in [lo, hi] from a number value. */
static int get_int(const Acms__V1__Value *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!acms_value_is(v, ACMS__V1__VALUE__KIND_NUMBER_VALUE))
        return -1;
    double d = v->number_value;
    if (d != floor(d) || d < (double)lo || d > (double)hi)
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* Applies the keys of map m onto t (defaults or one topic). */
static int apply_keys(acms_topic_spec *t, const Acms__V1__Value *m, int named, const char *path, char *errstr,
                      size_t size)
{
    if (!acms_value_is(m, ACMS__V1__VALUE__KIND_MAP_VALUE))
        return fail(errstr, size, path, m, " must be a map", named ? "a topic" : "spec.defaults");
    for (size_t i = 0; i < m->map_value->n_entries; i++) {
        const char *k = m->map_value->entries[i]->key;
        const Acms__V1__Value *v = m->map_value->entries[i]->value;
        size_t j;
        int64_t x = 0;

        for (j = named ? 0 : 1; j < sizeof KEYS / sizeof *KEYS && strcmp(k, KEYS[j]); j++)
            ;
        if (j == sizeof KEYS / sizeof *KEYS)
            return fail(errstr, size, path, v,
                        ": unknown key (name, partitions, replication, min_insync_replicas, "
                        "retention_ms, cleanup_policy, max_message_bytes)",
                        k);
        if (!strcmp(k, "name") || !strcmp(k, "cleanup_policy")) {
            const char *s = acms_value_str(v);
            char *dst = !strcmp(k, "name") ? t->name : t->cleanup_policy;
            size_t cap = !strcmp(k, "name") ? sizeof t->name : sizeof t->cleanup_policy;
            if (!s || !s[0] || strlen(s) >= cap)
                return fail(errstr, size, path, v, ": a non-empty string expected", k);
            memcpy(dst, s, strlen(s) + 1);
            continue;
        }
        int64_t lo = !strcmp(k, "retention_ms") ? -1 : 1;
        int64_t hi = !strcmp(k, "partitions")                                         ? 10000
                     : !strcmp(k, "replication") || !strcmp(k, "min_insync_replicas") ? 16
                                                                                      : INT64_C(1) << 53;
        if (get_int(v, lo, hi, &x))
            return fail(errstr, size, path, v, ": an integer in range expected", k);
        if (!strcmp(k, "partitions"))
            t->partitions = (int)x;
        else if (!strcmp(k, "replication"))
            t->replication = (int)x;
        else if (!strcmp(k, "min_insync_replicas"))
            t->min_insync_replicas = (int)x;
        else if (!strcmp(k, "retention_ms"))
            t->retention_ms = x;
        else
            t->max_message_bytes = x;
        t->line = v->line;
    }
    return ACMS_OK;
}

/* The invariants of topics.h for one complete entry. */
static int check_entry(const acms_topic_spec *t, const Acms__V1__Value *at, const char *path, char *errstr, size_t size)
{
    char why[160];

    if (!t->name[0])
        return fail(errstr, size, path, at, "a topic without a name", NULL);
    if (strcmp(t->cleanup_policy, "delete") && strcmp(t->cleanup_policy, "compact") &&
        strcmp(t->cleanup_policy, "compact,delete") && strcmp(t->cleanup_policy, "delete,compact"))
        return fail(errstr, size, path, at, ": cleanup_policy must be delete, compact or compact,delete", t->name);
    if (t->max_message_bytes != ACMS_BUS_MAX_BYTES) {
        snprintf(why, sizeof why, ": max_message_bytes is %" PRId64 ", the bus limit built into the services is %d",
                 t->max_message_bytes, ACMS_BUS_MAX_BYTES);
        return fail(errstr, size, path, at, why, t->name);
    }
    if (t->min_insync_replicas > t->replication)
        return fail(errstr, size, path, at, ": min_insync_replicas above replication", t->name);
    return ACMS_OK;
}

static int parse_topics(acms_topics *out, const Acms__V1__Value *doc, const char *path, char *errstr, size_t size)
{
    const Acms__V1__Value *spec = acms_value_get(doc, "spec");
    const Acms__V1__Value *defs = acms_value_get(spec, "defaults"), *list = acms_value_get(spec, "topics");
    acms_topic_spec d = {.partitions = 6,
                         .replication = 1,
                         .min_insync_replicas = 1,
                         .retention_ms = 604800000,
                         .cleanup_policy = "delete",
                         .max_message_bytes = ACMS_BUS_MAX_BYTES};

    if (!acms_doc_kind(doc) || strcmp(acms_doc_kind(doc), "Topics"))
        return fail(errstr, size, path, doc, "not a topic spec (kind: Topics expected)", NULL);
    if (defs && apply_keys(&d, defs, 0, path, errstr, size))
        return ACMS_ERR_INVALID;
    if (!acms_value_is(list, ACMS__V1__VALUE__KIND_LIST_VALUE) || list->list_value->n_values == 0)
        return fail(errstr, size, path, spec ? spec : doc, "spec.topics must be a non-empty list", NULL);
    if (list->list_value->n_values > ACMS_TOPICS_MAX)
        return fail(errstr, size, path, list, "too many topics", NULL);
    out->n = 0;
    for (size_t i = 0; i < list->list_value->n_values; i++) {
        const Acms__V1__Value *e = list->list_value->values[i];
        acms_topic_spec *t = &out->t[out->n];

        *t = d;
        t->name[0] = '\0';
        t->line = e->line;
        if (apply_keys(t, e, 1, path, errstr, size) || check_entry(t, e, path, errstr, size))
            return ACMS_ERR_INVALID;
        if (acms_topics_find(out, t->name))
            return fail(errstr, size, path, e, ": listed twice", t->name);
        out->n++;
    }
    return ACMS_OK;
}

int acms_topics_parse(acms_topics *out, const char *text, size_t len, const char *path, char *errstr,
                      size_t errstr_size)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    char err[256];
    int rc;

    memset(out, 0, sizeof *out);
    rc = acms_doc_parse(a, text, len, &docs, &ndocs, err, sizeof err);
    if (rc != ACMS_OK) {
        snprintf(errstr, errstr_size, "%s: %s", path, err);
        rc = ACMS_ERR_INVALID;
    } else if (ndocs != 1) {
        snprintf(errstr, errstr_size, "%s: one document expected, found %zu", path, ndocs);
        rc = ACMS_ERR_INVALID;
    } else {
        rc = parse_topics(out, docs[0], path, errstr, errstr_size);
    }
    acms_arena_free(a);
    return rc;
}

int acms_topics_load(acms_topics *out, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int rc;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot read the topic spec", path);
        return ACMS_ERR_NOTFOUND;
    }
    buf = malloc(256 * 1024);
    len = buf ? fread(buf, 1, 256 * 1024 - 1, f) : 0;
    fclose(f);
    if (!buf)
        return ACMS_ERR_NOMEM;
    rc = acms_topics_parse(out, buf, len, path, errstr, errstr_size);
    free(buf);
    return rc;
}

void acms_topics_override(acms_topics *ts, int partitions, int replication)
{
    for (size_t i = 0; i < ts->n; i++) {
        if (partitions > 0)
            ts->t[i].partitions = partitions;
        if (replication > 0)
            ts->t[i].replication = replication;
        if (ts->t[i].min_insync_replicas > ts->t[i].replication)
            ts->t[i].min_insync_replicas = ts->t[i].replication;
    }
}

void acms_topics_rename(acms_topics *ts, const acms_cfg *cfg)
{
    for (size_t i = 0; i < ts->n; i++)
        for (int t = 0; t < ACMS_TOPIC__COUNT; t++)
            if (!strcmp(ts->t[i].name, acms_topic_default_name((acms_topic)t))) {
                snprintf(ts->t[i].name, sizeof ts->t[i].name, "%s", acms_cfg_topic(cfg, (acms_topic)t));
                break;
            }
}

const acms_topic_spec *acms_topics_find(const acms_topics *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name))
            return &ts->t[i];
    return NULL;
}

size_t acms_topic_configs(const acms_topic_spec *t, const char *names[4], const char *values[4], char vbuf[4][32])
{
    names[0] = "cleanup.policy";
    values[0] = t->cleanup_policy;
    names[1] = "retention.ms";
    snprintf(vbuf[1], 32, "%" PRId64, t->retention_ms);
    values[1] = vbuf[1];
    names[2] = "max.message.bytes";
    snprintf(vbuf[2], 32, "%" PRId64, t->max_message_bytes);
    values[2] = vbuf[2];
    names[3] = "min.insync.replicas";
    snprintf(vbuf[3], 32, "%d", t->min_insync_replicas);
    values[3] = vbuf[3];
    return 4;
}

/* runid.c: a run named by its full id or by a unique prefix, as git names commits. The full id is
 * looked up first; a prefix of at least RUNID_MIN_PREFIX characters is matched against acms:runs
 * (ZSCAN), keeping only runs whose record still exists (a finished run's keys expire). An ambiguous
 * prefix is an error that lists the candidates, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acmsctl.h"
#include "retention.h"
#include "run_state.h"
#include "keys.h"

#define RUNID_MIN_PREFIX 4
#define RUNID_MAX_LISTED 10

typedef struct candidate {
    char id[256];
    double submitted_ms;
} candidate;

typedef struct matches {
    candidate v[RUNID_MAX_LISTED + 1];
    size_t n;     /* kept in v (at most RUNID_MAX_LISTED + 1: enough to know it is ambiguous) */
    size_t total; /* all matches seen */
} matches;

/* The prefix as a MATCH pattern: glob characters escaped, then '*'. 0 when it does not fit. */
static int pattern(const char *given, char *buf, size_t size)
{
    size_t k = 0;
    for (const char *p = given; *p; p++) {
        if (k + 3 >= size)
            return 0;
        if (strchr("*?[]\\", *p))
            buf[k++] = '\\';
        buf[k++] = *p;
    }
    buf[k++] = '*';
    buf[k] = '\0';
    return 1;
}

/* Adds the ids of one ZSCAN page (member, score pairs). */
static void collect(matches *m, const redisReply *page)
{
    for (size_t i = 0; page && page->type == REDIS_REPLY_ARRAY && i + 1 < page->elements; i += 2) {
        const redisReply *id = page->element[i], *score = page->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || id->len >= sizeof m->v[0].id)
            continue;
        m->total++;
        if (m->n > RUNID_MAX_LISTED)
            continue;
        snprintf(m->v[m->n].id, sizeof m->v[m->n].id, "%s", id->str);
        m->v[m->n].submitted_ms = score->str ? strtod(score->str, NULL) : 0;
        m->n++;
    }
}

/* Every run id in acms:runs that starts with given. ACMS_OK or ACMS_ERR_RETRY. */
static int scan(acms_redis *r, const char *given, matches *m)
{
    char pat[600], cursor[32] = "0";
    if (!pattern(given, pat, sizeof pat))
        return ACMS_OK;
    do {
        redisReply *rep = acms_redis_cmd(r, "ZSCAN " ACMS_KEY_RUNS " %s MATCH %s COUNT 1000", cursor, pat);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !rep->element[0]->str) {
            if (rep)
                freeReplyObject(rep);
            return ACMS_ERR_RETRY;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        collect(m, rep->element[1]);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0"));
    return ACMS_OK;
}

/* Drops candidates whose run record has expired. ACMS_OK or ACMS_ERR_RETRY. */
static int keep_existing(acms_redis *r, matches *m)
{
    for (size_t i = 0; i < m->n;) {
        char key[300];
        int e = acms_redis_exists(r, acms_key_run(key, sizeof key, m->v[i].id));
        if (e < 0)
            return ACMS_ERR_RETRY;
        if (e) {
            i++;
            continue;
        }
        m->v[i] = m->v[--m->n];
        m->total--;
    }
    return ACMS_OK;
}

static int newest_first(const void *x, const void *y)
{
    const candidate *a = x, *b = y;
    return a->submitted_ms < b->submitted_ms ? 1 : a->submitted_ms > b->submitted_ms ? -1 : 0;
}

static int ambiguous(const ctl_opts *o, acms_redis *r, const char *given, matches *m)
{
    qsort(m->v, m->n, sizeof *m->v, newest_first);
    cJSON *list = cJSON_CreateArray();
    char lines[4096] = "";
    size_t off = 0, shown = m->n > RUNID_MAX_LISTED ? RUNID_MAX_LISTED : m->n;
    for (size_t i = 0; i < shown; i++) {
        redisReply *rep = acms_redis_cmd(r, "HMGET " ACMS_KEY_RUN_FMT " pipeline status", m->v[i].id);
        const char *pipeline = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->str
                                   ? rep->element[0]->str
                                   : "?";
        const char *status = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1]->str
                                 ? rep->element[1]->str
                                 : "?";
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "run_id", m->v[i].id);
        cJSON_AddStringToObject(c, "pipeline", pipeline);
        cJSON_AddStringToObject(c, "status", status);
        cJSON_AddItemToArray(list, c);
        int n = snprintf(lines + off, sizeof lines - off, "\n  %s  %-10s %s", m->v[i].id, status, pipeline);
        if (n > 0 && (size_t)n < sizeof lines - off)
            off += (size_t)n;
        if (rep)
            freeReplyObject(rep);
    }
    cJSON *details = cJSON_CreateObject();
    cJSON_AddItemToObject(details, "candidates", list);
    cJSON_AddNumberToObject(details, "matches", (double)m->total);
    return ctl_fail(o, CTL_FAIL, "ambiguous_run", details, "run id prefix '%s' is ambiguous: %zu runs match%s%s", given,
                    m->total, lines, m->total > shown ? "\n  ..." : "");
}

/* The tombstone of a run given in full or by a unique prefix (retention.h): 1 with id, when and
 * deleted set, 0 none, ACMS_ERR_RETRY. */
static int find_gone(acms_redis *r, const char *given, char *id, size_t size, int64_t *when, int *deleted)
{
    int g = acms_retention_gone(r, given, when, deleted);
    if (g != 0 || strlen(given) < RUNID_MIN_PREFIX)
        return g == 1 ? (snprintf(id, size, "%s", given), 1) : g;
    static const char *const zsets[] = {ACMS_KEY_RUNS_GONE, ACMS_KEY_RUNS_DELETED};
    char pat[600];
    if (!pattern(given, pat, sizeof pat))
        return 0;
    matches m = {0};
    for (int z = 0; z < 2; z++) {
        char cursor[32] = "0";
        do {
            redisReply *rep = acms_redis_cmd(r, "ZSCAN %s %s MATCH %s COUNT 1000", zsets[z], cursor, pat);
            if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !rep->element[0]->str) {
                if (rep)
                    freeReplyObject(rep);
                return ACMS_ERR_RETRY;
            }
            snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
            collect(&m, rep->element[1]);
            freeReplyObject(rep);
        } while (strcmp(cursor, "0"));
    }
    if (m.total != 1)
        return 0;
    snprintf(id, size, "%s", m.v[0].id);
    return acms_retention_gone(r, id, when, deleted);
}

/* An unknown run: expired or deleted (with where its history is), else unknown. Returns the exit code. */
static int unknown(const ctl_opts *o, acms_redis *r, const char *given, const char *hint)
{
    char id[256], when_s[32] = "?";
    int64_t when = 0;
    int deleted = 0;
    int g = find_gone(r, given, id, sizeof id, &when, &deleted);
    if (g < 0)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable looking up run '%s'", given);
    if (g == 0)
        return ctl_fail(o, CTL_FAIL, "unknown_run", NULL, "unknown run '%s'%s", given, hint);
    acms_cfg cfg;
    char err[256];
    if (acms_cfg_load(&cfg, "acmsctl", err, sizeof err) != ACMS_OK)
        memset(&cfg, 0, sizeof cfg);
    const char *sub = cfg.topics[ACMS_TOPIC_CONFIG_SUBMITTED][0] ? cfg.topics[ACMS_TOPIC_CONFIG_SUBMITTED]
                                                                 : "acms.config.submitted";
    const char *steps = cfg.topics[ACMS_TOPIC_EXEC_STEPS][0] ? cfg.topics[ACMS_TOPIC_EXEC_STEPS] : "acms.exec.steps";
    const char *res = cfg.topics[ACMS_TOPIC_EXEC_RESULTS][0] ? cfg.topics[ACMS_TOPIC_EXEC_RESULTS]
                                                             : "acms.exec.results";
    time_t t = (time_t)(when / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when_s, sizeof when_s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON *d = cJSON_CreateObject(), *topics = cJSON_AddArrayToObject(d, "history_topics");
    cJSON_AddStringToObject(d, "run_id", id);
    cJSON_AddNumberToObject(d, deleted ? "deleted_ms" : "expired_ms", (double)when);
    cJSON_AddItemToArray(topics, cJSON_CreateString(sub));
    cJSON_AddItemToArray(topics, cJSON_CreateString(steps));
    cJSON_AddItemToArray(topics, cJSON_CreateString(res));
    return ctl_fail(o, CTL_FAIL, deleted ? "deleted_run" : "expired_run", d,
                    "run %s %s at %s: %s; its history is on the bus, keyed by the run id, for the topics' "
                    "retention (deploy/topics.yaml): %s (the submission), %s (every step event), %s (the result), "
                    "e.g. kcat -C -t %s -e -f '%%k %%T\\n' | grep %s",
                    id, deleted ? "was deleted" : "expired", when_s,
                    deleted ? "its state was removed by acmsctl delete"
                            : "a finished run's state is kept ACMS_RUN_RETENTION_S after it ends",
                    sub, steps, res, res, id);
}

int ctl_resolve_run(const ctl_opts *o, acms_redis *r, const char *given, char *out, size_t size)
{
    char key[300];
    if (!given || !*given || strlen(given) >= 256)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "a run id is 1 to 255 characters");
    int e = acms_redis_exists(r, acms_key_run(key, sizeof key, given));
    if (e < 0)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable looking up run '%s'", given);
    if (e) {
        snprintf(out, size, "%s", given);
        return CTL_OK;
    }
    if (strlen(given) < RUNID_MIN_PREFIX) {
        char hint[96];
        snprintf(hint, sizeof hint, " (a prefix needs at least %d characters)", RUNID_MIN_PREFIX);
        return unknown(o, r, given, hint);
    }
    matches m = {0};
    if (scan(r, given, &m) != ACMS_OK || keep_existing(r, &m) != ACMS_OK)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable looking up run '%s'", given);
    if (m.total == 0)
        return unknown(o, r, given, "");
    if (m.total > 1)
        return ambiguous(o, r, given, &m);
    snprintf(out, size, "%s", m.v[0].id);
    return CTL_OK;
}

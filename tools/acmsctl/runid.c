/* runid.c: a run named by its full id or by a unique prefix, as git names commits. The full id is
 * looked up first; a prefix of at least RUNID_MIN_PREFIX characters is matched against acms:runs
 * (ZSCAN), keeping only runs whose record still exists (a finished run's keys expire). An ambiguous
 * prefix is an error that lists the candidates, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "run_state.h"

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
        redisReply *rep = acms_redis_cmd(r, "ZSCAN acms:runs %s MATCH %s COUNT 1000", cursor, pat);
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
        redisReply *rep = acms_redis_cmd(r, "HMGET acms:run:%s pipeline status", m->v[i].id);
        const char *pipeline = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->str
                                   ? rep->element[0]->str : "?";
        const char *status = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1]->str
                                 ? rep->element[1]->str : "?";
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
    if (strlen(given) < RUNID_MIN_PREFIX)
        return ctl_fail(o, CTL_FAIL, "unknown_run", NULL,
                        "unknown run '%s' (a prefix needs at least %d characters)", given, RUNID_MIN_PREFIX);
    matches m = {0};
    if (scan(r, given, &m) != ACMS_OK || keep_existing(r, &m) != ACMS_OK)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable looking up run '%s'", given);
    if (m.total == 0)
        return ctl_fail(o, CTL_FAIL, "unknown_run", NULL, "unknown run '%s'", given);
    if (m.total > 1)
        return ambiguous(o, r, given, &m);
    snprintf(out, size, "%s", m.v[0].id);
    return CTL_OK;
}

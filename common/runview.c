/* runview.c: one run's view and the filtered run list, read from Redis (runview.h). Every read is
 * pipelined: a run's view costs two round trips (its hash and lists, then its step hashes), a page
 * of the list one per chunk of runs looked at. */
#include "runview.h"

#include <stdlib.h>
#include <string.h>

#include "adapt_reason.h"
#include "doc.h"
#include "run_state.h"
#include "keys.h"

static int numeric_field(const char *k)
{
    static const char *const nums[] = {"submitted_ms",      "updated_ms",         "finished_ms",   "started_ms",
                                       "steps_total",       "steps_done",         "attempt",       "wall_ms",
                                       "peak_rss_kb",       "memory_mb",          "max_runtime_s", "exit_code",
                                       "cpu_time_s",        "attempt_started_ms", "expires_ms",    "compacted_ms",
                                       "adaptations_count", "queue_position"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (!strcmp(k, nums[i]))
            return 1;
    return 0;
}

static void add_field(cJSON *o, const char *k, const char *v)
{
    if (!strcmp(k, "attempts") || !strcmp(k, "validation") || !strcmp(k, "reuse_steps")) { /* JSON in a field */
        cJSON *a = cJSON_Parse(v);
        if (a) {
            cJSON_AddItemToObject(o, k, a);
            return;
        }
    }
    if (numeric_field(k))
        cJSON_AddNumberToObject(o, k, strtod(v, NULL));
    else if (!strcmp(k, "success"))
        cJSON_AddBoolToObject(o, k, !strcmp(v, "1") || !strcmp(v, "true"));
    else
        cJSON_AddStringToObject(o, k, v);
}

cJSON *acms_runview_hash_json(const redisReply *rep)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        const char *k = rep->element[i]->str, *v = rep->element[i + 1]->str;
        if (k && v && strcmp(k, "attempts_json") && strcmp(k, "summary")) /* the summary: compacted_steps */
            add_field(o, k, v);
    }
    return o;
}

/* The step hashes of names (a LRANGE reply) into steps. ACMS_OK or ACMS_ERR_RETRY. */
static int read_steps(acms_redis *r, const char *key, const redisReply *names, cJSON *steps)
{
    size_t n = names && names->type == REDIS_REPLY_ARRAY ? names->elements : 0;
    if (n == 0)
        return ACMS_OK;
    for (size_t i = 0; i < n; i++)
        acms_redis_append(r, "HGETALL %s:step:%s", key, names->element[i]->str);
    redisReply **sr = calloc(n, sizeof *sr);
    if (!sr || acms_redis_exec(r, sr, n) != ACMS_OK) {
        free(sr);
        return ACMS_ERR_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *s = acms_runview_hash_json(sr[i]);
        cJSON_AddStringToObject(s, "name", names->element[i]->str);
        cJSON_AddItemToArray(steps, s);
        freeReplyObject(sr[i]);
    }
    free(sr);
    return ACMS_OK;
}

/* A compacted run (retention.h): its steps from the summary written at its end, whose step objects
 * have the step hashes' field names; its adaptation log is gone, its count stays. */
static void compacted_steps(const redisReply *hash, cJSON *view, cJSON *steps)
{
    const char *summary = NULL;
    for (size_t i = 0; hash && hash->type == REDIS_REPLY_ARRAY && i + 1 < hash->elements; i += 2)
        if (hash->element[i]->str && !strcmp(hash->element[i]->str, "summary"))
            summary = hash->element[i + 1]->str;
    cJSON *doc = summary ? cJSON_Parse(summary) : NULL, *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(doc, "steps"))
        cJSON_AddItemToArray(steps, cJSON_Duplicate(st, 1));
    cJSON_Delete(doc);
    if (cJSON_GetObjectItem(view, "compacted_ms"))
        cJSON_AddBoolToObject(view, "compacted", 1);
}

/* A queued run's live place in its environment's line (acms:quota:<env>:queue, 1-based; the
 * coordinator's admission.c) and the runs holding a slot. */
static void queue_place(acms_redis *r, cJSON *view, const char *run_id)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(view, "status");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(view, "environment");
    if (!cJSON_IsString(st) || strcmp(st->valuestring, "queued") || !cJSON_IsString(env))
        return;
    acms_redis_append(r, "ZRANK " ACMS_KEY_QUOTA_FMT " %s", env->valuestring, "queue", run_id);
    acms_redis_append(r, "ZCARD " ACMS_KEY_QUOTA_FMT, env->valuestring, "runs");
    redisReply *rep[2] = {0};
    if (acms_redis_exec(r, rep, 2) != ACMS_OK)
        return;
    if (rep[0]->type == REDIS_REPLY_INTEGER) {
        cJSON_DeleteItemFromObject(view, "queue_position");
        cJSON_AddNumberToObject(view, "queue_position", (double)rep[0]->integer + 1);
    }
    if (rep[1]->type == REDIS_REPLY_INTEGER)
        cJSON_AddNumberToObject(view, "runs_active", (double)rep[1]->integer);
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
}

/* The record as JSON, its reason rendered when it is a template: the JSON of a record with that
 * reason text (the fields are swapped for the conversion and put back, so the unpacked message
 * frees as it was allocated). */
static cJSON *record_json(acms_arena **ta, Acms__V1__AdaptationRecord *r)
{
    if (r->reason_template == 0)
        return acms_json_from_message(&r->base);
    if (!*ta && !(*ta = acms_arena_new(0)))
        return NULL;
    char *reason = r->reason, **args = r->reason_args;
    unsigned id = r->reason_template;
    size_t nargs = r->n_reason_args;
    r->reason = (char *)acms_adaptation_reason(*ta, r);
    r->reason_template = 0;
    r->reason_args = NULL;
    r->n_reason_args = 0;
    cJSON *j = acms_json_from_message(&r->base);
    r->reason = reason;
    r->reason_template = id;
    r->reason_args = args;
    r->n_reason_args = nargs;
    return j;
}

/* acms:run:<run>:adaptations into ad, in order: the adapter's prepared log is one item, a packed
 * RuntimeConfiguration holding only adaptation_log (rendered here, when shown); runtime and recovery
 * records follow as one JSON object an item. An item neither reads as is skipped. */
static void read_adaptations(const redisReply *list, cJSON *ad)
{
    acms_arena *ta = NULL; /* rendered reasons */
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        if (e->len && e->str[0] == '{') {
            cJSON *j = cJSON_ParseWithLength(e->str, e->len);
            if (j)
                cJSON_AddItemToArray(ad, j);
            continue;
        }
        Acms__V1__RuntimeConfiguration *log = acms__v1__runtime_configuration__unpack(NULL, e->len,
                                                                                      (const uint8_t *)e->str);
        for (size_t k = 0; log && k < log->n_adaptation_log; k++) {
            cJSON *j = record_json(&ta, log->adaptation_log[k]);
            if (j)
                cJSON_AddItemToArray(ad, j);
        }
        if (log)
            acms__v1__runtime_configuration__free_unpacked(log, NULL);
    }
    acms_arena_free(ta);
}

cJSON *acms_runview_read(acms_redis *r, const char *run_id, int *unreachable)
{
    char key[256];
    *unreachable = 0;
    acms_key_run(key, sizeof key, run_id);
    acms_redis_append(r, "HGETALL %s", key);
    acms_redis_append(r, "LRANGE %s:steps 0 -1", key);
    acms_redis_append(r, "LRANGE %s:adaptations 0 -1", key);
    redisReply *rep[3] = {0};
    if (acms_redis_exec(r, rep, 3) != ACMS_OK) {
        *unreachable = 1;
        return NULL;
    }
    cJSON *view = NULL;
    if (!rep[0] || rep[0]->type != REDIS_REPLY_ARRAY || rep[0]->elements == 0)
        goto out;
    view = acms_runview_hash_json(rep[0]);
    if (!cJSON_GetObjectItem(view, "run_id"))
        cJSON_AddStringToObject(view, "run_id", run_id);
    cJSON *steps = cJSON_AddArrayToObject(view, "steps");
    if (read_steps(r, key, rep[1], steps) != ACMS_OK) {
        *unreachable = 1;
        cJSON_Delete(view);
        view = NULL;
        goto out;
    }
    if (cJSON_GetArraySize(steps) == 0)
        compacted_steps(rep[0], view, steps);
    queue_place(r, view, run_id);
    read_adaptations(rep[2], cJSON_AddArrayToObject(view, "adaptations"));
out:
    for (int i = 0; i < 3; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return view;
}

/* --- the run list ------------------------------------------------------------------------------ */

#define LIST_CHUNK 200

static const char *const summary_fields[] = {"pipeline",    "environment", "status",     "submitted_ms", "updated_ms",
                                             "finished_ms", "steps_total", "steps_done", "reason",       "config_ref"};
#define NSUMMARY (sizeof summary_fields / sizeof summary_fields[0])

static int matches(const char *want, const redisReply *got)
{
    if (!want || !*want)
        return 1;
    return got && got->type == REDIS_REPLY_STRING && !strcmp(got->str, want);
}

/* The summary of one run from its HMGET reply, or NULL when the run's hash is gone or f rejects it. */
static cJSON *summary(const char *run_id, const redisReply *h, const acms_runview_filter *f)
{
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements != NSUMMARY)
        return NULL;
    if (h->element[2]->type != REDIS_REPLY_STRING) /* no status: no such run (any more) */
        return NULL;
    if (!matches(f->pipeline, h->element[0]) || !matches(f->environment, h->element[1]) ||
        !matches(f->status, h->element[2]))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_id", run_id);
    for (size_t i = 0; i < NSUMMARY; i++)
        if (h->element[i]->type == REDIS_REPLY_STRING)
            add_field(o, summary_fields[i], h->element[i]->str);
    return o;
}

/* One chunk of run ids with scores, newest first, at or below the cursor. NULL when unreachable. */
static redisReply *chunk_ids(acms_redis *r, int have_cursor, int64_t before, size_t skip)
{
    if (!have_cursor)
        return acms_redis_cmd(r, "ZREVRANGEBYSCORE " ACMS_KEY_RUNS " +inf -inf WITHSCORES LIMIT %llu %d",
                              (unsigned long long)skip, LIST_CHUNK);
    /* hiredis formats the C integer conversions without z: %llu */
    return acms_redis_cmd(r, "ZREVRANGEBYSCORE " ACMS_KEY_RUNS " %lld -inf WITHSCORES LIMIT %llu %d", (long long)before,
                          (unsigned long long)skip, LIST_CHUNK);
}

typedef struct list_state {
    const acms_runview_filter *f;
    size_t limit, found, scanned;
    int have_cursor, more;
    int64_t before;
    size_t skip;
    cJSON *runs;
} list_state;

/* Looks at one chunk; ACMS_OK or ACMS_ERR_RETRY. Sets st->more when runs remain after it. */
static int list_chunk(acms_redis *r, list_state *st)
{
    redisReply *ids = chunk_ids(r, st->have_cursor, st->before, st->have_cursor ? st->skip : 0);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject(ids);
        return ACMS_ERR_RETRY;
    }
    size_t n = ids->elements / 2;
    redisReply **h = calloc(n ? n : 1, sizeof *h);
    int rc = ACMS_ERR_RETRY;
    if (!h)
        goto out;
    for (size_t i = 0; i < n; i++)
        acms_redis_append(r,
                          "HMGET " ACMS_KEY_RUN_FMT " pipeline environment status submitted_ms updated_ms finished_ms "
                          "steps_total steps_done reason config_ref",
                          ids->element[2 * i]->str);
    if (n && acms_redis_exec(r, h, n) != ACMS_OK)
        goto out;
    st->more = n == LIST_CHUNK;
    for (size_t i = 0; i < n; i++) {
        if (st->found >= st->limit || st->scanned >= ACMS_RUNVIEW_MAX_SCAN) {
            st->more = 1;
            break;
        }
        int64_t score = (int64_t)strtod(ids->element[2 * i + 1]->str, NULL);
        if (st->f->since_ms > 0 && score < st->f->since_ms) { /* older than --since: the end */
            st->more = 0;
            break;
        }
        if (st->have_cursor && score == st->before) {
            st->skip++;
        } else {
            st->before = score;
            st->skip = 1;
            st->have_cursor = 1;
        }
        st->scanned++;
        cJSON *s = summary(ids->element[2 * i]->str, h[i], st->f);
        if (s) {
            cJSON_AddItemToArray(st->runs, s);
            st->found++;
        }
    }
    rc = ACMS_OK;
out:
    for (size_t i = 0; h && i < n; i++)
        if (h[i])
            freeReplyObject(h[i]);
    free(h);
    freeReplyObject(ids);
    return rc;
}

int acms_runview_list(acms_redis *r, const acms_runview_filter *f, cJSON **out)
{
    *out = NULL;
    list_state st = {.f = f, .limit = f->limit ? f->limit : 50, .before = f->before_ms, .skip = f->skip};
    if (st.limit > ACMS_RUNVIEW_MAX_LIMIT)
        st.limit = ACMS_RUNVIEW_MAX_LIMIT;
    st.have_cursor = f->before_ms > 0;
    cJSON *root = cJSON_CreateObject();
    st.runs = cJSON_AddArrayToObject(root, "runs");
    do {
        if (list_chunk(r, &st) != ACMS_OK) {
            cJSON_Delete(root);
            return ACMS_ERR_RETRY;
        }
    } while (st.more && st.found < st.limit && st.scanned < ACMS_RUNVIEW_MAX_SCAN);
    cJSON_AddNumberToObject(root, "scanned", (double)st.scanned);
    if (st.more) {
        cJSON *next = cJSON_AddObjectToObject(root, "next");
        cJSON_AddNumberToObject(next, "before_ms", (double)st.before);
        cJSON_AddNumberToObject(next, "skip", (double)st.skip);
    }
    *out = root;
    return ACMS_OK;
}

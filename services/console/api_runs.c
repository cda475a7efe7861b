/* api_runs.c: GET /api/runs and GET /api/runs/<run>. The run list and a run's own keys are read by
 * common/runview.c (acmsctl reads them the same way); added here: the DAG from the run's stored
 * runtime configuration (layers from common/dag.c), the validation verdict, runtime findings, alerts,
 * the feedback outcome, the monitoring session and the learned recommendation of each step. */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "doc.h"
#include "mask.h"
#include "runview.h"
#include "keys.h"

/* A query argument as a non-negative integer; def when absent, -1 when malformed. */
static long long arg_num(const acms_http_req *req, const char *name, long long def)
{
    const char *v = acms_http_req_arg(req, name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

void console_api_runs(console *c, acms_redis *r, const acms_http_req *req, acms_http_resp *resp)
{
    (void)c;
    acms_runview_filter f = {.environment = acms_http_req_arg(req, "env"),
                             .pipeline = acms_http_req_arg(req, "pipeline"),
                             .status = acms_http_req_arg(req, "status")};
    long long limit = arg_num(req, "limit", 50), before = arg_num(req, "before_ms", 0), skip = arg_num(req, "skip", 0);
    if (limit < 1 || limit > ACMS_RUNVIEW_MAX_LIMIT || before < 0 || skip < 0) {
        console_error(resp, 400, "limit must be 1..%d; before_ms and skip whole numbers", ACMS_RUNVIEW_MAX_LIMIT);
        return;
    }
    f.limit = (size_t)limit;
    f.before_ms = before;
    f.skip = (size_t)skip;
    cJSON *out = NULL;
    if (acms_runview_list(r, &f, &out) != ACMS_OK) {
        console_error(resp, 503, "Redis is unreachable");
        return;
    }
    console_json(resp, 200, out);
}

/* --- one run ------------------------------------------------------------------------------------ */

enum { X_RUNTIME, X_VALIDATION, X_FINDINGS, X_ALERTS, X_FEEDBACK, X_SESSION, X__COUNT };

/* Masks what a step's attempts carry of its output (stderr_tail). */
static void mask_attempts(acms_arena *a, cJSON *view)
{
    cJSON *s, *t;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(view, "steps"))
    {
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(s, "attempts"))
        {
            cJSON *tail = cJSON_GetObjectItem(t, "stderr_tail");
            if (cJSON_IsString(tail))
                cJSON_SetValuestring(tail, console_mask_lines(a, tail->valuestring));
        }
    }
}

/* The DAG: every step of the stored runtime configuration (plain-text credentials masked) with its
 * layer (0 for steps without dependencies, else 1 + the deepest dependency). NULL without one. */
static cJSON *graph(acms_arena *a, const redisReply *rt)
{
    if (!rt || rt->type != REDIS_REPLY_STRING)
        return NULL;
    const char *why = NULL;
    Acms__V1__RuntimeConfiguration *rc = (Acms__V1__RuntimeConfiguration *)acms_pb_decode(
        a, &acms__v1__runtime_configuration__descriptor, rt->str, rt->len, &why);
    if (!rc || !rc->pipeline)
        return NULL;
    console_mask_pipeline(a, rc->pipeline);
    acms_dag *d = NULL;
    int usable = acms_dag_build(a, rc->pipeline, &d, NULL) == ACMS_OK;
    cJSON *g = cJSON_CreateObject(), *nodes = cJSON_AddArrayToObject(g, "nodes");
    cJSON_AddBoolToObject(g, "acyclic", usable);
    for (size_t i = 0; i < rc->pipeline->n_steps; i++) {
        cJSON *n = acms_json_from_message(&rc->pipeline->steps[i]->base);
        cJSON_AddNumberToObject(n, "layer", usable ? (double)d->depth[i] : 0);
        cJSON_AddItemToArray(nodes, n);
    }
    if (rc->metadata)
        cJSON_AddItemToObject(g, "metadata", acms_json_from_message(&rc->metadata->base));
    return g;
}

typedef struct timed {
    double t;
    cJSON *j;
} timed;

static int by_time(const void *x, const void *y)
{
    double a = ((const timed *)x)->t, b = ((const timed *)y)->t;
    return a < b ? -1 : a > b;
}

/* The JSON values of a hash (event id -> record) in time order: the number at key1 (and then key2,
 * when given) of each record. */
static cJSON *records(const redisReply *h, const char *key1, const char *key2)
{
    cJSON *arr = cJSON_CreateArray();
    size_t n = h && h->type == REDIS_REPLY_ARRAY ? h->elements / 2 : 0, k = 0;
    timed *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        cJSON *j = cJSON_Parse(h->element[2 * i + 1]->str);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            continue;
        }
        cJSON *t = cJSON_GetObjectItem(j, key1);
        t = key2 ? cJSON_GetObjectItem(t, key2) : t;
        v[k++] = (timed){cJSON_IsNumber(t) ? t->valuedouble : 0, j};
    }
    if (v)
        qsort(v, k, sizeof *v, by_time);
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(arr, v[i].j);
    free(v);
    return arr;
}

/* The verdict (the packed ValidationResult first in the list) as JSON, or a JSON null. */
static cJSON *verdict(acms_arena *a, const redisReply *l)
{
    const redisReply *v = l && l->type == REDIS_REPLY_ARRAY && l->elements > 0 ? l->element[0] : NULL;
    const char *why = NULL;
    ProtobufCMessage *m = v && v->type == REDIS_REPLY_STRING
                              ? acms_pb_decode(a, &acms__v1__validation_result__descriptor, v->str, v->len, &why)
                              : NULL;
    cJSON *j = m ? acms_json_from_message(m) : NULL;
    return j ? j : cJSON_CreateNull();
}

/* A hash reply as a JSON object of strings, or a JSON null when the hash is empty. */
static cJSON *hash_or_null(const redisReply *h)
{
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements == 0)
        return cJSON_CreateNull();
    return acms_runview_hash_json(h);
}

/* Queues the reads of what other services keep about the run (X_* order). */
static void append_extras(acms_redis *r, const char *run_id)
{
    acms_redis_append(r, "GET " ACMS_KEY_RUN_FMT ":runtime", run_id);
    acms_redis_append(r, "LRANGE " ACMS_KEY_RUN_FMT ":validation 0 0", run_id);
    acms_redis_append(r, "HGETALL " ACMS_KEY_RUN_FMT ":findings", run_id);
    acms_redis_append(r, "HGETALL " ACMS_KEY_RUN_FMT ":alerts", run_id);
    acms_redis_append(r, "HGETALL " ACMS_KEY_FEEDBACK_RUN_FMT, run_id);
    acms_redis_append(r, "HMGET " ACMS_KEY_MONITOR_SESSION_FMT " status alerts attempts summary", run_id);
}

static cJSON *session(const redisReply *h)
{
    static const char *const names[] = {"status", "alerts", "attempts", "summary"};
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements != 4 || h->element[0]->type != REDIS_REPLY_STRING)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < 4; i++)
        if (h->element[i]->type == REDIS_REPLY_STRING)
            cJSON_AddStringToObject(o, names[i], h->element[i]->str);
    return o;
}

static const char *step_name(const cJSON *s)
{
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(s, "name"));
    return n ? n : "";
}

/* Reads the extras and the learned recommendation of each step into out. ACMS_OK or ACMS_ERR_RETRY. */
static int add_extras(acms_arena *a, acms_redis *r, const char *run_id, const cJSON *view, cJSON *out)
{
    const cJSON *pipe = cJSON_GetObjectItem(view, "pipeline"), *steps = cJSON_GetObjectItem(view, "steps"), *s;
    size_t nsteps = cJSON_IsString(pipe) ? (size_t)cJSON_GetArraySize(steps) : 0, n = X__COUNT + nsteps;
    append_extras(r, run_id);
    if (nsteps) {
        cJSON_ArrayForEach(s, steps)
        {
            acms_redis_append(r, "HGETALL " ACMS_KEY_LEARN_REC_FMT, pipe->valuestring, step_name(s));
        }
    }
    redisReply **rep = calloc(n, sizeof *rep);
    if (!rep || acms_redis_exec(r, rep, n) != ACMS_OK) {
        free(rep);
        return ACMS_ERR_RETRY;
    }
    cJSON *g = graph(a, rep[X_RUNTIME]);
    cJSON_AddItemToObject(out, "graph", g ? g : cJSON_CreateNull());
    cJSON_AddItemToObject(out, "validation", verdict(a, rep[X_VALIDATION]));
    cJSON_AddItemToObject(out, "findings", records(rep[X_FINDINGS], "meta", "timestamp_ms"));
    cJSON_AddItemToObject(out, "alerts", records(rep[X_ALERTS], "starts_at_ms", NULL));
    cJSON_AddItemToObject(out, "feedback", hash_or_null(rep[X_FEEDBACK]));
    cJSON_AddItemToObject(out, "monitor", session(rep[X_SESSION]));
    cJSON *recs = cJSON_AddObjectToObject(out, "recommendations");
    size_t i = 0;
    cJSON_ArrayForEach(s, steps)
    {
        const redisReply *h = i < nsteps ? rep[X__COUNT + i] : NULL;
        if (h && h->type == REDIS_REPLY_ARRAY && h->elements > 0)
            cJSON_AddItemToObject(recs, step_name(s), acms_runview_hash_json(h));
        i++;
    }
    for (size_t k = 0; k < n; k++)
        if (rep[k])
            freeReplyObject(rep[k]);
    free(rep);
    return ACMS_OK;
}

void console_api_run(console *c, acms_redis *r, const char *run_id, acms_http_resp *resp)
{
    (void)c;
    if (!console_valid_run_id(run_id)) {
        console_error(resp, 400, "not a run id");
        return;
    }
    int unreachable = 0;
    cJSON *view = acms_runview_read(r, run_id, &unreachable);
    if (!view) {
        if (unreachable)
            console_error(resp, 503, "Redis is unreachable");
        else
            console_error(resp, 404, "unknown run (never submitted, or expired)");
        return;
    }
    acms_arena *a = acms_arena_new(0);
    mask_attempts(a, view);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "run", view);
    if (add_extras(a, r, run_id, view, out) != ACMS_OK) {
        cJSON_Delete(out);
        console_error(resp, 503, "Redis is unreachable");
    } else {
        console_json(resp, 200, out);
    }
    acms_arena_free(a);
}

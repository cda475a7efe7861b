/* summary.c: a finished run in a few hundred bytes per step, written into the run's hash with its
 * terminal status (field "summary"). Once the run is compacted (common/retention.h) it replaces the
 * step hashes: common/runview.c reads the steps back from it with the same field names, so a
 * compacted run shows as it did. It keeps, per step: status, the last attempt's number, times, exit
 * reason, wall time, peak memory and limit, the step's message, and per attempt its reason, cause
 * and recovery; no output tail (those stay in the log keys until the run expires). */
#include "report.h"

#include <cjson/cJSON.h>
#include <string.h>

#define REUSED_PREFIX "reused: succeeded in run "

static cJSON *attempt_json(const coord_attempt *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "attempt", t->attempt);
    cJSON_AddStringToObject(o, "reason", coord_reason_name(t->reason));
    cJSON_AddStringToObject(o, "cause", t->cause);
    if (t->recovery[0])
        cJSON_AddStringToObject(o, "recovery", t->recovery);
    cJSON_AddNumberToObject(o, "wall_ms", (double)t->wall_ms);
    cJSON_AddNumberToObject(o, "peak_rss_kb", (double)t->peak_rss_kb);
    cJSON_AddNumberToObject(o, "memory_mb", (double)t->res.memory_mb);
    cJSON_AddNumberToObject(o, "started_ms", (double)t->started_ms);
    return o;
}

static cJSON *step_json(const coord_step *s)
{
    const coord_attempt *last = s->nattempts ? &s->attempts[s->nattempts - 1] : NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->cfg->name);
    cJSON_AddStringToObject(o, "status", coord_state_name(s->state));
    cJSON_AddNumberToObject(o, "attempt", s->attempt);
    cJSON_AddNumberToObject(o, "started_ms", (double)s->started_ms);
    cJSON_AddNumberToObject(o, "finished_ms", (double)(last ? last->finished_ms : s->finished_ms));
    if (last) {
        cJSON_AddStringToObject(o, "exit_reason", coord_reason_name(last->reason));
        cJSON_AddNumberToObject(o, "wall_ms", (double)last->wall_ms);
        cJSON_AddNumberToObject(o, "peak_rss_kb", (double)last->peak_rss_kb);
    }
    cJSON_AddNumberToObject(o, "memory_mb", (double)s->res.memory_mb);
    if (s->message[0])
        cJSON_AddStringToObject(o, "message", s->message);
    if (!strncmp(s->message, REUSED_PREFIX, sizeof REUSED_PREFIX - 1))
        cJSON_AddStringToObject(o, "reused_from", s->message + sizeof REUSED_PREFIX - 1);
    if (s->suggestion[0])
        cJSON_AddStringToObject(o, "suggestion", s->suggestion);
    cJSON *atts = cJSON_AddArrayToObject(o, "attempts");
    for (size_t k = 0; k < s->nattempts; k++)
        cJSON_AddItemToArray(atts, attempt_json(&s->attempts[k]));
    return o;
}

char *coord_summary_json(const coord_run *r)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON *steps = cJSON_AddArrayToObject(doc, "steps");
    for (size_t i = 0; i < r->n; i++)
        cJSON_AddItemToArray(steps, step_json(&r->steps[i]));
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return s;
}

/* list.c: `acmsctl list`: recent runs, newest first, one line each (id, pipeline, environment,
 * status, steps done/total, start, duration), read by common/runview.c as acms-console lists them.
 * Filters: --env, --pipeline, --status (exact), --since (a duration back from now or a UTC time),
 * --limit (default 20). With --format json: {"runs": [...], "more": bool}, each run with runview's
 * fields plus duration_ms (to its end, or to now while it runs). Exit 0, 2 usage, 3 unreachable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acmsctl.h"
#include "runview.h"
#include "run_state.h"

#define LIST_DEFAULT_LIMIT 20

/* "90s" "30m" "2h" "7d" back from now_ms, or "YYYY-MM-DD[THH:MM[:SS]][Z]" (UTC). 0 or -1. */
static int parse_since(const char *s, int64_t now_ms, int64_t *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end != s && n >= 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
        long mult = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
        if (n > 100L * 365 * 86400 / mult)
            return -1;
        *out = now_ms - (int64_t)n * mult * 1000;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (rest && (*rest == 'T' || *rest == ' '))
        rest = strptime(rest + 1,
                        strchr(rest + 1, ':') && strchr(strchr(rest + 1, ':') + 1, ':') ? "%H:%M:%S" : "%H:%M", &tm);
    if (!rest || (*rest && strcmp(rest, "Z")))
        return -1;
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* "850ms" "12.4s" "3m05s" "2h07m" into buf. */
static const char *human_duration(int64_t ms, char *buf, size_t size)
{
    if (ms < 1000)
        snprintf(buf, size, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, size, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, size, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    return buf;
}

/* Adds duration_ms to each run: to its end, or to now while it has not ended. */
static void add_durations(cJSON *runs, int64_t now)
{
    cJSON *r;
    cJSON_ArrayForEach(r, runs)
    {
        double sub = jnum(r, "submitted_ms"), fin = jnum(r, "finished_ms");
        if (sub <= 0)
            continue;
        if (fin <= 0 && acms_state_is_terminal(jstr(r, "status")))
            fin = jnum(r, "updated_ms"); /* rejected before it ran: its last update */
        cJSON_AddNumberToObject(r, "duration_ms", (fin > 0 ? fin : (double)now) - sub);
    }
}

static void print_table(const cJSON *runs, int more)
{
    printf("%-36s  %-22s %-10s %-10s %7s  %-20s %s\n", "RUN", "PIPELINE", "ENV", "STATUS", "STEPS", "STARTED",
           "DURATION");
    const cJSON *r;
    cJSON_ArrayForEach(r, runs)
    {
        char steps[32], started[32] = "-", dur[32] = "-";
        snprintf(steps, sizeof steps, "%g/%g", jnum(r, "steps_done"), jnum(r, "steps_total"));
        time_t t = (time_t)(jnum(r, "submitted_ms") / 1000);
        struct tm tm;
        if (t > 0 && gmtime_r(&t, &tm))
            strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (cJSON_GetObjectItem(r, "duration_ms"))
            human_duration((int64_t)jnum(r, "duration_ms"), dur, sizeof dur);
        printf("%-36s  %-22s %-10s %-10s %7s  %-20s %s%s\n", jstr(r, "run_id"), jstr(r, "pipeline"),
               jstr(r, "environment"), jstr(r, "status"), steps, started, dur,
               acms_state_is_terminal(jstr(r, "status")) ? "" : "+");
    }
    if (more)
        fprintf(stderr, "(more runs match: raise --limit or narrow with --since)\n");
}

int ctl_list(const ctl_opts *o)
{
    acms_cfg cfg;
    int64_t now = acms_now_ms();
    acms_runview_filter f = {.environment = o->env,
                             .pipeline = o->pipeline,
                             .status = o->status,
                             .limit = (size_t)(o->limit ? o->limit : LIST_DEFAULT_LIMIT)};
    if (o->nargs > 0)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "list: unexpected argument '%s' (filters are options)",
                        o->args[0]);
    if (o->since && parse_since(o->since, now, &f.since_ms) != 0)
        return ctl_fail(o, CTL_USAGE, "usage", NULL,
                        "--since takes a duration (90s, 30m, 2h, 7d) or a UTC time (2026-11-26, "
                        "2026-11-26T14:00:00Z), not '%s'",
                        o->since);
    if (o->status && *o->status && acms_state_rank(o->status) < 0)
        return ctl_fail(o, CTL_USAGE, "usage", NULL,
                        "--status takes submitted, prepared, validated, running, succeeded, failed, cancelled or "
                        "rejected, not '%s'",
                        o->status);
    int rc = ctl_load_cfg(o, &cfg);
    if (rc)
        return rc;
    acms_redis *r = ctl_redis(o, &cfg);
    if (!r)
        return CTL_UNREACHABLE;
    cJSON *out = NULL;
    if (acms_runview_list(r, &f, &out) != ACMS_OK) {
        acms_redis_free(r);
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable listing runs");
    }
    acms_redis_free(r);
    cJSON *runs = cJSON_GetObjectItem(out, "runs");
    int more = cJSON_GetObjectItem(out, "next") != NULL;
    add_durations(runs, now);
    if (o->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "runs", cJSON_DetachItemFromObject(out, "runs"));
        cJSON_AddBoolToObject(doc, "more", more);
        ctl_print_json(doc);
        cJSON_Delete(doc);
    } else {
        print_table(runs, more);
    }
    cJSON_Delete(out);
    return CTL_OK;
}

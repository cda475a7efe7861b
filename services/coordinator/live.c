/* live.c: runtime adaptations applied in place. An approved memory_up (AdaptedEvent, handled by any
 * replica) is stored on the step (override for its next attempt, live_memory_mb for the running one)
 * and its step name added to acms:run:<run>:live; the run's owner, which checks that set with the
 * cancel key every second, raises the running attempt's limit (its cgroup's, local) and records it:
 * an adaptation record (stage "runtime", read back into the execution result), the attempt's
 * live_adaptations, and the step's resources (heartbeats then carry the new limit). Invariants: a
 * limit is only raised in place, never lowered under a live process; the set entry is removed once
 * handled, whatever the outcome. */
#include "coord.h"
#include "keys.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static coord_step *find_step(coord_run *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->steps[i].cfg->name, name))
            return &r->steps[i];
    return NULL;
}

/* Queues the coordinator's record of what it did with the adaptation. */
static void record(coord_run *r, const coord_step *s, uint64_t old_mb, uint64_t new_mb, int applied, const char *why)
{
    char key[300], oldv[24], newv[24];
    acms_key_run_part(key, sizeof key, r->id, "adaptations");
    snprintf(oldv, sizeof oldv, "%llu", (unsigned long long)old_mb);
    snprintf(newv, sizeof newv, "%llu", (unsigned long long)new_mb);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "stage", "runtime");
    cJSON_AddStringToObject(j, "step", s->cfg->name);
    cJSON_AddStringToObject(j, "field", "resources.memory_mb");
    cJSON_AddStringToObject(j, "old_value", oldv);
    cJSON_AddStringToObject(j, "new_value", newv);
    cJSON_AddStringToObject(j, "reason", why);
    cJSON_AddNumberToObject(j, "safety_score", 1);
    cJSON_AddBoolToObject(j, "applied", applied);
    char *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!json)
        return;
    const char *argv[] = {"RPUSH", key, json};
    coord_opq_cmd(&r->q, 3, argv);
    free(json);
}

/* Raises the running attempt of s to mb MiB in place. */
static void raise_step(coord_run *r, coord_step *s, uint64_t mb, int64_t now_wall)
{
    char why[512], err[256] = "";
    uint64_t old = s->res.memory_mb;
    if (s->state != COORD_STEP_RUNNING || !s->proc) {
        acms_log_info(r->id, NULL, "memory_up for %s: not running; applies to its next attempt", s->cfg->name);
        return;
    }
    if (old && mb <= old) {
        acms_log_info(r->id, NULL, "memory_up for %s to %llu MiB: the limit is already %llu MiB", s->cfg->name,
                      (unsigned long long)mb, (unsigned long long)old);
        return;
    }
    int rc = coord_exec_set_memory(s->proc, mb, err, sizeof err);
    if (rc == COORD_RESIZE_ASKED) { /* its outcome is recorded when the backend reports it */
        acms_log_info(r->id, NULL, "memory_up for %s to %llu MiB: in-place resize asked", s->cfg->name,
                      (unsigned long long)mb);
        return;
    }
    if (rc != ACMS_OK) {
        coord_fmt(why, sizeof why, "not applied in place to attempt %u: %s; applies to its next attempt", s->attempt,
                  err);
        record(r, s, old, mb, 0, why);
        acms_log_warn(r->id, NULL, "memory_up for %s: %s", s->cfg->name, why);
        return;
    }
    double at_s = (double)(now_wall - s->attempt_started_ms) / 1000.0;
    coord_fmt(why, sizeof why, "raised in place on running attempt %u at +%.1f s (%s)%s%s", s->attempt, at_s,
              s->live.sandbox[0] && strncmp(s->live.sandbox, "cgroup", 6) == 0 ? "its cgroup's memory limit"
                                                                               : "the polled limit",
              err[0] ? ": " : "", err);
    record(r, s, old, mb, 1, why);
    size_t l = strlen(s->live_note);
    coord_fmt(s->live_note + l, sizeof s->live_note - l, "%smemory %llu -> %llu MiB at +%.1f s", l ? "; " : "",
              (unsigned long long)old, (unsigned long long)mb, at_s);
    s->res.memory_mb = mb;
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)mb);
    const char *kv[] = {"memory_mb", v, "live_adaptations", s->live_note};
    coord_opq_step_set(&r->q, r->id, s->cfg->name, kv, 4);
    acms_log_info(r->id, NULL, "step %s: memory %llu -> %llu MiB %s", s->cfg->name, (unsigned long long)old,
                  (unsigned long long)mb, why);
}

/* Takes a step's pending in-place memory (and its set entry) atomically: a newer adaptation arriving
 * meanwhile adds the step again and is handled on the next check. */
static const char *const take_script = "local v = redis.call('HGET', KEYS[1], 'live_memory_mb')\n"
                                       "redis.call('HDEL', KEYS[1], 'live_memory_mb')\n"
                                       "redis.call('SREM', KEYS[2], ARGV[1])\n"
                                       "return v\n";

int coord_live_apply(coord_ctx *c, coord_run *r, const redisReply *steps)
{
    acms_redis *rd = acms_service_redis(c->svc);
    if (!steps || steps->type != REDIS_REPLY_ARRAY || !steps->elements)
        return ACMS_OK;
    for (size_t i = 0; i < steps->elements; i++) {
        const redisReply *e = steps->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        char step_key[512], set_key[300];
        if (!acms_key_step(step_key, sizeof step_key, r->id, e->str) ||
            !acms_key_run_part(set_key, sizeof set_key, r->id, "live"))
            continue;
        const char *argv[] = {"EVAL", take_script, "2", step_key, set_key, e->str};
        size_t len[6];
        for (int k = 0; k < 6; k++)
            len[k] = strlen(argv[k]);
        redisReply *v = acms_redis_cmdargv(rd, 6, argv, len);
        if (!v)
            return ACMS_ERR_RETRY;
        coord_step *s = find_step(r, e->str);
        if (s && v->type == REDIS_REPLY_STRING)
            raise_step(r, s, strtoull(v->str, NULL, 10), acms_now_ms());
        freeReplyObject(v);
    }
    return ACMS_OK;
}

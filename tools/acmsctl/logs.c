/* logs.c: `acmsctl logs RUN STEP [--attempt N] [-f]`: what a step attempt wrote, from the tail the
 * coordinator keeps in Redis (acms:run:<run>:log:<step>:<attempt>: stdout, stderr, their byte
 * totals, done) whatever the executor. Default attempt: the step's last. With -f it prints what is
 * new (by the totals) every 500 ms; without --attempt it waits for the step to start and follows
 * each of its attempts in turn until the step has ended (with --attempt N: that attempt until it is
 * done). Bytes that left the tail between two reads are announced, never invented; the tail is
 * masked by the coordinator (secrets never reach Redis). A compacted run's steps are read from its
 * summary. RUN may be a unique prefix of the run id. With --format json: one document {run_id, step,
 * attempt, stdout, stderr, stdout_total, stderr_total, done}, after following to the end with -f. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmsctl.h"
#include "run_state.h"
#include "keys.h"

typedef struct tail {
    char *data[2];
    size_t len[2];
    unsigned long long total[2];
    int done;
    int exists;
} tail;

static void tail_free(tail *t)
{
    free(t->data[0]);
    free(t->data[1]);
    memset(t, 0, sizeof *t);
}

/* Reads the log hash. CTL_OK (t->exists 0 when absent), CTL_UNREACHABLE. */
static int read_tail(acms_redis *r, const char *run, const char *step, unsigned attempt, tail *t)
{
    static const char *const f[] = {"stdout", "stdout_total", "stderr", "stderr_total", "done"};
    memset(t, 0, sizeof *t);
    redisReply *rep = acms_redis_cmd(r, "HMGET " ACMS_KEY_LOG_FMT " %s %s %s %s %s", run, step, attempt, f[0], f[1],
                                     f[2], f[3], f[4]);
    if (!rep)
        return CTL_UNREACHABLE;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
        for (int s = 0; s < 2; s++) {
            const redisReply *d = rep->element[2 * s], *n = rep->element[2 * s + 1];
            if (d->type == REDIS_REPLY_STRING) {
                t->exists = 1;
                t->data[s] = malloc(d->len + 1);
                if (t->data[s]) {
                    memcpy(t->data[s], d->str, d->len);
                    t->data[s][d->len] = '\0';
                    t->len[s] = d->len;
                }
            }
            t->total[s] = n->type == REDIS_REPLY_STRING ? strtoull(n->str, NULL, 10) : 0;
        }
        t->done = rep->element[4]->type == REDIS_REPLY_STRING && !strcmp(rep->element[4]->str, "1");
    }
    freeReplyObject(rep);
    return CTL_OK;
}

/* Prints what stream s gained since *printed (stdout to stdout, stderr to stderr). */
static void print_new(const tail *t, int s, unsigned long long *printed)
{
    FILE *out = s ? stderr : stdout;
    if (t->total[s] <= *printed)
        return;
    unsigned long long fresh = t->total[s] - *printed;
    if (fresh > t->len[s]) {
        fprintf(out, "[acmsctl: %llu earlier bytes are no longer kept]\n", fresh - t->len[s]);
        fresh = t->len[s];
    }
    fwrite(t->data[s] + (t->len[s] - fresh), 1, (size_t)fresh, out);
    fflush(out);
    *printed = t->total[s];
}

/* Where a step stands: its status and last claimed attempt, from its hash, or from the run's
 * summary once the run is compacted (common/retention.h). */
typedef struct step_state {
    int exists;
    char status[32];
    unsigned attempt;
} step_state;

static int read_step(acms_redis *r, const char *run, const char *step, step_state *st)
{
    memset(st, 0, sizeof *st);
    redisReply *rep = acms_redis_cmd(r, "HMGET " ACMS_KEY_STEP_FMT " status attempt", run, step);
    if (!rep)
        return CTL_UNREACHABLE;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->type == REDIS_REPLY_STRING) {
        st->exists = 1;
        snprintf(st->status, sizeof st->status, "%s", rep->element[0]->str);
        st->attempt = rep->element[1]->str ? (unsigned)strtoul(rep->element[1]->str, NULL, 10) : 0;
    }
    freeReplyObject(rep);
    if (st->exists)
        return CTL_OK;
    int unreachable = 0;
    cJSON *view = ctl_run_view(r, run, &unreachable), *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(view, "steps"))
    {
        const cJSON *name = cJSON_GetObjectItem(s, "name"), *stt = cJSON_GetObjectItem(s, "status");
        if (!cJSON_IsString(name) || strcmp(name->valuestring, step))
            continue;
        st->exists = 1;
        snprintf(st->status, sizeof st->status, "%s", cJSON_IsString(stt) ? stt->valuestring : "");
        st->attempt = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "attempt"));
    }
    cJSON_Delete(view);
    return unreachable ? CTL_UNREACHABLE : CTL_OK;
}

static int step_ended(const step_state *st)
{
    return !strcmp(st->status, "succeeded") || !strcmp(st->status, "failed") || !strcmp(st->status, "skipped") ||
           !strcmp(st->status, "cancelled");
}

static void print_json(const char *run, const char *step, unsigned attempt, const tail *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "run_id", run);
    cJSON_AddStringToObject(j, "step", step);
    cJSON_AddNumberToObject(j, "attempt", attempt);
    cJSON_AddStringToObject(j, "stdout", t->data[0] ? t->data[0] : "");
    cJSON_AddStringToObject(j, "stderr", t->data[1] ? t->data[1] : "");
    cJSON_AddNumberToObject(j, "stdout_total", (double)t->total[0]);
    cJSON_AddNumberToObject(j, "stderr_total", (double)t->total[1]);
    cJSON_AddBoolToObject(j, "done", t->done);
    ctl_print_json(j);
    cJSON_Delete(j);
}

/* Prints what attempt wrote; with -f until it is done (its tail says so, or the step went on to
 * another attempt or ended: an executor may keep no tail). CTL_OK or the exit code (reported). */
static int show(const ctl_opts *o, acms_redis *r, const char *run, const char *step, unsigned attempt, int64_t deadline)
{
    unsigned long long printed[2] = {0, 0};
    for (int last = 0;;) {
        tail t;
        step_state st = {0};
        if (read_tail(r, run, step, attempt, &t) != CTL_OK)
            return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable reading the logs");
        last = last || !o->follow || t.done;
        if (!last && (read_step(r, run, step, &st) != CTL_OK || st.attempt > attempt || step_ended(&st))) {
            tail_free(&t); /* moved on: read the tail once more, after the step's record */
            last = 1;
            continue;
        }
        if (o->json && last) {
            print_json(run, step, attempt, &t);
        } else if (!o->json) {
            print_new(&t, 0, &printed[0]);
            print_new(&t, 1, &printed[1]);
            if (!t.exists && !o->follow)
                fprintf(stderr, "acmsctl: step %s attempt %u has written nothing yet\n", step, attempt);
        }
        tail_free(&t);
        if (last)
            return CTL_OK;
        if (acms_mono_ms() > deadline)
            return ctl_fail(o, CTL_TIMEOUT, "timeout", NULL, "--timeout passed while following step %s", step);
        usleep(500 * 1000);
    }
}

/* -f without --attempt: the step's attempts in turn, waiting for the first to start and for each
 * retry, until the step has ended. */
static int follow_step(const ctl_opts *o, acms_redis *r, const char *run, const char *step, step_state st,
                       int64_t deadline)
{
    unsigned shown = 0;
    for (;;) {
        if (st.attempt > shown) {
            if (shown && !o->json)
                fprintf(stderr, "--- acmsctl: step %s attempt %u ---\n", step, shown + 1);
            int rc = show(o, r, run, step, ++shown, deadline);
            if (rc != CTL_OK)
                return rc;
            if (read_step(r, run, step, &st) != CTL_OK)
                return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable");
            continue;
        }
        if (step_ended(&st)) {
            if (!shown && !o->quiet)
                fprintf(stderr, "acmsctl: step %s %s without running\n", step, st.status);
            return CTL_OK;
        }
        if (acms_mono_ms() > deadline)
            return ctl_fail(o, CTL_TIMEOUT, "timeout", NULL, "--timeout passed while following step %s", step);
        usleep(500 * 1000);
        if (read_step(r, run, step, &st) != CTL_OK)
            return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable");
    }
}

/* -f on a run that has not reached its coordinator yet: its steps are not known until it is
 * created; waits for the step to appear or the run to end. CTL_OK (st filled) or the exit code. */
static int await_step(const ctl_opts *o, acms_redis *r, const char *run, const char *step, step_state *st,
                      int64_t deadline)
{
    while (!st->exists) {
        redisReply *rep = acms_redis_cmd(r, "HGET " ACMS_KEY_RUN_FMT " status", run);
        int ended = rep && rep->type == REDIS_REPLY_STRING && acms_state_is_terminal(rep->str);
        if (rep)
            freeReplyObject(rep);
        if (!rep)
            return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable");
        if (ended || acms_mono_ms() > deadline)
            return CTL_OK;
        usleep(250 * 1000);
        if (read_step(r, run, step, st) != CTL_OK)
            return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable");
    }
    return CTL_OK;
}

int ctl_logs(const ctl_opts *o)
{
    acms_cfg cfg;
    char run[256];
    const char *step = o->nargs > 1 ? o->args[1] : NULL;
    if (!step)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "logs: usage: acmsctl logs RUN STEP [--attempt N] [-f]");
    int rc = ctl_load_cfg(o, &cfg);
    if (rc)
        return rc;
    acms_redis *r = ctl_redis(o, &cfg);
    if (!r)
        return CTL_UNREACHABLE;
    step_state st = {0};
    int64_t deadline = acms_mono_ms() + (int64_t)o->timeout_s * 1000;
    if ((rc = ctl_resolve_run(o, r, o->file, run, sizeof run)) != CTL_OK)
        goto out;
    if (read_step(r, run, step, &st) != CTL_OK) {
        rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable");
    } else if (o->follow && !st.exists && (rc = await_step(o, r, run, step, &st, deadline)) != CTL_OK) {
        ;
    } else if (!st.exists) {
        rc = ctl_fail(o, CTL_FAIL, "unknown_step", NULL, "run %s has no step '%s'", run, step);
    } else if (o->attempt > 0 && (unsigned)o->attempt > st.attempt && !o->follow) {
        rc = ctl_fail(o, CTL_FAIL, "unknown_step", NULL, "step '%s' of run %s has no attempt %d (its last is %u)", step,
                      run, o->attempt, st.attempt);
    } else if (o->follow && !o->attempt) {
        rc = follow_step(o, r, run, step, st, deadline);
    } else if (!o->attempt && !st.attempt) {
        rc = o->json ? (print_json(run, step, 0, &(tail){0}), CTL_OK) : CTL_OK;
        if (!o->json)
            fprintf(stderr, "acmsctl: step %s has not started (%s)\n", step, st.status);
    } else {
        rc = show(o, r, run, step, o->attempt ? (unsigned)o->attempt : st.attempt, deadline);
    }
out:
    acms_redis_free(r);
    return rc;
}

/* logs.c: `acmsctl logs RUN STEP [--attempt N] [-f]`: what a step attempt wrote, from the tail the
 * coordinator keeps in Redis (acms:run:<run>:log:<step>:<attempt>: stdout, stderr, their byte
 * totals, done) whatever the executor. Default attempt: the step's last. With -f it prints what is
 * new (by the totals) every 500 ms until the attempt is done; bytes that left the tail between two
 * reads are announced, never invented. RUN may be a unique prefix of the run id. With --format json:
 * one document {run_id, step, attempt, stdout, stderr, stdout_total, stderr_total, done}, after
 * following to the end with -f. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmsctl.h"

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
    redisReply *rep = acms_redis_cmd(r, "HMGET acms:run:%s:log:%s:%u %s %s %s %s %s", run, step, attempt, f[0], f[1],
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

/* The attempt to show: --attempt, else the step's last claimed one. 0 when the step is unknown. */
static unsigned which_attempt(acms_redis *r, const ctl_opts *o, const char *run, const char *step, int *unreachable)
{
    redisReply *rep = acms_redis_cmd(r, "HGET acms:run:%s:step:%s attempt", run, step);
    *unreachable = !rep;
    unsigned a = rep && rep->type == REDIS_REPLY_STRING ? (unsigned)strtoul(rep->str, NULL, 10) : 0;
    if (rep)
        freeReplyObject(rep);
    if (o->attempt > 0 && (a || !*unreachable))
        return a ? (unsigned)o->attempt : 0;
    return a;
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

/* Prints the attempt's output (following it with -f) until done. CTL_OK or the exit code (reported). */
static int show(const ctl_opts *o, acms_redis *r, const char *run, const char *step, unsigned attempt)
{
    unsigned long long printed[2] = {0, 0};
    int64_t deadline = acms_mono_ms() + (int64_t)o->timeout_s * 1000;
    for (;;) {
        tail t;
        if (read_tail(r, run, step, attempt, &t) != CTL_OK)
            return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable reading the logs");
        int done = t.done, last = !o->follow || done;
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
    int unreachable = 0;
    unsigned attempt = 0;
    if ((rc = ctl_resolve_run(o, r, o->file, run, sizeof run)) == CTL_OK &&
        !(attempt = which_attempt(r, o, run, step, &unreachable)))
        rc = unreachable ? ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis is unreachable")
                         : ctl_fail(o, CTL_FAIL, "unknown_step", NULL, "run %s has no step '%s'%s", run, step,
                                    o->attempt ? " or no such attempt" : "");
    if (rc == CTL_OK)
        rc = show(o, r, run, step, attempt);
    acms_redis_free(r);
    return rc;
}

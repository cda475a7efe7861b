/* view.c: a run's live state (read by common/runview.c, as acms-console reads it), followed to its
 * end and rendered for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acmsctl.h"
#include "runview.h"
#include "run_state.h"
#include "keys.h"
#include "log.h"

cJSON *ctl_run_view(acms_redis *r, const char *run_id, int *unreachable)
{
    return acms_runview_read(r, run_id, unreachable); /* common/runview.c: acms-console reads runs alike */
}

static const char *jstr(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ctl_run_exit(const cJSON *view)
{
    const char *st = jstr(view, "status", "");
    return !strcmp(st, "succeeded") ? CTL_OK : CTL_FAIL;
}

/* Quiet following needs only the run's status until it is terminal: 1 terminal, 0 not yet (or
 * unknown run), -1 unreachable. */
static int run_ended(acms_redis *r, const char *run_id)
{
    redisReply *rep = acms_redis_cmd(r, "HGET " ACMS_KEY_RUN_FMT " status", run_id);
    if (!rep)
        return -1;
    int ended = rep->type == REDIS_REPLY_STRING && acms_state_is_terminal(rep->str);
    freeReplyObject(rep);
    return ended;
}

/* Progress: one line on stderr per change of the run's or a step's status (last: the previous state). */
static void print_progress(const cJSON *view, const char *run_id, int quiet, char *last, size_t lastsize)
{
    char now[8192];
    size_t off = 0;
    const cJSON *s;
    off += (size_t)snprintf(now + off, sizeof now - off, "%s", jstr(view, "status", "?"));
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(view, "steps"))
    {
        if (off >= sizeof now - 64)
            break;
        off += (size_t)snprintf(now + off, sizeof now - off, "|%s=%s/%g", jstr(s, "name", "?"),
                                jstr(s, "status", "pending"), jnum(s, "attempt"));
    }
    if (!strcmp(now, last))
        return;
    if (!quiet) {
        double done = jnum(view, "steps_done"), total = jnum(view, "steps_total");
        fprintf(stderr, "[%s] run %.8s %-10s", jstr(view, "pipeline", "?"), run_id, jstr(view, "status", "?"));
        if (total > 0)
            fprintf(stderr, " %g/%g steps done", done, total);
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(view, "steps"))
        {
            const char *st = jstr(s, "status", "pending");
            if (!strcmp(st, "running") || !strcmp(st, "retrying"))
                fprintf(stderr, "  %s: %s (attempt %g)", jstr(s, "name", "?"), st, jnum(s, "attempt"));
        }
        fputc('\n', stderr);
    }
    snprintf(last, lastsize, "%s", now);
}

/* Reads the run once: its view when it has ended (quiet) or always (not quiet), NULL otherwise;
 * *unreachable when Redis could not be read. */
static cJSON *read_once(acms_redis *r, const char *run_id, int quiet, int *unreachable)
{
    /* quiet: a cheap status read until the end, the whole view once the run has ended */
    int ended = quiet ? run_ended(r, run_id) : 1;
    if (ended < 0)
        *unreachable = 1;
    return ended > 0 ? ctl_run_view(r, run_id, unreachable) : NULL;
}

cJSON *ctl_follow(acms_redis *r, const char *run_id, int timeout_s, int quiet, int *rc, const char **why)
{
    int64_t deadline = acms_mono_ms() + (int64_t)timeout_s * 1000;
    int64_t away_since = 0;
    char last[8192] = "";
    /* subscribed before the first read: an end written after that read is published to us */
    ctl_endwait *w = ctl_endwait_new(r, run_id);
    int notified = 0, fallback = ctl_endwait_fallback_ms();
    cJSON *view = NULL;
    for (;;) {
        int unreachable = 0;
        view = read_once(r, run_id, quiet, &unreachable);
        if (!unreachable) {
            away_since = 0;
        } else if (!away_since) {
            away_since = acms_mono_ms();
        } else if (acms_mono_ms() - away_since > 5000) {
            *why = "Redis became unreachable";
            *rc = CTL_UNREACHABLE;
            break;
        }
        if (view) {
            print_progress(view, run_id, quiet, last, sizeof last);
            if (acms_state_is_terminal(jstr(view, "status", "")))
                break;
            cJSON_Delete(view);
            view = NULL;
        }
        int64_t left = deadline - acms_mono_ms();
        if (left < 0) {
            *why = "--timeout passed before the run ended (it goes on; follow it with acmsctl watch)";
            *rc = CTL_TIMEOUT;
            break;
        }
        /* quiet: the end notification, the status read every fallback interval in case it is lost */
        int ms = !quiet ? 100 : w ? fallback : 20;
        int got = ctl_endwait_wait(w, left < ms ? (int)left + 1 : ms);
        if (got < 0) { /* the subscription broke: poll as without one */
            ctl_endwait_free(w);
            w = NULL;
        }
        notified = got > 0;
    }
    if (view)
        acms_log_debug(run_id, NULL, "run ended %s (%s)", jstr(view, "status", "?"),
                       notified ? "notified" : "status read");
    ctl_endwait_free(w);
    return view;
}

void ctl_print_json(const cJSON *doc)
{
    char *s = cJSON_Print(doc);
    if (s) {
        puts(s);
        free(s);
    }
}

/* The issues a rejected run was refused for, as `acmsctl validate` prints them, named after the file
 * (or stored configuration) that was submitted. */
static void print_verdict(const cJSON *view)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(view, "validation");
    if (!cJSON_IsObject(res))
        return;
    const char *name = *jstr(view, "config_ref", "") ? jstr(view, "config_ref", "") : jstr(view, "source_name", "");
    size_t errors, warnings, infos;
    ctl_count_issues(res, &errors, &warnings, &infos);
    printf("\n");
    ctl_print_issues(*name ? name : "(document)", cJSON_GetObjectItemCaseSensitive(res, "issues"));
    ctl_print_issues(*name ? name : "(document)", cJSON_GetObjectItemCaseSensitive(res, "warnings"));
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(res, "truncated");
    if (cJSON_IsTrue(cut))
        printf("(more issues than the run record keeps: `acmsctl validate` the file for all of them)\n");
    printf("%zu error%s, %zu warning%s", errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    if (infos)
        printf(", %zu info", infos);
    printf("\n");
}

void ctl_print_run(const cJSON *view)
{
    printf("run        %s\n", jstr(view, "run_id", "?"));
    printf("pipeline   %s\n", jstr(view, "pipeline", "?"));
    printf("env        %s\n", jstr(view, "environment", "?"));
    if (*jstr(view, "config_ref", ""))
        printf("config     %s (sha256 %.12s)\n", jstr(view, "config_ref", ""), jstr(view, "config_hash", "-"));
    printf("status     %s\n", jstr(view, "status", "?"));
    double sub = jnum(view, "submitted_ms"), fin = jnum(view, "finished_ms");
    if (fin > 0 && sub > 0)
        printf("duration   %.2f s\n", (fin - sub) / 1000.0);
    if (*jstr(view, "reason", ""))
        printf("reason     %s\n", jstr(view, "reason", ""));
    if (*jstr(view, "retry_of", ""))
        printf("retry of   %s\n", jstr(view, "retry_of", ""));
    if (*jstr(view, "retried_by", ""))
        printf("retried by %s\n", jstr(view, "retried_by", ""));
    if (*jstr(view, "sandbox", ""))
        printf("sandbox    %s\n", jstr(view, "sandbox", ""));
    if (!strcmp(jstr(view, "status", ""), "queued"))
        printf("queue      position %g in %s; %s\n", jnum(view, "queue_position"), jstr(view, "environment", "?"),
               jstr(view, "queue_reason", ""));
    print_verdict(view);
    const cJSON *steps = cJSON_GetObjectItem(view, "steps"), *s;
    if (cJSON_GetArraySize(steps) > 0) {
        printf("\n%-24s %-10s %8s %10s %10s %10s  %s\n", "STEP", "STATUS", "ATTEMPTS", "WALL(s)", "PEAK(MiB)",
               "LIMIT(MiB)", "EXIT");
        cJSON_ArrayForEach(s, steps)
        {
            printf("%-24s %-10s %8g %10.2f %10.1f %10g  %s\n", jstr(s, "name", "?"), jstr(s, "status", "pending"),
                   jnum(s, "attempt"), jnum(s, "wall_ms") / 1000.0, jnum(s, "peak_rss_kb") / 1024.0,
                   jnum(s, "memory_mb"), jstr(s, "exit_reason", ""));
            if (*jstr(s, "message", ""))
                printf("%-24s   %s\n", "", jstr(s, "message", ""));
        }
    }
    const cJSON *ad = cJSON_GetObjectItem(view, "adaptations"), *a;
    if (cJSON_IsTrue(cJSON_GetObjectItem(view, "compacted")))
        printf("\ncompacted: %g adaptation(s), the log is on the bus (acms.config.prepared, acms.exec.adapted)\n",
               jnum(view, "adaptations_count"));
    if (cJSON_GetArraySize(ad) > 0) {
        printf("\nadaptations (%d):\n", cJSON_GetArraySize(ad));
        cJSON_ArrayForEach(a, ad)
        {
            const cJSON *applied = cJSON_GetObjectItem(a, "applied");
            printf("  [%s] %s%s%s: %s -> %s  (%s)%s\n", jstr(a, "stage", "?"), jstr(a, "step", ""),
                   *jstr(a, "step", "") ? "." : "", jstr(a, "field", "?"), jstr(a, "old_value", "\"\""),
                   jstr(a, "new_value", "\"\""), jstr(a, "reason", ""), cJSON_IsTrue(applied) ? "" : "  [not applied]");
        }
    }
}

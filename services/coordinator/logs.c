/* logs.c: what a step attempt wrote, kept in Redis for `acmsctl logs` whatever the executor:
 * acms:run:<run>:log:<step>:<attempt> is a hash of the last tail_cap bytes of stdout and of stderr
 * with the byte totals written so far (so a follower prints only what is new) and done=1 once the
 * attempt ended. Writes go on the run's ordered queue: live ones at most once per heartbeat and
 * only when the output grew, the final one before the step's record. */
#include "coord.h"
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the last cap bytes of buf (len updated). */
static void keep_last(char *buf, size_t *len, size_t cap)
{
    if (*len <= cap)
        return;
    memmove(buf, buf + (*len - cap), cap);
    *len = cap;
    buf[cap] = '\0';
}

void coord_logs_record(coord_ctx *c, coord_run *r, coord_step *s, int final)
{
    char *out = NULL, *err = NULL;
    size_t olen = 0, elen = 0;
    uint64_t otot = 0, etot = 0;
    if (!s->proc)
        return;
    int have_out = coord_exec_tail(s->proc, 1, !final, &out, &olen, &otot) == 0;
    int have_err = coord_exec_tail(s->proc, 2, !final, &err, &elen, &etot) == 0;
    size_t cap = c->tail_cap ? c->tail_cap : COORD_TAIL_CAP;
    if ((have_out || have_err) && (final || otot + etot != s->logged_total)) {
        char key[600], ot[24], et[24];
        if (out)
            keep_last(out, &olen, cap);
        if (err)
            keep_last(err, &elen, cap);
        snprintf(ot, sizeof ot, "%llu", (unsigned long long)otot);
        snprintf(et, sizeof et, "%llu", (unsigned long long)etot);
        if (acms_key_log(key, sizeof key, r->id, s->cfg->name, s->attempt)) {
            const char *argv[] = {"HSET",         key, "stdout", out ? out : "",
                                  "stdout_total", ot,  "stderr", err ? err : "",
                                  "stderr_total", et,  "done",   final ? "1" : "0"};
            coord_opq_cmd(&r->q, 12, argv);
        }
        s->logged_total = otot + etot;
    }
    free(out);
    free(err);
}

void coord_logs_note(coord_run *r, const coord_step *s, const char *note)
{
    char key[300], json[1024], esc[600];
    size_t k = 0;
    for (const char *p = note; *p && k + 2 < sizeof esc; p++) {
        if (*p == '"' || *p == '\\')
            esc[k++] = '\\';
        esc[k++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    esc[k] = '\0';
    acms_key_run_part(key, sizeof key, r->id, "adaptations");
    int inplace = !strncmp(note, "memory resized in place", 23);
    coord_fmt(json, sizeof json,
              "{\"stage\":\"runtime\",\"step\":\"%s\",\"field\":\"resources.memory_mb\",\"old_value\":\"\","
              "\"new_value\":\"\",\"reason\":\"attempt %u: %s\",\"safety_score\":1,\"applied\":%s}",
              s->cfg->name, s->attempt, esc, inplace ? "true" : "false");
    const char *argv[] = {"RPUSH", key, json};
    coord_opq_cmd(&r->q, 3, argv);
    acms_log_info(r->id, NULL, "step %s attempt %u: %s", s->cfg->name, s->attempt, note);
}

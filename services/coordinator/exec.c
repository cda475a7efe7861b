/* exec.c: one handle over the executor backends (local process, http worker, kubernetes Pod) and the step
 * environment both share. Secret references are resolved here at the last moment, only into the
 * malloc'd environment handed to the backend, which wipes it (coord_env_free) once it has started
 * the attempt. Nothing here logs or returns a resolved value. */
#include "exec_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redact.h"

#define SECRET_MAX ACMS_SECRET_MAX_VALUE

struct coord_proc {
    coord_local *local;
    coord_http *http;
    coord_k8s *k8s;
    coord_exec_status failed; /* when no backend handle could be made */
    char id[400];
    coord_redact *redact; /* the attempt's resolved values, masked in all it reports */
    int files_masked;     /* the captured output files were masked once the attempt ended */
};

int coord_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size;
}

void coord_path_component(char *out, size_t size, const char *s)
{
    size_t k = 0;
    if (!size)
        return;
    for (; s && *s && k + 1 < size; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        out[k++] = ok ? c : '_';
    }
    out[k] = '\0';
    if (!k || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, size, "_");
}

/* --- environment ------------------------------------------------------------------------------- */

typedef struct envvec {
    char **v;
    size_t n, cap;
} envvec;

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void coord_env_free(char **envp)
{
    if (!envp)
        return;
    for (char **p = envp; *p; p++)
        wipe_free(*p);
    free(envp);
}

/* Sets name=value, replacing an earlier entry of the same name. 0 or -1 (out of memory). */
static int env_set(envvec *e, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *s = malloc(nl + vl + 2);
    if (!s)
        return -1;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    for (size_t i = 0; i < e->n; i++)
        if (!strncmp(e->v[i], name, nl) && e->v[i][nl] == '=') {
            wipe_free(e->v[i]);
            e->v[i] = s;
            return 0;
        }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        char **v = realloc(e->v, cap * sizeof *v);
        if (!v) {
            wipe_free(s);
            return -1;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

static int valid_name(const char *n)
{
    if (!n || !*n || strchr(n, '='))
        return 0;
    return 1;
}

char **coord_env_build(const coord_exec_req *req, const char *step_dir, char *errstr, size_t errstr_size,
                       int *transient)
{
    envvec e = {0};
    char *secret = NULL;
    char num[32];
    *transient = 0;
    if (errstr_size)
        errstr[0] = '\0';
    const char *path = getenv("PATH"), *home = getenv("HOME"), *lang = getenv("LANG");
    if (env_set(&e, "PATH", path && *path ? path : "/usr/local/bin:/usr/bin:/bin") ||
        env_set(&e, "HOME", home && *home ? home : "/") || env_set(&e, "LANG", lang && *lang ? lang : "C.UTF-8"))
        goto nomem;
    for (size_t i = 0; i < req->nenv; i++) {
        const Acms__V1__EnvVar *v = req->env[i];
        if (!v || !valid_name(v->name)) {
            snprintf(errstr, errstr_size, "env[%zu]: invalid variable name", i);
            goto fail;
        }
        if (!strncmp(v->name, "ACMS_", 5))
            continue; /* reserved: set below */
        const char *value = v->value ? v->value : "";
        if (acms_secret_is_ref(value)) {
            char err[256] = "";
            if (!secret && !(secret = malloc(SECRET_MAX)))
                goto nomem;
            int rc = coord_secret_resolve(req, value, secret, SECRET_MAX, err, sizeof err);
            if (rc != ACMS_OK) {
                explicit_bzero(secret, SECRET_MAX);
                *transient = rc == ACMS_ERR_RETRY;
                snprintf(errstr, errstr_size, "env %s: secret reference not resolved: %s", v->name,
                         err[0] ? err : acms_strerror(rc));
                goto fail;
            }
            int bad = env_set(&e, v->name, secret) || coord_redact_add(req->redact, secret);
            explicit_bzero(secret, strnlen(secret, SECRET_MAX));
            if (bad)
                goto nomem;
        } else if (env_set(&e, v->name, value)) {
            goto nomem;
        }
    }
    snprintf(num, sizeof num, "%u", req->attempt);
    if (env_set(&e, "ACMS_RUN_ID", req->run_id ? req->run_id : "") || env_set(&e, "ACMS_STEP", req->step) ||
        env_set(&e, "ACMS_ATTEMPT", num) ||
        (req->output_path && *req->output_path && env_set(&e, "ACMS_OUTPUT_PATH", req->output_path)) ||
        (step_dir && env_set(&e, "ACMS_STEP_DIR", step_dir)))
        goto nomem;
    if (secret) {
        explicit_bzero(secret, SECRET_MAX);
        free(secret);
    }
    return e.v;
nomem:
    snprintf(errstr, errstr_size, "out of memory building the environment");
    *transient = 1;
fail:
    if (secret) {
        explicit_bzero(secret, SECRET_MAX);
        free(secret);
    }
    coord_env_free(e.v);
    return NULL;
}

/* --- dispatch ---------------------------------------------------------------------------------- */

coord_proc *coord_exec_start(const coord_exec_req *in)
{
    coord_proc *p = calloc(1, sizeof *p);
    if (!p || !(p->redact = coord_redact_new())) {
        free(p);
        return NULL;
    }
    coord_exec_req copy = *in, *req = &copy;
    copy.redact = p->redact;
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    if (req->executor && !strcmp(req->executor, "http")) {
        p->http = coord_http_start(req, &st);
        if (p->http)
            snprintf(p->id, sizeof p->id, "%s", coord_http_id(p->http));
    } else if (req->executor && !strcmp(req->executor, "kubernetes")) {
        p->k8s = coord_k8s_start(req, &st);
        if (p->k8s)
            snprintf(p->id, sizeof p->id, "%s", coord_k8s_id(p->k8s));
    } else if (req->executor && *req->executor && strcmp(req->executor, "local")) {
        p->failed.done = 1;
        p->failed.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
        p->failed.permanent = 1;
        snprintf(p->failed.message, sizeof p->failed.message, "unknown executor '%s' (local | http | kubernetes)",
                 req->executor);
        return p;
    } else {
        p->local = coord_local_start(req, &st);
        if (p->local)
            snprintf(p->id, sizeof p->id, "pid:%ld", (long)coord_local_pid(p->local));
    }
    if (!p->local && !p->http && !p->k8s) {
        p->failed = st;
        p->failed.done = 1;
        if (!p->failed.reason)
            p->failed.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
    }
    return p;
}

/* Masks the attempt's secret values in what it reports, and in its captured output once it ended. */
static int masked(coord_proc *p, int done, coord_exec_status *st)
{
    if (coord_redact_empty(p->redact))
        return done;
    coord_redact_str(p->redact, st->stderr_tail);
    coord_redact_str(p->redact, st->message);
    if (done && !p->files_masked && st->dir[0]) {
        static const char *const files[] = {"stdout.log", "stderr.log"};
        char path[700];
        for (size_t i = 0; i < 2; i++)
            if (!coord_fmt(path, sizeof path, "%s/%s", st->dir, files[i]) && coord_redact_file(p->redact, path) != 0)
                acms_log_warn(NULL, NULL, "%s: cannot mask the step's secrets in it", path);
        p->files_masked = 1;
    }
    return done;
}

int coord_exec_poll(coord_proc *p, int64_t now, coord_exec_status *st)
{
    if (p->local)
        return masked(p, coord_local_poll(p->local, now, st), st);
    if (p->http)
        return masked(p, coord_http_poll(p->http, now, st), st);
    if (p->k8s)
        return masked(p, coord_k8s_poll(p->k8s, now, st), st);
    *st = p->failed;
    return 1;
}

void coord_exec_cancel(coord_proc *p, int64_t now)
{
    if (p->local)
        coord_local_cancel(p->local, now);
    else if (p->http)
        coord_http_cancel(p->http, now);
    else if (p->k8s)
        coord_k8s_cancel(p->k8s, now);
}

void coord_exec_abandon(coord_proc *p)
{
    if (p->local)
        coord_local_abandon(p->local);
    else if (p->http)
        coord_http_abandon(p->http);
    else if (p->k8s)
        coord_k8s_abandon(p->k8s);
}

void coord_exec_free(coord_proc *p)
{
    if (!p)
        return;
    if (p->local)
        coord_local_free(p->local);
    if (p->http)
        coord_http_free(p->http);
    if (p->k8s)
        coord_k8s_free(p->k8s);
    coord_redact_free(p->redact);
    free(p);
}

int coord_exec_set_memory(coord_proc *p, uint64_t memory_mb, char *errstr, size_t errstr_size)
{
    if (p->local)
        return coord_local_set_memory(p->local, memory_mb, errstr, errstr_size);
    if (p->k8s) {
        if (coord_exec_resize(p, memory_mb) == 1)
            return COORD_RESIZE_ASKED;
        snprintf(errstr, errstr_size, "the kubernetes executor cannot resize this attempt");
        return ACMS_ERR;
    }
    snprintf(errstr, errstr_size, "%s",
             p->http ? "the http executor cannot change a running attempt's memory" : "the attempt has no process");
    return ACMS_ERR;
}

const char *coord_exec_id(const coord_proc *p)
{
    return p->id;
}

/* An adopted attempt's values, resolved again only to be masked in what it reports: a reference
 * that no longer resolves masks nothing (its value never reached this coordinator). */
static void redact_refill(const coord_exec_req *req, coord_redact *r)
{
    char *secret = malloc(SECRET_MAX), err[256];
    for (size_t i = 0; secret && i < req->nenv; i++) {
        const char *value = req->env[i] && req->env[i]->value ? req->env[i]->value : "";
        if (acms_secret_is_ref(value) &&
            coord_secret_resolve(req, value, secret, SECRET_MAX, err, sizeof err) == ACMS_OK)
            coord_redact_add(r, secret);
        explicit_bzero(secret, SECRET_MAX);
    }
    free(secret);
}

coord_proc *coord_exec_adopt(const coord_exec_req *req)
{
    coord_exec_status st;
    if (!req->executor || strcmp(req->executor, "kubernetes"))
        return NULL;
    coord_proc *p = calloc(1, sizeof *p);
    if (!p || !(p->redact = coord_redact_new()) || !(p->k8s = coord_k8s_adopt(req, &st))) {
        if (p)
            coord_redact_free(p->redact);
        free(p);
        return NULL;
    }
    redact_refill(req, p->redact);
    snprintf(p->id, sizeof p->id, "%s", coord_k8s_id(p->k8s));
    return p;
}

int coord_exec_resize(coord_proc *p, uint64_t memory_mb)
{
    return p->k8s ? coord_k8s_resize(p->k8s, memory_mb) : 0;
}

int coord_exec_tail(coord_proc *p, int stream, int live, char **out, size_t *len, uint64_t *total)
{
    *out = NULL;
    *len = 0;
    *total = 0;
    if (p->k8s) {
        if (stream != 1 || coord_k8s_tail(p->k8s, out, len, total) != 0)
            return -1;
    } else if (p->local) {
        if (!(*out = malloc(COORD_TAIL_CAP + 1)))
            return -1;
        *len = coord_local_tail(p->local, stream, *out, COORD_TAIL_CAP, total);
    } else {
        return -1;
    }
    /* the live tail is read by `acmsctl logs`: masked like everything else that leaves the attempt
     * (a value cut at the tail's start is not recognised; docs/security.md, limits), each value by
     * as many '*' so that the totals a follower counts by stay true, and while the attempt runs the
     * last bytes that could be the start of a value are held back until the next read */
    if (*out) {
        coord_redact_buf_keeplen(p->redact, *out, *len);
        size_t hold = coord_redact_longest(p->redact);
        hold = live && hold > 1 ? hold - 1 : 0;
        if (hold > *len)
            hold = *len;
        if (hold > *total)
            hold = (size_t)*total;
        *len -= hold;
        *total -= hold;
        (*out)[*len] = '\0';
    }
    return 0;
}

void coord_exec_run_done(struct k8s_exec *k8s, const char *run_id, const Acms__V1__Environment *env)
{
    coord_k8s_run_done(k8s, run_id, env);
}

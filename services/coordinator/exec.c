/* exec.c: one handle over the executor backends (local process, http worker) and the step
 * environment both share. Secret references are resolved here at the last moment, only into the
 * malloc'd environment handed to the backend, which wipes it (coord_env_free) once it has started
 * the attempt. Nothing here logs or returns a resolved value. */
#include "coord.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/secrets.h"

#define SECRET_MAX 65536

struct coord_proc {
    coord_local *local;
    coord_http *http;
    coord_exec_status failed;   /* when no backend handle could be made */
    char id[64];
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
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
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
        if (adapter_secret_is_ref(value)) {
            char err[256] = "";
            if (!secret && !(secret = malloc(SECRET_MAX)))
                goto nomem;
            int rc = adapter_secret_resolve(req->secrets, value, secret, SECRET_MAX, err, sizeof err);
            if (rc != ACMS_OK) {
                explicit_bzero(secret, SECRET_MAX);
                *transient = rc == ACMS_ERR_RETRY;
                snprintf(errstr, errstr_size, "env %s: secret reference not resolved: %s", v->name,
                         err[0] ? err : acms_strerror(rc));
                goto fail;
            }
            int bad = env_set(&e, v->name, secret);
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

coord_proc *coord_exec_start(const coord_exec_req *req)
{
    coord_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    coord_exec_status st;
    memset(&st, 0, sizeof st);
    if (req->executor && !strcmp(req->executor, "http")) {
        p->http = coord_http_start(req, &st);
        if (p->http)
            snprintf(p->id, sizeof p->id, "%s", coord_http_id(p->http));
    } else if (req->executor && *req->executor && strcmp(req->executor, "local")) {
        p->failed.done = 1;
        p->failed.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
        p->failed.permanent = 1;
        snprintf(p->failed.message, sizeof p->failed.message, "unknown executor '%s' (local | http)", req->executor);
        return p;
    } else {
        p->local = coord_local_start(req, &st);
        if (p->local)
            snprintf(p->id, sizeof p->id, "pid:%ld", (long)coord_local_pid(p->local));
    }
    if (!p->local && !p->http) {
        p->failed = st;
        p->failed.done = 1;
        if (!p->failed.reason)
            p->failed.reason = ACMS__V1__EXIT_REASON__EXIT_REASON_SPAWN_FAILED;
    }
    return p;
}

int coord_exec_poll(coord_proc *p, int64_t now, coord_exec_status *st)
{
    if (p->local)
        return coord_local_poll(p->local, now, st);
    if (p->http)
        return coord_http_poll(p->http, now, st);
    *st = p->failed;
    return 1;
}

void coord_exec_cancel(coord_proc *p, int64_t now)
{
    if (p->local)
        coord_local_cancel(p->local, now);
    else if (p->http)
        coord_http_cancel(p->http, now);
}

void coord_exec_abandon(coord_proc *p)
{
    if (p->local)
        coord_local_abandon(p->local);
    else if (p->http)
        coord_http_abandon(p->http);
}

void coord_exec_free(coord_proc *p)
{
    if (!p)
        return;
    if (p->local)
        coord_local_free(p->local);
    if (p->http)
        coord_http_free(p->http);
    free(p);
}

int coord_exec_set_memory(coord_proc *p, uint64_t memory_mb, char *errstr, size_t errstr_size)
{
    if (p->local)
        return coord_local_set_memory(p->local, memory_mb, errstr, errstr_size);
    snprintf(errstr, errstr_size, "%s", p->http ? "the http executor cannot change a running attempt's memory"
                                                : "the attempt has no process");
    return ACMS_ERR;
}

const char *coord_exec_id(const coord_proc *p)
{
    return p->id;
}

/* config.c: acmsctl config put|get|list|diff, the configuration store from the command line
 * (common/config_store.h). The store is ACMS_CONFIG_STORE: "redis" (default: the stack's Redis) or the URL
 * of a storage service. put prints the id@version (the same content always gives the same version);
 * get prints the stored bytes exactly, so `config get X@N > f` round-trips. */
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acmsctl.h"
#include "crypt.h"
#include "diff.h"
#include "doc.h"
#include "log.h"
#include "secret.h"
#include "config_store.h"
#include "keys.h"

typedef struct ctl_store {
    acms_cfg cfg;
    acms_redis *redis;
    acms_store *store;
    acms_secret_ctx secrets; /* its vault client serves a transit master key */
    acms_crypt *crypt;       /* NULL: no master key set */
    int curl;
} ctl_store;

static void close_store(ctl_store *c)
{
    acms_store_close(c->store);
    acms_redis_free(c->redis);
    acms_crypt_free(c->crypt);
    acms_secret_ctx_release(&c->secrets);
    if (c->curl)
        curl_global_cleanup();
}

/* Opens the configured store. CTL_OK, CTL_USAGE (bad configuration), CTL_UNREACHABLE (reported). */
static int open_store(const ctl_opts *o, ctl_store *c)
{
    char err[512] = "";
    memset(c, 0, sizeof *c);
    int rc = ctl_load_cfg(o, &c->cfg);
    if (rc)
        return rc;
    const char *spec = getenv("ACMS_CONFIG_STORE");
    int redis = !spec || !*spec || !strcmp(spec, "redis");
    if (redis && !(c->redis = ctl_redis(o, &c->cfg)))
        return CTL_UNREACHABLE;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) { /* http store, Vault */
        acms_redis_free(c->redis);
        c->redis = NULL;
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "curl_global_init failed");
    }
    c->curl = 1;
    c->store = acms_store_open(spec, c->redis, err, sizeof err);
    if (!c->store) {
        close_store(c);
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "ACMS_CONFIG_STORE: %s", err);
    }
    if (acms_secret_ctx_from_env(&c->secrets, err, sizeof err) != ACMS_OK ||
        acms_crypt_from_env(&c->crypt, c->secrets.vault, err, sizeof err) != ACMS_OK) {
        close_store(c);
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "encryption at rest: %s", err);
    }
    acms_store_set_crypt(c->store, c->crypt);
    return CTL_OK;
}

/* Exit code and message for a store error. */
static int store_error(const ctl_opts *o, int rc, const char *what, const char *err)
{
    switch (rc) {
    case ACMS_ERR_RETRY: return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "%s: %s", what, err);
    case ACMS_ERR_INVALID:
    case ACMS_ERR_LIMIT: return ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: %s", what, err);
    case ACMS_ERR_NOTFOUND: return ctl_fail(o, CTL_FAIL, "not_found", NULL, "%s: %s", what, err);
    default: return ctl_fail(o, CTL_FAIL, "store", NULL, "%s: %s", what, err);
    }
}

/* Reads path ("-" = stdin) into the arena, at most ACMS_MAX_FILE_BYTES. NULL after reporting. */
static char *read_all(const ctl_opts *o, acms_arena *a, const char *path, size_t *len)
{
    FILE *f = stdin;
    if (strcmp(path, "-")) { /* a FIFO or a device is refused, never waited on */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd < 0)
                ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: cannot open: %m", path);
            else
                ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: not a regular file", path);
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        if (!(f = fdopen(fd, "rb"))) {
            close(fd);
            ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: cannot open: %m", path);
            return NULL;
        }
    }
    size_t cap = 65536, n = 0;
    char *buf = acms_arena_alloc(a, cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap > ACMS_MAX_FILE_BYTES)
                break;
            char *nb = acms_arena_alloc(a, cap * 2 + 1);
            memcpy(nb, buf, n);
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: read error", path);
        return NULL;
    }
    if (n > ACMS_MAX_FILE_BYTES) {
        ctl_fail(o, CTL_USAGE, "invalid_input", NULL, "%s: larger than the limit of %d bytes", path,
                 ACMS_MAX_FILE_BYTES);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *when(acms_arena *a, int64_t ms)
{
    if (ms <= 0)
        return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return "-";
    return acms_arena_strdup(a, buf);
}

static cJSON *doc_json(const acms_store_doc *d, int with_document)
{
    char ref[ACMS_STORE_MAX_REF];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", d->id);
    cJSON_AddNumberToObject(j, "version", d->version);
    cJSON_AddStringToObject(j, "ref", acms_store_format_ref(ref, sizeof ref, d->id, d->version));
    cJSON_AddStringToObject(j, "hash", d->hash);
    if (d->created_ms > 0)
        cJSON_AddNumberToObject(j, "created_ms", (double)d->created_ms);
    if (d->format && *d->format)
        cJSON_AddStringToObject(j, "format", d->format);
    if (with_document)
        cJSON_AddStringToObject(j, "document", d->document);
    return j;
}

static int cfg_put(const ctl_opts *o, ctl_store *c, acms_arena *a)
{
    const char *path = o->args[1];
    size_t len = 0;
    char *text = read_all(o, a, path, &len);
    if (!text)
        return CTL_USAGE;
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    char perr[512];
    if (acms_doc_parse(a, text, len, &docs, &ndocs, perr, sizeof perr) == ACMS_OK && ndocs > 0 &&
        ctl_plaintext_credentials(o, a, path, docs[0], "store") != CTL_OK)
        return CTL_FAIL; /* exactly as submit: nothing stored */
    acms_store_doc *d = NULL;
    int created = 0;
    char err[1024] = "";
    int rc = acms_store_put(c->store, a, text, len, &d, &created, err, sizeof err);
    if (rc != ACMS_OK)
        return store_error(o, rc, path, err);
    char ref[ACMS_STORE_MAX_REF];
    acms_store_format_ref(ref, sizeof ref, d->id, d->version);
    if (o->json) {
        cJSON *j = doc_json(d, 0);
        cJSON_AddBoolToObject(j, "created", created);
        ctl_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("%s\n", ref);
        if (!o->quiet)
            fprintf(stderr, "%s %s (sha256 %.12s) in the %s store\n",
                    created ? "stored" : "unchanged: already stored as", ref, d->hash, acms_store_kind(c->store));
    }
    return CTL_OK;
}

/* Reads ID[@VERSION] for the --env context. CTL_OK with *d, or the exit code (message printed). */
static int get_ref(const ctl_opts *o, ctl_store *c, acms_arena *a, const char *ref, acms_store_doc **d)
{
    char id[ACMS_STORE_MAX_ID + 1], err[512] = "";
    uint32_t version;
    if (acms_store_parse_ref(ref, id, sizeof id, &version, err, sizeof err) != ACMS_OK)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "%s", err);
    int rc = acms_store_get(c->store, a, id, version, o->env, d, err, sizeof err);
    return rc == ACMS_OK ? CTL_OK : store_error(o, rc, ref, err);
}

static int cfg_get(const ctl_opts *o, ctl_store *c, acms_arena *a)
{
    acms_store_doc *d = NULL;
    int rc = get_ref(o, c, a, o->args[1], &d);
    if (rc != CTL_OK)
        return rc;
    if (o->json) {
        cJSON *j = doc_json(d, 1);
        ctl_print_json(j);
        cJSON_Delete(j);
    } else {
        fwrite(d->document, 1, d->len, stdout);
        if (!o->quiet)
            fprintf(stderr, "%s@%u (sha256 %.12s, stored %s)\n", d->id, (unsigned)d->version, d->hash,
                    when(a, d->created_ms));
    }
    return CTL_OK;
}

static int cfg_list(const ctl_opts *o, ctl_store *c, acms_arena *a)
{
    const char *id = o->nargs == 2 ? o->args[1] : NULL;
    acms_store_entry *v = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc = acms_store_list(c->store, a, id, &v, &n, err, sizeof err);
    if (rc != ACMS_OK)
        return store_error(o, rc, id ? id : "config list", err);
    if (o->json) {
        cJSON *arr = cJSON_CreateArray();
        char ref[ACMS_STORE_MAX_REF];
        for (size_t i = 0; i < n; i++) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "id", v[i].id);
            cJSON_AddNumberToObject(j, id ? "version" : "latest", v[i].version);
            cJSON_AddStringToObject(j, "ref", acms_store_format_ref(ref, sizeof ref, v[i].id, v[i].version));
            cJSON_AddStringToObject(j, "hash", v[i].hash);
            if (v[i].created_ms > 0)
                cJSON_AddNumberToObject(j, "created_ms", (double)v[i].created_ms);
            cJSON_AddItemToArray(arr, j);
        }
        ctl_print_json(arr);
        cJSON_Delete(arr);
        return CTL_OK;
    }
    printf("%-32s %8s  %-14s %s\n", "ID", id ? "VERSION" : "LATEST", "SHA256", "STORED");
    for (size_t i = 0; i < n; i++)
        printf("%-32s %8u  %-14.12s %s\n", v[i].id, (unsigned)v[i].version, *v[i].hash ? v[i].hash : "-",
               when(a, v[i].created_ms));
    if (n == 0 && !o->quiet)
        fprintf(stderr, "no configurations stored yet (acmsctl config put FILE)\n");
    return CTL_OK;
}

static int cfg_diff(const ctl_opts *o, ctl_store *c, acms_arena *a)
{
    acms_store_doc *x = NULL, *y = NULL;
    int rc = get_ref(o, c, a, o->args[1], &x);
    if (rc == CTL_OK)
        rc = get_ref(o, c, a, o->args[2], &y);
    if (rc != CTL_OK)
        return rc;
    char rx[ACMS_STORE_MAX_REF], ry[ACMS_STORE_MAX_REF];
    acms_store_format_ref(rx, sizeof rx, x->id, x->version);
    acms_store_format_ref(ry, sizeof ry, y->id, y->version);
    size_t changes = 0;
    const char *d = acms_diff_unified(a, acms_arena_printf(a, "%s (sha256 %.12s)", rx, x->hash), x->document, x->len,
                                      acms_arena_printf(a, "%s (sha256 %.12s)", ry, y->hash), y->document, y->len, 3,
                                      &changes);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "from", rx);
        cJSON_AddStringToObject(j, "to", ry);
        cJSON_AddBoolToObject(j, "identical", changes == 0);
        cJSON_AddNumberToObject(j, "changed_lines", (double)changes);
        cJSON_AddStringToObject(j, "diff", d);
        ctl_print_json(j);
        cJSON_Delete(j);
    } else {
        fputs(d, stdout);
        if (!o->quiet && changes == 0)
            fprintf(stderr, "%s and %s have the same lines\n", rx, ry);
    }
    return CTL_OK;
}

/* Re-wraps the sealed runtime configuration of one run (acms:run:<run>:runtime). 1, 0 or ACMS_ERR_*. */
static int rotate_runtime(ctl_store *c, acms_arena *a, const char *key, char *err, size_t errn)
{
    size_t klen = strlen(key), plen = strlen(ACMS_KEY_RUN_PREFIX), slen = strlen(":runtime");
    if (klen <= plen + slen)
        return 0;
    const char *run = acms_arena_strndup(a, key + plen, klen - plen - slen);
    redisReply *rep = acms_redis_cmd(c->redis, "GET %s", key);
    if (!rep)
        return ACMS_ERR_RETRY;
    int rc = 0, changed = 0;
    char *out = NULL;
    size_t out_len = 0;
    if (rep->type == REDIS_REPLY_STRING && acms_crypt_is_envelope(rep->str, rep->len)) {
        rc = acms_crypt_rewrap(c->crypt, a, "runtime", run, 1, rep->str, rep->len, &out, &out_len, &changed, err, errn);
        if (rc == ACMS_OK && changed) {
            redisReply *w = acms_redis_cmd(c->redis, "SET %s %b XX", key, out, out_len);
            rc = w && w->type != REDIS_REPLY_ERROR ? 1 : ACMS_ERR_RETRY;
            if (w)
                freeReplyObject(w);
        }
    }
    freeReplyObject(rep);
    return rc;
}

/* Every run's sealed runtime configuration (they live in the services' Redis, whichever store holds
 * the configurations). */
static int rotate_runtimes(ctl_store *c, acms_arena *a, size_t *n, char *err, size_t errn)
{
    char cursor[32] = "0";
    do {
        redisReply *rep = acms_redis_cmd(c->redis, "SCAN %s MATCH " ACMS_KEY_RUN_PREFIX "*:runtime COUNT 500", cursor);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep)
                freeReplyObject(rep);
            snprintf(err, errn, "Redis is unreachable");
            return ACMS_ERR_RETRY;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str ? rep->element[0]->str : "0");
        int rc = ACMS_OK;
        for (size_t i = 0; rc == ACMS_OK && i < rep->element[1]->elements; i++) {
            int k = rotate_runtime(c, a, rep->element[1]->element[i]->str, err, errn);
            if (k < 0)
                rc = k;
            else
                *n += (size_t)k;
        }
        freeReplyObject(rep);
        if (rc != ACMS_OK)
            return rc;
    } while (strcmp(cursor, "0"));
    return ACMS_OK;
}

/* Re-wraps every stored document's data key under the current master key (ACMS_MASTER_KEY_FILE or
 * ACMS_MASTER_KEY_TRANSIT; the previous one in ACMS_MASTER_KEY_FILE_PREVIOUS), in Redis or in the
 * HTTP storage service; documents stored in clear get sealed. The runs' sealed runtime
 * configurations in Redis are re-wrapped too. */
static int cfg_rotate(const ctl_opts *o, ctl_store *c, acms_arena *a)
{
    char err[1024] = "";
    size_t n = 0, nrt = 0;
    if (!c->redis && !(c->redis = ctl_redis(o, &c->cfg))) /* the HTTP store: runtimes still live in Redis */
        return CTL_UNREACHABLE;
    int rc = acms_store_rotate_key(c->store, a, &n, err, sizeof err);
    if (rc == ACMS_OK)
        rc = rotate_runtimes(c, a, &nrt, err, sizeof err);
    if (rc != ACMS_OK)
        return store_error(o, rc, "rotate-key", err);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "key_id", acms_crypt_key_id(c->crypt));
        cJSON_AddNumberToObject(j, "rewrapped", (double)n);
        cJSON_AddNumberToObject(j, "runtimes_rewrapped", (double)nrt);
        ctl_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("%zu document(s) re-wrapped under master key %s (and %zu run runtime configuration(s))\n", n,
               acms_crypt_key_id(c->crypt), nrt);
    }
    return CTL_OK;
}

int ctl_config(const ctl_opts *o)
{
    static const struct {
        const char *name;
        int (*fn)(const ctl_opts *, ctl_store *, acms_arena *);
        int min, max; /* arguments after the subcommand */
        const char *usage;
    } subs[] = {{"put", cfg_put, 1, 1, "put FILE"},
                {"get", cfg_get, 1, 1, "get ID[@VERSION]"},
                {"list", cfg_list, 0, 1, "list [ID]"},
                {"diff", cfg_diff, 2, 2, "diff ID@A ID@B"},
                {"rotate-key", cfg_rotate, 0, 0, "rotate-key"}};
    const char *sub = o->nargs ? o->args[0] : NULL;
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name))
            continue;
        if (o->nargs - 1 < subs[i].min || o->nargs - 1 > subs[i].max)
            return ctl_fail(o, CTL_USAGE, "usage", NULL, "config: usage: acmsctl config %s", subs[i].usage);
        ctl_store c;
        int rc = open_store(o, &c);
        if (rc != CTL_OK)
            return rc;
        acms_arena *a = acms_arena_new(0);
        rc = subs[i].fn(o, &c, a);
        acms_arena_free(a);
        close_store(&c);
        return rc;
    }
    if (sub)
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "config: unknown subcommand '%s' (see acmsctl --help)", sub);
    return ctl_fail(
        o, CTL_USAGE, "usage", NULL,
        "config: missing subcommand (put FILE | get ID[@VERSION] | list [ID] | diff ID@A ID@B | rotate-key)");
}

/* api_configs.c: GET /api/configs[...]: stored configurations through common/config_store.h (the backend
 * ACMS_CONFIG_STORE names, as for acmsctl config), each text shown with its plain-text credentials
 * masked (mask.h) and diffs computed on the masked texts (common/diff.h). */
#include "console.h"

#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "mask.h"
#include "config_store.h"

static unsigned store_status(int rc)
{
    return rc == ACMS_ERR_NOTFOUND ? 404 : rc == ACMS_ERR_RETRY ? 503 : 502;
}

static cJSON *entry_json(const acms_store_entry *e, int with_id)
{
    cJSON *o = cJSON_CreateObject();
    if (with_id)
        cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddNumberToObject(o, "version", e->version);
    cJSON_AddStringToObject(o, "hash", e->hash);
    cJSON_AddNumberToObject(o, "created_ms", (double)e->created_ms);
    return o;
}

/* id NULL: every id with its latest version; else every version of id. */
static void list(acms_store *st, acms_arena *a, const char *id, acms_http_resp *resp)
{
    char err[512] = "";
    acms_store_entry *v = NULL;
    size_t n = 0;
    int rc = acms_store_list(st, a, id, &v, &n, err, sizeof err);
    if (rc != ACMS_OK) {
        console_error(resp, store_status(rc), "%s", err);
        return;
    }
    cJSON *out = cJSON_CreateObject(), *arr;
    if (id)
        cJSON_AddStringToObject(out, "id", id);
    arr = cJSON_AddArrayToObject(out, id ? "versions" : "configs");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, entry_json(&v[i], !id));
    console_json(resp, 200, out);
}

static void version(acms_store *st, acms_arena *a, const char *id, uint32_t n, acms_http_resp *resp)
{
    char err[512] = "", ref[ACMS_STORE_MAX_REF + 8];
    acms_store_doc *d = NULL;
    int rc = acms_store_get(st, a, id, n, NULL, &d, err, sizeof err);
    if (rc != ACMS_OK) {
        console_error(resp, store_status(rc), "%s", err);
        return;
    }
    size_t masked = 0;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", d->id);
    cJSON_AddNumberToObject(out, "version", d->version);
    cJSON_AddStringToObject(out, "ref", acms_store_format_ref(ref, sizeof ref, d->id, d->version));
    cJSON_AddStringToObject(out, "hash", d->hash);
    cJSON_AddNumberToObject(out, "created_ms", (double)d->created_ms);
    cJSON_AddStringToObject(out, "format", d->format ? d->format : "");
    cJSON_AddStringToObject(out, "document", console_mask_document(a, d->document, d->len, &masked));
    cJSON_AddNumberToObject(out, "masked_values", (double)masked);
    console_json(resp, 200, out);
}

/* A version argument: a number >= 1, or def when absent. 0 when malformed. */
static uint32_t version_arg(const acms_http_req *req, const char *name, uint32_t def)
{
    const char *v = acms_http_req_arg(req, name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    return *end || n == 0 || n > UINT32_MAX ? 0 : (uint32_t)n;
}

/* from (default: the version before to) and to (default: the latest). */
static void diff(acms_store *st, acms_arena *a, const char *id, const acms_http_req *req, acms_http_resp *resp)
{
    char err[512] = "", rx[ACMS_STORE_MAX_REF + 8], ry[ACMS_STORE_MAX_REF + 8];
    acms_store_doc *y = NULL, *x = NULL;
    uint32_t to = version_arg(req, "to", UINT32_MAX);
    int rc = to ? acms_store_get(st, a, id, to == UINT32_MAX ? 0 : to, NULL, &y, err, sizeof err) : ACMS_ERR_INVALID;
    uint32_t from = y ? version_arg(req, "from", y->version > 1 ? y->version - 1 : 1) : 0;
    if (rc == ACMS_OK)
        rc = from ? acms_store_get(st, a, id, from, NULL, &x, err, sizeof err) : ACMS_ERR_INVALID;
    if (rc != ACMS_OK) {
        if (rc == ACMS_ERR_INVALID)
            console_error(resp, 400, "from and to are version numbers (1, 2, ...)");
        else
            console_error(resp, store_status(rc), "%s", err);
        return;
    }
    const char *mx = console_mask_document(a, x->document, x->len, NULL);
    const char *my = console_mask_document(a, y->document, y->len, NULL);
    size_t changes = 0;
    acms_store_format_ref(rx, sizeof rx, id, x->version);
    acms_store_format_ref(ry, sizeof ry, id, y->version);
    const char *d = acms_diff_unified(a, rx, mx, strlen(mx), ry, my, strlen(my), 3, &changes);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "from", rx);
    cJSON_AddStringToObject(out, "to", ry);
    cJSON_AddStringToObject(out, "from_hash", x->hash);
    cJSON_AddStringToObject(out, "to_hash", y->hash);
    cJSON_AddBoolToObject(out, "identical", changes == 0);
    cJSON_AddNumberToObject(out, "changed_lines", (double)changes);
    cJSON_AddStringToObject(out, "diff", d ? d : "");
    console_json(resp, 200, out);
}

/* path: "", "/<id>", "/<id>/versions/<n>" or "/<id>/diff". */
static void route(acms_store *st, acms_arena *a, const char *path, const acms_http_req *req, acms_http_resp *resp)
{
    if (!*path || !strcmp(path, "/")) {
        list(st, a, NULL, resp);
        return;
    }
    const char *slash = strchr(path + 1, '/');
    const char *id = acms_arena_strndup(a, path + 1, slash ? (size_t)(slash - path - 1) : strlen(path + 1));
    const char *rest = slash ? slash : "";
    if (!acms_store_valid_id(id)) {
        console_error(resp, 400, "not a configuration id");
    } else if (!*rest) {
        list(st, a, id, resp);
    } else if (!strcmp(rest, "/diff")) {
        diff(st, a, id, req, resp);
    } else if (!strncmp(rest, "/versions/", 10)) {
        char *end = NULL;
        unsigned long n = strtoul(rest + 10, &end, 10);
        if (*end || n == 0 || n > UINT32_MAX || rest[10] < '0' || rest[10] > '9')
            console_error(resp, 400, "a version is a number (1, 2, ...)");
        else
            version(st, a, id, (uint32_t)n, resp);
    } else {
        console_error(resp, 404, "no such API path");
    }
}

void console_api_configs(console *c, acms_redis *r, const char *path, const acms_http_req *req, acms_http_resp *resp)
{
    char err[512] = "";
    acms_store *st = acms_store_open(c->opts.store[0] ? c->opts.store : NULL, r, err, sizeof err);
    if (!st) {
        console_error(resp, 500, "ACMS_CONFIG_STORE: %s", err);
        return;
    }
    acms_store_set_crypt(st, c->crypt);
    acms_arena *a = acms_arena_new(0);
    route(st, a, path, req, resp);
    acms_arena_free(a);
    acms_store_close(st);
}

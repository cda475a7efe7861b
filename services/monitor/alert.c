/* alert.c: alerts, their keys, silences and the Alertmanager webhook JSON (alert.h).
 * Invariants: an alert's dedup key is a function of (name, run, step, attempt) only, so every
 * replica and every redelivery computes the same key; a silence with no matchers never matches. */
#include "alert.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Label names in sorted order (the fingerprint hashes them in this order). */
static const char *const k_labels[] = {"alertname", "attempt", "environment", "pipeline", "run_id", "severity", "step"};
#define NLABELS (sizeof k_labels / sizeof k_labels[0])

static const char *nz(const char *s)
{
    return s ? s : "";
}

const char *monitor_alert_dedup_key(acms_arena *a, const char *name, const char *run_id, const char *step,
                                    uint32_t attempt)
{
    return acms_arena_printf(a, "%s/%s/%s/%u", nz(name), nz(run_id), nz(step), (unsigned)attempt);
}

monitor_alert *monitor_alert_new(acms_arena *a, const char *name, const char *severity, const char *pipeline,
                                 const char *environment, const char *step, const char *run_id, uint32_t attempt,
                                 const char *summary, const char *description)
{
    monitor_alert *al = acms_arena_alloc(a, sizeof *al);
    al->name = acms_arena_strdup(a, nz(name));
    al->severity = acms_arena_strdup(a, severity && *severity ? severity : "warning");
    al->pipeline = acms_arena_strdup(a, nz(pipeline));
    al->environment = acms_arena_strdup(a, nz(environment));
    al->step = acms_arena_strdup(a, nz(step));
    al->run_id = acms_arena_strdup(a, nz(run_id));
    al->attempt = attempt;
    al->summary = acms_arena_strdup(a, nz(summary));
    al->description = acms_arena_strdup(a, nz(description));
    al->dedup_key = monitor_alert_dedup_key(a, al->name, al->run_id, al->step, attempt);
    al->group_key = al->run_id;
    return al;
}

const char *monitor_alert_label(acms_arena *a, const monitor_alert *al, const char *key)
{
    if (!strcmp(key, "alertname") || !strcmp(key, "name"))
        return al->name;
    if (!strcmp(key, "severity"))
        return al->severity;
    if (!strcmp(key, "pipeline"))
        return al->pipeline;
    if (!strcmp(key, "environment") || !strcmp(key, "env"))
        return al->environment;
    if (!strcmp(key, "step"))
        return al->step;
    if (!strcmp(key, "run_id") || !strcmp(key, "run"))
        return al->run_id;
    if (!strcmp(key, "attempt"))
        return acms_arena_printf(a, "%u", (unsigned)al->attempt);
    return NULL;
}

/* Copy of [s, e) without surrounding blanks. */
static char *trimmed(acms_arena *a, const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return acms_arena_strndup(a, s, (size_t)(e - s));
}

int monitor_silences_parse(acms_arena *a, const char *spec, monitor_silences *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    if (!spec)
        return ACMS_OK;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        monitor_silence sil = {.text = trimmed(a, p, end)};
        const char *q = p;
        while (q < end) {
            const char *mend = memchr(q, ',', (size_t)(end - q));
            if (!mend)
                mend = end;
            char *item = trimmed(a, q, mend);
            if (*item) {
                char *eq = strchr(item, '=');
                if (!eq || eq == item) {
                    snprintf(errstr, errstr_size, "ACMS_ALERT_SILENCES: matcher \"%s\" is not key=value", item);
                    return ACMS_ERR_INVALID;
                }
                *eq = '\0';
                sil.m = acms_arena_push(a, sil.m, &sil.n, sizeof *sil.m);
                sil.m[sil.n - 1].key = trimmed(a, item, eq);
                sil.m[sil.n - 1].value = trimmed(a, eq + 1, eq + 1 + strlen(eq + 1));
            }
            q = mend < end ? mend + 1 : end;
        }
        if (sil.n > 0) {
            out->v = acms_arena_push(a, out->v, &out->n, sizeof *out->v);
            out->v[out->n - 1] = sil;
        }
        p = *end ? end + 1 : end;
    }
    return ACMS_OK;
}

const monitor_silence *monitor_alert_silenced(acms_arena *a, const monitor_silences *s, const monitor_alert *al)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const monitor_silence *sil = &s->v[i];
        size_t j;
        for (j = 0; j < sil->n; j++) {
            const char *v = monitor_alert_label(a, al, sil->m[j].key);
            if (!v || strcmp(v, sil->m[j].value) != 0)
                break;
        }
        if (sil->n > 0 && j == sil->n)
            return sil;
    }
    return NULL;
}

void monitor_rfc3339(int64_t ms, char *out, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&secs, &tm)) {
        snprintf(out, size, "0001-01-01T00:00:00Z");
        return;
    }
    char date[24];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    int w = snprintf(out, size, "%s.%03dZ", date, (int)(ms % 1000));
    if (w < 0 || (size_t)w >= size)
        snprintf(out, size, "0001-01-01T00:00:00Z");
}

void monitor_alert_fingerprint(acms_arena *a, const monitor_alert *al, char out[17])
{
    char *buf = acms_arena_strdup(a, "");
    for (size_t i = 0; i < NLABELS; i++)
        buf = acms_arena_printf(a, "%s%s\xff%s\xff", buf, k_labels[i], nz(monitor_alert_label(a, al, k_labels[i])));
    char hex[65];
    acms_sha256_hex(buf, strlen(buf), hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

static cJSON *labels_json(acms_arena *a, const monitor_alert *al)
{
    cJSON *l = cJSON_CreateObject();
    for (size_t i = 0; l && i < NLABELS; i++)
        cJSON_AddStringToObject(l, k_labels[i], nz(monitor_alert_label(a, al, k_labels[i])));
    return l;
}

/* Keys of 'first' whose value is equal in every alert's object (the Alertmanager "common" maps). */
static cJSON *common_of(cJSON *const *objs, size_t n)
{
    cJSON *c = cJSON_CreateObject();
    if (!c || n == 0)
        return c;
    const cJSON *it;
    cJSON_ArrayForEach(it, objs[0])
    {
        size_t i;
        for (i = 1; i < n; i++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(objs[i], it->string);
            if (!o || !cJSON_IsString(o) || strcmp(o->valuestring, it->valuestring) != 0)
                break;
        }
        if (i == n)
            cJSON_AddStringToObject(c, it->string, it->valuestring);
    }
    return c;
}

char *monitor_alert_webhook_json(acms_arena *a, monitor_alert *const *alerts, size_t n, const char *receiver,
                                 const char *external_url)
{
    if (n == 0)
        return NULL;
    const char *ext = external_url && *external_url ? external_url : "http://localhost";
    const char *run = nz(alerts[0]->group_key);
    cJSON *root = cJSON_CreateObject();
    cJSON **lbls = acms_arena_alloc(a, n * sizeof *lbls);
    cJSON **anns = acms_arena_alloc(a, n * sizeof *anns);
    char *out = NULL;
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "version", "4");
    cJSON_AddStringToObject(root, "groupKey", acms_arena_printf(a, "{}:{run_id=\"%s\"}", run));
    cJSON_AddNumberToObject(root, "truncatedAlerts", 0);
    cJSON_AddStringToObject(root, "status", "firing");
    cJSON_AddStringToObject(root, "receiver", receiver && *receiver ? receiver : "acms");
    cJSON *gl = cJSON_AddObjectToObject(root, "groupLabels");
    if (gl)
        cJSON_AddStringToObject(gl, "run_id", run);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const monitor_alert *al = alerts[i];
        char starts[40], fp[17];
        monitor_rfc3339(al->starts_at_ms, starts, sizeof starts);
        monitor_alert_fingerprint(a, al, fp);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "status", "firing");
        lbls[i] = labels_json(a, al);
        cJSON_AddItemToObject(o, "labels", lbls[i]);
        anns[i] = cJSON_CreateObject();
        if (anns[i]) {
            cJSON_AddStringToObject(anns[i], "summary", nz(al->summary));
            cJSON_AddStringToObject(anns[i], "description", nz(al->description));
        }
        cJSON_AddItemToObject(o, "annotations", anns[i]);
        cJSON_AddStringToObject(o, "startsAt", starts);
        cJSON_AddStringToObject(o, "endsAt", "0001-01-01T00:00:00Z");
        cJSON_AddStringToObject(o, "generatorURL", acms_arena_printf(a, "%s/runs/%s", ext, nz(al->run_id)));
        cJSON_AddStringToObject(o, "fingerprint", fp);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(root, "commonLabels", common_of(lbls, n));
    cJSON_AddItemToObject(root, "commonAnnotations", common_of(anns, n));
    cJSON_AddStringToObject(root, "externalURL", ext);
    cJSON_AddItemToObject(root, "alerts", arr);
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

Acms__V1__Alert *monitor_alert_to_pb(acms_arena *a, const monitor_alert *al, Acms__V1__EventMeta *meta)
{
    Acms__V1__Alert *m = acms_pb_new(a, &acms__v1__alert__descriptor);
    m->meta = meta;
    m->pipeline = (char *)al->pipeline;
    m->environment = (char *)al->environment;
    m->step = (char *)al->step;
    m->severity = (char *)al->severity;
    m->name = (char *)al->name;
    m->dedup_key = (char *)al->dedup_key;
    m->summary = (char *)al->summary;
    m->description = (char *)al->description;
    m->observed = al->observed;
    m->expected = al->expected;
    m->starts_at_ms = al->starts_at_ms;
    m->group_key = (char *)al->group_key;
    for (size_t i = 0; i < NLABELS; i++)
        acms_pb_add_label(a, &m->labels, &m->n_labels, k_labels[i], nz(monitor_alert_label(a, al, k_labels[i])));
    return m;
}

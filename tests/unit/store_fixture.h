/* store_fixture.h: a fake storage service for the configuration store's HTTP backend, served by
 * libmicrohttpd on a loopback port chosen by the kernel, in memory (store.h documents the API).
 * Knobs: corrupt (answers carry a wrong hash), fail_status (every answer has that status), and it
 * records the last ?context= it saw, race (conditional puts lose their version to another writer).
 * POST ?version=N is conditional (409 when N is not next); PUT
 * /configs/{id}/versions/{n} with If-Match replaces a version (412 when the hash differs).
 * static inline so unused helpers cost nothing. */
#ifndef ACMS_TEST_STORE_FIXTURE_H
#define ACMS_TEST_STORE_FIXTURE_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_store.h"

#define FX_SRV_MAX 64

typedef struct fx_srv_version {
    char id[ACMS_STORE_MAX_ID + 1];
    uint32_t version;
    char *doc;
    size_t len;
    char hash[65];
} fx_srv_version;

typedef struct fx_srv {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    fx_srv_version v[FX_SRV_MAX];
    size_t n;
    char last_context[128];
    int corrupt;
    int fail_status;
    int requests;
    int race; /* > 0: the next conditional POSTs find their version just taken by another writer */
} fx_srv;

typedef struct fx_srv_upload {
    char *buf;
    size_t len;
} fx_srv_upload;

static inline enum MHD_Result fx_srv_send(struct MHD_Connection *c, unsigned status, cJSON *j)
{
    char *body = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static inline enum MHD_Result fx_srv_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    return fx_srv_send(c, status, j);
}

static inline uint32_t fx_srv_latest(const fx_srv *s, const char *id)
{
    uint32_t v = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id) && s->v[i].version > v)
            v = s->v[i].version;
    return v;
}

static inline const fx_srv_version *fx_srv_find(const fx_srv *s, const char *id, uint32_t version)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id) && s->v[i].version == version)
            return &s->v[i];
    return NULL;
}

static inline enum MHD_Result fx_srv_doc(fx_srv *s, struct MHD_Connection *c, const char *id, uint32_t version)
{
    if (!fx_srv_latest(s, id))
        return fx_srv_error(c, 404, "no such configuration");
    const fx_srv_version *x = fx_srv_find(s, id, version ? version : fx_srv_latest(s, id));
    if (!x)
        return fx_srv_error(c, 404, "no such version");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", x->id);
    cJSON_AddNumberToObject(j, "version", x->version);
    cJSON_AddStringToObject(j, "hash", s->corrupt ? "0000000000000000000000000000000000000000000000000000000000000000"
                                                  : x->hash);
    cJSON_AddStringToObject(j, "document", x->doc);
    return fx_srv_send(c, 200, j);
}

static inline enum MHD_Result fx_srv_put(fx_srv *s, struct MHD_Connection *c, const char *id, const char *body,
                                         size_t len, const char *expect)
{
    char hash[65];
    acms_store_hash(body, len, hash);
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].id, id) && !strcmp(s->v[i].hash, hash)) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "id", id);
            cJSON_AddNumberToObject(j, "version", s->v[i].version);
            cJSON_AddStringToObject(j, "hash", hash);
            cJSON_AddBoolToObject(j, "created", 0);
            return fx_srv_send(c, 200, j);
        }
    if (expect && s->race > 0 && s->n < FX_SRV_MAX) { /* another writer stores a version first */
        fx_srv_version *o = &s->v[s->n++];
        snprintf(o->id, sizeof o->id, "%s", id);
        o->version = fx_srv_latest(s, id) + 1;
        o->doc = strdup("written meanwhile");
        o->len = strlen(o->doc);
        acms_store_hash(o->doc, o->len, o->hash);
        s->race--;
    }
    if (expect && strtoul(expect, NULL, 10) != fx_srv_latest(s, id) + 1)
        return fx_srv_error(c, 409, "that version is taken");
    if (s->n == FX_SRV_MAX)
        return fx_srv_error(c, 507, "full");
    fx_srv_version *x = &s->v[s->n++];
    snprintf(x->id, sizeof x->id, "%s", id);
    x->version = fx_srv_latest(s, id) + 1;
    x->doc = strndup(body, len);
    x->len = len;
    memcpy(x->hash, hash, sizeof hash);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddNumberToObject(j, "version", x->version);
    cJSON_AddStringToObject(j, "hash", hash);
    cJSON_AddBoolToObject(j, "created", 1);
    return fx_srv_send(c, 201, j);
}

/* PUT /configs/{id}/versions/{v} with If-Match: "<hash>". */
static inline enum MHD_Result fx_srv_replace(fx_srv *s, struct MHD_Connection *c, const char *id, uint32_t v,
                                             const char *body, size_t len)
{
    const char *m = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Match");
    fx_srv_version *x = (fx_srv_version *)fx_srv_find(s, id, v);
    if (!x)
        return fx_srv_error(c, 404, "no such version");
    if (!m || strlen(m) != 66 || strncmp(m + 1, x->hash, 64) != 0)
        return fx_srv_error(c, 412, "the stored document changed");
    char *doc = strndup(body, len);
    if (!doc)
        return fx_srv_error(c, 500, "out of memory");
    free(x->doc);
    x->doc = doc;
    x->len = len;
    acms_store_hash(body, len, x->hash);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddNumberToObject(j, "version", v);
    cJSON_AddStringToObject(j, "hash", x->hash);
    return fx_srv_send(c, 200, j);
}

static inline enum MHD_Result fx_srv_list(fx_srv *s, struct MHD_Connection *c, const char *id)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, id ? "versions" : "configs");
    if (id && !fx_srv_latest(s, id)) {
        cJSON_Delete(j);
        return fx_srv_error(c, 404, "no such configuration");
    }
    for (size_t i = 0; i < s->n; i++) {
        const fx_srv_version *x = &s->v[i];
        if (id ? strcmp(x->id, id) != 0 : x->version != fx_srv_latest(s, x->id))
            continue;
        cJSON *e = cJSON_CreateObject();
        if (!id)
            cJSON_AddStringToObject(e, "id", x->id);
        cJSON_AddNumberToObject(e, "version", x->version);
        cJSON_AddStringToObject(e, "hash", x->hash);
        cJSON_AddItemToArray(arr, e);
    }
    return fx_srv_send(c, 200, j);
}

static inline enum MHD_Result fx_srv_answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                            const char *version, const char *upload_data, size_t *upload_data_size,
                                            void **con_cls)
{
    (void)version;
    fx_srv *s = cls;
    if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
        fx_srv_upload *u = *con_cls;
        if (!u) {
            *con_cls = calloc(1, sizeof *u);
            return *con_cls ? MHD_YES : MHD_NO;
        }
        if (*upload_data_size) {
            char *nb = realloc(u->buf, u->len + *upload_data_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + u->len, upload_data, *upload_data_size);
            u->buf = nb;
            u->len += *upload_data_size;
            u->buf[u->len] = '\0';
            *upload_data_size = 0;
            return MHD_YES;
        }
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    const char *ctx = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "context");
    snprintf(s->last_context, sizeof s->last_context, "%s", ctx ? ctx : "");
    enum MHD_Result ret;
    char id[ACMS_STORE_MAX_ID + 1] = "", rest[64] = "";
    unsigned ver = 0;
    int n = sscanf(url, "/configs/%128[^/]%63s", id, rest);
    if (s->fail_status)
        ret = fx_srv_error(c, (unsigned)s->fail_status, "failing on purpose");
    else if (!strcmp(method, "POST") && n == 1) {
        fx_srv_upload *u = *con_cls;
        ret = fx_srv_put(s, c, id, u->buf ? u->buf : "", u->len,
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version"));
    } else if (!strcmp(method, "PUT") && n == 2 && sscanf(rest, "/versions/%u", &ver) == 1 && ver > 0) {
        fx_srv_upload *u = *con_cls;
        ret = fx_srv_replace(s, c, id, ver, u->buf ? u->buf : "", u->len);
    } else if (strcmp(method, "GET") != 0)
        ret = fx_srv_error(c, 405, "method not allowed");
    else if (!strcmp(url, "/configs"))
        ret = fx_srv_list(s, c, NULL);
    else if (n == 2 && !strcmp(rest, "/versions"))
        ret = fx_srv_list(s, c, id);
    else if (n == 2 && !strcmp(rest, "/latest"))
        ret = fx_srv_doc(s, c, id, 0);
    else if (n == 2 && sscanf(rest, "/versions/%u", &ver) == 1 && ver > 0)
        ret = fx_srv_doc(s, c, id, ver);
    else
        ret = fx_srv_error(c, 404, "no such resource");
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static inline void fx_srv_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                    enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    fx_srv_upload *u = *con_cls;
    if (u) {
        free(u->buf);
        free(u);
        *con_cls = NULL;
    }
}

/* Starts the fake service on 127.0.0.1:<free port>. NULL on failure. */
static inline fx_srv *fx_srv_start(void)
{
    fx_srv *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fx_srv_answer, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, fx_srv_completed, s, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        if (s->d)
            MHD_stop_daemon(s->d);
        free(s);
        return NULL;
    }
    s->port = info->port;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return s;
}

static inline void fx_srv_stop(fx_srv *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].doc);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A loopback port nothing listens on (bound, then closed). */
static inline int fx_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A pipeline document named name whose one step writes marker into its working directory. */
static inline const char *fx_pipeline_text(char *buf, size_t size, const char *name, const char *marker)
{
    snprintf(buf, size,
             "apiVersion: acms/v1\n"
             "kind: Pipeline\n"
             "metadata: {name: %s}\n"
             "spec:\n"
             "  steps:\n"
             "    - name: mark\n"
             "      type: processing\n"
             "      command: [\"sh\", \"-c\", \"echo %s > marker\"]\n"
             "      instance_type: ml.m5.large\n"
             "      max_runtime_s: 30\n"
             "      output_path: s3://acme-ml/%s/mark\n",
             name, marker, name);
    return buf;
}

#endif

/* k8s_client.c: the API server connection (explicit variables, in-cluster service account, or the
 * current kubeconfig context) and one blocking libcurl request. Only worker threads call
 * k8s_request; the token is read per request and never copied into a message. */
#include "k8s_client.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "acms.h"
#include "arena.h"
#include "doc.h"
#include "pb.h"
#include "strbuf.h"

#define RESP_DEFAULT_MAX (8u * 1024 * 1024)
#define TOKEN_MAX 16384

static int readable(const char *path)
{
    return path && *path && access(path, R_OK) == 0;
}

/* The first line of a small file into out (trailing whitespace dropped); 0 or -1. */
static int read_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && isspace((unsigned char)out[n - 1]))
        out[--n] = '\0';
    return 0;
}

static void set_server(k8s_conn *c, const char *s)
{
    snprintf(c->server, sizeof c->server, "%s", s);
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
}

static int from_env(k8s_conn *c, char *errstr, size_t errsz)
{
    const char *api = getenv("ACMS_K8S_API"), *tok = getenv("ACMS_K8S_TOKEN_FILE"), *ca = getenv("ACMS_K8S_CA_FILE"),
               *ns = getenv("ACMS_K8S_NAMESPACE");
    set_server(c, api);
    snprintf(c->token_file, sizeof c->token_file, "%s", tok ? tok : "");
    snprintf(c->ca_file, sizeof c->ca_file, "%s", ca ? ca : "");
    snprintf(c->ns, sizeof c->ns, "%s", ns && *ns ? ns : "default");
    snprintf(c->source, sizeof c->source, "ACMS_K8S_API");
    if (c->token_file[0] && !readable(c->token_file)) {
        snprintf(errstr, errsz, "ACMS_K8S_TOKEN_FILE %s is not readable", c->token_file);
        return ACMS_ERR_INVALID;
    }
    if (c->ca_file[0] && !readable(c->ca_file)) {
        snprintf(errstr, errsz, "ACMS_K8S_CA_FILE %s is not readable", c->ca_file);
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

static int in_cluster(k8s_conn *c, char *errstr, size_t errsz)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    char ns[254] = "";
    int v6 = host && strchr(host, ':');
    snprintf(c->server, sizeof c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
             port && *port ? port : "443");
    snprintf(c->token_file, sizeof c->token_file, "%s/token", K8S_SA_DIR);
    snprintf(c->ca_file, sizeof c->ca_file, "%s/ca.crt", K8S_SA_DIR);
    read_line(K8S_SA_DIR "/namespace", ns, sizeof ns);
    const char *envns = getenv("ACMS_K8S_NAMESPACE");
    snprintf(c->ns, sizeof c->ns, "%s", envns && *envns ? envns : ns[0] ? ns : "default");
    snprintf(c->source, sizeof c->source, "in-cluster");
    if (!readable(c->token_file)) {
        snprintf(errstr, errsz, "in cluster but %s is not readable (automountServiceAccountToken?)", c->token_file);
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

/* base64 (kubeconfig *-data) into a malloc'd buffer. */
static unsigned char *b64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0) {
        free(out);
        return NULL;
    }
    while (n > 0 && s[n - 1] == '=') { /* EVP_DecodeBlock counts padding as zero bytes */
        n--;
        k--;
    }
    *len = (size_t)k;
    return out;
}

/* The map of list[] whose name is name, its field field ("cluster", "user", "context"). */
static const Acms__V1__Value *named(const Acms__V1__Value *doc, const char *list, const char *name, const char *field)
{
    const Acms__V1__Value *l = acms_value_get(doc, list);
    if (!name || !acms_value_is(l, ACMS__V1__VALUE__KIND_LIST_VALUE))
        return NULL;
    for (size_t i = 0; i < l->list_value->n_values; i++) {
        const Acms__V1__Value *e = l->list_value->values[i];
        const char *n = acms_value_str(acms_value_get(e, "name"));
        if (n && !strcmp(n, name))
            return acms_value_get(e, field);
    }
    return NULL;
}

static const char *vs(const Acms__V1__Value *m, const char *k)
{
    return acms_value_str(acms_value_get(m, k));
}

static int kubeconfig_auth(k8s_conn *c, const Acms__V1__Value *cl, const Acms__V1__Value *user)
{
    const char *s;
    if ((s = vs(cl, "certificate-authority")))
        snprintf(c->ca_file, sizeof c->ca_file, "%s", s);
    if ((s = vs(cl, "certificate-authority-data")) && !(c->ca_blob = b64(s, &c->ca_len)))
        return -1;
    const Acms__V1__Value *ins = acms_value_get(cl, "insecure-skip-tls-verify");
    c->insecure = ins && ins->kind_case == ACMS__V1__VALUE__KIND_BOOL_VALUE && ins->bool_value;
    if ((s = vs(user, "token")) && !(c->token = strdup(s)))
        return -1;
    if ((s = vs(user, "tokenFile")))
        snprintf(c->token_file, sizeof c->token_file, "%s", s);
    if ((s = vs(user, "client-certificate")))
        snprintf(c->cert_file, sizeof c->cert_file, "%s", s);
    if ((s = vs(user, "client-key")))
        snprintf(c->key_file, sizeof c->key_file, "%s", s);
    if ((s = vs(user, "client-certificate-data")) && !(c->cert_blob = b64(s, &c->cert_len)))
        return -1;
    if ((s = vs(user, "client-key-data")) && !(c->key_blob = b64(s, &c->key_len)))
        return -1;
    return 0;
}

static int from_kubeconfig(k8s_conn *c, const char *path, char *errstr, size_t errsz)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    char err[256];
    int rc = ACMS_ERR_INVALID;
    if (acms_doc_parse_file(a, path, &docs, &n, err, sizeof err) != ACMS_OK || n < 1) {
        snprintf(errstr, errsz, "kubeconfig %s: %s", path, n < 1 ? "empty" : err);
        goto out;
    }
    const char *cur = vs(docs[0], "current-context");
    const Acms__V1__Value *ctx = named(docs[0], "contexts", cur, "context");
    const Acms__V1__Value *cl = named(docs[0], "clusters", vs(ctx, "cluster"), "cluster");
    const Acms__V1__Value *user = named(docs[0], "users", vs(ctx, "user"), "user");
    if (!ctx || !cl || !vs(cl, "server")) {
        snprintf(errstr, errsz, "kubeconfig %s: no usable current-context (cluster with a server)", path);
        goto out;
    }
    set_server(c, vs(cl, "server"));
    const char *envns = getenv("ACMS_K8S_NAMESPACE");
    snprintf(c->ns, sizeof c->ns, "%s",
             envns && *envns        ? envns
             : vs(ctx, "namespace") ? vs(ctx, "namespace")
                                    : "default");
    snprintf(c->source, sizeof c->source, "kubeconfig");
    if (kubeconfig_auth(c, cl, user) != 0) {
        snprintf(errstr, errsz, "kubeconfig %s: undecodable certificate or out of memory", path);
        goto out;
    }
    rc = ACMS_OK;
out:
    acms_arena_free(a);
    return rc;
}

int k8s_conn_load(k8s_conn *c, char *errstr, size_t errsz)
{
    memset(c, 0, sizeof *c);
    const char *api = getenv("ACMS_K8S_API");
    if (api && *api)
        return from_env(c, errstr, errsz);
    if (getenv("KUBERNETES_SERVICE_HOST") && readable(K8S_SA_DIR "/token"))
        return in_cluster(c, errstr, errsz);
    char path[1024];
    const char *kc = getenv("KUBECONFIG"), *home = getenv("HOME");
    if (kc && *kc) /* the first file of a KUBECONFIG list */
        snprintf(path, sizeof path, "%.*s", (int)strcspn(kc, ":"), kc);
    else
        snprintf(path, sizeof path, "%s/.kube/config", home ? home : "");
    if (readable(path))
        return from_kubeconfig(c, path, errstr, errsz);
    snprintf(errstr, errsz,
             "no Kubernetes API configured: set ACMS_K8S_API (and ACMS_K8S_TOKEN_FILE, "
             "ACMS_K8S_CA_FILE, ACMS_K8S_NAMESPACE), run in a cluster, or set KUBECONFIG");
    return ACMS_ERR_INVALID;
}

static void wipe_free(void *p, size_t n)
{
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

void k8s_conn_release(k8s_conn *c)
{
    wipe_free(c->token, c->token ? strlen(c->token) : 0);
    wipe_free(c->key_blob, c->key_len);
    free(c->cert_blob);
    free(c->ca_blob);
    memset(c, 0, sizeof *c);
}

/* --- requests ---------------------------------------------------------------------------------- */

struct curl_slist *k8s_prepare(const k8s_conn *c, CURL *h, const char *path, char *err, size_t errsz)
{
    char url[4096];
    if (snprintf(url, sizeof url, "%s%s", c->server, path) >= (int)sizeof url) {
        snprintf(err, errsz, "request path too long");
        return NULL;
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    if (c->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_blob) {
        struct curl_blob b = {.data = c->ca_blob, .len = c->ca_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->cert_file[0])
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    if (c->key_file[0])
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    if (c->cert_blob) {
        struct curl_blob b = {.data = c->cert_blob, .len = c->cert_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    }
    if (c->key_blob) {
        struct curl_blob b = {.data = c->key_blob, .len = c->key_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    char *tok = malloc(TOKEN_MAX + 32);
    if (tok && (c->token || c->token_file[0])) {
        int n = snprintf(tok, TOKEN_MAX + 32, "Authorization: Bearer ");
        if (c->token)
            snprintf(tok + n, TOKEN_MAX, "%s", c->token);
        else if (read_line(c->token_file, tok + n, TOKEN_MAX) != 0)
            tok[0] = '\0';
        if (tok[0])
            hdrs = curl_slist_append(hdrs, tok);
    }
    wipe_free(tok, tok ? TOKEN_MAX + 32 : 0);
    return hdrs;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    size_t k = size * nmemb;
    return acms_strbuf_add(ud, p, k) == ACMS_OK ? k : 0; /* 0 (over the cap): abort the transfer */
}

int k8s_request(const k8s_conn *c, CURL *h, const char *method, const char *path, const char *body,
                const char *content_type, size_t max, k8s_resp *out, char *err, size_t errsz)
{
    char ebuf[CURL_ERROR_SIZE] = "", ct[128];
    memset(out, 0, sizeof *out);
    struct curl_slist *hdrs = k8s_prepare(c, h, path, err, errsz);
    if (!hdrs)
        return -1;
    acms_strbuf b;
    acms_strbuf_init(&b, max ? max : RESP_DEFAULT_MAX);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, body ? "POST" : "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs); /* holds the Authorization header: freed right after the transfer */
    if (rc != CURLE_OK) {
        snprintf(err, errsz, "%s %s: %s", method, path, ebuf[0] ? ebuf : curl_easy_strerror(rc));
        acms_strbuf_release(&b);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (b.len)
        out->body = acms_strbuf_detach(&b, &out->len);
    acms_strbuf_release(&b);
    return 0;
}

void k8s_status_message(const k8s_resp *r, char *out, size_t size)
{
    cJSON *j = r->body ? cJSON_Parse(r->body) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(m))
        snprintf(out, size, "HTTP %ld: %s", r->status, m->valuestring);
    else
        snprintf(out, size, "HTTP %ld%s%.200s", r->status, r->body ? ": " : "", r->body ? r->body : "");
    cJSON_Delete(j);
}

void k8s_urlencode(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (; *s && k + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}

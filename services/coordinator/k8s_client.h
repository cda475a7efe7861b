/* k8s_client.h: how the coordinator reaches the Kubernetes API server, and one blocking request.
 * Where the connection comes from, first match wins:
 *   ACMS_K8S_API (+ ACMS_K8S_TOKEN_FILE, ACMS_K8S_CA_FILE, ACMS_K8S_NAMESPACE)   explicit
 *   /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}
 *     with KUBERNETES_SERVICE_HOST/PORT                                          in cluster
 *   $KUBECONFIG (else ~/.kube/config): its current context's cluster, user and namespace
 * Invariants: the bearer token is read from its file at each request (rotated projected tokens
 * keep working) and never logged; requests are blocking and only made from the executor's worker
 * threads (k8s_watch.c), never from the coordinator's loop. */
#ifndef ACMS_K8S_CLIENT_H
#define ACMS_K8S_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct k8s_conn {
    char server[512];      /* https://host:port (no trailing slash) */
    char ns[254];          /* default namespace of the steps */
    char token_file[1024]; /* "" = none */
    char *token;           /* inline kubeconfig token (malloc'd, wiped at release) or NULL */
    char ca_file[1024];
    char cert_file[1024], key_file[1024];
    unsigned char *ca_blob, *cert_blob, *key_blob; /* kubeconfig *-data, decoded (malloc'd) */
    size_t ca_len, cert_len, key_len;
    int insecure;    /* kubeconfig insecure-skip-tls-verify */
    char source[64]; /* "ACMS_K8S_API", "in-cluster", "kubeconfig <path>" */
} k8s_conn;

/* Fills c from the environment (see above). ACMS_OK, or ACMS_ERR_INVALID with errstr naming what
 * is missing or unreadable. Release with k8s_conn_release. */
int k8s_conn_load(k8s_conn *c, char *errstr, size_t errstr_size);
void k8s_conn_release(k8s_conn *c);

typedef struct k8s_resp {
    char *body; /* malloc'd, NUL-terminated (may be NULL) */
    size_t len;
    long status; /* HTTP status, 0 when the request failed in transport */
} k8s_resp;

/* One request to c->server + path (path begins with '/'); body may be NULL. Content type of a
 * body: application/json, or content_type when given (merge/strategic patches). Answers are capped
 * at max bytes (0 = 8 MiB; a log read uses its own cap). Returns 0 when the server answered (any
 * status), -1 on transport failure with err set. The caller frees out->body. */
int k8s_request(const k8s_conn *c, CURL *h, const char *method, const char *path, const char *body,
                const char *content_type, size_t max, k8s_resp *out, char *err, size_t errsz);

/* Sets URL, TLS and authentication of c on h for path (curl_easy_reset first). Returns the header
 * list to free after the transfer (curl_slist_free_all), or NULL with err set. Used by the
 * streaming watch as well. */
struct curl_slist *k8s_prepare(const k8s_conn *c, CURL *h, const char *path, char *err, size_t errsz);

/* The message of a Status answer ({"kind":"Status","message":...}) or of the body, into out. */
void k8s_status_message(const k8s_resp *r, char *out, size_t size);

/* Escapes s for a URL query value into out. */
void k8s_urlencode(const char *s, char *out, size_t size);

#endif

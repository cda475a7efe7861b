/* exec_http_auth.c: how the http executor reaches a worker safely. The resolved secrets of a step
 * travel in the request body, so a worker that is not on loopback is reached over https only (the
 * certificate verified against the system's CAs or ACMS_WORKER_CACERT), and the coordinator proves
 * who it is with a bearer token (ACMS_WORKER_TOKEN_FILE) and/or a client certificate (mTLS:
 * ACMS_WORKER_CERT, ACMS_WORKER_KEY). The token is read once at start and never logged. */
#include "exec.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_env(char *dst, size_t size, const char *name, char *errstr, size_t errstr_size)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    if (strlen(v) >= size) {
        snprintf(errstr, errstr_size, "%s: path too long", name);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int coord_http_auth_from_env(coord_http_auth *a, char *errstr, size_t errstr_size)
{
    memset(a, 0, sizeof *a);
    if (copy_env(a->cert, sizeof a->cert, "ACMS_WORKER_CERT", errstr, errstr_size) ||
        copy_env(a->key, sizeof a->key, "ACMS_WORKER_KEY", errstr, errstr_size) ||
        copy_env(a->cacert, sizeof a->cacert, "ACMS_WORKER_CACERT", errstr, errstr_size))
        return ACMS_ERR_INVALID;
    if (!a->cert[0] != !a->key[0]) {
        snprintf(errstr, errstr_size, "ACMS_WORKER_CERT and ACMS_WORKER_KEY go together (mTLS)");
        return ACMS_ERR_INVALID;
    }
    const char *tf = getenv("ACMS_WORKER_TOKEN_FILE");
    if (!tf || !*tf)
        return ACMS_OK;
    FILE *f = fopen(tf, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "ACMS_WORKER_TOKEN_FILE %s: cannot read it", tf);
        return ACMS_ERR_INVALID;
    }
    size_t n = fread(a->token, 1, sizeof a->token - 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)a->token[n - 1]))
        n--;
    a->token[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a->token[i] < 0x21 || a->token[i] == 0x7f) {
            explicit_bzero(a->token, sizeof a->token);
            snprintf(errstr, errstr_size, "ACMS_WORKER_TOKEN_FILE %s: a token is one printable word", tf);
            return ACMS_ERR_INVALID;
        }
    return ACMS_OK;
}

void coord_http_auth_release(coord_http_auth *a)
{
    if (a)
        explicit_bzero(a, sizeof *a);
}

static int loopback_host(const char *h)
{
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "[::1]");
}

const char *coord_http_url_problem(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    const char *why = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        why = "worker_url is not a URL";
    else if (strcmp(scheme, "https") && strcmp(scheme, "http"))
        why = "worker_url must be http(s)";
    else if (!strcmp(scheme, "http") && !loopback_host(host))
        why = "worker_url must be https for a worker not on loopback (the request carries the step's secrets)";
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return why;
}

struct curl_slist *coord_http_auth_apply(const coord_http_auth *a, void *curl, struct curl_slist *hdrs)
{
    CURL *c = curl;
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!a)
        return hdrs;
    if (a->cacert[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, a->cacert);
    if (a->cert[0]) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, a->cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, a->key);
    }
    if (a->token[0]) {
        char h[sizeof a->token + 32];
        snprintf(h, sizeof h, "Authorization: Bearer %s", a->token);
        struct curl_slist *n = curl_slist_append(hdrs, h);
        explicit_bzero(h, sizeof h);
        if (n)
            hdrs = n;
    }
    return hdrs;
}

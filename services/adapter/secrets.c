/* secrets.c: the SecretManager. References are parsed and resolved here (env, file, Vault KV v2
 * over libcurl with 2 s timeouts); at prepare time each reference is checked for form, scope and
 * resolvability and plain-text credentials are reported. Invariant: a resolved value lives only in
 * a caller's buffer and is wiped (explicit_bzero) as soon as it is not needed; findings, errstr and
 * logs carry references and kinds, never values. */
#include "secrets.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "stages.h"

#define VAULT_TIMEOUT_MS 2000L
#define VAULT_MAX_RESPONSE (64 * 1024)
#define CHECK_BUF 16384

/* --- parsing ----------------------------------------------------------------------------------- */

int adapter_secret_is_ref(const char *s)
{
    return s && strncmp(s, ADAPTER_SECRET_PREFIX, sizeof ADAPTER_SECRET_PREFIX - 1) == 0;
}

static int has_dotdot(const char *path)
{
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static int copy_checked(char *dst, size_t size, const char *src)
{
    int n = snprintf(dst, size, "%s", src);
    return n >= 0 && (size_t)n < size;
}

static int parse_env(const char *name, adapter_secret_ref *out)
{
    if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return ACMS_ERR_INVALID;
    for (const char *c = name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return ACMS_ERR_INVALID;
    out->kind = ADAPTER_SECRET_ENV;
    return copy_checked(out->path, sizeof out->path, name) ? ACMS_OK : ACMS_ERR_INVALID;
}

static int parse_file(const char *rest, adapter_secret_ref *out)
{
    if (!*rest || has_dotdot(rest))
        return ACMS_ERR_INVALID;
    for (const char *c = rest; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return ACMS_ERR_INVALID;
    int n = snprintf(out->path, sizeof out->path, "%s%s", rest[0] == '/' ? "" : "/", rest);
    if (n < 0 || (size_t)n >= sizeof out->path)
        return ACMS_ERR_INVALID;
    out->kind = ADAPTER_SECRET_FILE;
    return ACMS_OK;
}

static int parse_vault(const char *rest, adapter_secret_ref *out)
{
    const char *hash = strrchr(rest, '#');
    if (!hash || hash == rest || !hash[1] || rest[0] == '/')
        return ACMS_ERR_INVALID;
    size_t plen = (size_t)(hash - rest);
    if (plen >= sizeof out->path)
        return ACMS_ERR_INVALID;
    for (size_t i = 0; i < plen; i++) {
        char c = rest[i];
        if (!(isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '/'))
            return ACMS_ERR_INVALID;
        if (c == '/' && i + 1 < plen && rest[i + 1] == '/')
            return ACMS_ERR_INVALID;
    }
    for (const char *c = hash + 1; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'))
            return ACMS_ERR_INVALID;
    memcpy(out->path, rest, plen);
    out->path[plen] = '\0';
    if (has_dotdot(out->path) || out->path[plen - 1] == '/')
        return ACMS_ERR_INVALID;
    if (!copy_checked(out->key, sizeof out->key, hash + 1))
        return ACMS_ERR_INVALID;
    out->kind = ADAPTER_SECRET_VAULT;
    return ACMS_OK;
}

/* <secret>#<key>: a Secret name (DNS-1123 subdomain: [a-z0-9.-], <= 253, alphanumeric at both
 * ends) and a key ([A-Za-z0-9._-], <= 253). */
static int parse_k8s(const char *rest, adapter_secret_ref *out)
{
    const char *hash = strchr(rest, '#');
    size_t plen = hash ? (size_t)(hash - rest) : 0;
    if (!hash || !plen || plen > 253 || !hash[1] || strlen(hash + 1) > 253)
        return ACMS_ERR_INVALID;
    for (size_t i = 0; i < plen; i++)
        if (!(islower((unsigned char)rest[i]) || isdigit((unsigned char)rest[i]) || rest[i] == '-' || rest[i] == '.'))
            return ACMS_ERR_INVALID;
    if (!isalnum((unsigned char)rest[0]) || !isalnum((unsigned char)rest[plen - 1]))
        return ACMS_ERR_INVALID;
    for (const char *c = hash + 1; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'))
            return ACMS_ERR_INVALID;
    memcpy(out->path, rest, plen);
    out->path[plen] = '\0';
    if (!copy_checked(out->key, sizeof out->key, hash + 1))
        return ACMS_ERR_INVALID;
    out->kind = ADAPTER_SECRET_K8S;
    return ACMS_OK;
}

int adapter_secret_parse(const char *ref, adapter_secret_ref *out)
{
    memset(out, 0, sizeof *out);
    if (!adapter_secret_is_ref(ref))
        return ACMS_ERR_NOTFOUND;
    const char *r = ref + sizeof ADAPTER_SECRET_PREFIX - 1;
    int rc;
    if (strncmp(r, "env/", 4) == 0)
        rc = parse_env(r + 4, out);
    else if (strncmp(r, "file/", 5) == 0)
        rc = parse_file(r + 5, out);
    else if (strncmp(r, "vault/", 6) == 0)
        rc = parse_vault(r + 6, out);
    else if (strncmp(r, "k8s/", 4) == 0)
        rc = parse_k8s(r + 4, out);
    else
        rc = ACMS_ERR_INVALID;
    if (rc != ACMS_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* --- resolution ------------------------------------------------------------------------------- */

static int fail(int rc, char *errstr, size_t errstr_size, const char *ref, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(int rc, char *errstr, size_t errstr_size, const char *ref, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        int n = snprintf(errstr, errstr_size, "%s: ", ref);
        if (n >= 0 && (size_t)n < errstr_size) {
            va_list ap;
            va_start(ap, fmt);
            if (vsnprintf(errstr + n, errstr_size - (size_t)n, fmt, ap) < 0)
                errstr[n] = '\0';
            va_end(ap);
        }
    }
    return rc;
}

static int put_value(const char *v, size_t len, char *buf, size_t size)
{
    if (len >= size) {
        explicit_bzero(buf, size);
        return ACMS_ERR_LIMIT;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    return ACMS_OK;
}

static int resolve_env(const adapter_secret_ref *r, const char *ref, char *buf, size_t size, char *err, size_t errn)
{
    const char *v = getenv(r->path);
    if (!v)
        return fail(ACMS_ERR_NOTFOUND, err, errn, ref, "environment variable %s is not set", r->path);
    if (put_value(v, strlen(v), buf, size) != ACMS_OK)
        return fail(ACMS_ERR_LIMIT, err, errn, ref, "value longer than %zu bytes", size ? size - 1 : 0);
    return ACMS_OK;
}

static int resolve_file(const adapter_secret_ref *r, const char *ref, char *buf, size_t size, char *err, size_t errn)
{
    int rc = ACMS_OK;
    int fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return fail(ACMS_ERR_NOTFOUND, err, errn, ref, "no such file");
        if (e == EACCES || e == EPERM)
            return fail(ACMS_ERR, err, errn, ref, "permission denied");
        return fail(ACMS_ERR, err, errn, ref, "cannot open: %s", strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(ACMS_ERR_INVALID, err, errn, ref, "not a regular file");
        goto out;
    }
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t k = read(fd, buf + len, size - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            explicit_bzero(buf, size);
            rc = fail(ACMS_ERR, err, errn, ref, "read failed: %s", strerror(errno));
            goto out;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    if (len + 1 >= size) {
        char extra;
        ssize_t k = read(fd, &extra, 1);
        if (k != 0) {
            explicit_bzero(buf, size);
            explicit_bzero(&extra, sizeof extra);
            rc = fail(ACMS_ERR_LIMIT, err, errn, ref, "value longer than %zu bytes", size - 1);
            goto out;
        }
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
out:
    close(fd);
    return rc;
}

typedef struct vault_body {
    char *data;
    size_t len;
    int overflow;
} vault_body;

static size_t vault_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    vault_body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n >= VAULT_MAX_RESPONSE) {
        b->overflow = 1;
        return 0;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Wipes every string of a cJSON tree (the secret values of a KV response) before it is freed. */
static void json_wipe(cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsString(j) && j->valuestring)
            explicit_bzero(j->valuestring, strlen(j->valuestring));
        json_wipe(j->child);
    }
}

static int vault_extract(const vault_body *b, const adapter_secret_ref *r, const char *ref, char *buf, size_t size,
                         char *err, size_t errn)
{
    int rc;
    cJSON *root = cJSON_ParseWithLength(b->data, b->len);
    if (!root)
        return fail(ACMS_ERR, err, errn, ref, "vault answered with undecodable JSON");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(data, "data");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(kv, r->key);
    if (!cJSON_IsObject(kv)) {
        rc = fail(ACMS_ERR, err, errn, ref, "vault answer has no data.data (is %s a KV v2 path?)", r->path);
    } else if (cJSON_IsString(item) && item->valuestring) {
        rc = put_value(item->valuestring, strlen(item->valuestring), buf, size);
        if (rc != ACMS_OK)
            fail(rc, err, errn, ref, "value longer than %zu bytes", size ? size - 1 : 0);
    } else if (cJSON_IsNumber(item) || cJSON_IsBool(item)) {
        char tmp[64];
        int n = cJSON_IsBool(item) ? snprintf(tmp, sizeof tmp, "%s", cJSON_IsTrue(item) ? "true" : "false")
                                   : snprintf(tmp, sizeof tmp, "%.17g", item->valuedouble);
        rc = (n > 0) ? put_value(tmp, (size_t)n, buf, size) : ACMS_ERR;
        explicit_bzero(tmp, sizeof tmp);
        if (rc != ACMS_OK)
            fail(rc, err, errn, ref, "value does not fit");
    } else if (item) {
        rc = fail(ACMS_ERR_INVALID, err, errn, ref, "key %s is not a scalar", r->key);
    } else {
        rc = fail(ACMS_ERR_NOTFOUND, err, errn, ref, "key %s absent from the secret", r->key);
    }
    json_wipe(root);
    cJSON_Delete(root);
    return rc;
}

static int resolve_vault(const adapter_ctx *ctx, const adapter_secret_ref *r, const char *ref, char *buf,
                         size_t size, char *err, size_t errn)
{
    if (!ctx || !ctx->vault_addr || !*ctx->vault_addr)
        return fail(ACMS_ERR_INVALID, err, errn, ref, "no vault configured (VAULT_ADDR unset)");
    int rc = ACMS_OK;
    char url[2048], hdr[1024] = "";
    size_t alen = strlen(ctx->vault_addr);
    while (alen > 0 && ctx->vault_addr[alen - 1] == '/')
        alen--;
    int n = snprintf(url, sizeof url, "%.*s/v1/%s", (int)alen, ctx->vault_addr, r->path);
    if (n < 0 || (size_t)n >= sizeof url)
        return fail(ACMS_ERR_INVALID, err, errn, ref, "vault URL too long");
    n = snprintf(hdr, sizeof hdr, "X-Vault-Token: %s", ctx->vault_token ? ctx->vault_token : "");
    if (n < 0 || (size_t)n >= sizeof hdr)
        return fail(ACMS_ERR_INVALID, err, errn, ref, "vault token too long");

    vault_body body = {.data = malloc(VAULT_MAX_RESPONSE)};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, hdr);
    if (!body.data || !c || !hl) {
        rc = fail(ACMS_ERR_NOMEM, err, errn, ref, "out of memory");
        goto out;
    }
    body.data[0] = '\0';
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vault_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, VAULT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, VAULT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (body.overflow) {
        rc = fail(ACMS_ERR, err, errn, ref, "vault answer larger than %d bytes", VAULT_MAX_RESPONSE);
    } else if (cc != CURLE_OK) {
        rc = fail(ACMS_ERR_RETRY, err, errn, ref, "vault unreachable: %s", cerr[0] ? cerr : curl_easy_strerror(cc));
    } else if (status == 200) {
        rc = vault_extract(&body, r, ref, buf, size, err, errn);
    } else if (status == 404) {
        rc = fail(ACMS_ERR_NOTFOUND, err, errn, ref, "no secret at %s (HTTP 404)", r->path);
    } else if (status == 401 || status == 403) {
        rc = fail(ACMS_ERR, err, errn, ref, "permission denied (HTTP %ld)", status);
    } else if (status == 429 || status >= 500) {
        rc = fail(ACMS_ERR_RETRY, err, errn, ref, "vault unavailable (HTTP %ld)", status);
    } else {
        rc = fail(ACMS_ERR, err, errn, ref, "vault answered HTTP %ld", status);
    }
out:
    if (rc != ACMS_OK && buf && size)
        explicit_bzero(buf, size);
    explicit_bzero(hdr, sizeof hdr);
    if (hl) {
        explicit_bzero(hl->data, strlen(hl->data));
        curl_slist_free_all(hl);
    }
    if (c)
        curl_easy_cleanup(c);
    if (body.data) {
        explicit_bzero(body.data, VAULT_MAX_RESPONSE);
        free(body.data);
    }
    return rc;
}

int adapter_secret_resolve(const adapter_ctx *ctx, const char *ref, char *buf, size_t size, char *errstr,
                           size_t errstr_size)
{
    adapter_secret_ref r;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!buf || size == 0)
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref ? ref : "(null)", "no buffer");
    buf[0] = '\0';
    if (adapter_secret_parse(ref, &r) != ACMS_OK)
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref ? ref : "(null)", "malformed secret reference");
    switch (r.kind) {
    case ADAPTER_SECRET_ENV:
        return resolve_env(&r, ref, buf, size, errstr, errstr_size);
    case ADAPTER_SECRET_FILE:
        return resolve_file(&r, ref, buf, size, errstr, errstr_size);
    case ADAPTER_SECRET_VAULT:
        return resolve_vault(ctx, &r, ref, buf, size, errstr, errstr_size);
    case ADAPTER_SECRET_K8S:
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref,
                    "a Kubernetes Secret is read by the kubelet: only steps of the kubernetes executor can use it");
    }
    return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref, "unknown backend");
}

/* --- plain-text credential detection ---------------------------------------------------------- */

static int word_sensitive(const char *w, size_t n)
{
    static const char *const words[] = {"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN",
                                        "CREDENTIAL", "CREDENTIALS", "APIKEY", "PRIVATEKEY"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return 1;
    return 0;
}

static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(s, w, n) == 0;
}

int adapter_secret_name_sensitive(const char *name)
{
    /* Words: split at '_', '-', '.', and lower->upper camelCase transitions; compare upper-cased. */
    char up[256];
    size_t starts[64], lens[64], nw = 0, k = 0;
    if (!name)
        return 0;
    for (size_t i = 0; name[i] && k + 2 < sizeof up; i++) {
        char c = name[i];
        int sep = (c == '_' || c == '-' || c == '.');
        int camel = i > 0 && islower((unsigned char)name[i - 1]) && isupper((unsigned char)c);
        if (sep || camel)
            up[k++] = '_';
        if (!sep)
            up[k++] = (char)toupper((unsigned char)c);
    }
    up[k] = '\0';
    for (size_t i = 0; i < k && nw < 64;) {
        while (i < k && up[i] == '_')
            i++;
        size_t s = i;
        while (i < k && up[i] != '_')
            i++;
        if (i > s) {
            starts[nw] = s;
            lens[nw] = i - s;
            nw++;
        }
    }
    if (nw == 0)
        return 0;
    /* Names of where a credential is, not the credential itself. */
    static const char *const tails[] = {"FILE", "PATH", "DIR", "URL", "URI", "NAME", "ID", "ARN", "REF", "ENDPOINT"};
    for (size_t t = 0; t < sizeof tails / sizeof *tails; t++)
        if (word_is(up + starts[nw - 1], lens[nw - 1], tails[t]))
            return 0;
    for (size_t i = 0; i < nw; i++) {
        const char *w = up + starts[i];
        if (word_sensitive(w, lens[i]))
            return 1;
        if (i + 1 < nw && word_is(up + starts[i + 1], lens[i + 1], "KEY") &&
            (word_is(w, lens[i], "API") || word_is(w, lens[i], "PRIVATE") || word_is(w, lens[i], "SIGNING") ||
             word_is(w, lens[i], "ENCRYPTION")))
            return 1;
    }
    return 0;
}

static size_t span_of(const char *s, const char *set_extra, int upper_only)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        int ok = upper_only ? (isupper(c) || isdigit(c)) : isalnum(c);
        if (!ok && !(set_extra && strchr(set_extra, c)))
            break;
    }
    return n;
}

static int boundary_before(const char *base, const char *p)
{
    return p == base || !isalnum((unsigned char)p[-1]);
}

const char *adapter_secret_value_pattern(const char *v)
{
    if (!v || !*v || adapter_secret_is_ref(v))
        return NULL;
    for (const char *p = v; *p; p++) {
        /* one switch on the first character: most characters start no pattern */
        switch (*p) {
        case 'A':
            if ((p[1] == 'K' || p[1] == 'S') && p[2] == 'I' && p[3] == 'A' && boundary_before(v, p) &&
                span_of(p + 4, NULL, 1) == 16)
                return "an AWS access key id";
            break;
        case 'g':
            if (p[1] != 'h')
                break;
            if (p[2] && strchr("posur", p[2]) && p[3] == '_' && boundary_before(v, p) && span_of(p + 4, NULL, 0) >= 30)
                return "a GitHub token";
            if (strncmp(p, "github_pat_", 11) == 0 && span_of(p + 11, "_", 0) >= 30)
                return "a GitHub token";
            break;
        case 'x':
            if (p[1] == 'o' && p[2] == 'x' && p[3] && strchr("bapr", p[3]) && p[4] == '-' && boundary_before(v, p) &&
                span_of(p + 5, "-", 0) >= 10)
                return "a Slack token";
            break;
        case 'e':
            if (p[1] == 'y' && p[2] == 'J' && boundary_before(v, p)) {
                size_t a = span_of(p, "_-", 0);
                if (a >= 10 && p[a] == '.') {
                    size_t b = span_of(p + a + 1, "_-", 0);
                    if (b >= 10 && p[a + 1 + b] == '.' && span_of(p + a + 2 + b, "_-", 0) >= 8)
                        return "a JSON Web Token";
                }
            }
            break;
        default:
            break;
        }
    }
    const char *begin = strstr(v, "-----BEGIN ");
    if (begin && strstr(begin, "PRIVATE KEY-----"))
        return "a PEM private key";
    return NULL;
}

/* --- prepare-time check ------------------------------------------------------------------------ */

void adapter_findings_init(adapter_findings *f, acms_arena *a)
{
    memset(f, 0, sizeof *f);
    f->arena = a;
}

static void finding(adapter_findings *f, const char *step, const char *field, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void finding(adapter_findings *f, const char *step, const char *field, const char *kind, const char *fmt, ...)
{
    Acms__V1__SecretFinding *s = acms_pb_new(f->arena, &acms__v1__secret_finding__descriptor);
    va_list ap;
    s->step = acms_arena_strdup(f->arena, step ? step : "");
    s->field = acms_arena_strdup(f->arena, field);
    s->kind = acms_arena_strdup(f->arena, kind);
    va_start(ap, fmt);
    s->detail = acms_arena_vprintf(f->arena, fmt, ap);
    va_end(ap);
    f->v = acms_arena_push(f->arena, f->v, &f->n, sizeof *f->v);
    f->v[f->n - 1] = s;
}

static int in_scope(const Acms__V1__Environment *env, const char *ref)
{
    for (size_t i = 0; env && i < env->n_secret_scopes; i++) {
        const char *s = env->secret_scopes[i];
        if (!s || !*s)
            continue;
        if (strcmp(s, "*") == 0 || strncmp(ref, s, strlen(s)) == 0)
            return 1;
    }
    return 0;
}

static char *scopes_list(acms_arena *a, const Acms__V1__Environment *env)
{
    char *out = acms_arena_strdup(a, "");
    for (size_t i = 0; env && i < env->n_secret_scopes; i++)
        out = acms_arena_printf(a, "%s%s%s", out, i ? ", " : "", env->secret_scopes[i]);
    return out;
}

/* Results of references already resolved in this check (one resolution per distinct reference). */
typedef struct ref_memo {
    const char **refs;
    int *rcs;
    char **errs;
    size_t n;
} ref_memo;

static int memo_resolve(const adapter_ctx *ctx, acms_arena *a, ref_memo *m, const char *ref, const char **err)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->refs[i], ref) == 0) {
            *err = m->errs[i];
            return m->rcs[i];
        }
    char *buf = malloc(CHECK_BUF), errstr[512] = "";
    int rc = buf ? adapter_secret_resolve(ctx, ref, buf, CHECK_BUF, errstr, sizeof errstr) : ACMS_ERR_NOMEM;
    if (buf) {
        explicit_bzero(buf, CHECK_BUF);
        free(buf);
    }
    size_t n = m->n, n2 = m->n, n3 = m->n;
    m->refs = acms_arena_push(a, m->refs, &n, sizeof *m->refs);
    m->rcs = acms_arena_push(a, m->rcs, &n2, sizeof *m->rcs);
    m->errs = acms_arena_push(a, m->errs, &n3, sizeof *m->errs);
    m->refs[m->n] = ref;
    m->rcs[m->n] = rc;
    m->errs[m->n] = acms_arena_strdup(a, errstr[0] ? errstr : acms_strerror(rc));
    *err = m->errs[m->n];
    m->n++;
    return rc;
}

static void check_ref(const adapter_ctx *ctx, const Acms__V1__Environment *env, adapter_findings *f, ref_memo *m,
                      const char *step, const char *field, const char *ref)
{
    adapter_secret_ref r;
    if (adapter_secret_parse(ref, &r) != ACMS_OK) {
        finding(f, step, field, "malformed_reference",
                "%s is not a valid reference (use secret://env/NAME, secret://file/PATH, "
                "secret://vault/<kv path>#<key> or secret://k8s/<secret>#<key>)", ref);
        return;
    }
    if (!in_scope(env, ref)) {
        finding(f, step, field, "out_of_scope_reference", "%s is outside the secret scopes of environment %s (%s)",
                ref, env && env->name ? env->name : "?",
                env && env->n_secret_scopes ? scopes_list(f->arena, env) : "none");
        return;
    }
    if (!ctx || !ctx->check_secrets || r.kind == ADAPTER_SECRET_K8S) /* read by the kubelet, not here */
        return;
    const char *err = "";
    int rc = memo_resolve(ctx, f->arena, m, ref, &err);
    if (rc == ACMS_OK || rc == ACMS_ERR_LIMIT)
        return;
    finding(f, step, field, "unresolvable_reference", "%s", err);
}

/* "--db-password=x", "PASSWORD=x": the name part when the whole argument is one assignment (a
 * shell script with spaces is not), else NULL. */
static const char *arg_assignment(acms_arena *a, const char *arg, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return NULL;
    const char *s = arg;
    while (*s == '-')
        s++;
    if (s >= eq)
        return NULL;
    for (const char *c = s; c < eq; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'))
            return NULL;
    *value = eq + 1;
    return acms_arena_strndup(a, s, (size_t)(eq - s));
}

/* "$NAME" or "${NAME}": a variable expanded by a shell or template, not a credential itself. */
static int is_variable(const char *v)
{
    if (v[0] != '$')
        return 0;
    const char *p = v + 1;
    int brace = *p == '{';
    p += brace;
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    if (brace && *p++ != '}')
        return 0;
    return *p == '\0';
}

/* The finding's field names, built only when there is a finding (most values have none). */
static const char *env_field(acms_arena *a, const char *name)
{
    return acms_arena_printf(a, "env.%s", name);
}

static const char *command_field(acms_arena *a, size_t k)
{
    return acms_arena_printf(a, "command[%zu]", k);
}

void adapter_secrets_check(const adapter_ctx *ctx, const Acms__V1__Environment *env, const Acms__V1__Pipeline *p,
                           adapter_findings *f)
{
    ref_memo memo = {0};
    acms_arena *a = f->arena;
    for (size_t i = 0; p && i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        const char *step = s->name;
        for (size_t k = 0; k < s->n_env; k++) {
            const Acms__V1__EnvVar *e = s->env[k];
            const char *name = e->name ? e->name : "", *val = e->value ? e->value : "";
            const char *kind;
            if (adapter_secret_is_ref(val))
                check_ref(ctx, env, f, &memo, step, env_field(a, name), val);
            else if (*val && !is_variable(val) && adapter_secret_name_sensitive(name))
                finding(f, step, env_field(a, name), "plaintext_credential",
                        "%s looks like a credential but its value is plain text; use a secret reference "
                        "(secret://env/..., secret://file/..., secret://vault/...#key)", name);
            else if ((kind = adapter_secret_value_pattern(val)))
                finding(f, step, env_field(a, name), "plaintext_credential",
                        "the value of %s looks like %s; use a secret reference", name, kind);
        }
        for (size_t k = 0; k < s->n_command; k++) {
            const char *arg = s->command[k] ? s->command[k] : "", *val = NULL, *kind;
            const char *aname = arg_assignment(a, arg, &val);
            if (adapter_secret_is_ref(arg) || (val && adapter_secret_is_ref(val)))
                finding(f, step, command_field(a, k), "unresolvable_reference",
                        "secret references are resolved only in env values; pass it through an env variable");
            else if (aname && *val && !is_variable(val) && adapter_secret_name_sensitive(aname))
                finding(f, step, command_field(a, k), "plaintext_credential",
                        "command argument %s carries a credential in plain text; read it from an env variable "
                        "holding a secret reference", aname);
            else if ((kind = adapter_secret_value_pattern(arg)))
                finding(f, step, command_field(a, k), "plaintext_credential", "a command argument looks like %s",
                        kind);
        }
        for (size_t k = 0; k < s->n_tags; k++) {
            const char *kind = adapter_secret_value_pattern(s->tags[k]->value);
            if (kind)
                finding(f, step, acms_arena_printf(a, "tags.%s", s->tags[k]->key), "plaintext_credential",
                        "a tag value looks like %s", kind);
        }
    }
}

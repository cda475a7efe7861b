/* secret.c: parsing, scope checks and resolution of secret references (env, file; vault through
 * vault.c). Invariant: nothing here writes a resolved value anywhere but the caller's buffer, which
 * holds no part of a value after a failure; errstr carries the reference and the reason only. */
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault.h"

/* --- parsing ----------------------------------------------------------------------------------- */

int acms_secret_is_ref(const char *s)
{
    return s && strncmp(s, ACMS_SECRET_PREFIX, sizeof ACMS_SECRET_PREFIX - 1) == 0;
}

/* Empty, "." and ".." components are refused (a//b, a/./b, a/../b): one spelling per path. */
static const char *path_problem(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0)
            return "empty path component (doubled '/')";
        if ((len == 1 && p[i] == '.') || (len == 2 && p[i] == '.' && p[i + 1] == '.'))
            return "'.' and '..' path components are not allowed";
        i = j + 1;
        if (j < n && i == n)
            return "path ends with '/'";
    }
    return NULL;
}

static int env_name_ok(const char *n)
{
    if (!(isalpha((unsigned char)n[0]) || n[0] == '_'))
        return 0;
    for (const char *c = n; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    return 1;
}

static const char *parse_env(const char *name, acms_secret_ref *out)
{
    if (!env_name_ok(name))
        return "secret://env/NAME needs a variable name ([A-Za-z_][A-Za-z0-9_]*)";
    if (strlen(name) >= sizeof out->path)
        return "variable name too long";
    memcpy(out->path, name, strlen(name) + 1);
    out->kind = ACMS_SECRET_ENV;
    return NULL;
}

static const char *parse_file(const char *rest, acms_secret_ref *out)
{
    if (*rest == '/')
        rest++; /* secret://file//etc/x and secret://file/etc/x are one path */
    if (!*rest)
        return "missing secret path after the backend";
    size_t n = strlen(rest);
    if (n + 1 >= sizeof out->path)
        return "path too long";
    const char *why = path_problem(rest, n);
    if (why)
        return why;
    out->path[0] = '/';
    memcpy(out->path + 1, rest, n + 1);
    out->kind = ACMS_SECRET_FILE;
    return NULL;
}

static int vault_char(char c, int in_path)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || (in_path && c == '/');
}

static const char *parse_vault(const char *rest, acms_secret_ref *out)
{
    const char *hash = strchr(rest, '#');
    if (hash == rest)
        return "missing vault path before '#'";
    if (!hash || !hash[1])
        return "a vault reference names its key after '#' (secret://vault/kv/data/app#key)";
    size_t plen = (size_t)(hash - rest), klen = strlen(hash + 1);
    if (plen >= sizeof out->path || klen >= sizeof out->key)
        return "vault path or key too long";
    for (size_t i = 0; i < plen; i++)
        if (!vault_char(rest[i], 1))
            return "a vault path holds letters, digits, '_', '-', '.' and '/' only";
    for (size_t i = 0; i < klen; i++)
        if (!vault_char(hash[1 + i], 0))
            return "a vault key holds letters, digits, '_', '-' and '.' only";
    const char *why = path_problem(rest, plen);
    if (why)
        return why;
    memcpy(out->path, rest, plen);
    out->path[plen] = '\0';
    memcpy(out->key, hash + 1, klen + 1);
    out->kind = ACMS_SECRET_VAULT;
    return NULL;
}

/* <secret>#<key>: a Secret name (DNS-1123 subdomain: [a-z0-9.-], at most 253, alphanumeric at both
 * ends) and a key ([A-Za-z0-9._-], at most 253). */
static const char *parse_k8s(const char *rest, acms_secret_ref *out)
{
    static const char form[] = "secret://k8s/<secret>#<key> names a Secret (a lower-case DNS name) and one of its keys";
    const char *hash = strchr(rest, '#');
    size_t plen = hash ? (size_t)(hash - rest) : 0, klen = hash ? strlen(hash + 1) : 0;
    if (!hash || !plen || plen > 253 || !klen || klen > 253)
        return form;
    for (size_t i = 0; i < plen; i++)
        if (!(islower((unsigned char)rest[i]) || isdigit((unsigned char)rest[i]) || rest[i] == '-' || rest[i] == '.'))
            return form;
    if (!isalnum((unsigned char)rest[0]) || !isalnum((unsigned char)rest[plen - 1]))
        return form;
    for (size_t i = 0; i < klen; i++)
        if (!vault_char(hash[1 + i], 0))
            return form;
    memcpy(out->path, rest, plen);
    out->path[plen] = '\0';
    memcpy(out->key, hash + 1, klen + 1);
    out->kind = ACMS_SECRET_K8S;
    return NULL;
}

int acms_secret_parse(const char *ref, acms_secret_ref *out, const char **why)
{
    const char *w = NULL;
    memset(out, 0, sizeof *out);
    if (why)
        *why = NULL;
    if (!acms_secret_is_ref(ref)) {
        if (why)
            *why = "a secret reference starts with \"secret://\"";
        return ACMS_ERR_NOTFOUND;
    }
    const char *r = ref + sizeof ACMS_SECRET_PREFIX - 1;
    for (const char *c = r; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            w = "contains whitespace or control characters";
            goto out;
        }
    if (strncmp(r, "env/", 4) == 0)
        w = parse_env(r + 4, out);
    else if (strncmp(r, "file/", 5) == 0)
        w = parse_file(r + 5, out);
    else if (strncmp(r, "vault/", 6) == 0)
        w = parse_vault(r + 6, out);
    else if (strncmp(r, "k8s/", 4) == 0)
        w = parse_k8s(r + 4, out);
    else
        w = "unknown secret backend (env, file, vault or k8s)";
out:
    if (why)
        *why = w;
    if (w) {
        memset(out, 0, sizeof *out);
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

/* --- deny list and scopes ------------------------------------------------------------------------ */

/* Does name match one entry of a comma-separated list of NAME and PREFIX* (spaces ignored)? */
static int list_match(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n > 0 && p[n - 1] == '*') {
            if (nl >= n - 1 && strncmp(name, p, n - 1) == 0)
                return 1;
        } else if (n > 0 && n == nl && strncmp(name, p, n) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

#define BUILTIN_DENY "ACMS_*,VAULT_*,KAFKA_*,REDIS*,SASL_*,SSL_*,KRB5*"

int acms_secret_env_denied(const char *deny, const char *name)
{
    return list_match(BUILTIN_DENY, name) || list_match(deny, name);
}

const char *acms_secret_scope_problem(const char *scope)
{
    if (!scope || !acms_secret_is_ref(scope))
        return "a scope is a secret reference or a prefix of one (secret://vault/kv/data/dev/)";
    const char *r = scope + sizeof ACMS_SECRET_PREFIX - 1;
    if (!strcmp(r, "env/") || !strcmp(r, "file/") || !strcmp(r, "file//") || !strcmp(r, "vault/") ||
        !strcmp(r, "k8s/") || !strcmp(r, "k8s/*"))
        return "a whole backend is not a scope: name a variable, a variable prefix (PREFIX_*) or a folder";
    if (!strncmp(r, "env/", 4)) {
        char name[256];
        size_t n = strlen(r + 4);
        if (n >= sizeof name)
            return "variable name too long";
        memcpy(name, r + 4, n + 1);
        if (n && name[n - 1] == '*')
            name[n - 1] = '\0';
        return env_name_ok(name) ? NULL : "secret://env/NAME or secret://env/PREFIX* with a variable name";
    }
    if (!strncmp(r, "file/", 5) || !strncmp(r, "vault/", 6)) {
        char ref[2048];
        size_t n = strlen(scope);
        if (n + 8 >= sizeof ref)
            return "scope too long";
        /* a folder scope "…/" must parse once completed by a name */
        int dir = scope[n - 1] == '/';
        int k = snprintf(ref, sizeof ref, "%s%s%s", scope, dir ? "x" : "",
                         !strncmp(r, "vault/", 6) && !strchr(scope, '#') ? "#k" : "");
        if (k < 0 || (size_t)k >= sizeof ref)
            return "scope too long";
        acms_secret_ref tmp;
        const char *why = NULL;
        return acms_secret_parse(ref, &tmp, &why) == ACMS_OK ? NULL : why;
    }
    if (!strncmp(r, "k8s/", 4)) {
        char ref[600];
        size_t n = strlen(scope);
        int k = snprintf(ref, sizeof ref, "%.*s%s", (int)(scope[n - 1] == '*' ? n - 1 : n), scope,
                         scope[n - 1] == '*'  ? "x#k"
                         : strchr(scope, '#') ? ""
                                              : "#k");
        if (k < 0 || (size_t)k >= sizeof ref)
            return "scope too long";
        acms_secret_ref tmp;
        const char *why = NULL;
        return acms_secret_parse(ref, &tmp, &why) == ACMS_OK ? NULL : why;
    }
    return "unknown secret backend (env, file, vault or k8s)";
}

static int under_dir(const char *path, const char *dir, size_t dlen)
{
    return strncmp(path, dir, dlen) == 0 && (dlen > 0 && (dir[dlen - 1] == '/' || path[dlen] == '/'));
}

static int scope_match(const acms_secret_ref *r, const char *scope)
{
    if (acms_secret_scope_problem(scope))
        return 0;
    const char *s = scope + sizeof ACMS_SECRET_PREFIX - 1;
    size_t n;
    switch (r->kind) {
    case ACMS_SECRET_ENV:
        if (strncmp(s, "env/", 4))
            return 0;
        s += 4;
        n = strlen(s);
        return s[n - 1] == '*' ? strncmp(r->path, s, n - 1) == 0 : strcmp(r->path, s) == 0;
    case ACMS_SECRET_FILE:
        if (strncmp(s, "file/", 5))
            return 0;
        s += 5;
        while (*s == '/')
            s++;
        n = strlen(s);
        if (s[n - 1] == '/')
            return under_dir(r->path + 1, s, n);
        return strcmp(r->path + 1, s) == 0;
    case ACMS_SECRET_VAULT: {
        if (strncmp(s, "vault/", 6))
            return 0;
        s += 6;
        const char *hash = strchr(s, '#');
        if (hash)
            return strncmp(r->path, s, (size_t)(hash - s)) == 0 && r->path[hash - s] == '\0' &&
                   strcmp(r->key, hash + 1) == 0;
        n = strlen(s);
        if (s[n - 1] == '/')
            return under_dir(r->path, s, n);
        return strcmp(r->path, s) == 0;
    }
    case ACMS_SECRET_K8S: {
        if (strncmp(s, "k8s/", 4))
            return 0;
        s += 4;
        n = strlen(s);
        const char *hash = strchr(s, '#');
        if (hash)
            return strncmp(r->path, s, (size_t)(hash - s)) == 0 && r->path[hash - s] == '\0' &&
                   strcmp(r->key, hash + 1) == 0;
        if (s[n - 1] == '*')
            return strncmp(r->path, s, n - 1) == 0;
        return strcmp(r->path, s) == 0;
    }
    }
    return 0;
}

int acms_secret_in_scope(const acms_secret_ref *r, char *const *scopes, size_t nscopes)
{
    for (size_t i = 0; scopes && i < nscopes; i++)
        if (scopes[i] && scope_match(r, scopes[i]))
            return 1;
    return 0;
}

/* --- resolution ---------------------------------------------------------------------------------- */

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

static int resolve_env(const acms_secret_ctx *ctx, const acms_secret_ref *r, const char *ref, char *buf, size_t size,
                       char *err, size_t errn)
{
    if (acms_secret_env_denied(ctx ? ctx->env_deny : NULL, r->path))
        return fail(ACMS_ERR_INVALID, err, errn, ref, "%s is one of the services' own variables and never resolves",
                    r->path);
    const char *v = getenv(r->path);
    if (!v)
        return fail(ACMS_ERR_NOTFOUND, err, errn, ref, "environment variable %s is not set", r->path);
    size_t len = strlen(v);
    if (len >= size)
        return fail(ACMS_ERR_LIMIT, err, errn, ref, "value longer than %zu bytes", size - 1);
    memcpy(buf, v, len + 1);
    return ACMS_OK;
}

int acms_secret_open_nofollow(const char *path)
{
    if (!path || path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *p = path + 1;
    while (dir >= 0) {
        const char *slash = strchr(p, '/');
        char comp[256];
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof comp) {
            close(dir);
            errno = n ? ENAMETOOLONG : EINVAL;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int flags = slash ? (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                          : (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        int next = openat(dir, comp, flags);
        int e = errno;
        struct stat lst;
        if (next < 0 && e == ENOTDIR && slash && fstatat(dir, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(lst.st_mode))
            e = ELOOP; /* O_DIRECTORY|O_NOFOLLOW on a link to a folder says ENOTDIR */
        close(dir);
        if (next < 0) {
            errno = e;
            return -1;
        }
        if (!slash) {
            struct stat st;
            if (fstat(next, &st) != 0 || !S_ISREG(st.st_mode)) {
                close(next);
                errno = EINVAL;
                return -1;
            }
            return next;
        }
        dir = next;
        p = slash + 1;
    }
    return -1;
}

/* Reads fd into buf (size-1 bytes at most); ACMS_ERR_LIMIT when longer. buf wiped on failure. */
static int read_all(int fd, char *buf, size_t size, size_t *len)
{
    *len = 0;
    for (;;) {
        char *dst = buf + *len, extra;
        size_t room = size - 1 - *len;
        ssize_t k = read(fd, room ? dst : &extra, room ? room : 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 || (room == 0 && k > 0)) {
            int rc = k < 0 ? ACMS_ERR : ACMS_ERR_LIMIT;
            explicit_bzero(buf, size);
            explicit_bzero(&extra, 1);
            return rc;
        }
        if (k == 0)
            return ACMS_OK;
        *len += (size_t)k;
    }
}

static int resolve_file(const acms_secret_ref *r, const char *ref, char *buf, size_t size, char *err, size_t errn)
{
    if (!strncmp(r->path, "/proc/", 6) || !strncmp(r->path, "/sys/", 5) || !strncmp(r->path, "/dev/", 5))
        return fail(ACMS_ERR_INVALID, err, errn, ref, "/proc, /sys and /dev are never read");
    int fd = acms_secret_open_nofollow(r->path);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return fail(ACMS_ERR_NOTFOUND, err, errn, ref, "no such file");
        if (e == ELOOP)
            return fail(ACMS_ERR_INVALID, err, errn, ref, "a symbolic link on the path is refused");
        if (e == ENOTDIR)
            return fail(ACMS_ERR_NOTFOUND, err, errn, ref, "no such file (a path component is not a folder)");
        if (e == EINVAL)
            return fail(ACMS_ERR_INVALID, err, errn, ref, "not a regular file");
        if (e == EACCES || e == EPERM)
            return fail(ACMS_ERR, err, errn, ref, "permission denied");
        return fail(ACMS_ERR, err, errn, ref, "cannot open: %s", strerror(e));
    }
    size_t len = 0;
    int rc = read_all(fd, buf, size, &len);
    close(fd);
    if (rc == ACMS_ERR_LIMIT)
        return fail(rc, err, errn, ref, "value longer than %zu bytes", size - 1);
    if (rc != ACMS_OK)
        return fail(rc, err, errn, ref, "read failed");
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return ACMS_OK;
}

int acms_secret_resolve(const acms_secret_ctx *ctx, const char *ref, char *const *scopes, size_t nscopes, char *buf,
                        size_t size, char *errstr, size_t errstr_size)
{
    acms_secret_ref r;
    const char *why = NULL;
    int rc;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!buf || size == 0)
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref ? ref : "(null)", "no buffer");
    buf[0] = '\0';
    if (acms_secret_parse(ref, &r, &why) != ACMS_OK)
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref ? ref : "(null)", "malformed secret reference: %s",
                    why ? why : "?");
    if (!acms_secret_in_scope(&r, scopes, nscopes))
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref, "outside the environment's secret scopes");
    switch (r.kind) {
    case ACMS_SECRET_ENV: rc = resolve_env(ctx, &r, ref, buf, size, errstr, errstr_size); break;
    case ACMS_SECRET_FILE: rc = resolve_file(&r, ref, buf, size, errstr, errstr_size); break;
    case ACMS_SECRET_VAULT:
        if (!ctx || !ctx->vault)
            return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref, "no vault configured (VAULT_ADDR unset)");
        rc = acms_vault_read_kv(ctx->vault, r.path, r.key, buf, size, errstr, errstr_size);
        if (rc != ACMS_OK && errstr && errstr_size) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", errstr);
            fail(rc, errstr, errstr_size, ref, "%s", tmp);
        }
        break;
    case ACMS_SECRET_K8S:
        return fail(ACMS_ERR_INVALID, errstr, errstr_size, ref,
                    "a Kubernetes Secret is given to the step's Pod by the kubernetes executor, never resolved "
                    "by a service");
    default: rc = ACMS_ERR_INVALID;
    }
    if (rc != ACMS_OK)
        explicit_bzero(buf, size);
    return rc;
}

/* --- context ------------------------------------------------------------------------------------- */

int acms_secret_ctx_from_env(acms_secret_ctx *ctx, char *errstr, size_t errstr_size)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->env_deny = getenv("ACMS_SECRET_ENV_DENY");
    return acms_vault_from_env(&ctx->vault, errstr, errstr_size);
}

void acms_secret_ctx_release(acms_secret_ctx *ctx)
{
    if (!ctx)
        return;
    acms_vault_free(ctx->vault);
    ctx->vault = NULL;
}

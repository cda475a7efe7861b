/* fuzz_secret_ref.c: libFuzzer target for secret references (common/secret.c, the one parser) and the
 * plain-text credential detector: bytes -> acms_secret_parse, acms_secret_scope_problem and
 * acms_secret_in_scope (the input as a scope too), resolution of env and vault references (which
 * touch no file) -> adapter_secret_name_sensitive / adapter_secret_value_pattern. Invariants: a
 * parsed reference is NUL-terminated in its fields, a file path is absolute without "." "..", or
 * empty components, a vault reference has a key; a reference is inside the scope made of itself;
 * a failed resolution leaves no byte of a value in the buffer; a services' variable never resolves;
 * a Kubernetes Secret reference is never resolved by a service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/stages.h"
#include "secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what, const char *ref)
{
    if (!cond) {
        fprintf(stderr, "fuzz_secret_ref: %s for '%s'\n", what, ref);
        abort();
    }
}

static int has_dotdot_component(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s++)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            return 1;
    return strstr(p, "//") || strstr(p, "/./") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *ref = malloc(size + 1);
    if (!ref)
        return 0;
    memcpy(ref, data, size);
    ref[size] = '\0';
    acms_secret_ref r;
    const char *why = NULL;
    int rc = acms_secret_parse(ref, &r, &why);
    check(rc == ACMS_OK ? why == NULL : why != NULL, "a reason exactly when refused", ref);
    (void)acms_secret_scope_problem(ref);
    check(rc == ACMS_OK || rc == ACMS_ERR_INVALID || rc == ACMS_ERR_NOTFOUND, "unexpected return code", ref);
    check((rc == ACMS_ERR_NOTFOUND) == !acms_secret_is_ref(ref), "is_ref and parse disagree", ref);
    if (rc == ACMS_OK) {
        check(memchr(r.path, 0, sizeof r.path) && memchr(r.key, 0, sizeof r.key), "unterminated field", ref);
        check(r.path[0] != '\0', "empty path", ref);
        switch (r.kind) {
        case ACMS_SECRET_ENV:
            check(r.key[0] == '\0', "env reference with a key", ref);
            break;
        case ACMS_SECRET_FILE:
            check(r.path[0] == '/' && !has_dotdot_component(r.path), "file path not absolute or with ..", ref);
            break;
        case ACMS_SECRET_VAULT:
            check(r.key[0] != '\0' && !has_dotdot_component(r.path), "vault reference without key or with ..", ref);
            break;
        case ACMS_SECRET_K8S:
            check(r.key[0] != '\0' && !strchr(r.path, '/'), "Kubernetes reference without key or with '/'", ref);
            break;
        default:
            check(0, "unknown kind", ref);
        }
        char *self[] = {ref};
        if (acms_secret_scope_problem(ref) == NULL)
            check(acms_secret_in_scope(&r, self, 1), "a reference outside the scope made of itself", ref);
        if (r.kind != ACMS_SECRET_FILE) {
            /* env: getenv only; vault: no client configured, so no network either */
            acms_secret_ctx ctx = {0};
            char buf[64], err[256];
            memset(buf, 'Z', sizeof buf);
            int res = acms_secret_resolve(&ctx, ref, self, 1, buf, sizeof buf, err, sizeof err);
            if (r.kind == ACMS_SECRET_K8S)
                check(res != ACMS_OK, "a Kubernetes Secret resolved by a service", ref);
            if (r.kind == ACMS_SECRET_ENV && acms_secret_env_denied(NULL, r.path))
                check(res != ACMS_OK, "a services' variable resolved", ref);
            if (res != ACMS_OK)
                for (size_t i = 0; i < sizeof buf; i++)
                    check(buf[i] == 'Z' || buf[i] == '\0', "failed resolution left bytes in the buffer", ref);
        }
    }
    (void)adapter_secret_name_sensitive(ref);
    (void)adapter_secret_value_pattern(ref);
    free(ref);
    return 0;
}

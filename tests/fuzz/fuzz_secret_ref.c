/* fuzz_secret_ref.c: libFuzzer target for secret references and the plain-text credential detector:
 * bytes -> adapter_secret_parse (+ resolution of env and vault references, which touch no file) ->
 * adapter_secret_name_sensitive / adapter_secret_value_pattern. Invariants checked: a parsed
 * reference is NUL-terminated in its fields, a file path is absolute without ".." components, a
 * vault reference has a key; a failed resolution leaves no byte of a value in the buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/secrets.h"
#include "adapter/stages.h"

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
    return 0;
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
    adapter_secret_ref r;
    int rc = adapter_secret_parse(ref, &r);
    check(rc == ACMS_OK || rc == ACMS_ERR_INVALID || rc == ACMS_ERR_NOTFOUND, "unexpected return code", ref);
    check((rc == ACMS_ERR_NOTFOUND) == !adapter_secret_is_ref(ref), "is_ref and parse disagree", ref);
    if (rc == ACMS_OK) {
        check(memchr(r.path, 0, sizeof r.path) && memchr(r.key, 0, sizeof r.key), "unterminated field", ref);
        check(r.path[0] != '\0', "empty path", ref);
        switch (r.kind) {
        case ADAPTER_SECRET_ENV:
            check(r.key[0] == '\0', "env reference with a key", ref);
            break;
        case ADAPTER_SECRET_FILE:
            check(r.path[0] == '/' && !has_dotdot_component(r.path), "file path not absolute or with ..", ref);
            break;
        case ADAPTER_SECRET_VAULT:
            check(r.key[0] != '\0' && !has_dotdot_component(r.path), "vault reference without key or with ..", ref);
            break;
        default:
            check(0, "unknown kind", ref);
        }
        if (r.kind != ADAPTER_SECRET_FILE) {
            /* env: getenv only; vault: no VAULT_ADDR configured, so no network either */
            adapter_ctx ctx = {0};
            char buf[64], err[256];
            memset(buf, 'Z', sizeof buf);
            int res = adapter_secret_resolve(&ctx, ref, buf, sizeof buf, err, sizeof err);
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

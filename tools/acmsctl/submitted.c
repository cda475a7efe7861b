/* submitted.c: the document of an inline submission, kept for `acmsctl retry`. `acmsctl submit FILE`
 * stores the ConfigSubmitted it publishes under the document's hash (acms:doc:<config_hash>, the
 * hash the adapter records as the run's config_hash), sealed when encryption at rest is on (kind
 * "document", id = the hash). One copy per distinct document (SET NX); its expiry is at least the
 * retention plus a day from the last submission, and each run that used it extends it to its own
 * expiry when it ends (common/retention.h). A submission by reference needs none of this: retry
 * submits the same stored version again. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "acmsctl.h"
#include "crypt.h"
#include "keys.h"
#include "secret.h"

#define DOC_MARGIN_MS (24LL * 3600 * 1000)

/* The master key ring of this environment (NULL: none). CTL_OK, or CTL_USAGE (reported). */
static int open_crypt(const ctl_opts *o, acms_secret_ctx *sc, acms_crypt **c)
{
    char err[512] = "";
    *c = NULL;
    memset(sc, 0, sizeof *sc);
    if (!getenv("ACMS_MASTER_KEY_FILE") && !getenv("ACMS_MASTER_KEY_TRANSIT"))
        return CTL_OK;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (acms_secret_ctx_from_env(sc, err, sizeof err) != ACMS_OK ||
        acms_crypt_from_env(c, sc->vault, err, sizeof err) != ACMS_OK) {
        acms_secret_ctx_release(sc);
        curl_global_cleanup();
        return ctl_fail(o, CTL_USAGE, "usage", NULL, "encryption at rest: %s", err);
    }
    return CTL_OK;
}

static void close_crypt(acms_secret_ctx *sc, acms_crypt *c)
{
    if (!c)
        return;
    acms_crypt_free(c);
    acms_secret_ctx_release(sc);
    curl_global_cleanup();
}

int ctl_doc_keep(const ctl_opts *o, acms_redis *r, const Acms__V1__ConfigSubmitted *ev)
{
    char hash[65], key[ACMS_KEY_MAX], err[256], ttl[24];
    uint8_t *buf = NULL;
    size_t len = 0, slen;
    acms_secret_ctx sc;
    acms_crypt *c = NULL;
    if (!ev->document || acms_value_sha256_hex(ev->document, hash) != ACMS_OK || !acms_key_doc(key, sizeof key, hash))
        return CTL_OK; /* nothing to keep (by reference) */
    int rc = open_crypt(o, &sc, &c);
    if (rc != CTL_OK)
        return rc;
    acms_arena *a = acms_arena_new(0);
    const char *stored;
    if (acms_pb_pack(&ev->base, &buf, &len) != ACMS_OK) {
        rc = ctl_fail(o, CTL_FAIL, "internal", NULL, "the document could not be encoded");
        goto out;
    }
    stored = (const char *)buf;
    slen = len;
    if (c) {
        char *env;
        if (acms_crypt_seal(c, a, "document", hash, 1, buf, len, &env, &slen, err, sizeof err) != ACMS_OK) {
            rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "sealing the document: %s", err);
            goto out;
        }
        stored = env;
    }
    snprintf(ttl, sizeof ttl, "%lld", (long long)(acms_redis_run_retention_ms(r) + DOC_MARGIN_MS));
    acms_redis_append(r, "SET %s %b NX PX %s", key, stored, slen, ttl);
    acms_redis_append(r, "PEXPIRE %s %s GT", key, ttl);
    if (acms_redis_exec_discard(r, 2) != ACMS_OK)
        rc = ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis refused to keep the submitted document");
out:
    free(buf);
    acms_arena_free(a);
    close_crypt(&sc, c);
    return rc;
}

int ctl_doc_load(const ctl_opts *o, acms_redis *r, acms_arena *a, const char *hash,
                 const Acms__V1__ConfigSubmitted **out)
{
    char key[ACMS_KEY_MAX], err[256];
    *out = NULL;
    if (!hash || !*hash || !acms_key_doc(key, sizeof key, hash))
        return CTL_FAIL;
    redisReply *rep = acms_redis_cmd(r, "GET %s", key);
    if (!rep)
        return ctl_fail(o, CTL_UNREACHABLE, "unreachable", NULL, "Redis became unreachable reading the document");
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return CTL_FAIL; /* the caller says which run and what to do */
    }
    char *bytes = acms_arena_alloc(a, rep->len + 1);
    size_t n = rep->len;
    memcpy(bytes, rep->str, n);
    freeReplyObject(rep);
    int rc = CTL_OK;
    acms_secret_ctx sc;
    acms_crypt *c = NULL;
    if (acms_crypt_is_envelope(bytes, n)) {
        if ((rc = open_crypt(o, &sc, &c)) != CTL_OK)
            return rc;
        char *plain = NULL;
        if (acms_crypt_open(c, a, "document", hash, 1, bytes, n, &plain, &n, err, sizeof err) != ACMS_OK)
            rc = ctl_fail(o, CTL_FAIL, "sealed", NULL, "the kept document %.12s: %s", hash, err);
        bytes = plain;
        close_crypt(&sc, c);
    }
    const char *why = NULL;
    if (rc == CTL_OK && !(*out = (const Acms__V1__ConfigSubmitted *)acms_pb_decode(
                              a, &acms__v1__config_submitted__descriptor, bytes, n, &why)))
        rc = ctl_fail(o, CTL_FAIL, "internal", NULL, "the kept document %.12s is unreadable: %s", hash, why);
    return rc;
}

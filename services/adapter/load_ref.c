/* load_ref.c: the seed's ExecutionStorageIntegration.load_for_execution. A ConfigSubmitted that
 * carries a reference (id, id@latest or id@N) instead of a document is resolved through the
 * configuration store for the run's environment (the context), the stored text is parsed, and the
 * run is prepared from it; the runtime metadata then names the exact version and its stored content
 * hash. Invariants: a reference that cannot be resolved is a rejection with an explained issue, never
 * a dead letter; a run that already resolved "latest" keeps that version on redelivery (pinned). */
#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "doc.h"

#define S(x) ((x) ? (x) : "")
#define LEVEL "storage"

static void issue(acms_issues *issues, const char *code, const char *fmt, const char *ref, const char *why)
{
    const char *saved = issues->level;
    issues->level = LEVEL;
    acms_issue_add(issues, code, "error", "config_ref", NULL, fmt, ref, why);
    issues->level = saved;
}

/* The nearest stored id within 3 edits (NULL when none or the listing fails). */
static const char *nearest_id(acms_store *store, acms_arena *a, const char *id, int *retry)
{
    acms_store_entry *v;
    size_t n;
    char err[256];
    int rc = acms_store_list(store, a, NULL, &v, &n, err, sizeof err);
    *retry = rc == ACMS_ERR_RETRY;
    if (rc != ACMS_OK)
        return NULL;
    const char *best = NULL;
    size_t best_d = 4;
    for (size_t i = 0; i < n; i++) {
        size_t d = acms_edit_distance(id, v[i].id, 3);
        if (d < best_d) {
            best_d = d;
            best = v[i].id;
        }
    }
    return best;
}

/* CONFIG_REF_NOT_FOUND with a suggestion: the latest version when the id exists, else a near id. */
static int not_found(acms_store *store, acms_arena *a, const adapter_resolved *r, uint32_t version, const char *why,
                     acms_issues *issues)
{
    issue(issues, "CONFIG_REF_NOT_FOUND", "configuration reference '%s' not found: %s", r->requested, why);
    Acms__V1__ValidationIssue *is = issues->v[issues->n - 1];
    acms_store_doc *latest = NULL;
    char err[256], ref[ACMS_STORE_MAX_REF];
    int rc = version ? acms_store_get(store, a, r->id, 0, NULL, &latest, err, sizeof err) : ACMS_ERR_NOTFOUND;
    if (rc == ACMS_ERR_RETRY)
        return ACMS_ERR_RETRY;
    if (rc == ACMS_OK) {
        acms_store_format_ref(ref, sizeof ref, r->id, latest->version);
        acms_issue_suggest(issues, is, "use-stored-version", "pattern", 0.7, "config_ref", ref,
                           "'%s' is stored up to version %u: submit --ref %s (see acmsctl config list %s)", r->id,
                           (unsigned)latest->version, ref, r->id);
        return ACMS_OK;
    }
    int retry = 0;
    const char *near = nearest_id(store, a, r->id, &retry);
    if (retry)
        return ACMS_ERR_RETRY;
    if (near)
        acms_issue_suggest(issues, is, "use-known-config", "pattern", 0.6, "config_ref", near,
                           "did you mean configuration '%s'? (acmsctl config list)", near);
    else
        acms_issue_suggest(issues, is, "put-config", "best_practice", 0.5, "config_ref", "",
                           "store it first: acmsctl config put FILE prints its id@version");
    return ACMS_OK;
}

/* The version a pinned exact reference fixes for this request, 0 when it does not apply. */
static uint32_t pinned_version(const char *pinned, const char *id, uint32_t requested)
{
    char pid[ACMS_STORE_MAX_ID + 1];
    uint32_t pv;
    if (!pinned || !*pinned || acms_store_parse_ref(pinned, pid, sizeof pid, &pv, NULL, 0) != ACMS_OK || pv == 0 ||
        strcmp(pid, id) != 0)
        return 0;
    return requested == 0 || requested == pv ? pv : 0;
}

int adapter_load_for_execution(const adapter_ctx *ctx, acms_store *store, acms_arena *a,
                               const Acms__V1__ConfigSubmitted *in, const char *pinned,
                               Acms__V1__ConfigSubmitted **resolved, Acms__V1__RuntimeConfiguration **out,
                               adapter_resolved *r, acms_issues *issues)
{
    char err[512] = "";
    uint32_t version = 0;
    *out = NULL;
    *resolved = NULL;
    memset(r, 0, sizeof *r);
    r->requested = S(in->config_ref);

    if (acms_store_parse_ref(r->requested, r->id, sizeof r->id, &version, err, sizeof err) != ACMS_OK) {
        issue(issues, "CONFIG_REF_INVALID", "configuration reference '%s' is malformed: %s", r->requested, err);
        return ACMS_ERR_INVALID;
    }
    if (in->document) {
        issue(issues, "CONFIG_REF_AMBIGUOUS", "configuration reference '%s' %s", r->requested,
              "came with an inline document as well: submit one or the other");
        return ACMS_ERR_INVALID;
    }
    if (!store) {
        issue(issues, "CONFIG_REF_UNAVAILABLE", "configuration reference '%s' cannot be resolved: %s", r->requested,
              "no configuration store is configured");
        return ACMS_ERR_INVALID;
    }
    uint32_t pin = pinned_version(pinned, r->id, version);
    acms_store_doc *d = NULL;
    int rc = acms_store_get(store, a, r->id, pin ? pin : version, S(in->environment), &d, err, sizeof err);
    if (rc == ACMS_ERR_RETRY)
        return ACMS_ERR_RETRY;
    if (rc == ACMS_ERR_NOTFOUND)
        return not_found(store, a, r, version, err, issues) == ACMS_ERR_RETRY ? ACMS_ERR_RETRY : ACMS_ERR_INVALID;
    if (rc != ACMS_OK) {
        issue(issues, "CONFIG_REF_UNREADABLE", "configuration reference '%s' cannot be read: %s", r->requested, err);
        return ACMS_ERR_INVALID;
    }
    acms_store_format_ref(r->ref, sizeof r->ref, d->id, d->version);
    memcpy(r->hash, d->hash, sizeof r->hash);

    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    const Acms__V1__Value *doc = NULL;
    if (acms_doc_parse(a, d->document, d->len, &docs, &ndocs, err, sizeof err) == ACMS_OK)
        for (size_t i = 0; i < ndocs && !doc; i++)
            if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
                doc = docs[i];
    if (!doc) {
        issue(issues, "CONFIG_REF_UNUSABLE", "stored configuration %s is not a usable Pipeline document: %s", r->ref,
              *err ? err : "no document of kind Pipeline");
        return ACMS_ERR_INVALID;
    }

    Acms__V1__ConfigSubmitted *c = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    *c = *in;
    c->base = in->base;
    c->document = (Acms__V1__Value *)doc;
    c->config_ref = acms_arena_strdup(a, r->ref);
    c->source_name = acms_arena_strdup(a, *S(in->source_name) ? in->source_name : r->ref);
    *resolved = c;

    rc = adapter_prepare(ctx, a, c, out, issues);
    if (rc != ACMS_OK)
        return rc;
    /* the stored content hash identifies what ran: `acmsctl config get` gives back these exact bytes */
    (*out)->metadata->config_hash = acms_arena_strdup(a, r->hash);
    (*out)->metadata->config_ref = acms_arena_strdup(a, r->ref);
    return ACMS_OK;
}

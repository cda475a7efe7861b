/* fuzz_doc.c: libFuzzer target for the path a user's configuration file takes: bytes -> acms_doc_parse
 * (YAML or JSON) -> typed conversion of every document -> adapter_prepare (offline, secrets not
 * resolved) -> validator_validate (offline) -> JSON rendering, with examples/ profiles loaded once
 * (ACMS_CONFIG_DIR overrides). Invariant checked: any input gives a verdict, never a crash or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "doc.h"
#include "log.h"
#include "profile.h"
#include "validator/validator.h"

static acms_profiles g_profiles; /* read-only after LLVMFuzzerInitialize: the harness's one global */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    const char *dir = getenv("ACMS_CONFIG_DIR") ? getenv("ACMS_CONFIG_DIR") : "examples";
    acms_log_init("fuzz", "error");
    if (acms_profiles_load(&g_profiles, dir, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "fuzz_doc: cannot load profiles from %s: %s\n", dir, err);
        abort();
    }
    return 0;
}

static void render(const ProtobufCMessage *m)
{
    char *s = acms_json_message_string(m, 0);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    acms_arena *a = acms_arena_new(0);
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    char err[512];
    if (acms_doc_parse(a, (const char *)data, size, &docs, &ndocs, err, sizeof err) != ACMS_OK)
        goto out;
    for (size_t i = 0; i < ndocs; i++) {
        acms_issues is;
        acms_issues_init(&is, a, "syntax");
        const char *kind = acms_doc_kind(docs[i]);
        if (kind && !strcmp(kind, "Environment")) {
            Acms__V1__Environment *env = NULL;
            acms_doc_to_environment(a, docs[i], &env, &is);
            if (env)
                render(&env->base);
        } else if (kind && !strcmp(kind, "Policy")) {
            Acms__V1__Policy *pol = NULL;
            acms_doc_to_policy(a, docs[i], &pol, &is);
            if (pol)
                render(&pol->base);
        }
        cJSON_Delete(acms_json_from_value(docs[i]));
    }
    if (ndocs == 0)
        goto out;
    /* what the adapter service does with a ConfigSubmitted carrying this document, for one of the
     * environments (chosen by the input's size) or an unknown one */
    Acms__V1__ConfigSubmitted *in = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    in->meta = acms_meta_new(a, "fuzz-run", "fuzz", "fuzz-cause", "submitted", NULL);
    in->meta->timestamp_ms = 0;
    size_t pick = size % (g_profiles.nenvs + 1);
    in->environment = pick < g_profiles.nenvs ? g_profiles.envs[pick]->name : "no-such-env";
    in->document = docs[0];
    in->source_name = "fuzz.yaml";
    adapter_ctx actx = {.profiles = &g_profiles, .redis = NULL, .check_secrets = 0};
    acms_issues issues;
    acms_issues_init(&issues, a, "syntax");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    int r = adapter_prepare(&actx, a, in, &rc, &issues);
    if (r == ACMS_ERR_INVALID) {
        render(&adapter_rejection_result(a, &issues)->base);
        goto out;
    }
    if (r != ACMS_OK || !rc)
        goto out;
    /* the prepared configuration travels packed on the bus: it must pack */
    uint8_t *buf = NULL;
    size_t len = 0;
    if (acms_pb_pack(&rc->base, &buf, &len) == ACMS_OK)
        free(buf);
    validator_ctx vctx = {.profiles = &g_profiles, .redis = NULL};
    Acms__V1__ValidationResult *res = NULL;
    if (validator_validate(&vctx, a, rc, docs[0], &res) == ACMS_OK && res) {
        if (!res->valid && res->n_issues == 0) {
            fprintf(stderr, "fuzz_doc: invalid verdict without an error issue\n");
            abort();
        }
        render(&res->base);
    }
    render(&rc->base);
out:
    acms_arena_free(a);
    return 0;
}

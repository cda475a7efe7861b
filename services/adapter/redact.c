/* redact.c: plain-text credentials go no further than the document a user submitted. A value the
 * SecretManager reported as a plaintext_credential finding (an env value, a command argument or a tag)
 * is replaced by ADAPTER_REDACTED in the prepared pipeline and in the copy of the document that
 * travels on with it (ConfigPrepared), so neither the bus downstream of the adapter nor Redis nor
 * acmsctl prepare ever carries it. Such a configuration never runs: the validator turns every
 * plaintext_credential finding into a PLAINTEXT_CREDENTIAL error, so nothing needs the value. */
#include <stdlib.h>
#include <string.h>

#include "stages.h"

static int is_plaintext(const Acms__V1__SecretFinding *f)
{
    return f && f->kind && strcmp(f->kind, "plaintext_credential") == 0 && f->field && f->step;
}

/* "command[K]" -> K, or -1. */
static long command_index(const char *field)
{
    if (strncmp(field, "command[", 8) != 0)
        return -1;
    char *end = NULL;
    long k = strtol(field + 8, &end, 10);
    return end && end != field + 8 && *end == ']' && end[1] == '\0' && k >= 0 ? k : -1;
}

size_t adapter_secrets_redact(const adapter_findings *f, Acms__V1__Pipeline *p)
{
    size_t n = 0;
    for (size_t i = 0; f && p && i < f->n; i++) {
        const Acms__V1__SecretFinding *x = f->v[i];
        if (!is_plaintext(x))
            continue;
        for (size_t s = 0; s < p->n_steps; s++) {
            Acms__V1__Step *st = p->steps[s];
            if (!st->name || strcmp(st->name, x->step) != 0)
                continue;
            long k = command_index(x->field);
            if (k >= 0 && (size_t)k < st->n_command) {
                st->command[k] = (char *)ADAPTER_REDACTED;
                n++;
            }
            for (size_t e = 0; strncmp(x->field, "env.", 4) == 0 && e < st->n_env; e++)
                if (st->env[e]->name && strcmp(st->env[e]->name, x->field + 4) == 0) {
                    st->env[e]->value = (char *)ADAPTER_REDACTED;
                    n++;
                }
            for (size_t t = 0; strncmp(x->field, "tags.", 5) == 0 && t < st->n_tags; t++)
                if (st->tags[t]->key && strcmp(st->tags[t]->key, x->field + 5) == 0) {
                    st->tags[t]->value = (char *)ADAPTER_REDACTED;
                    n++;
                }
        }
    }
    return n;
}

/* In a collection written as a map ({NAME: value}) or as a list of {<key_field>: NAME, value: ...},
 * the value node of NAME, or NULL. */
static Acms__V1__Value *named_value(const Acms__V1__Value *coll, const char *key_field, const char *name)
{
    if (acms_value_is(coll, ACMS__V1__VALUE__KIND_MAP_VALUE))
        return (Acms__V1__Value *)acms_value_get(coll, name);
    if (!acms_value_is(coll, ACMS__V1__VALUE__KIND_LIST_VALUE))
        return NULL;
    for (size_t i = 0; i < coll->list_value->n_values; i++) {
        const Acms__V1__Value *el = coll->list_value->values[i];
        const char *n = acms_value_str(acms_value_get(el, key_field));
        if (n && strcmp(n, name) == 0)
            return (Acms__V1__Value *)acms_value_get(el, "value");
    }
    return NULL;
}

static void redact_node(Acms__V1__Value *v)
{
    if (!v)
        return;
    v->kind_case = ACMS__V1__VALUE__KIND_STRING_VALUE; /* keeps its line and column */
    v->string_value = (char *)ADAPTER_REDACTED;
}

Acms__V1__Value *adapter_redacted_document(acms_arena *a, const Acms__V1__Value *doc,
                                           const Acms__V1__RuntimeMetadata *md)
{
    size_t k = 0;
    while (md && k < md->n_secret_findings && !is_plaintext(md->secret_findings[k]))
        k++;
    if (!doc || !md || k == md->n_secret_findings)
        return (Acms__V1__Value *)doc;
    Acms__V1__Value *copy = acms_value_copy(a, doc);
    const Acms__V1__Value *steps = acms_value_path(copy, "spec.steps");
    if (!acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE))
        return copy;
    for (; k < md->n_secret_findings; k++) {
        const Acms__V1__SecretFinding *x = md->secret_findings[k];
        if (!is_plaintext(x))
            continue;
        for (size_t s = 0; s < steps->list_value->n_values; s++) {
            const Acms__V1__Value *step = steps->list_value->values[s];
            const char *name = acms_value_str(acms_value_get(step, "name"));
            if (!name || strcmp(name, x->step) != 0)
                continue;
            long c = command_index(x->field);
            const Acms__V1__Value *cmd = acms_value_get(step, "command");
            if (c >= 0 && acms_value_is(cmd, ACMS__V1__VALUE__KIND_LIST_VALUE) && (size_t)c < cmd->list_value->n_values)
                redact_node(cmd->list_value->values[c]);
            else if (strncmp(x->field, "env.", 4) == 0)
                redact_node(named_value(acms_value_get(step, "env"), "name", x->field + 4));
            else if (strncmp(x->field, "tags.", 5) == 0)
                redact_node(named_value(acms_value_get(step, "tags"), "key", x->field + 5));
        }
    }
    return copy;
}

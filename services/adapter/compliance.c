/* compliance.c: the ComplianceEnforcer. For every policy rule with action "enforce" that applies to a
 * step (environment and step type), performs the mutation its op allows: set (booleans, tags.<key>,
 * numbers, executor, output_path prefix), prefix (output_path), max/min (numbers), forbid (booleans
 * -> false). Requirements that cannot be met by a mutation (equals, present, audit rules) are left
 * to the validator, which re-checks every rule. Every mutation is a record of stage "compliance". */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stages.h"

#define STAGE "compliance"
#define MAX_POLICIES 256
#define S(x) ((x) ? (x) : "")

typedef struct rule_ctx {
    acms_arena *a;
    const Acms__V1__Policy *pol;
    const Acms__V1__PolicyRule *rule;
    adapter_log *log;
} rule_ctx;

static int parse_bool(const char *v, int *out)
{
    if (!v || !*v || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return 0;
    return 1;
}

static int parse_u32(const char *v, uint32_t *out)
{
    char *end;
    if (!v || !*v)
        return 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n > UINT32_MAX || v[0] == '-')
        return 0;
    *out = (uint32_t)n;
    return 1;
}

static void record(const rule_ctx *rc, const Acms__V1__Step *s, const char *field, const char *old, const char *new)
{
    const Acms__V1__PolicyRule *r = rc->rule;
    adapter_log_add(rc->log, STAGE, s->name, field, old, new, 1.0, 1, "policy %s rule %s%s%s", S(rc->pol->name),
                    S(r->id), *S(r->description) ? ": " : "", S(r->description));
}

char *adapter_compliance_reprefix(acms_arena *a, const char *path, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) == 0)
        return (char *)path;
    const char *rest = path;
    const char *scheme = strstr(path, "://");
    if (scheme) {
        const char *slash = strchr(scheme + 3, '/');
        rest = slash ? slash : "";
    }
    while (*rest == '/')
        rest++;
    while (pl > 0 && prefix[pl - 1] == '/')
        pl--;
    return acms_arena_printf(a, "%.*s/%s", (int)pl, prefix, rest);
}

/* The boolean a field names (NULL for a vpc_config the step does not have yet). Returns 0 when the
 * field is not a boolean. */
static int bool_field(Acms__V1__Step *s, const char *field, protobuf_c_boolean **out)
{
    if (strcmp(field, "encrypt_volume") == 0)
        *out = &s->encrypt_volume;
    else if (strcmp(field, "interruptible") == 0)
        *out = &s->interruptible;
    else if (strcmp(field, "optional") == 0)
        *out = &s->optional;
    else if (strcmp(field, "vpc_config.network_isolation") == 0)
        *out = s->vpc_config ? &s->vpc_config->network_isolation : NULL;
    else
        return 0;
    return 1;
}

static uint32_t *u32_field(Acms__V1__Step *s, const char *field)
{
    if (strcmp(field, "instance_count") == 0)
        return &s->instance_count;
    if (strcmp(field, "max_runtime_s") == 0)
        return &s->max_runtime_s;
    if (strcmp(field, "volume_size_gb") == 0)
        return &s->volume_size_gb;
    if (strcmp(field, "max_attempts") == 0)
        return &s->max_attempts;
    return NULL;
}

/* Applies one enforce rule to one step. Returns 1 when the step changed. */
static int enforce(const rule_ctx *rc, Acms__V1__Step *s)
{
    acms_arena *a = rc->a;
    const char *field = S(rc->rule->field), *op = S(rc->rule->op), *val = S(rc->rule->value);
    protobuf_c_boolean *b = NULL;
    uint32_t *u;

    if (strncmp(field, "tags.", 5) == 0 && field[5] && strcmp(op, "set") == 0) {
        const char *key = field + 5;
        for (size_t i = 0; i < s->n_tags; i++)
            if (strcmp(S(s->tags[i]->key), key) == 0 && strcmp(S(s->tags[i]->value), val) == 0)
                return 0;
        const char *old = adapter_step_set_tag(a, s, key, val);
        record(rc, s, field, old ? old : "", val);
        return 1;
    }
    if (strcmp(field, "output_path") == 0 && (strcmp(op, "prefix") == 0 || strcmp(op, "set") == 0)) {
        if (!*val || !s->output_path || !*s->output_path)
            return 0; /* nothing to rewrite: a missing output_path is the validator's to report */
        char *np = adapter_compliance_reprefix(a, s->output_path, val);
        if (np == s->output_path)
            return 0;
        record(rc, s, field, s->output_path, np);
        s->output_path = np;
        return 1;
    }
    if (bool_field(s, field, &b)) {
        int want, cur = b && *b ? 1 : 0;
        if (strcmp(op, "set") == 0) {
            if (!parse_bool(val, &want))
                return 0;
        } else if (strcmp(op, "forbid") == 0) {
            want = 0;
        } else {
            return 0;
        }
        if (cur == want)
            return 0;
        if (!b) {
            s->vpc_config = acms_pb_new(a, &acms__v1__vpc_config__descriptor);
            b = &s->vpc_config->network_isolation;
        }
        if (s->vpc_config && b == &s->vpc_config->network_isolation)
            s->vpc_config->set = 1;
        record(rc, s, field, cur ? "true" : "false", want ? "true" : "false");
        *b = want;
        return 1;
    }
    if ((u = u32_field(s, field))) {
        uint32_t v;
        if (!parse_u32(val, &v))
            return 0;
        int change = (strcmp(op, "set") == 0 && *u != v) || (strcmp(op, "max") == 0 && *u > v) ||
                     (strcmp(op, "min") == 0 && *u < v);
        /* max on an unset limit (0 = none) sets it: "at most" includes "not unlimited". */
        if (strcmp(op, "max") == 0 && *u == 0 && strcmp(field, "max_runtime_s") == 0)
            change = 1;
        if (!change)
            return 0;
        record(rc, s, field, acms_arena_printf(a, "%u", *u), acms_arena_printf(a, "%u", v));
        *u = v;
        return 1;
    }
    if (strcmp(field, "executor") == 0 && strcmp(op, "set") == 0 && *val) {
        if (strcmp(S(s->executor), val) == 0)
            return 0;
        record(rc, s, field, S(s->executor), val);
        s->executor = acms_arena_strdup(a, val);
        return 1;
    }
    return 0;
}

size_t adapter_compliance_enforce(acms_arena *a, const acms_profiles *pr, const Acms__V1__Environment *env,
                                  Acms__V1__Pipeline *p, adapter_log *log)
{
    const Acms__V1__Policy *pols[MAX_POLICIES];
    size_t changes = 0;
    if (!pr)
        return 0;
    size_t np = acms_profiles_policies_for(pr, env, pols, MAX_POLICIES);
    if (np > MAX_POLICIES)
        np = MAX_POLICIES;
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < pols[i]->n_rules; k++) {
            const Acms__V1__PolicyRule *r = pols[i]->rules[k];
            if (strcmp(S(r->action), "enforce") != 0)
                continue;
            rule_ctx rc = {.a = a, .pol = pols[i], .rule = r, .log = log};
            for (size_t j = 0; j < p->n_steps; j++) {
                Acms__V1__Step *s = p->steps[j];
                if (acms_policy_rule_applies(r, S(env->name), S(s->type)))
                    changes += (size_t)enforce(&rc, s);
            }
        }
    }
    return changes;
}

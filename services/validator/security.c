/* security.c: validation level 4, security and compliance. The adapter's secret findings become
 * issues (it checked references against the environment's scopes; values never reach us), policy
 * rules of the environment are evaluated against every step they apply to (a rule's id is the
 * issue code), a rule requiring a field the step's executor does not enforce is ENFORCEMENT_GAP
 * (enforce.h), and outputs must stay under the environment's allowed prefixes. Read-only. */
#include "names.h"
#include "paths.h"

#include "secret.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "enforce.h"

#define MAX_POLICIES 256

/* current under a new prefix: scheme://bucket/ (or the leading '/') is replaced by prefix. */
static const char *rewrite_under(acms_arena *a, const char *prefix, const char *current)
{
    const char *rest = current;
    const char *sep = strstr(current, "://");
    if (sep) {
        const char *slash = strchr(sep + 3, '/');
        rest = slash ? slash + 1 : "";
    }
    while (*rest == '/')
        rest++;
    size_t l = strlen(prefix);
    return acms_arena_printf(a, "%s%s%s", prefix, (l && prefix[l - 1] == '/') || !*rest ? "" : "/", rest);
}

static int has_prefix_any(const char *s, char *const *prefixes, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!validator_empty(prefixes[k]) && strncmp(s, prefixes[k], strlen(prefixes[k])) == 0)
            return 1;
    return 0;
}

/* --- secret findings ---------------------------------------------------------------------------------- */

static long step_index(const validator_input *in, const char *name)
{
    if (in->dag)
        return acms_dag_index(in->dag, validator_str(name));
    for (size_t i = 0; in->pipeline && i < in->pipeline->n_steps; i++)
        if (strcmp(validator_str(in->pipeline->steps[i]->name), validator_str(name)) == 0)
            return (long)i;
    return -1;
}

static Acms__V1__ValidationIssue *finding_issue(const validator_input *in, acms_issues *is, long i, const char *field,
                                                const char *code, const char *msg)
{
    if (i >= 0)
        return validator_step_issue(in, is, (size_t)i, field, code, "error", "%s", msg);
    return acms_issue_add(is, code, "error", field, NULL, "%s", msg);
}

/* What must happen before a suggested reference resolves where the executor runs: NULL when it does
 * now (an existing regular file), else the step to take. *ok: 0 when the resolver would refuse it
 * whatever is done (malformed, a services' own variable): not offered; 1 when it is outside the
 * environment's secret_scopes (the text then starts with widening them); 2 inside them. The one parser
 * of references is common/secret.c. */
static const char *ref_todo(const validator_input *in, acms_arena *a, const char *ref, int *ok)
{
    acms_secret_ref r;
    const Acms__V1__Environment *env = in->env;
    *ok = 0;
    if (acms_secret_parse(ref, &r, NULL) != ACMS_OK ||
        (r.kind == ACMS_SECRET_ENV && acms_secret_env_denied(NULL, r.path)))
        return NULL;
    *ok = env == NULL || acms_secret_in_scope(&r, env->secret_scopes, env->n_secret_scopes) ? 2 : 1;
    const char *scope = *ok == 1 ? acms_arena_printf(a, "add %s to the secret_scopes of environment %s, ", ref,
                                                     validator_str(env->name))
                                 : "";
    struct stat st;
    switch (r.kind) {
    case ACMS_SECRET_FILE:
        if (stat(r.path, &st) == 0 && S_ISREG(st.st_mode))
            return *scope ? acms_arena_printf(a, "%sthen", scope) : NULL;
        return acms_arena_printf(a,
                                 "%screate the file %s holding the value (mode 0600, on the machine that runs the "
                                 "step; it does not exist here), then",
                                 scope, r.path);
    case ACMS_SECRET_VAULT:
        return acms_arena_printf(a, "%swrite the value to Vault at %s under the key %s, then", scope, r.path, r.key);
    case ACMS_SECRET_K8S:
        return acms_arena_printf(a, "%screate the Kubernetes Secret %s with the key %s in the steps' namespace, then",
                                 scope, r.path, r.key);
    default:
        return acms_arena_printf(a,
                                 "%sset %s in the environment of the services that run the step (for `make up`: "
                                 "a line %s=... in run/secrets.env), then",
                                 scope, r.path, r.path);
    }
}

/* Suggests secret references for env var name: one under each readable scope, and secret://env/NAME.
 * Each says what must be done before it resolves (ref_todo). A scope-derived reference the scopes do
 * not cover, or one the resolver refuses, is not offered; secret://env/NAME outside the scopes is, low,
 * with widening the scopes as its first step. */
static void suggest_refs(const validator_input *in, acms_arena *a, acms_issues *is, Acms__V1__ValidationIssue *x,
                         const char *path, const char *name)
{
    const Acms__V1__Environment *env = in->env;
    const char *env_ref = acms_arena_printf(a, "secret://env/%s", name);
    int env_ok = 0;
    const char *env_todo = ref_todo(in, a, env_ref, &env_ok);
    for (size_t k = 0; env && k < env->n_secret_scopes && k < 2; k++) {
        const char *scope = validator_str(env->secret_scopes[k]);
        char *lower = acms_arena_strdup(a, name);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        const char *ref = NULL;
        if (strncmp(scope, "secret://vault/", 15) == 0)
            ref = acms_arena_printf(a, "%s%s%s#%s", scope, scope[strlen(scope) - 1] == '/' ? "" : "/",
                                    validator_str(in->pipeline ? in->pipeline->name : NULL), lower);
        else if (strncmp(scope, "secret://file/", 14) == 0)
            ref = acms_arena_printf(a, "%s%s", scope, lower);
        else if (strncmp(scope, "secret://env/", 13) == 0 && scope[strlen(scope) - 1] == '*' && env_ok != 2)
            ref = acms_arena_printf(a, "%.*s%s", (int)strlen(scope) - 1, scope, name);
        int ok = 0;
        const char *todo = ref ? ref_todo(in, a, ref, &ok) : NULL;
        if (ref && ok == 2)
            acms_issue_suggest(is, x, "PLAINTEXT_CREDENTIAL:use-secret-scope", "pattern", todo ? 0.6 : 0.75, path, ref,
                               "%s%sreference it as %s", todo ? todo : "", todo ? " " : "", ref);
    }
    if (env_ok)
        acms_issue_suggest(is, x, "PLAINTEXT_CREDENTIAL:use-secret-env", "pattern", env_ok == 2 ? 0.8 : 0.35, path,
                           env_ref, "%s%suse %s", env_todo ? env_todo : "", env_todo ? " " : "", env_ref);
}

static void check_findings(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__RuntimeMetadata *m = in->meta;
    for (size_t k = 0; m && k < m->n_secret_findings; k++) {
        const Acms__V1__SecretFinding *f = m->secret_findings[k];
        const char *kind = validator_str(f->kind), *field = validator_str(f->field);
        const char *detail = validator_str(f->detail);
        long i = step_index(in, f->step);
        const char *path = i >= 0 ? validator_step_path(a, (size_t)i, field) : field;
        if (strcmp(kind, "plaintext_credential") == 0) {
            Acms__V1__ValidationIssue *x = finding_issue(in, is, i, field, "PLAINTEXT_CREDENTIAL", detail);
            if (strncmp(field, "env.", 4) == 0 && validator_env_name_ok(field + 4))
                suggest_refs(in, a, is, x, path, field + 4);
            else if (strncmp(field, "command[", 8) == 0)
                acms_issue_suggest(is, x, "PLAINTEXT_CREDENTIAL:via-env", "pattern", 0.6, NULL, NULL,
                                   "read the credential from an env variable holding a secret reference "
                                   "(env: {TOKEN: secret://env/TOKEN}) instead of a command argument");
        } else if (strcmp(kind, "out_of_scope_reference") == 0) {
            Acms__V1__ValidationIssue *x = finding_issue(in, is, i, field, "SECRET_OUT_OF_SCOPE", detail);
            for (size_t s = 0; in->env && s < in->env->n_secret_scopes && s < 3; s++)
                acms_issue_suggest(is, x, "SECRET_OUT_OF_SCOPE:use-scope", "pattern", 0.5 - 0.05 * (double)s, NULL,
                                   NULL, "environment '%s' may read references under %s", validator_str(in->env->name),
                                   in->env->secret_scopes[s]);
        } else if (strcmp(kind, "unresolvable_reference") == 0) {
            finding_issue(in, is, i, field, "SECRET_UNRESOLVABLE", detail);
        } else if (strcmp(kind, "malformed_reference") == 0) {
            if (!validator_find_issue_at(is, 0, "BAD_SECRET_REF", path)) /* syntax said it already? */
                finding_issue(in, is, i, field, "BAD_SECRET_REF", detail);
        } else {
            Acms__V1__ValidationIssue *x = finding_issue(in, is, i, field, "SECRET_FINDING", detail);
            x->severity = "warning";
        }
    }
}

/* Whether name holds one of the words, ASCII case ignored: folded once, then one strstr a word
 * (names longer than the buffer are compared in place). */
static int name_sensitive(const char *name)
{
    static const char *const words[] = {"PASSWORD", "PASSWD",     "SECRET",      "TOKEN",     "API_KEY",
                                        "APIKEY",   "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"};
    char up[256];
    size_t n = strlen(name);
    if (n < sizeof up) {
        for (size_t i = 0; i <= n; i++)
            up[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
        for (size_t k = 0; k < sizeof words / sizeof *words; k++)
            if (strstr(up, words[k]))
                return 1;
        return 0;
    }
    for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
        size_t wl = strlen(words[k]);
        for (const char *p = name; *p; p++)
            if (strncasecmp(p, words[k], wl) == 0)
                return 1;
    }
    return 0;
}

/* Defence in depth behind the adapter's findings (and the only check for configurations built
 * without the adapter): sensitive env names with a plain value. Paths already reported since
 * `from` are skipped. */
static void check_plaintext_builtin(const validator_input *in, acms_arena *a, acms_issues *is, size_t from)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        for (size_t k = 0; k < s->n_env; k++) {
            const char *name = validator_str(s->env[k]->name), *val = validator_str(s->env[k]->value);
            if (!*val || strncmp(val, "secret://", 9) == 0 || !name_sensitive(name) || !validator_env_name_ok(name))
                continue;
            const char *field = acms_arena_printf(a, "env.%s", name);
            if (validator_find_issue_at(is, from, "PLAINTEXT_CREDENTIAL", validator_step_path(a, i, field)))
                continue;
            Acms__V1__ValidationIssue *x = validator_step_issue(
                in, is, i, field, "PLAINTEXT_CREDENTIAL", "error",
                "%s looks like a credential but its value is plain text; use a secret reference", name);
            suggest_refs(in, a, is, x, validator_step_path(a, i, field), name);
        }
    }
}

/* --- policies ------------------------------------------------------------------------------------------ */

typedef struct fval {
    int known;   /* the field name is understood */
    int present; /* set / non-zero / true */
    int numeric;
    double num;
    const char *str;
} fval;

static fval f_str(const char *s)
{
    return (fval){1, !validator_empty(s), 0, 0, validator_str(s)};
}
static fval f_num(acms_arena *a, double d)
{
    (void)a;
    return (fval){1, d != 0, 1, d, NULL};
} /* str: fval_str */
static fval f_bool(int b)
{
    return (fval){1, b != 0, 1, b ? 1 : 0, b ? "true" : "false"};
}

/* The text of a value; numbers are formatted only when a rule needs their text. */
static const char *fval_str(acms_arena *a, fval *v)
{
    if (v->str == NULL)
        v->str = acms_arena_g(a, v->num);
    return v->str;
}

/* A rule's step field, resolved from its name once per rule (not once per step). */
typedef enum {
    SF_UNKNOWN,
    SF_NAME,
    SF_TYPE,
    SF_INSTANCE_TYPE,
    SF_OUTPUT_PATH,
    SF_EXECUTOR,
    SF_WORKDIR,
    SF_INSTANCE_COUNT,
    SF_VOLUME_SIZE_GB,
    SF_MAX_RUNTIME_S,
    SF_MAX_ATTEMPTS,
    SF_MEMORY_MB,
    SF_DATA_SIZE_MB,
    SF_VCPU,
    SF_OPTIONAL,
    SF_INTERRUPTIBLE,
    SF_ENCRYPT_VOLUME,
    SF_COMMAND,
    SF_DEPENDS_ON,
    SF_VPC,
    SF_VPC_ISOLATION,
    SF_VPC_SUBNETS,
    SF_VPC_GROUPS,
    SF_RES_MEMORY_MB,
    SF_RES_VCPU,
    SF_RES_GPUS,
    SF_RES_CPU_TIME_S,
    SF_TAG,
    SF_ENV
} step_field_id;

typedef struct field_ref {
    step_field_id id;
    const char *key; /* the tag or variable name after "tags." / "env." */
} field_ref;

/* (not reformatted: tables of one-line entries, kept one line each) */
/* clang-format off */
static field_ref resolve_field(const char *f)
{
    static const struct { const char *name; step_field_id id; } plain[] = {
        {"name", SF_NAME}, {"type", SF_TYPE}, {"instance_type", SF_INSTANCE_TYPE}, {"output_path", SF_OUTPUT_PATH},
        {"executor", SF_EXECUTOR}, {"workdir", SF_WORKDIR}, {"instance_count", SF_INSTANCE_COUNT},
        {"volume_size_gb", SF_VOLUME_SIZE_GB}, {"max_runtime_s", SF_MAX_RUNTIME_S}, {"max_attempts", SF_MAX_ATTEMPTS},
        {"memory_mb", SF_MEMORY_MB}, {"data_size_mb", SF_DATA_SIZE_MB}, {"vcpu", SF_VCPU}, {"optional", SF_OPTIONAL},
        {"interruptible", SF_INTERRUPTIBLE}, {"encrypt_volume", SF_ENCRYPT_VOLUME}, {"command", SF_COMMAND},
        {"depends_on", SF_DEPENDS_ON}, {"vpc_config", SF_VPC},
        {"vpc_config.network_isolation", SF_VPC_ISOLATION}, {"vpc_config.subnets", SF_VPC_SUBNETS},
        {"vpc_config.security_group_ids", SF_VPC_GROUPS}, {"resources.memory_mb", SF_RES_MEMORY_MB},
        {"resources.vcpu", SF_RES_VCPU}, {"resources.gpus", SF_RES_GPUS}, {"resources.cpu_time_s", SF_RES_CPU_TIME_S},
    };
    for (size_t k = 0; k < sizeof plain / sizeof *plain; k++)
        if (!strcmp(f, plain[k].name)) return (field_ref){plain[k].id, NULL};
    if (!strncmp(f, "tags.", 5)) return (field_ref){SF_TAG, f + 5};
    if (!strncmp(f, "env.", 4)) return (field_ref){SF_ENV, f + 4};
    return (field_ref){SF_UNKNOWN, NULL};
}

static fval step_field(acms_arena *a, const Acms__V1__Step *s, const field_ref *f)
{
    static const fval unknown = {0, 0, 0, 0, ""};
    const Acms__V1__VpcConfig *v = s->vpc_config;
    const Acms__V1__Resources *r = s->resources;
    switch (f->id) {
    case SF_NAME: return f_str(s->name);
    case SF_TYPE: return f_str(s->type);
    case SF_INSTANCE_TYPE: return f_str(s->instance_type);
    case SF_OUTPUT_PATH: return f_str(s->output_path);
    case SF_EXECUTOR: return f_str(s->executor);
    case SF_WORKDIR: return f_str(s->workdir);
    case SF_INSTANCE_COUNT: return f_num(a, s->instance_count);
    case SF_VOLUME_SIZE_GB: return f_num(a, s->volume_size_gb);
    case SF_MAX_RUNTIME_S: return f_num(a, s->max_runtime_s);
    case SF_MAX_ATTEMPTS: return f_num(a, s->max_attempts);
    case SF_MEMORY_MB: return f_num(a, (double)s->memory_mb);
    case SF_DATA_SIZE_MB: return f_num(a, (double)s->data_size_mb);
    case SF_VCPU: return f_num(a, s->vcpu);
    case SF_OPTIONAL: return f_bool(s->optional);
    case SF_INTERRUPTIBLE: return f_bool(s->interruptible);
    case SF_ENCRYPT_VOLUME: return f_bool(s->encrypt_volume);
    case SF_COMMAND: return f_num(a, (double)s->n_command);
    case SF_DEPENDS_ON: return f_num(a, (double)s->n_depends_on);
    case SF_VPC: return f_bool(v && (v->set || v->n_subnets || v->n_security_group_ids || v->network_isolation));
    case SF_VPC_ISOLATION: return f_bool(v && v->network_isolation);
    case SF_VPC_SUBNETS: return f_num(a, v ? (double)v->n_subnets : 0);
    case SF_VPC_GROUPS: return f_num(a, v ? (double)v->n_security_group_ids : 0);
    case SF_RES_MEMORY_MB: return f_num(a, r ? (double)r->memory_mb : 0);
    case SF_RES_VCPU: return f_num(a, r ? r->vcpu : 0);
    case SF_RES_GPUS: return f_num(a, r ? r->gpus : 0);
    case SF_RES_CPU_TIME_S: return f_num(a, r ? (double)r->cpu_time_s : 0);
    case SF_TAG: {
        const char *t = acms_pb_label(s->tags, s->n_tags, f->key);
        fval out = f_str(t);
        out.present = t != NULL;
        return out;
    }
    case SF_ENV:
        for (size_t k = 0; k < s->n_env; k++)
            if (!strcmp(validator_str(s->env[k]->name), f->key)) {
                fval out = f_str(s->env[k]->value);
                out.present = 1;
                return out;
            }
        return f_str(NULL);
    case SF_UNKNOWN: break;
    }
    return unknown;
}
/* clang-format on */

static int parse_num(const char *s, double *out)
{
    if (validator_empty(s))
        return 0;
    char *end;
    *out = strtod(s, &end);
    return *end == '\0';
}

static int equals_value(acms_arena *a, fval *v, const char *want)
{
    double w;
    if (v->numeric && parse_num(want, &w))
        return v->num == w;
    if (v->numeric && (!strcasecmp(want, "true") || !strcasecmp(want, "false")))
        return (v->num != 0) == (strcasecmp(want, "true") == 0);
    return strcmp(fval_str(a, v), want) == 0;
}

static int prefix_match(const char *s, const char *list)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        while (l && *p == ' ')
            p++, l--;
        if (l && strncmp(s, p, l) == 0)
            return 1;
        p = comma ? comma + 1 : p + l;
    }
    return 0;
}

/* Does v violate r? (the caller states the current value when it does) */
static int violates(acms_arena *a, const Acms__V1__PolicyRule *r, fval *v)
{
    const char *op = validator_str(r->op), *want = validator_str(r->value);
    double w = 0;
    if (!strcmp(op, "equals") || !strcmp(op, "set"))
        return !equals_value(a, v, want) && (v->present || !(!strcasecmp(want, "false") || !strcmp(want, "0")));
    if (!strcmp(op, "prefix"))
        return v->present && !prefix_match(fval_str(a, v), want);
    if (!strcmp(op, "present"))
        return !v->present;
    if (!strcmp(op, "max"))
        return v->present && parse_num(want, &w) && v->num > w;
    if (!strcmp(op, "min"))
        return parse_num(want, &w) && (v->present ? v->num : 0) < w;
    if (!strcmp(op, "forbid")) {
        if (!*want)
            return v->present;
        size_t l = strlen(want);
        if (want[l - 1] == '*')
            return v->present && strncmp(fval_str(a, v), want, l - 1) == 0;
        return v->present && equals_value(a, v, want);
    }
    return 0;
}

static const char *rule_patch(acms_arena *a, const Acms__V1__PolicyRule *r, fval *v)
{
    const char *op = validator_str(r->op), *want = validator_str(r->value);
    if (!strcmp(op, "equals") || !strcmp(op, "set") || !strcmp(op, "max") || !strcmp(op, "min"))
        return want;
    if (!strcmp(op, "prefix") && *want) {
        const char *comma = strchr(want, ',');
        const char *first = comma ? acms_arena_strndup(a, want, (size_t)(comma - want)) : want;
        return rewrite_under(a, first, fval_str(a, v));
    }
    return NULL;
}

/* Does the rule require something of the step (as opposed to forbidding or requiring its absence)? */
static int rule_requires(const Acms__V1__PolicyRule *r)
{
    const char *op = validator_str(r->op), *want = validator_str(r->value);
    if (!strcmp(op, "set") || !strcmp(op, "equals"))
        return *want && strcasecmp(want, "false") && strcmp(want, "0");
    return !strcmp(op, "present") || !strcmp(op, "min") || !strcmp(op, "max");
}

/* A policy requires a field the step's executor does not enforce (enforce.h): an error where the
 * environment requires enforcement, a warning elsewhere. f: the rule's enforcement field, -1 when
 * it has none or the rule requires nothing (check_rule resolves both once per rule). */
static void check_gap(const validator_input *in, acms_arena *a, acms_issues *is, const Acms__V1__Policy *pol,
                      const Acms__V1__PolicyRule *r, int f, size_t i, const char *code)
{
    if (f < 0)
        return;
    const Acms__V1__Step *s = in->pipeline->steps[i];
    const char *ex = acms_enf_step_executor(s, in->env);
    const acms_enf_column *col = acms_enf_executor(ex);
    if (!col || col->cell[f].level != ACMS_ENF_NOT)
        return;
    int strict = in->env && in->env->require_enforcement;
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, validator_str(r->field), "ENFORCEMENT_GAP", strict ? "error" : "warning",
        "policy %s rule %s requires %s, which executor '%s' does not enforce (%s)%s", validator_str(pol->name), code,
        validator_str(r->field), ex, col->cell[f].how,
        strict ? "" : "; an error where the environment sets require_enforcement");
    const acms_enf_column *cols;
    size_t n = acms_enf_columns(&cols);
    for (size_t k = 0; k < n; k++)
        if (cols[k].cell[f].level != ACMS_ENF_NOT && strcmp(cols[k].executor, ex))
            acms_issue_suggest(is, x, "ENFORCEMENT_GAP:executor", "pattern", 0.6 - 0.05 * (double)k,
                               validator_step_path(a, i, "executor"), cols[k].executor,
                               "run the step on executor '%s', which %s %s", cols[k].executor,
                               cols[k].cell[f].level == ACMS_ENF_ENFORCED ? "enforces" : "passes on",
                               acms_enf_field_name((acms_enf_field)f));
}

static void check_rule(const validator_input *in, acms_arena *a, acms_issues *is, const Acms__V1__Policy *pol,
                       const Acms__V1__PolicyRule *r)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    const char *field = validator_str(r->field);
    const char *sev = validator_empty(r->severity) ? "error" : r->severity;
    const char *code = validator_empty(r->id) ? "POLICY_VIOLATION" : r->id;
    const field_ref fr = resolve_field(field);
    const int enf = rule_requires(r) ? acms_enf_field_of(field) : -1;
    for (size_t i = 0; i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        if (!acms_policy_rule_applies(r, in->env_name, validator_str(s->type)))
            continue;
        fval v = step_field(a, s, &fr);
        if (!v.known) {
            acms_issue_add(is, "POLICY_BAD_FIELD", "warning",
                           acms_arena_printf(a, "policies.%s.%s", validator_str(pol->name), code), NULL,
                           "policy '%s' rule %s checks unknown step field '%s'; the rule is ignored",
                           validator_str(pol->name), code, field);
            return;
        }
        check_gap(in, a, is, pol, r, enf, i, code);
        if (!violates(a, r, &v))
            continue;
        const char *why = v.present ? acms_arena_printf(a, "is %s", fval_str(a, &v)) : "is not set";
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, field, code, sev, "%s (policy %s: %s %s%s%s; step '%s' %s)",
            validator_empty(r->description) ? "policy violation" : r->description, validator_str(pol->name), field,
            validator_str(r->op), validator_empty(r->value) ? "" : " ", validator_str(r->value), validator_str(s->name),
            why);
        const char *patch = rule_patch(a, r, &v);
        const char *text = !validator_empty(r->suggestion) ? r->suggestion
                           : patch                         ? acms_arena_printf(a, "set %s to %s", field, patch)
                                   : acms_arena_printf(a, "make %s satisfy '%s %s'", field, validator_str(r->op),
                                                       validator_str(r->value));
        /* a concrete patch is worth more than an instruction the user must turn into a value */
        acms_issue_suggest(is, x, acms_arena_printf(a, "%s:policy-fix", code), "policy", patch ? 0.9 : 0.7,
                           patch ? validator_step_path(a, i, field) : NULL, patch, "%s", text);
    }
}

static void check_policies(const validator_input *in, acms_arena *a, acms_issues *is)
{
    if (in->profiles == NULL || in->env == NULL)
        return;
    const Acms__V1__Policy **pols = acms_arena_alloc(a, MAX_POLICIES * sizeof *pols);
    size_t np = acms_profiles_policies_for(in->profiles, in->env, pols, MAX_POLICIES);
    if (np > MAX_POLICIES)
        np = MAX_POLICIES;
    for (size_t k = 0; k < np; k++)
        for (size_t r = 0; pols[k] && r < pols[k]->n_rules; r++)
            check_rule(in, a, is, pols[k], pols[k]->rules[r]);
}

/* Is the path component c[0..n) "." or ".." once %2e is decoded? */
static int dot_component(const char *c, size_t n, int *dotdot)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; dots++) {
        if (c[i] == '.')
            i++;
        else if (i + 2 < n && c[i] == '%' && c[i + 1] == '2' && (c[i + 2] == 'e' || c[i + 2] == 'E'))
            i += 3;
        else
            return 0;
    }
    *dotdot = dots == 2;
    return dots == 1 || dots == 2;
}

/* The output path with "." and empty components dropped (the form the prefix check judges), or NULL
 * when a component is ".." (also as %2e%2e): a path that climbs out of its prefix is refused, never
 * resolved (s3://acme-ml-dev/../acme-ml-prod/x passed a plain prefix check). */
static const char *normal_output(acms_arena *a, const char *o)
{
    const char *sep = strstr(o, "://");
    const char *path = sep ? strchr(sep + 3, '/') : o;
    if (!path)
        return o;
    char *out = acms_arena_alloc(a, strlen(o) + 2);
    size_t k = (size_t)(path - o);
    memcpy(out, o, k);
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int dotdot = 0;
        if (n && dot_component(p, n, &dotdot)) {
            if (dotdot)
                return NULL;
        } else if (n) {
            out[k++] = '/';
            memcpy(out + k, p, n);
            k += n;
        }
        if (!e)
            break;
        p = e;
        if (!p[1] && k > 0) /* keep a trailing '/' */
            out[k++] = '/';
    }
    out[k] = '\0';
    return out;
}

static void check_output_locations(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Environment *env = in->env;
    const Acms__V1__Pipeline *p = in->pipeline;
    for (size_t i = 0; i < p->n_steps; i++) {
        const char *o = p->steps[i]->output_path;
        if (validator_empty(o))
            continue;
        const char *norm = normal_output(a, o);
        if (!norm) {
            validator_step_issue(in, is, i, "output_path", "OUTPUT_PATH_TRAVERSAL", "error",
                                 "output_path %.200s has a '..' component; write the location without it", o);
            continue;
        }
        if (env == NULL || env->n_allowed_output_prefixes == 0 ||
            has_prefix_any(norm, env->allowed_output_prefixes, env->n_allowed_output_prefixes))
            continue;
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "output_path", "OUTPUT_LOCATION_NOT_ALLOWED", "error",
            "output_path %.200s is outside the locations environment '%s' allows (%s%s)", o, validator_str(env->name),
            env->allowed_output_prefixes[0], env->n_allowed_output_prefixes > 1 ? ", ..." : "");
        for (size_t k = 0; k < env->n_allowed_output_prefixes && k < 3; k++) {
            const char *v = rewrite_under(a, validator_str(env->allowed_output_prefixes[k]), o);
            acms_issue_suggest(is, x, "OUTPUT_LOCATION_NOT_ALLOWED:rewrite", "pattern", 0.8 - 0.1 * (double)k,
                               validator_step_path(a, i, "output_path"), v, "write to %s", v);
        }
    }
}

int validator_security(const validator_input *in, acms_arena *a, acms_issues *is)
{
    if (in->pipeline == NULL)
        return ACMS_OK;
    size_t from = is->n;
    check_findings(in, a, is);
    check_plaintext_builtin(in, a, is, from);
    check_policies(in, a, is);
    check_output_locations(in, a, is);
    return ACMS_OK;
}

/* profile.c: the configuration directory (catalog.yaml, environments/NAME.yaml, policies/NAME.yaml) loaded
 * once into one arena. Invariants after a successful load: every environment has its defaults
 * filled in, names are unique, every policy an environment names exists; nothing changes afterwards. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doc.h"
#include "profile.h"
#include "secret.h"

static void set_err(char *errstr, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (!errstr || !size)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        errstr[0] = '\0';
}

static int is_doc_file(const struct dirent *d)
{
    const char *dot = strrchr(d->d_name, '.');
    if (d->d_name[0] == '.' || !dot)
        return 0;
    return !strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json");
}

/* "file:line: path: message (suggestion)" for the first error-severity issue. */
static int issue_error(const acms_issues *is, const char *file, char *errstr, size_t size)
{
    for (size_t i = 0; i < is->n; i++) {
        const Acms__V1__ValidationIssue *v = is->v[i];
        if (strcmp(v->severity, "error") != 0)
            continue;
        const char *hint = v->n_suggestions ? v->suggestions[0]->text : NULL;
        set_err(errstr, size, "%s:%u: %s%s%s%s%s%s", file, v->line, v->path, v->path[0] ? ": " : "", v->message,
                hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

static void env_defaults(acms_arena *a, Acms__V1__Environment *e)
{
    if (!e->executor[0])
        e->executor = acms_arena_strdup(a, "local");
    if (!e->learning_mode[0])
        e->learning_mode = acms_arena_strdup(a, "apply");
    if (!e->max_parallel)
        e->max_parallel = 4;
    if (!e->default_max_attempts)
        e->default_max_attempts = 3;
    if (e->safety_threshold == 0)
        e->safety_threshold = 0.8;
    if (e->memory_scale == 0)
        e->memory_scale = 1.0;
}

static void policy_defaults(acms_arena *a, Acms__V1__Policy *p)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        if (!p->rules[i]->severity[0])
            p->rules[i]->severity = acms_arena_strdup(a, "error");
        if (!p->rules[i]->action[0])
            p->rules[i]->action = acms_arena_strdup(a, "audit");
    }
}

/* Line of the first mention of name under v (a string scalar, or a map key: its value's line). */
static uint32_t mention_line(const Acms__V1__Value *v, const char *name, int depth)
{
    if (!v || depth > ACMS_MAX_DEPTH)
        return 0;
    if (v->kind_case == ACMS__V1__VALUE__KIND_STRING_VALUE)
        return strcmp(v->string_value, name) ? 0 : v->line;
    if (v->kind_case == ACMS__V1__VALUE__KIND_LIST_VALUE) {
        for (size_t i = 0; i < v->list_value->n_values; i++) {
            uint32_t l = mention_line(v->list_value->values[i], name, depth + 1);
            if (l)
                return l;
        }
    } else if (v->kind_case == ACMS__V1__VALUE__KIND_MAP_VALUE) {
        for (size_t i = 0; i < v->map_value->n_entries; i++) {
            const Acms__V1__MapEntry *e = v->map_value->entries[i];
            if (!strcmp(e->key, name))
                return e->value ? e->value->line : 0;
            uint32_t l = mention_line(e->value, name, depth + 1);
            if (l)
                return l;
        }
    }
    return 0;
}

/* Every instance type an environment names must be in the catalogue (a typo would never match). */
static int check_types(const acms_profiles *p, const Acms__V1__Environment *e, const Acms__V1__Value *doc,
                       const char *file, char *errstr, size_t size)
{
    const char *bad = NULL;
    if (e->default_instance_type[0] && !acms_catalog_find(&p->catalog, e->default_instance_type))
        bad = e->default_instance_type;
    for (size_t i = 0; !bad && i < e->n_allowed_instance_types; i++)
        if (!acms_catalog_find(&p->catalog, e->allowed_instance_types[i]))
            bad = e->allowed_instance_types[i];
    for (size_t i = 0; !bad && i < e->n_instance_map; i++) {
        if (!acms_catalog_find(&p->catalog, e->instance_map[i]->from))
            bad = e->instance_map[i]->from;
        else if (!acms_catalog_find(&p->catalog, e->instance_map[i]->to))
            bad = e->instance_map[i]->to;
    }
    if (!bad)
        return ACMS_OK;
    set_err(errstr, size, "%s:%u: unknown instance type '%s' (not in %s/catalog.yaml)", file,
            mention_line(acms_value_get(doc, "spec"), bad, 0), bad, p->dir);
    return ACMS_ERR_INVALID;
}

/* Every secret scope must be one (secret.h): a whole backend or "*" would hand a pipeline the
 * services' own credentials or any file. */
static int check_scopes(const Acms__V1__Environment *e, const Acms__V1__Value *doc, const char *file, char *errstr,
                        size_t size)
{
    for (size_t i = 0; i < e->n_secret_scopes; i++) {
        const char *why = acms_secret_scope_problem(e->secret_scopes[i]);
        if (why) {
            set_err(errstr, size, "%s:%u: secret scope '%s': %s", file,
                    mention_line(acms_value_get(doc, "spec"), e->secret_scopes[i], 0), e->secret_scopes[i], why);
            return ACMS_ERR_INVALID;
        }
    }
    return ACMS_OK;
}

/* Loads every document of one file of kind (Environment or Policy) and appends it to p. */
static int load_file(acms_profiles *p, const char *file, int is_env, char *errstr, size_t size)
{
    const char *kind = is_env ? "Environment" : "Policy";
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    int rc = acms_doc_parse_file(p->arena, file, &docs, &ndocs, errstr, size);
    if (rc != ACMS_OK)
        return rc == ACMS_ERR_NOMEM ? rc : ACMS_ERR_INVALID;
    for (size_t i = 0; i < ndocs; i++) {
        const char *k = acms_doc_kind(docs[i]);
        if (!k || strcmp(k, kind) != 0) {
            set_err(errstr, size, "%s:%u: expected kind %s, got %s", file, docs[i]->line, kind, k ? k : "none");
            return ACMS_ERR_INVALID;
        }
        acms_issues is;
        acms_issues_init(&is, p->arena, "syntax");
        if (is_env) {
            Acms__V1__Environment *e = NULL;
            acms_doc_to_environment(p->arena, docs[i], &e, &is);
            if ((rc = issue_error(&is, file, errstr, size)) != ACMS_OK)
                return rc;
            if ((rc = check_types(p, e, docs[i], file, errstr, size)) != ACMS_OK)
                return rc;
            if ((rc = check_scopes(e, docs[i], file, errstr, size)) != ACMS_OK)
                return rc;
            if (acms_profiles_env(p, e->name)) {
                set_err(errstr, size, "%s:%u: environment '%s' is defined twice", file, docs[i]->line, e->name);
                return ACMS_ERR_INVALID;
            }
            env_defaults(p->arena, e);
            p->envs = acms_arena_push(p->arena, p->envs, &p->nenvs, sizeof *p->envs);
            p->envs[p->nenvs - 1] = e;
        } else {
            Acms__V1__Policy *pol = NULL;
            acms_doc_to_policy(p->arena, docs[i], &pol, &is);
            if ((rc = issue_error(&is, file, errstr, size)) != ACMS_OK)
                return rc;
            for (size_t j = 0; j < p->npolicies; j++)
                if (!strcmp(p->policies[j]->name, pol->name)) {
                    set_err(errstr, size, "%s:%u: policy '%s' is defined twice", file, docs[i]->line, pol->name);
                    return ACMS_ERR_INVALID;
                }
            policy_defaults(p->arena, pol);
            p->policies = acms_arena_push(p->arena, p->policies, &p->npolicies, sizeof *p->policies);
            p->policies[p->npolicies - 1] = pol;
        }
    }
    return ACMS_OK;
}

/* Every *.yaml|*.yml|*.json of DIR/sub in name order; a missing subdirectory holds nothing. */
static int load_dir(acms_profiles *p, const char *sub, int is_env, char *errstr, size_t size)
{
    char path[1024], file[1400];
    struct dirent **names = NULL;
    int rc = ACMS_OK;
    int n = snprintf(path, sizeof path, "%s/%s", p->dir, sub);
    if (n < 0 || (size_t)n >= sizeof path) {
        set_err(errstr, size, "%s: path too long", p->dir);
        return ACMS_ERR_INVALID;
    }
    int count = scandir(path, &names, is_doc_file, alphasort);
    if (count < 0)
        return ACMS_OK;
    for (int i = 0; i < count; i++) {
        if (rc == ACMS_OK) {
            n = snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
            if (n < 0 || (size_t)n >= sizeof file) {
                set_err(errstr, size, "%s: path too long", path);
                rc = ACMS_ERR_INVALID;
            } else {
                rc = load_file(p, file, is_env, errstr, size);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int acms_profiles_load(acms_profiles *p, const char *dir, char *errstr, size_t errstr_size)
{
    char path[1024];
    struct stat st;
    int rc;
    memset(p, 0, sizeof *p);
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        set_err(errstr, errstr_size, "%s: no such configuration directory", dir ? dir : "(null)");
        return ACMS_ERR_NOTFOUND;
    }
    int n = snprintf(p->dir, sizeof p->dir, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof p->dir) {
        set_err(errstr, errstr_size, "%s: path too long", dir);
        return ACMS_ERR_INVALID;
    }
    p->arena = acms_arena_new(0);
    n = snprintf(path, sizeof path, "%s/catalog.yaml", p->dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        set_err(errstr, errstr_size, "%s: path too long", dir);
        rc = ACMS_ERR_INVALID;
        goto out;
    }
    if ((rc = acms_catalog_load(p->arena, path, &p->catalog, errstr, errstr_size)) != ACMS_OK)
        goto out;
    if ((rc = load_dir(p, "environments", 1, errstr, errstr_size)) != ACMS_OK)
        goto out;
    if ((rc = load_dir(p, "policies", 0, errstr, errstr_size)) != ACMS_OK)
        goto out;
    for (size_t i = 0; i < p->nenvs; i++) {
        const Acms__V1__Environment *e = p->envs[i];
        for (size_t j = 0; j < e->n_policies; j++) {
            size_t k = 0;
            while (k < p->npolicies && strcmp(p->policies[k]->name, e->policies[j]) != 0)
                k++;
            if (k == p->npolicies) {
                set_err(errstr, errstr_size,
                        "%s/environments: environment '%s' names policy '%s', which is not in %s/policies", p->dir,
                        e->name, e->policies[j], p->dir);
                rc = ACMS_ERR_INVALID;
                goto out;
            }
        }
    }
out:
    if (rc != ACMS_OK)
        acms_profiles_release(p);
    return rc;
}

void acms_profiles_release(acms_profiles *p)
{
    if (!p)
        return;
    acms_arena_free(p->arena);
    memset(p, 0, sizeof *p);
}

const Acms__V1__Environment *acms_profiles_env(const acms_profiles *p, const char *name)
{
    if (!p || !name)
        return NULL;
    for (size_t i = 0; i < p->nenvs; i++)
        if (strcmp(p->envs[i]->name, name) == 0)
            return p->envs[i];
    return NULL;
}

/* Writes at most cap policies to out and returns how many it wrote: the environment's policies
 * list in its order, or every loaded policy when that list is empty. */
size_t acms_profiles_policies_for(const acms_profiles *p, const Acms__V1__Environment *env,
                                  const Acms__V1__Policy **out, size_t cap)
{
    size_t n = 0;
    if (!p || !env)
        return 0;
    if (env->n_policies == 0) {
        for (size_t i = 0; i < p->npolicies && n < cap; i++)
            out[n++] = p->policies[i];
        return n;
    }
    for (size_t j = 0; j < env->n_policies && n < cap; j++)
        for (size_t i = 0; i < p->npolicies; i++)
            if (strcmp(p->policies[i]->name, env->policies[j]) == 0) {
                out[n++] = p->policies[i];
                break;
            }
    return n;
}

static int listed(char *const *list, size_t n, const char *s)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], "*") || (s && !strcmp(list[i], s)))
            return 1;
    return 0;
}

/* A rule applies when its environments list is empty or names env_name (or "*"), and likewise for
 * its step_types and step_type. */
int acms_policy_rule_applies(const Acms__V1__PolicyRule *r, const char *env_name, const char *step_type)
{
    if (!r)
        return 0;
    return listed(r->environments, r->n_environments, env_name) && listed(r->step_types, r->n_step_types, step_type);
}

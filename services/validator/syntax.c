/* syntax.c: validation level 1, the document as written. acms_doc_to_pipeline reports structure
 * (unknown fields with "did you mean", types, missing fields, kind, apiVersion); this file adds the
 * formats of names, output URIs, secret references and environment variable names, known step
 * types and input limits. It only reads the pipeline; every finding is an issue in `is`. */
#include "names.h"
#include "paths.h"
#include "steps.h"

#include "doc.h"
#include "secret.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* --- output URIs ----------------------------------------------------------------------------------- */

static int bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)b[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* Returns NULL when uri is acceptable, else why not; *fix gets a corrected URI when one is obvious. */
static const char *uri_problem(acms_arena *a, const char *uri, const char **fix)
{
    *fix = NULL;
    for (const char *p = uri; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return "contains whitespace or control characters";
    if (uri[0] == '/')
        return NULL;
    const char *sep = strstr(uri, "://");
    if (sep == NULL) {
        const char *colon = strchr(uri, ':');
        if (colon && colon[1] == '/' && colon[2] != '/') { /* s3:/bucket/x */
            *fix = acms_arena_printf(a, "%.*s://%s", (int)(colon - uri), uri, colon + 2);
            return "malformed scheme separator (expected \"://\")";
        }
        return "not an absolute path or a URI (s3://, gs://, file:// or /absolute/path)";
    }
    size_t slen = (size_t)(sep - uri);
    const char *rest = sep + 3;
    static const char *const schemes[] = {"s3", "gs", "file"};
    int known = -1;
    for (int i = 0; i < 3; i++) {
        if (slen == strlen(schemes[i]) && strncasecmp(uri, schemes[i], slen) == 0) {
            known = i;
            if (strncmp(uri, schemes[i], slen) != 0) {
                *fix = acms_arena_printf(a, "%s://%s", schemes[i], rest);
                return "the URI scheme must be lower case";
            }
        }
    }
    if (known < 0) {
        if (slen == 3 && strncasecmp(uri, "s3a", 3) == 0)
            *fix = acms_arena_printf(a, "s3://%s", rest);
        return "unsupported URI scheme (s3://, gs:// or file://)";
    }
    if (known == 2) {
        if (rest[0] != '/')
            return "file:// URIs need an absolute path (file:///data/out)";
        return NULL;
    }
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (blen == 0)
        return "missing bucket name";
    if (!bucket_ok(rest, blen))
        return "invalid bucket name (3-63 characters: lower-case letters, digits, '-' and '.')";
    return NULL;
}

/* --- secret references ----------------------------------------------------------------------------- */

static int looks_like_secret_ref(const char *v)
{
    return strncasecmp(v, "secret:", 7) == 0 || strncasecmp(v, "secrets:", 8) == 0 ||
           strncasecmp(v, "secret//", 8) == 0;
}

/* A corrected reference for a near miss of the scheme or the backend ("secrets:/env/X",
 * "secret://environment/X"), or NULL. Suggestions only: the form itself is judged by
 * acms_secret_parse (common/secret.c), the one parser of the syntax. */
static const char *secret_fix(acms_arena *a, const char *ref)
{
    if (strncmp(ref, ACMS_SECRET_PREFIX, sizeof ACMS_SECRET_PREFIX - 1) != 0) {
        const char *body = strchr(ref, ':');
        body = body ? body + 1 : ref + 6;
        while (*body == '/')
            body++;
        return acms_arena_printf(a, ACMS_SECRET_PREFIX "%s", body);
    }
    const char *b = ref + sizeof ACMS_SECRET_PREFIX - 1;
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    static const char *const backends[] = {"env", "file", "vault", "k8s"};
    char tmp[32];
    if (!slash || blen >= sizeof tmp)
        return NULL;
    for (size_t i = 0; i < blen; i++)
        tmp[i] = (char)tolower((unsigned char)b[i]);
    tmp[blen] = '\0';
    const char *near = validator_closest(tmp, backends, 4, 3);
    if (strcmp(tmp, "environment") == 0)
        near = "env";
    for (int i = 0; i < 4 && !near; i++)
        if (strcmp(tmp, backends[i]) == 0)
            near = backends[i];
    if (!near || (strlen(near) == blen && strncmp(near, b, blen) == 0))
        return NULL;
    return acms_arena_printf(a, ACMS_SECRET_PREFIX "%s%s", near, slash);
}

/* NULL when ref (which looks like a reference) is well formed; else why, with *fix when obvious. */
static const char *secret_problem(acms_arena *a, const char *ref, const char **fix)
{
    acms_secret_ref r;
    const char *why = NULL;
    *fix = NULL;
    if (acms_secret_parse(ref, &r, &why) == ACMS_OK)
        return NULL;
    *fix = secret_fix(a, ref);
    return why ? why : "malformed secret reference";
}

/* --- checks ------------------------------------------------------------------------------------------ */

static void check_name(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s, size_t from)
{
    if (validator_empty(s->name)) {
        const char *path = validator_step_path(is->arena, i, "name");
        if (validator_find_issue_at(is, from, NULL, path))
            return; /* the conversion already said so */
        Acms__V1__ValidationIssue *x = validator_step_issue(in, is, i, "name", "MISSING_FIELD", "error",
                                                            "step %zu has no name", i + 1);
        acms_issue_suggest(is, x, "MISSING_FIELD:name-step", "pattern", 0.6, path,
                           acms_arena_printf(is->arena, "step-%zu", i + 1), "name the step, e.g. step-%zu", i + 1);
        return;
    }
    if (validator_name_ok(s->name))
        return;
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, "name", "BAD_NAME", "error",
        "step name '%.80s' is not a valid name (lower-case letters, digits, '-' and '_', starting and ending "
        "with a letter or digit, at most %d characters)",
        s->name, VALIDATOR_MAX_NAME);
    const char *slug = validator_name_slug(is->arena, s->name, NULL);
    if (slug)
        acms_issue_suggest(is, x, "BAD_NAME:slugify", "pattern", 0.8, validator_step_path(is->arena, i, "name"), slug,
                           "rename the step to '%s' (and update depends_on references to it)", slug);
}

/* Does step s already set a variable called name? */
static int step_sets(const Acms__V1__Step *s, const char *name)
{
    for (size_t k = 0; k < s->n_env; k++)
        if (!strcmp(validator_str(s->env[k]->name), name))
            return 1;
    return 0;
}

/* ACMS_* names belong to the executor (ACMS_RUN_ID, ACMS_STEP, ACMS_ATTEMPT, ACMS_OUTPUT_PATH,
 * ACMS_STEP_DIR, and any it adds later): a step's own would be overwritten or dropped. */
static void reserved_env(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s,
                         const char *name)
{
    const char *field = acms_arena_printf(is->arena, "env.%s", name);
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, field, "RESERVED_ENV_NAME", "error",
        "environment variable %.80s is in the ACMS_ namespace, which the executor reserves for "
        "the variables it sets itself (ACMS_RUN_ID, ACMS_STEP, ...): it would not reach the step",
        name);
    const char *rest = name + 5;
    const char *candidates[] = {rest, acms_arena_printf(is->arena, "APP_%s", rest)};
    for (size_t k = 0; k < 2; k++) {
        const char *c = candidates[k];
        if (!validator_env_name_ok(c) || !strncmp(c, "ACMS_", 5) || step_sets(s, c))
            continue;
        /* text only: a rename is no "set path = value" patch, and the value may be a credential */
        acms_issue_suggest(is, x, "RESERVED_ENV_NAME:rename", "pattern", 0.8 - 0.1 * (double)k, NULL, NULL,
                           "rename the variable to %s (and read that name in the step)", c);
    }
}

static void check_env(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    for (size_t k = 0; k < s->n_env; k++) {
        const Acms__V1__EnvVar *e = s->env[k];
        const char *name = validator_str(e->name);
        const char *field = NULL; /* "env.<name>", formatted only for an issue */
        if (!validator_env_name_ok(name)) {
            field = acms_arena_printf(is->arena, "env.%s", name);
            Acms__V1__ValidationIssue *x = validator_step_issue(
                in, is, i, field, "BAD_ENV_NAME", "error",
                "environment variable name '%.80s' is not valid ([A-Za-z_][A-Za-z0-9_]*)", name);
            const char *slug = validator_name_slug(is->arena, name, NULL);
            if (slug) {
                char *up = acms_arena_strdup(is->arena, slug);
                for (char *p = up; *p; p++)
                    *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
                if (validator_env_name_ok(up))
                    acms_issue_suggest(is, x, "BAD_ENV_NAME:upper-snake", "pattern", 0.7,
                                       validator_step_path(is->arena, i, "env"), up, "rename the variable to %s", up);
            }
        }
        if (!strncmp(name, "ACMS_", 5))
            reserved_env(in, is, i, s, name);
        const char *v = validator_str(e->value);
        if (!looks_like_secret_ref(v))
            continue;
        const char *fix = NULL;
        const char *why = secret_problem(is->arena, v, &fix);
        if (why == NULL)
            continue;
        if (!field)
            field = acms_arena_printf(is->arena, "env.%s", name);
        Acms__V1__ValidationIssue *x = validator_step_issue(in, is, i, field, "BAD_SECRET_REF", "error",
                                                            "malformed secret reference in %s: %s", name, why);
        if (fix && secret_problem(is->arena, fix, &(const char *){NULL}) == NULL)
            acms_issue_suggest(is, x, "BAD_SECRET_REF:fix-syntax", "pattern", 0.85,
                               validator_step_path(is->arena, i, field), fix, "write the reference as %s", fix);
    }
}

static void check_command(const validator_input *in, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    if (s->n_command > VALIDATOR_MAX_COMMAND_ARGS) {
        validator_step_issue(in, is, i, "command", "COMMAND_TOO_LONG", "error", "command has %zu arguments (limit %d)",
                             s->n_command, VALIDATOR_MAX_COMMAND_ARGS);
        return;
    }
    size_t total = 0;
    for (size_t k = 0; k < s->n_command; k++) {
        size_t len = strlen(validator_str(s->command[k]));
        total += len + 1;
        if (len > VALIDATOR_MAX_ARG_BYTES) {
            const char *f = acms_arena_printf(is->arena, "command[%zu]", k);
            validator_step_issue(in, is, i, f, "COMMAND_TOO_LONG", "error",
                                 "command argument %zu is %zu bytes (limit %d); pass large inputs as files", k, len,
                                 VALIDATOR_MAX_ARG_BYTES);
            return;
        }
    }
    if (total > VALIDATOR_MAX_COMMAND_BYTES)
        validator_step_issue(in, is, i, "command", "COMMAND_TOO_LONG", "error",
                             "command is %zu bytes in total (limit %d)", total, VALIDATOR_MAX_COMMAND_BYTES);
}

static void check_step(const validator_input *in, acms_issues *is, size_t i, size_t from)
{
    const Acms__V1__Step *s = in->pipeline->steps[i];
    check_name(in, is, i, s, from);

    const char *t = validator_str(s->type);
    if (t[0] && !validator_step_type_known(t)) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "type", "UNKNOWN_STEP_TYPE", "error",
            "unknown step type '%.40s' (processing, training, evaluation, transform or custom)", t);
        const char *near = validator_closest(t, validator_step_types, 5, 3);
        if (near)
            acms_issue_suggest(is, x, "UNKNOWN_STEP_TYPE:did-you-mean", "pattern", 0.85,
                               validator_step_path(is->arena, i, "type"), near, "did you mean '%s'?", near);
    }

    if (!validator_empty(s->output_path)) {
        const char *fix = NULL;
        const char *why = uri_problem(is->arena, s->output_path, &fix);
        if (why) {
            Acms__V1__ValidationIssue *x = validator_step_issue(in, is, i, "output_path", "BAD_URI", "error",
                                                                "output_path '%.120s': %s", s->output_path, why);
            if (fix && uri_problem(is->arena, fix, &(const char *){NULL}) == NULL)
                acms_issue_suggest(is, x, "BAD_URI:fix-scheme", "pattern", 0.85,
                                   validator_step_path(is->arena, i, "output_path"), fix, "use '%s'", fix);
        }
    }
    check_env(in, is, i, s);
    check_command(in, is, i, s);
}

int validator_syntax(validator_input *in, acms_arena *a, acms_issues *is, Acms__V1__Pipeline **doc_pipeline)
{
    validator_input view = *in;
    size_t from = is->n;
    if (doc_pipeline)
        *doc_pipeline = NULL;
    if (in->document) {
        Acms__V1__Pipeline *dp = NULL;
        if (in->written) { /* converted once already: its pipeline as written and its issues */
            dp = in->written->pipeline;
            for (size_t k = 0; k < in->written->n_issues; k++)
                acms_issues_append(is, in->written->issues[k]);
        } else {
            (void)acms_doc_to_pipeline(a, in->document, &dp, is);
        }
        if (doc_pipeline)
            *doc_pipeline = dp;
        if (dp)
            view.pipeline = dp;
        const Acms__V1__Value *steps = acms_value_path(in->document, "spec.steps");
        if (acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE))
            in->doc_steps = view.doc_steps = steps->list_value;
        for (size_t k = from; k < is->n; k++)
            if (strcmp(validator_str(is->v[k]->code), "UNKNOWN_FIELD") == 0)
                in->unknown_fields++;
    }
    const Acms__V1__Pipeline *p = view.pipeline;
    if (p == NULL)
        return ACMS_OK;

    if (!validator_empty(p->name) && !validator_name_ok(p->name)) {
        const Acms__V1__Value *at = in->document ? acms_value_path(in->document, "metadata.name") : NULL;
        Acms__V1__ValidationIssue *x = acms_issue_add(
            is, "BAD_NAME", "error", "metadata.name", at,
            "pipeline name '%.80s' is not a valid name (lower-case letters, digits, '-' and '_', at most %d)", p->name,
            VALIDATOR_MAX_NAME);
        const char *slug = validator_name_slug(a, p->name, NULL);
        if (slug)
            acms_issue_suggest(is, x, "BAD_NAME:slugify", "pattern", 0.8, "metadata.name", slug,
                               "rename the pipeline to '%s'", slug);
    }
    if (p->n_steps > ACMS_MAX_STEPS && !validator_find_issue_at(is, from, "LIMIT_EXCEEDED", "spec.steps")) {
        const Acms__V1__Value *at = in->document ? acms_value_path(in->document, "spec.steps") : NULL;
        acms_issue_add(is, "TOO_MANY_STEPS", "error", "spec.steps", at,
                       "the pipeline has %zu steps (limit %d); split it into several pipelines", p->n_steps,
                       ACMS_MAX_STEPS);
    }
    for (size_t i = 0; i < p->n_steps; i++)
        check_step(&view, is, i, from);
    return ACMS_OK;
}

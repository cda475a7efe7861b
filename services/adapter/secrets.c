/* secrets.c: the SecretManager's prepare-time checks. Each reference is checked for form, scope
 * and resolvability through common/secret.h (the one parser and resolver), and plain-text
 * credentials are reported. Invariant: a resolved value lives only in
 * a caller's buffer and is wiped (explicit_bzero) as soon as it is not needed; findings, errstr and
 * logs carry references and kinds, never values. */
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages.h"

#define CHECK_BUF 16384

/* --- plain-text credential detection ---------------------------------------------------------- */

static int word_sensitive(const char *w, size_t n)
{
    static const char *const words[] = {"PASSWORD", "PASSWD",     "PASSPHRASE",  "SECRET", "SECRETS",
                                        "TOKEN",    "CREDENTIAL", "CREDENTIALS", "APIKEY", "PRIVATEKEY"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return 1;
    return 0;
}

static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(s, w, n) == 0;
}

int adapter_secret_name_sensitive(const char *name)
{
    /* Words: split at '_', '-', '.', and lower->upper camelCase transitions; compare upper-cased. */
    char up[256];
    size_t starts[64], lens[64], nw = 0, k = 0;
    if (!name)
        return 0;
    for (size_t i = 0; name[i] && k + 2 < sizeof up; i++) {
        char c = name[i];
        int sep = (c == '_' || c == '-' || c == '.');
        int camel = i > 0 && islower((unsigned char)name[i - 1]) && isupper((unsigned char)c);
        if (sep || camel)
            up[k++] = '_';
        if (!sep)
            up[k++] = (char)toupper((unsigned char)c);
    }
    up[k] = '\0';
    for (size_t i = 0; i < k && nw < 64;) {
        while (i < k && up[i] == '_')
            i++;
        size_t s = i;
        while (i < k && up[i] != '_')
            i++;
        if (i > s) {
            starts[nw] = s;
            lens[nw] = i - s;
            nw++;
        }
    }
    if (nw == 0)
        return 0;
    /* Names of where a credential is, not the credential itself. */
    static const char *const tails[] = {"FILE", "PATH", "DIR", "URL", "URI", "NAME", "ID", "ARN", "REF", "ENDPOINT"};
    for (size_t t = 0; t < sizeof tails / sizeof *tails; t++)
        if (word_is(up + starts[nw - 1], lens[nw - 1], tails[t]))
            return 0;
    for (size_t i = 0; i < nw; i++) {
        const char *w = up + starts[i];
        if (word_sensitive(w, lens[i]))
            return 1;
        if (i + 1 < nw && word_is(up + starts[i + 1], lens[i + 1], "KEY") &&
            (word_is(w, lens[i], "API") || word_is(w, lens[i], "PRIVATE") || word_is(w, lens[i], "SIGNING") ||
             word_is(w, lens[i], "ENCRYPTION")))
            return 1;
    }
    return 0;
}

static size_t span_of(const char *s, const char *set_extra, int upper_only)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        int ok = upper_only ? (isupper(c) || isdigit(c)) : isalnum(c);
        if (!ok && !(set_extra && strchr(set_extra, c)))
            break;
    }
    return n;
}

static int boundary_before(const char *base, const char *p)
{
    return p == base || !isalnum((unsigned char)p[-1]);
}

const char *adapter_secret_value_pattern(const char *v)
{
    if (!v || !*v || acms_secret_is_ref(v))
        return NULL;
    for (const char *p = v; *p; p++) {
        /* one switch on the first character: most characters start no pattern */
        switch (*p) {
        case 'A':
            if ((p[1] == 'K' || p[1] == 'S') && p[2] == 'I' && p[3] == 'A' && boundary_before(v, p) &&
                span_of(p + 4, NULL, 1) == 16)
                return "an AWS access key id";
            break;
        case 'g':
            if (p[1] != 'h')
                break;
            if (p[2] && strchr("posur", p[2]) && p[3] == '_' && boundary_before(v, p) && span_of(p + 4, NULL, 0) >= 30)
                return "a GitHub token";
            if (strncmp(p, "github_pat_", 11) == 0 && span_of(p + 11, "_", 0) >= 30)
                return "a GitHub token";
            break;
        case 'x':
            if (p[1] == 'o' && p[2] == 'x' && p[3] && strchr("bapr", p[3]) && p[4] == '-' && boundary_before(v, p) &&
                span_of(p + 5, "-", 0) >= 10)
                return "a Slack token";
            break;
        case 'e':
            if (p[1] == 'y' && p[2] == 'J' && boundary_before(v, p)) {
                size_t a = span_of(p, "_-", 0);
                if (a >= 10 && p[a] == '.') {
                    size_t b = span_of(p + a + 1, "_-", 0);
                    if (b >= 10 && p[a + 1 + b] == '.' && span_of(p + a + 2 + b, "_-", 0) >= 8)
                        return "a JSON Web Token";
                }
            }
            break;
        default: break;
        }
    }
    const char *begin = strstr(v, "-----BEGIN ");
    if (begin && strstr(begin, "PRIVATE KEY-----"))
        return "a PEM private key";
    return NULL;
}

/* --- prepare-time check ------------------------------------------------------------------------ */

void adapter_findings_init(adapter_findings *f, acms_arena *a)
{
    memset(f, 0, sizeof *f);
    f->arena = a;
}

static void finding(adapter_findings *f, const char *step, const char *field, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void finding(adapter_findings *f, const char *step, const char *field, const char *kind, const char *fmt, ...)
{
    Acms__V1__SecretFinding *s = acms_pb_new(f->arena, &acms__v1__secret_finding__descriptor);
    va_list ap;
    s->step = acms_arena_strdup(f->arena, step ? step : "");
    s->field = acms_arena_strdup(f->arena, field);
    s->kind = acms_arena_strdup(f->arena, kind);
    va_start(ap, fmt);
    s->detail = acms_arena_vprintf(f->arena, fmt, ap);
    va_end(ap);
    f->v = acms_arena_push(f->arena, f->v, &f->n, sizeof *f->v);
    f->v[f->n - 1] = s;
}

static char *scopes_list(acms_arena *a, const Acms__V1__Environment *env)
{
    char *out = acms_arena_strdup(a, "");
    for (size_t i = 0; env && i < env->n_secret_scopes; i++)
        out = acms_arena_printf(a, "%s%s%s", out, i ? ", " : "", env->secret_scopes[i]);
    return out;
}

/* Results of references already resolved in this check (one resolution per distinct reference). */
typedef struct ref_memo {
    const char **refs;
    int *rcs;
    char **errs;
    size_t n;
} ref_memo;

static int memo_resolve(const adapter_ctx *ctx, const Acms__V1__Environment *env, acms_arena *a, ref_memo *m,
                        const char *ref, const char **err)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->refs[i], ref) == 0) {
            *err = m->errs[i];
            return m->rcs[i];
        }
    char *buf = malloc(CHECK_BUF), errstr[512] = "";
    int rc = buf ? acms_secret_resolve(&ctx->secret, ref, env ? env->secret_scopes : NULL,
                                       env ? env->n_secret_scopes : 0, buf, CHECK_BUF, errstr, sizeof errstr)
                 : ACMS_ERR_NOMEM;
    if (buf) {
        explicit_bzero(buf, CHECK_BUF);
        free(buf);
    }
    size_t n = m->n, n2 = m->n, n3 = m->n;
    m->refs = acms_arena_push(a, m->refs, &n, sizeof *m->refs);
    m->rcs = acms_arena_push(a, m->rcs, &n2, sizeof *m->rcs);
    m->errs = acms_arena_push(a, m->errs, &n3, sizeof *m->errs);
    m->refs[m->n] = ref;
    m->rcs[m->n] = rc;
    m->errs[m->n] = acms_arena_strdup(a, errstr[0] ? errstr : acms_strerror(rc));
    *err = m->errs[m->n];
    m->n++;
    return rc;
}

static void check_ref(const adapter_ctx *ctx, const Acms__V1__Environment *env, adapter_findings *f, ref_memo *m,
                      const char *step, const char *field, const char *ref)
{
    acms_secret_ref r;
    const char *why = NULL;
    if (acms_secret_parse(ref, &r, &why) != ACMS_OK) {
        finding(f, step, field, "malformed_reference",
                "%s is not a valid reference: %s (use secret://env/NAME, secret://file/PATH, "
                "secret://vault/<kv path>#<key> or secret://k8s/<secret>#<key>)",
                ref, why ? why : "malformed");
        return;
    }
    if (r.kind == ACMS_SECRET_ENV && acms_secret_env_denied(ctx ? ctx->secret.env_deny : NULL, r.path)) {
        finding(f, step, field, "out_of_scope_reference",
                "%s names one of the services' own variables (ACMS_*, VAULT_*, Kafka, Redis or the deny list), "
                "which no pipeline may read",
                ref);
        return;
    }
    if (!env || !acms_secret_in_scope(&r, env->secret_scopes, env->n_secret_scopes)) {
        finding(f, step, field, "out_of_scope_reference", "%s is outside the secret scopes of environment %s (%s)", ref,
                env && env->name ? env->name : "?", env && env->n_secret_scopes ? scopes_list(f->arena, env) : "none");
        return;
    }
    if (r.kind == ACMS_SECRET_K8S) { /* a Secret of the cluster: only a Pod can read it */
        if (!env->executor || strcmp(env->executor, "kubernetes"))
            finding(f, step, field, "unresolvable_reference",
                    "%s names a Kubernetes Secret, which only the kubernetes executor can give a step "
                    "(environment %s uses %s)",
                    ref, env->name ? env->name : "?", env->executor && *env->executor ? env->executor : "local");
        return;
    }
    if (!ctx || !ctx->check_secrets)
        return;
    const char *err = "";
    int rc = memo_resolve(ctx, env, f->arena, m, ref, &err);
    if (rc == ACMS_OK || rc == ACMS_ERR_LIMIT)
        return;
    finding(f, step, field, "unresolvable_reference", "%s", err);
}

/* "--db-password=x", "PASSWORD=x": the name part when the whole argument is one assignment (a
 * shell script with spaces is not), else NULL. */
static const char *arg_assignment(acms_arena *a, const char *arg, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return NULL;
    const char *s = arg;
    while (*s == '-')
        s++;
    if (s >= eq)
        return NULL;
    for (const char *c = s; c < eq; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'))
            return NULL;
    *value = eq + 1;
    return acms_arena_strndup(a, s, (size_t)(eq - s));
}

/* "$NAME" or "${NAME}": a variable expanded by a shell or template, not a credential itself. */
static int is_variable(const char *v)
{
    if (v[0] != '$')
        return 0;
    const char *p = v + 1;
    int brace = *p == '{';
    p += brace;
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    if (brace && *p++ != '}')
        return 0;
    return *p == '\0';
}

/* The finding's field names, built only when there is a finding (most values have none). */
static const char *env_field(acms_arena *a, const char *name)
{
    return acms_arena_printf(a, "env.%s", name);
}

static const char *command_field(acms_arena *a, size_t k)
{
    return acms_arena_printf(a, "command[%zu]", k);
}

void adapter_secrets_check(const adapter_ctx *ctx, const Acms__V1__Environment *env, const Acms__V1__Pipeline *p,
                           adapter_findings *f)
{
    ref_memo memo = {0};
    acms_arena *a = f->arena;
    for (size_t i = 0; p && i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        const char *step = s->name;
        for (size_t k = 0; k < s->n_env; k++) {
            const Acms__V1__EnvVar *e = s->env[k];
            const char *name = e->name ? e->name : "", *val = e->value ? e->value : "";
            const char *kind;
            if (acms_secret_is_ref(val))
                check_ref(ctx, env, f, &memo, step, env_field(a, name), val);
            else if (*val && !is_variable(val) && adapter_secret_name_sensitive(name))
                finding(f, step, env_field(a, name), "plaintext_credential",
                        "%s looks like a credential but its value is plain text; use a secret reference "
                        "(secret://env/..., secret://file/..., secret://vault/...#key)",
                        name);
            else if ((kind = adapter_secret_value_pattern(val)))
                finding(f, step, env_field(a, name), "plaintext_credential",
                        "the value of %s looks like %s; use a secret reference", name, kind);
        }
        for (size_t k = 0; k < s->n_command; k++) {
            const char *arg = s->command[k] ? s->command[k] : "", *val = NULL, *kind;
            const char *aname = arg_assignment(a, arg, &val);
            if (acms_secret_is_ref(arg) || (val && acms_secret_is_ref(val)))
                finding(f, step, command_field(a, k), "unresolvable_reference",
                        "secret references are resolved only in env values; pass it through an env variable");
            else if (aname && *val && !is_variable(val) && adapter_secret_name_sensitive(aname))
                finding(f, step, command_field(a, k), "plaintext_credential",
                        "command argument %s carries a credential in plain text; read it from an env variable "
                        "holding a secret reference",
                        aname);
            else if ((kind = adapter_secret_value_pattern(arg)))
                finding(f, step, command_field(a, k), "plaintext_credential", "a command argument looks like %s", kind);
        }
        for (size_t k = 0; k < s->n_tags; k++) {
            const char *kind = adapter_secret_value_pattern(s->tags[k]->value);
            if (kind)
                finding(f, step, acms_arena_printf(a, "tags.%s", s->tags[k]->key), "plaintext_credential",
                        "a tag value looks like %s", kind);
        }
    }
}

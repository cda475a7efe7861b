/* mask.c: plain-text credentials kept out of what the console renders (mask.h). The verdict is the
 * adapter's (adapter_secrets_check); which values it concerns is read off a redacted copy of the
 * pipeline (adapter_secrets_redact), so the rules live in the adapter alone. */
#include "mask.h"

#include <ctype.h>
#include <string.h>

#include "adapter/stages.h"
#include "doc.h"
#include "secret.h"

/* One value to mask and its node in the document (for its line and column). */
typedef struct secret {
    const char *value;
    const Acms__V1__Value *node;
} secret;

typedef struct secrets {
    secret *v;
    size_t n;
} secrets;

static void add(acms_arena *a, secrets *s, const char *value, const Acms__V1__Value *node)
{
    if (!value || !*value)
        return;
    s->v = acms_arena_push(a, s->v, &s->n, sizeof *s->v);
    s->v[s->n - 1] = (secret){value, node};
}

size_t console_mask_pipeline(acms_arena *a, Acms__V1__Pipeline *p)
{
    if (!p)
        return 0;
    adapter_findings f;
    adapter_findings_init(&f, a);
    adapter_secrets_check(NULL, NULL, p, &f);
    return adapter_secrets_redact(&f, p);
}

/* The values of step i of p that differ in the redacted copy c, with their document nodes. */
static void step_secrets(acms_arena *a, const Acms__V1__Step *s, const Acms__V1__Step *c, const Acms__V1__Value *node,
                         secrets *out)
{
    const Acms__V1__Value *env = acms_value_get(node, "env"), *cmd = acms_value_get(node, "command"),
                          *tags = acms_value_get(node, "tags");
    for (size_t k = 0; k < s->n_env && k < c->n_env; k++)
        if (strcmp(s->env[k]->value ? s->env[k]->value : "", c->env[k]->value ? c->env[k]->value : ""))
            add(a, out, s->env[k]->value, acms_value_get(env, s->env[k]->name ? s->env[k]->name : ""));
    for (size_t k = 0; k < s->n_command && k < c->n_command; k++)
        if (strcmp(s->command[k] ? s->command[k] : "", c->command[k] ? c->command[k] : ""))
            add(a, out, s->command[k],
                cmd && acms_value_is(cmd, ACMS__V1__VALUE__KIND_LIST_VALUE) && k < cmd->list_value->n_values
                    ? cmd->list_value->values[k]
                    : NULL);
    for (size_t k = 0; k < s->n_tags && k < c->n_tags; k++)
        if (strcmp(s->tags[k]->value ? s->tags[k]->value : "", c->tags[k]->value ? c->tags[k]->value : ""))
            add(a, out, s->tags[k]->value, acms_value_get(tags, s->tags[k]->key ? s->tags[k]->key : ""));
}

/* The plain-text credentials of one Pipeline document. */
static void doc_secrets(acms_arena *a, const Acms__V1__Value *doc, secrets *out)
{
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__Pipeline *p = NULL;
    acms_doc_to_pipeline(a, doc, &p, &is); /* a partial pipeline still names its steps' values */
    if (!p)
        return;
    Acms__V1__Pipeline *c = acms_pb_copy(a, &p->base);
    if (console_mask_pipeline(a, c) == 0)
        return;
    const Acms__V1__Value *steps = acms_value_path(doc, "spec.steps");
    for (size_t i = 0; i < p->n_steps && i < c->n_steps; i++) {
        const Acms__V1__Value *node = steps && acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE) &&
                                              i < steps->list_value->n_values
                                          ? steps->list_value->values[i]
                                          : NULL;
        step_secrets(a, p->steps[i], c->steps[i], node, out);
    }
}

static int word_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

/* text with each occurrence of v replaced (a value of under 4 bytes only where it stands alone, so
 * that masking "ab" does not shred every word holding it). Sets *found. */
static char *replace_all(acms_arena *a, const char *text, const char *v, int *found)
{
    size_t vl = strlen(v), tl = strlen(text), ml = strlen(CONSOLE_MASK), o = 0;
    char *out = acms_arena_alloc(a, tl / vl * (ml > vl ? ml : vl) + tl + 1);
    *found = 0;
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, v);
        int alone = hit && (vl >= 4 || ((hit == text || !word_char(hit[-1])) && !word_char(hit[vl])));
        if (!hit) {
            hit = p + strlen(p);
        } else if (!alone) {
            hit++;
        }
        memcpy(out + o, p, (size_t)(hit - p));
        o += (size_t)(hit - p);
        p = hit;
        if (alone && *p) {
            memcpy(out + o, CONSOLE_MASK, ml);
            o += ml;
            p += vl;
            *found = 1;
        }
    }
    out[o] = '\0';
    return out;
}

/* Masks the rest of line `line` from character column `col` (both 1-based) in text, in place. */
static void mask_from(char *text, uint32_t line, uint32_t col)
{
    char *p = text;
    for (uint32_t l = 1; l < line && p; l++)
        if ((p = strchr(p, '\n')))
            p++;
    if (!p || line == 0 || col == 0)
        return;
    for (uint32_t c = 1; c < col && *p && *p != '\n'; c++) { /* characters, not bytes */
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
    }
    for (; *p && *p != '\n'; p++)
        *p = '*';
}

char *console_mask_document(acms_arena *a, const char *text, size_t len, size_t *masked)
{
    char err[256];
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    secrets s = {0};
    if (masked)
        *masked = 0;
    if (acms_doc_parse(a, text, len, &docs, &ndocs, err, sizeof err) != ACMS_OK)
        return console_mask_lines(a, acms_arena_strndup(a, text, len));
    for (size_t i = 0; i < ndocs; i++)
        if (acms_doc_kind(docs[i]) && !strcmp(acms_doc_kind(docs[i]), "Pipeline"))
            doc_secrets(a, docs[i], &s);
    char *out = acms_arena_strndup(a, text, len);
    for (size_t i = 0; i < s.n; i++) {
        int found = 0;
        out = replace_all(a, out, s.v[i].value, &found);
        if (!found && s.v[i].node) /* spelled otherwise in the text (escapes): mask its place */
            mask_from(out, s.v[i].node->line, s.v[i].node->column);
    }
    if (masked)
        *masked = s.n;
    return out;
}

/* Does this line (without its newline) look like it holds a credential? */
static int line_secret(acms_arena *a, const char *line)
{
    if (adapter_secret_value_pattern(line))
        return 1;
    const char *sep = strpbrk(line, "=:");
    if (!sep)
        return 0;
    const char *end = sep, *start = sep;
    while (start > line && (word_char(start[-1]) || start[-1] == '-' || start[-1] == '.'))
        start--;
    const char *val = sep + 1;
    while (*val == ' ' || *val == '"' || *val == '\'')
        val++;
    return end > start && *val && !acms_secret_is_ref(val) &&
           adapter_secret_name_sensitive(acms_arena_strndup(a, start, (size_t)(end - start)));
}

char *console_mask_lines(acms_arena *a, const char *text)
{
    size_t tl = strlen(text), o = 0;
    char *out = acms_arena_alloc(a, 3 * tl + strlen(CONSOLE_MASK) + 2); /* a masked line is at least "a=b" */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *line = acms_arena_strndup(a, p, n);
        if (line_secret(a, line)) {
            memcpy(out + o, CONSOLE_MASK, strlen(CONSOLE_MASK));
            o += strlen(CONSOLE_MASK);
        } else {
            memcpy(out + o, p, n);
            o += n;
        }
        if (nl)
            out[o++] = '\n';
        p += n + (nl ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

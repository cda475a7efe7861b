/* suggest.c: the IntelligentSuggester. Every issue gets candidates from patterns (attached where the
 * issue was found, plus DAG cycle fixes computed here), best practices (a table keyed by issue code),
 * policies (attached by the security level) and history (how often a fix resolved its issue before,
 * blended into the confidence). Each issue's list is de-duplicated and ranked; the top
 * VALIDATOR_TOP_SUGGESTIONS over all issues form result.suggestions. Every suggestion carries a
 * stable id "<ISSUE_CODE>:<slug>" naming the kind of fix (never an instance), so the feedback
 * service can count which fixes resolved which codes. */
#include "paths.h"
#include "result.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define PER_ISSUE_IN_TOP 3 /* at most this many of one issue's suggestions in the global top */
#define HISTORY_DOMINANT 5 /* offered this often, history outweighs the base confidence */

typedef struct best_practice {
    const char *code;
    const char *slug;
    double confidence;
    const char *text;
} best_practice;

#define LEARNING_APPLY "learning-apply" /* pointless advice where learning_mode already is apply */

/* Sorted by code (bsearch); several entries may share a code. */
static const best_practice best_practices[] = {
    {"BAD_SECRET_REF", "reference-forms", 0.3,
     "secret references are secret://env/NAME, secret://file/ABSOLUTE/PATH, secret://vault/<kv path>#<key> or "
     "secret://k8s/<secret>#<key>"},
    {"BAD_URI", "uri-forms", 0.3,
     "write outputs to s3://bucket/prefix, gs://bucket/prefix, file:///abs/path or /abs/path"},
    {"DAG_CYCLE", "dag-order", 0.35,
     "a step may only depend on steps that finish before it: move shared work into its own upstream step"},
    {"DAG_MISSING_DEPENDENCY", "declare-step", 0.3, "declare the missing step in this pipeline or drop the dependency"},
    {"DAG_UNREACHABLE", "fix-upstream", 0.5,
     "fix the cycle or missing dependency upstream; this step runs once its dependencies can"},
    {"DUPLICATE_OUTPUT_PATH", "output-per-step", 0.4, "give every step its own output prefix, e.g. <base>/<step>"},
    {"INSTANCE_TYPE_NOT_ALLOWED", "ask-platform", 0.2,
     "if the step really needs this type, ask the platform team to allow it in this environment"},
    {"MEMORY_NEAR_LIMIT", "learning-apply", 0.4,
     "enable learning_mode: apply so the adapter right-sizes memory from observed peaks"},
    {"MISSING_OUTPUT", "persist-outputs", 0.4, "set output_path so models and datasets outlive the step"},
    {"NETWORK_ISOLATION_REQUIRED", "vpc-isolation", 0.3,
     "isolated steps cannot reach the internet: stage dependencies and data in the VPC first"},
    {"NO_GPU_FOR_TRAINING", "cpu-ok", 0.2,
     "CPU instances are fine for tree-based models; keep them if training is fast"},
    {"OUTPUT_LOCATION_NOT_ALLOWED", "allowed-prefixes", 0.3,
     "outputs of this environment must stay under its allowed prefixes (see the environment profile)"},
    {"OUTPUT_PATH_TRAVERSAL", "no-dotdot", 0.5, "name the output location directly, without '..' components"},
    {"OVERPROVISIONED_MEMORY", "learning-apply", 0.4,
     "enable learning_mode: apply so the adapter right-sizes memory from observed peaks"},
    {"PLAINTEXT_CREDENTIAL", "rotate", 0.5,
     "treat the exposed value as compromised: rotate it, then keep only a secret reference in the configuration"},
    {"QUOTA_INSTANCES", "raise-quota", 0.2, "ask the platform team to raise the environment's quota"},
    {"QUOTA_MEMORY", "raise-quota", 0.2, "ask the platform team to raise the environment's quota"},
    {"QUOTA_MEMORY", "reduce-data", 0.3, "process the data in chunks or shards so a step fits in the quota"},
    {"QUOTA_RUNTIME", "checkpoint", 0.35,
     "split the step or checkpoint and resume so each attempt fits the runtime quota"},
    {"RESOURCE_KILLED_CPU_TIME", "raise-cpu-time", 0.5, "raise the CPU-time limit or give the step more vCPUs"},
    {"RESOURCE_KILLED_MEMORY", "larger-type", 0.5, "raise memory_mb or move to the next larger instance type"},
    {"RESOURCE_KILLED_TIME", "raise-runtime", 0.5,
     "raise max_runtime_s or make the step faster (more vCPUs, less data)"},
    {"RUNTIME_LIMIT_TIGHT", "learning-apply", 0.4,
     "enable learning_mode: apply so the adapter sets limits from observed durations"},
    {"RUNTIME_NEAR_LIMIT", "raise-runtime", 0.5, "raise max_runtime_s before the step is killed for time"},
    {"SECRET_OUT_OF_SCOPE", "request-scope", 0.3,
     "ask the platform team to grant this environment the secret path, or store the secret under an allowed scope"},
    {"SECRET_UNRESOLVABLE", "create-secret", 0.5,
     "create the secret (or set the variable/file) where the executor resolves it, then submit again"},
    {"UNDERPROVISIONED_MEMORY", "learning-apply", 0.4,
     "enable learning_mode: apply so the adapter right-sizes memory from observed peaks"},
    {"UNKNOWN_FIELD", "schema", 0.2, "check the field against the Pipeline schema (proto/acms/v1/config.proto)"},
    {"UNKNOWN_INSTANCE_TYPE", "catalogue", 0.3, "pick a type from the instance catalogue (examples/catalog.yaml)"},
    {"VALUE_OUT_OF_RANGE", "limits", 0.2, "see docs/limits.md for the allowed ranges"},
};

static int cmp_bp_code(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const best_practice *)elem)->code);
}

int validator_source_rank(const char *source)
{
    static const char *const order[] = {"policy", "pattern", "history", "best_practice"};
    for (int i = 0; i < 4; i++)
        if (source && !strcmp(source, order[i]))
            return i;
    return 4;
}

double validator_blend_confidence(double base, uint64_t offered, uint64_t resolved)
{
    if (resolved > offered)
        resolved = offered;
    double h = ((double)resolved + 1.0) / ((double)offered + 2.0);
    double w = (double)offered / ((double)offered + VALIDATOR_HISTORY_PRIOR);
    double c = (1.0 - w) * base + w * h;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

static int sev_rank(const char *s)
{
    return !s || !strcmp(s, "error") ? 0 : !strcmp(s, "warning") ? 1 : 2;
}

/* --- patterns: DAG cycle fixes -------------------------------------------------------------------- */

/* A "remove dependency X" patch on spec.steps[u].depends_on is written as a set-patch: the JSON list
 * of the remaining dependencies (dag.c names the dependency to drop; normalised here so equal fixes
 * meet in the de-duplication and every patch means "set path to value"). */
static void normalise_depends_patch(const validator_input *in, acms_arena *a, Acms__V1__ValidationSuggestion *s)
{
    size_t u;
    const char *pp = validator_str(s->patch_path);
    size_t l = strlen(pp);
    if (l < 12 || strcmp(pp + l - 12, "].depends_on") != 0 || !validator_path_step(pp, &u) ||
        u >= in->pipeline->n_steps || validator_empty(s->patch_value) || s->patch_value[0] == '[')
        return;
    s->patch_value = (char *)validator_deps_json(a, in->pipeline->steps[u], s->patch_value);
}

/* In each cycle, the dependencies on a step declared later are the likely mistakes (pipelines are
 * written top-down); removing all of them breaks every cycle of the component. */
static void add_cycle_fixes(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const acms_dag *d = in->dag;
    uint32_t ncomp = 0;
    for (size_t i = 0; i < d->n; i++)
        if (in->cycle_of[i] > ncomp)
            ncomp = in->cycle_of[i];
    if (ncomp == 0)
        return;
    /* up to 3 back-edges (u depends on later v) per component */
    size_t(*edges)[3][2] = acms_arena_alloc(a, ((size_t)ncomp + 1) * sizeof *edges);
    size_t *nedges = acms_arena_alloc(a, ((size_t)ncomp + 1) * sizeof *nedges);
    for (size_t u = 0; u < d->n; u++) {
        uint32_t c = in->cycle_of[u];
        if (!c)
            continue;
        for (size_t k = 0; k < d->ndeps[u]; k++) {
            size_t v = d->deps[u][k];
            if (in->cycle_of[v] == c && v > u) {
                if (nedges[c] < 3) {
                    edges[c][nedges[c]][0] = u;
                    edges[c][nedges[c]][1] = v;
                }
                nedges[c]++;
            }
        }
    }
    for (size_t k = 0; k < is->n; k++) {
        Acms__V1__ValidationIssue *x = is->v[k];
        size_t i;
        if (strcmp(validator_str(x->code), "DAG_CYCLE") != 0 || !validator_path_step(x->path, &i) || i >= d->n)
            continue;
        for (size_t m = 0; in->pipeline && m < x->n_suggestions; m++)
            normalise_depends_patch(in, a, x->suggestions[m]);
        uint32_t c = in->cycle_of[i];
        if (!c)
            continue;
        size_t ne = nedges[c] < 3 ? nedges[c] : 3;
        for (size_t e = 0; e < ne; e++) {
            size_t u = edges[c][e][0], v = edges[c][e][1];
            acms_issue_suggest(is, x, "DAG_CYCLE:break", "pattern", nedges[c] == 1 ? 0.75 : 0.55,
                               validator_step_path(a, u, "depends_on"),
                               in->pipeline && u < in->pipeline->n_steps
                                   ? validator_deps_json(a, in->pipeline->steps[u], d->names[v])
                                   : d->names[v],
                               "break the cycle: remove '%s' from the depends_on of '%s' ('%s' is declared after it)",
                               d->names[v], d->names[u], d->names[v]);
        }
    }
}

/* --- per issue ----------------------------------------------------------------------------------- */

static void normalise_id(acms_arena *a, const Acms__V1__ValidationIssue *x, Acms__V1__ValidationSuggestion *s)
{
    const char *code = validator_str(x->code);
    size_t cl = strlen(code);
    s->issue_code = x->code;
    if (validator_empty(s->id))
        s->id = acms_arena_printf(a, "%s:%s", code, validator_empty(s->source) ? "fix" : s->source);
    else if (strncmp(s->id, code, cl) != 0 || s->id[cl] != ':')
        s->id = acms_arena_printf(a, "%s:%s", code, s->id);
}

static int same_suggestion(const Acms__V1__ValidationSuggestion *p, const Acms__V1__ValidationSuggestion *q)
{
    if (!validator_empty(p->patch_path) || !validator_empty(q->patch_path))
        return !strcmp(validator_str(p->patch_path), validator_str(q->patch_path)) &&
               !strcmp(validator_str(p->patch_value), validator_str(q->patch_value));
    return !strcmp(validator_str(p->text), validator_str(q->text));
}

static int better(const Acms__V1__ValidationSuggestion *p, const Acms__V1__ValidationSuggestion *q)
{
    if (p->confidence != q->confidence)
        return p->confidence > q->confidence;
    return validator_source_rank(p->source) < validator_source_rank(q->source);
}

static void rank_issue(const validator_input *in, acms_arena *a, acms_issues *is, Acms__V1__ValidationIssue *x)
{
    const char *code = validator_str(x->code);
    /* best practices for the code */
    const best_practice *bp = bsearch(code, best_practices, sizeof best_practices / sizeof *best_practices,
                                      sizeof *best_practices, cmp_bp_code);
    if (bp) {
        while (bp > best_practices && !strcmp(bp[-1].code, code))
            bp--;
        int applying = in && in->env && in->env->learning_mode && !strcmp(in->env->learning_mode, "apply");
        for (; bp < best_practices + sizeof best_practices / sizeof *best_practices && !strcmp(bp->code, code); bp++)
            if (!(applying && !strcmp(bp->slug, LEARNING_APPLY)))
                acms_issue_suggest(is, x, acms_arena_printf(a, "%s:%s", code, bp->slug), "best_practice",
                                   bp->confidence, NULL, NULL, "%s", bp->text);
    }
    /* ids, history, dedupe (keep the better of two equal fixes) */
    size_t n = 0;
    for (size_t k = 0; k < x->n_suggestions; k++) {
        Acms__V1__ValidationSuggestion *s = x->suggestions[k];
        normalise_id(a, x, s);
        const validator_fix_stat *st = in ? validator_fix_history_find(in->fixes, s->id) : NULL;
        if (st && st->offered) {
            s->confidence = validator_blend_confidence(s->confidence, st->offered, st->resolved);
            if (st->offered >= HISTORY_DOMINANT && strcmp(validator_str(s->source), "policy") != 0)
                s->source = "history";
        }
        if (s->confidence < 0)
            s->confidence = 0;
        if (s->confidence > 1)
            s->confidence = 1;
        size_t dup = n;
        for (size_t m = 0; m < n; m++)
            if (same_suggestion(x->suggestions[m], s)) {
                dup = m;
                break;
            }
        if (dup == n)
            x->suggestions[n++] = s;
        else if (better(s, x->suggestions[dup]))
            x->suggestions[dup] = s;
    }
    x->n_suggestions = n;
    /* stable insertion sort: confidence, then source priority */
    for (size_t k = 1; k < n; k++) {
        Acms__V1__ValidationSuggestion *s = x->suggestions[k];
        size_t m = k;
        while (m > 0 && better(s, x->suggestions[m - 1])) {
            x->suggestions[m] = x->suggestions[m - 1];
            m--;
        }
        x->suggestions[m] = s;
    }
}

/* --- global top ------------------------------------------------------------------------------------ */

typedef struct ranked {
    Acms__V1__ValidationSuggestion *s;
    int sev;
    size_t order;
} ranked;

static int cmp_ranked(const void *x, const void *y)
{
    const ranked *p = x, *q = y;
    if (p->s->confidence != q->s->confidence)
        return p->s->confidence > q->s->confidence ? -1 : 1;
    int sp = validator_source_rank(p->s->source), sq = validator_source_rank(q->s->source);
    if (sp != sq)
        return sp - sq;
    if (p->sev != q->sev)
        return p->sev - q->sev;
    return p->order < q->order ? -1 : p->order > q->order;
}

size_t validator_suggest(const validator_input *in, acms_arena *a, acms_issues *is,
                         Acms__V1__ValidationSuggestion ***top, size_t cap)
{
    *top = NULL;
    if (in && in->dag && in->cycle_of)
        add_cycle_fixes(in, a, is);
    size_t total = 0;
    for (size_t k = 0; k < is->n; k++) {
        rank_issue(in, a, is, is->v[k]);
        total += is->v[k]->n_suggestions < PER_ISSUE_IN_TOP ? is->v[k]->n_suggestions : PER_ISSUE_IN_TOP;
    }
    if (total == 0 || cap == 0)
        return 0;
    ranked *all = acms_arena_alloc(a, total * sizeof *all);
    acms_strmap seen;
    acms_strmap_init(&seen, a, total);
    size_t n = 0;
    for (size_t k = 0; k < is->n; k++) {
        const Acms__V1__ValidationIssue *x = is->v[k];
        for (size_t m = 0; m < x->n_suggestions && m < PER_ISSUE_IN_TOP; m++) {
            Acms__V1__ValidationSuggestion *s = x->suggestions[m];
            /* the same patch for several issues of one code appears once, the same advice once overall */
            const char *key = !validator_empty(s->patch_path)
                                  ? acms_arena_printf(a, "%s\x1f%s\x1f%s", x->code, s->patch_path,
                                                      validator_str(s->patch_value))
                                  : acms_arena_printf(a, "\x1f\x1f\x1f%s", validator_str(s->text));
            if (!acms_strmap_put(&seen, key, n, NULL))
                continue;
            all[n].s = s;
            all[n].sev = sev_rank(x->severity);
            all[n].order = n;
            n++;
        }
    }
    qsort(all, n, sizeof *all, cmp_ranked);
    size_t out = n < cap ? n : cap;
    Acms__V1__ValidationSuggestion **v = acms_arena_alloc(a, (out + 1) * sizeof *v);
    for (size_t k = 0; k < out; k++)
        v[k] = all[k].s;
    *top = v;
    return out;
}

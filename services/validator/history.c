/* history.c: the validator's reads of what the feedback service learned, from Redis, into plain
 * structs the levels consume (performance.c, suggest.c). Reads are pipelined in batches of
 * HISTORY_BATCH commands, each sent in hiredis's argv form with its key built by concatenation (no
 * format string parsed per read); a lost connection makes the whole load ACMS_ERR_RETRY. Keys:
 *   acms:learn:rec:<pipeline>:<step>       memory_mb runtime_s ...
 *   acms:feedback:stats:<pipeline>:<step>  p50_wall_ms p90_wall_ms p90_peak_mb runs ...
 *   acms:learn:fix:<issue_code>            <suggestion_id>:offered <suggestion_id>:resolved */
#include "validator.h"

#include "keys.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY_BATCH 512

/* The lengths of the constant prefixes of keys.h's formats (what precedes "%s:%s" or "%s";
 * test_validator_history checks that the keys built spell the formats' keys). */
#define REC_PREFIX_LEN (sizeof ACMS_KEY_LEARN_REC_FMT - sizeof "%s:%s")
#define STATS_PREFIX_LEN (sizeof ACMS_KEY_FEEDBACK_STATS_FMT - sizeof "%s:%s")
#define FIX_PREFIX_LEN (sizeof ACMS_KEY_LEARN_FIX_FMT - sizeof "%s")
#define KEY_STACK 256

/* Builds the lp bytes of prefix + a (+ ":" + b when b is not NULL) into buf (cap bytes) or, when longer, into a
 * malloc'd buffer stored in *heap (the caller frees it). Returns the key's length. */
static size_t build_key(char *buf, size_t cap, char **heap, const char *prefix, size_t lp, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    size_t len = lp + la + (b ? 1 + lb : 0);
    char *k = buf;
    *heap = NULL;
    if (len + 1 > cap) {
        k = malloc(len + 1);
        if (k == NULL)
            abort();
        *heap = k;
    }
    memcpy(k, prefix, lp);
    memcpy(k + lp, a, la);
    if (b) {
        k[lp + la] = ':';
        memcpy(k + lp + la + 1, b, lb);
    }
    k[len] = '\0';
    return len;
}

size_t validator_history_key(char *buf, size_t cap, char **heap, int kind, const char *a, const char *b)
{
    if (kind == VALIDATOR_HISTORY_REC)
        return build_key(buf, cap, heap, ACMS_KEY_LEARN_REC_FMT, REC_PREFIX_LEN, a, b);
    if (kind == VALIDATOR_HISTORY_STATS)
        return build_key(buf, cap, heap, ACMS_KEY_FEEDBACK_STATS_FMT, STATS_PREFIX_LEN, a, b);
    return build_key(buf, cap, heap, ACMS_KEY_LEARN_FIX_FMT, FIX_PREFIX_LEN, a, NULL);
}

/* Queues HGETALL of the key of kind (see validator_history_key). */
static void append_hgetall(acms_redis *r, int kind, const char *a, const char *b)
{
    char buf[KEY_STACK], *heap;
    size_t len = validator_history_key(buf, sizeof buf, &heap, kind, a, b);
    const char *argv[2] = {"HGETALL", heap ? heap : buf};
    const size_t argvlen[2] = {7, len};
    acms_redis_appendargv(r, 2, argv, argvlen);
    free(heap);
}

static int parse_double(const char *s, double *out)
{
    if (validator_empty(s))
        return 0;
    char *end;
    double d = strtod(s, &end);
    if (*end != '\0' || d != d || d < 0)
        return 0;
    *out = d;
    return 1;
}

void validator_history_apply(validator_step_history *h, int rec, const char *field, const char *value)
{
    double d;
    if (field == NULL || !parse_double(value, &d))
        return;
    if (rec) {
        if (!strcmp(field, "memory_mb"))
            h->rec_memory_mb = (uint64_t)d;
        else if (!strcmp(field, "runtime_s"))
            h->rec_runtime_s = d > 4e9 ? 4000000000u : (uint32_t)d;
        else
            return;
        h->has_rec = 1;
        return;
    }
    if (!strcmp(field, "p50_wall_ms"))
        h->p50_wall_ms = d;
    else if (!strcmp(field, "p90_wall_ms"))
        h->p90_wall_ms = d;
    else if (!strcmp(field, "p90_peak_mb"))
        h->p90_peak_mb = d;
    else if (!strcmp(field, "runs"))
        h->runs = (uint64_t)d;
    else
        return;
    h->has_stats = 1;
}

void validator_fix_history_apply(validator_fix_history *fh, acms_arena *a, const char *field, const char *value)
{
    double d;
    const char *colon = field ? strrchr(field, ':') : NULL;
    if (colon == NULL || colon == field || !parse_double(value, &d))
        return;
    int offered = !strcmp(colon + 1, "offered");
    if (!offered && strcmp(colon + 1, "resolved") != 0)
        return;
    fh->v = acms_arena_push(a, fh->v, &fh->n, sizeof *fh->v);
    validator_fix_stat *s = &fh->v[fh->n - 1];
    s->id = acms_arena_strndup(a, field, (size_t)(colon - field));
    s->offered = offered ? (uint64_t)d : 0;
    s->resolved = offered ? 0 : (uint64_t)d;
}

static int cmp_stat(const void *x, const void *y)
{
    return strcmp(((const validator_fix_stat *)x)->id, ((const validator_fix_stat *)y)->id);
}

void validator_fix_history_sort(validator_fix_history *fh)
{
    if (fh->n < 2)
        return;
    qsort(fh->v, fh->n, sizeof *fh->v, cmp_stat);
    size_t w = 0;
    for (size_t r = 1; r < fh->n; r++) {
        if (!strcmp(fh->v[w].id, fh->v[r].id)) {
            fh->v[w].offered += fh->v[r].offered;
            fh->v[w].resolved += fh->v[r].resolved;
        } else {
            fh->v[++w] = fh->v[r];
        }
    }
    fh->n = w + 1;
}

const validator_fix_stat *validator_fix_history_find(const validator_fix_history *fh, const char *id)
{
    if (fh == NULL || fh->n == 0 || id == NULL)
        return NULL;
    validator_fix_stat key = {.id = id};
    return bsearch(&key, fh->v, fh->n, sizeof *fh->v, cmp_stat);
}

typedef void (*pair_fn)(void *ud, size_t k, const char *field, const char *value);

/* Hands the field/value pairs of one HGETALL reply (command k) to fn. */
static void hash_pairs(const redisReply *x, size_t k, pair_fn fn, void *ud)
{
    if (x && x->type == REDIS_REPLY_ARRAY)
        for (size_t e = 0; e + 1 < x->elements; e += 2)
            if (x->element[e]->type == REDIS_REPLY_STRING && x->element[e + 1]->type == REDIS_REPLY_STRING)
                fn(ud, k, x->element[e]->str, x->element[e + 1]->str);
}

/* Runs the n appended commands; hands each reply's pairs to fn as command base + k. */
static int exec_hashes(acms_redis *r, acms_arena *a, size_t n, pair_fn fn, void *ud, size_t base)
{
    redisReply **rep = acms_arena_alloc(a, (n + 1) * sizeof *rep);
    if (acms_redis_exec(r, rep, n) != ACMS_OK)
        return ACMS_ERR_RETRY;
    for (size_t k = 0; k < n; k++) {
        hash_pairs(rep[k], base + k, fn, ud);
        if (rep[k])
            freeReplyObject(rep[k]);
    }
    return ACMS_OK;
}

static void apply_step(void *ud, size_t k, const char *field, const char *value)
{
    validator_step_history *h = ud;
    validator_history_apply(&h[k / 2], (k % 2) == 0, field, value);
}

/* Queues the two reads of steps [first, end) of p. */
static void append_steps(acms_redis *r, const Acms__V1__Pipeline *p, size_t first, size_t end)
{
    const char *pipe = validator_str(p->name);
    for (size_t i = first; i < end; i++) {
        const char *step = validator_str(p->steps[i]->name);
        append_hgetall(r, VALIDATOR_HISTORY_REC, pipe, step);
        append_hgetall(r, VALIDATOR_HISTORY_STATS, pipe, step);
    }
}

int validator_history_load_steps(acms_redis *r, acms_arena *a, const Acms__V1__Pipeline *p,
                                 validator_step_history **out)
{
    size_t n = p ? p->n_steps : 0;
    validator_step_history *h = acms_arena_alloc(a, (n + 1) * sizeof *h);
    *out = h;
    for (size_t first = 0; first < n; first += HISTORY_BATCH / 2) {
        size_t end = first + HISTORY_BATCH / 2 < n ? first + HISTORY_BATCH / 2 : n;
        append_steps(r, p, first, end);
        if (exec_hashes(r, a, 2 * (end - first), apply_step, h, first * 2) != ACMS_OK)
            return ACMS_ERR_RETRY;
    }
    return ACMS_OK;
}

static void apply_pair(void *ud, size_t k, const char *field, const char *value)
{
    validator_history_apply(ud, k == 0, field, value);
}

void validator_history_reads_init(validator_history_reads *hr, acms_arena *a, size_t expected)
{
    acms_strmap_init(&hr->seen, a, expected);
    hr->n = 0;
}

/* The rec key of (pipe, step) in the arena: the reads' map key, and the stats key's tail. */
static char *rec_key(acms_arena *a, const char *pipe, const char *step)
{
    size_t cap = REC_PREFIX_LEN + strlen(pipe) + 1 + strlen(step) + 1;
    char *k = acms_arena_alloc_raw(a, cap), *heap;
    build_key(k, cap, &heap, ACMS_KEY_LEARN_REC_FMT, REC_PREFIX_LEN, pipe, step);
    return k;
}

size_t *validator_history_queue(validator_history_reads *hr, acms_redis *r, acms_arena *a, const Acms__V1__Pipeline *p)
{
    size_t n = p ? p->n_steps : 0;
    size_t *idx = acms_arena_alloc_raw(a, (n + 1) * sizeof *idx);
    for (size_t i = 0; i < n; i++) {
        char *key = rec_key(a, validator_str(p->name), validator_str(p->steps[i]->name));
        size_t old;
        if (acms_strmap_put(&hr->seen, key, hr->n, &old) == 0) {
            idx[i] = old;
            continue;
        }
        idx[i] = hr->n++;
        const char *argv[2] = {"HGETALL", key};
        size_t argvlen[2] = {7, strlen(key)};
        acms_redis_appendargv(r, 2, argv, argvlen);
        append_hgetall(r, VALIDATOR_HISTORY_STATS, key + REC_PREFIX_LEN, NULL);
    }
    return idx;
}

validator_step_history *validator_history_collect(acms_arena *a, const Acms__V1__Pipeline *p, const size_t *idx,
                                                  redisReply **rep)
{
    size_t n = p ? p->n_steps : 0;
    validator_step_history *h = acms_arena_alloc(a, (n + 1) * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        hash_pairs(rep[2 * idx[i]], 0, apply_pair, &h[i]);
        hash_pairs(rep[2 * idx[i] + 1], 1, apply_pair, &h[i]);
    }
    return h;
}

typedef struct fix_ud {
    validator_fix_history *fh;
    acms_arena *a;
} fix_ud;

static void apply_fix(void *ud, size_t k, const char *field, const char *value)
{
    (void)k;
    fix_ud *f = ud;
    validator_fix_history_apply(f->fh, f->a, field, value);
}

int validator_history_load_fixes(acms_redis *r, acms_arena *a, const acms_issues *is, validator_fix_history *out)
{
    memset(out, 0, sizeof *out);
    acms_strmap codes;
    acms_strmap_init(&codes, a, is->n);
    fix_ud ud = {out, a};
    size_t cmds = 0;
    for (size_t i = 0; i < is->n; i++) {
        const char *code = validator_str(is->v[i]->code);
        if (!*code || !acms_strmap_put(&codes, code, i, NULL))
            continue;
        append_hgetall(r, VALIDATOR_HISTORY_FIX, code, NULL);
        if (++cmds == HISTORY_BATCH) {
            if (exec_hashes(r, a, cmds, apply_fix, &ud, 0) != ACMS_OK)
                return ACMS_ERR_RETRY;
            cmds = 0;
        }
    }
    if (cmds && exec_hashes(r, a, cmds, apply_fix, &ud, 0) != ACMS_OK)
        return ACMS_ERR_RETRY;
    validator_fix_history_sort(out);
    return ACMS_OK;
}

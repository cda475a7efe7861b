/* diff.c: unified line diff (diff.h). Lines are compared as byte strings; a missing final newline is
 * not a difference. The edit script keeps removals before additions inside a change, as diff(1) does. */
#include "diff.h"

#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
    const char *s;
    size_t n;
} line;

typedef struct op {
    char kind;     /* ' ', '-', '+' */
    size_t ix, iy; /* 0-based line positions in x and y before this op */
    const line *l;
} op;

static line *split(acms_arena *a, const char *t, size_t len, size_t *n)
{
    line *v = NULL;
    *n = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(t + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - t) : len;
        v = acms_arena_push(a, v, n, sizeof *v);
        v[*n - 1].s = t + i;
        v[*n - 1].n = end - i;
        i = end + 1;
    }
    return v;
}

static int same(const line *p, const line *q)
{
    return p->n == q->n && memcmp(p->s, q->s, p->n) == 0;
}

static void push(acms_arena *a, op **v, size_t *n, char kind, size_t ix, size_t iy, const line *l)
{
    *v = acms_arena_push(a, *v, n, sizeof **v);
    (*v)[*n - 1] = (op){kind, ix, iy, l};
}

/* Edit script of x[lo..xn) vs y[lo..yn) (the middle after trimming). */
static void middle(acms_arena *a, const line *x, size_t x0, size_t x1, const line *y, size_t y0, size_t y1, op **v,
                   size_t *n)
{
    size_t nx = x1 - x0, ny = y1 - y0;
    if (nx && ny && (nx + 1) * (ny + 1) <= ACMS_DIFF_MAX_CELLS) {
        /* L[i][j] = LCS length of x[x0+i..x1) and y[y0+j..y1) */
        uint32_t *L = calloc((nx + 1) * (ny + 1), sizeof *L);
        if (L) {
#define AT(i, j) L[(i) * (ny + 1) + (j)]
            for (size_t i = nx; i-- > 0;)
                for (size_t j = ny; j-- > 0;)
                    AT(i, j) = same(&x[x0 + i], &y[y0 + j])   ? AT(i + 1, j + 1) + 1
                               : AT(i + 1, j) >= AT(i, j + 1) ? AT(i + 1, j)
                                                              : AT(i, j + 1);
            size_t i = 0, j = 0;
            while (i < nx || j < ny) {
                if (i < nx && j < ny && same(&x[x0 + i], &y[y0 + j])) {
                    push(a, v, n, ' ', x0 + i, y0 + j, &x[x0 + i]);
                    i++, j++;
                } else if (i < nx && (j == ny || AT(i + 1, j) >= AT(i, j + 1))) {
                    push(a, v, n, '-', x0 + i, y0 + j, &x[x0 + i]);
                    i++;
                } else {
                    push(a, v, n, '+', x0 + i, y0 + j, &y[y0 + j]);
                    j++;
                }
            }
#undef AT
            free(L);
            return;
        }
    }
    for (size_t i = x0; i < x1; i++)
        push(a, v, n, '-', i, y0, &x[i]);
    for (size_t j = y0; j < y1; j++)
        push(a, v, n, '+', x1, j, &y[j]);
}

char *acms_diff_unified(acms_arena *a, const char *label_x, const char *x, size_t xlen, const char *label_y,
                        const char *y, size_t ylen, int context, size_t *changes)
{
    size_t nx, ny, nops = 0, nchg = 0;
    line *lx = split(a, x ? x : "", x ? xlen : 0, &nx);
    line *ly = split(a, y ? y : "", y ? ylen : 0, &ny);
    if (context < 0)
        context = 0;
    size_t pre = 0, suf = 0;
    while (pre < nx && pre < ny && same(&lx[pre], &ly[pre]))
        pre++;
    while (suf < nx - pre && suf < ny - pre && same(&lx[nx - 1 - suf], &ly[ny - 1 - suf]))
        suf++;
    op *ops = NULL;
    for (size_t i = 0; i < pre; i++)
        push(a, &ops, &nops, ' ', i, i, &lx[i]);
    middle(a, lx, pre, nx - suf, ly, pre, ny - suf, &ops, &nops);
    for (size_t k = 0; k < suf; k++)
        push(a, &ops, &nops, ' ', nx - suf + k, ny - suf + k, &lx[nx - suf + k]);
    for (size_t i = 0; i < nops; i++)
        nchg += ops[i].kind != ' ';
    if (changes)
        *changes = nchg;
    if (nchg == 0)
        return acms_arena_strdup(a, "");

    acms_strbuf b;
    acms_strbuf_init_arena(&b, a, 0); /* arena memory: additions cannot fail */
    acms_strbuf_addf(&b, "--- %s\n+++ %s\n", label_x ? label_x : "a", label_y ? label_y : "b");
    size_t i = 0, ctx = (size_t)context;
    while (i < nops) {
        while (i < nops && ops[i].kind == ' ')
            i++;
        if (i == nops)
            break;
        /* a hunk: from ctx lines before this change to ctx lines after the last change that is
         * followed by fewer than 2*ctx+1 unchanged lines */
        size_t start = i > ctx ? i - ctx : 0, end = i;
        for (;;) {
            while (end < nops && ops[end].kind != ' ')
                end++;
            size_t k = end;
            while (k < nops && ops[k].kind == ' ')
                k++;
            if (k < nops && k - end <= 2 * ctx) {
                end = k;
                continue;
            }
            end = end + ctx < nops ? end + ctx : nops;
            break;
        }
        size_t ox = 0, oy = 0;
        for (size_t k = start; k < end; k++) {
            ox += ops[k].kind != '+';
            oy += ops[k].kind != '-';
        }
        size_t sx = ops[start].ix, sy = ops[start].iy;
        acms_strbuf_addf(&b, "@@ -%zu,%zu +%zu,%zu @@\n", ox ? sx + 1 : sx, ox, oy ? sy + 1 : sy, oy);
        for (size_t k = start; k < end; k++) {
            char c = ops[k].kind;
            acms_strbuf_add(&b, &c, 1);
            acms_strbuf_add(&b, ops[k].l->s, ops[k].l->n);
            acms_strbuf_add(&b, "\n", 1);
        }
        i = end;
    }
    return acms_strbuf_detach(&b, NULL);
}

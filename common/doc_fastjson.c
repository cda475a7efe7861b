/* doc_fastjson.c: the fast path for JSON documents. jsmn (Debian libjsmn-dev, header-only, no
 * allocation) tokenises; this file checks the token stream is strict JSON and walks it once,
 * building the tree through doc.c's builder calls, so limits, duplicate keys and scalar resolution
 * stay in one place. Invariant: whatever this path accepts gives the same tree, positions and errors
 * as the libyaml path; anything it is not sure about is handed back (ACMS_DOC__NOT_HANDLED).
 * Line/column come from byte offsets with one forward cursor, so they cost one pass over the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acms.h"
#include "doc_int.h"

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* Above this many bytes the tokens are counted first instead of sized from the length. */
#define FASTJSON_GUESS_MAX (256 * 1024)
/* libyaml drops a simple key whose ':' comes more than 1024 characters after its start. */
#define FASTJSON_KEY_SPAN_MAX 1000

typedef struct jctx {
    const char *s;
    size_t len;
    const jsmntok_t *t;
    int nt;
    char *scratch;         /* len + 1 bytes: one decoded scalar at a time */
    size_t off, line, col; /* the position cursor (0-based line/column) */
    acms_doc__parser *p;
} jctx;

static size_t tok_begin(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? (size_t)t->start - 1 : (size_t)t->start;
}

static size_t tok_end(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? (size_t)t->end + 1 : (size_t)t->end;
}

/* Characters libyaml refuses (DEL, C1 controls, U+FFFE/U+FFFF) or reads as line breaks (NEL,
 * LS, PS) at s[i] (a byte >= 0x7F): the libyaml path decides those. */
static int special(const unsigned char *s, size_t i, size_t len)
{
    if (s[i] == 0x7F)
        return 1;
    if (s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
        return 1;
    if (s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
        return 1;
    if (s[i] == 0xEF && i + 2 < len && s[i + 1] == 0xBF && (s[i + 2] == 0xBE || s[i + 2] == 0xBF))
        return 1;
    return 0;
}

/* Moves the cursor to byte offset to. -1 on a character the fast path leaves to libyaml. */
static int advance(jctx *j, size_t to)
{
    const unsigned char *s = (const unsigned char *)j->s;
    size_t line = j->line, col = j->col;
    for (size_t i = j->off; i < to; i++) {
        if (i + 8 <= to && acms_printable8(s + i)) { /* eight printable characters */
            i += 7;
            col += 8;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7F) {
            col++;
        } else if (c == '\n') {
            line++;
            col = 0;
        } else if (c == '\r') {
            if (i + 1 >= j->len || s[i + 1] != '\n') {
                line++;
                col = 0;
            }
        } else if (c < 0x20) {
            col++; /* tab (other controls never reach here: strings are checked on decode) */
        } else {
            if (special(s, i, j->len))
                return -1;
            if ((c & 0xC0) != 0x80)
                col++;
        }
    }
    j->off = to;
    j->line = line;
    j->col = col;
    return 0;
}

/* [from, to) holds only JSON whitespace and exactly one sep (none when sep is 0). */
static int gap_ok(const jctx *j, size_t from, size_t to, char sep)
{
    int seen = 0;
    for (size_t i = from; i < to; i++) {
        char c = j->s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (sep && c == sep && !seen) {
            seen = 1;
            continue;
        }
        return 0;
    }
    return !sep || seen;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether the 8 bytes at s hold no control character (< 0x20) and no backslash. */
static int plain8(const unsigned char *s)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t w, bs;
    memcpy(&w, s, 8);
    bs = w ^ (ones * '\\');
    return ((w - ones * 0x20) & ~w & highs) == 0 && ((bs - ones) & ~bs & highs) == 0;
}

/* The contents of string token t: *out points into the text when it has no escape, else to its
 * decoding in j->scratch; *n its length. -1: not handled (raw control character, surrogate escape,
 * malformed escape). */
static int decode_string(jctx *j, const jsmntok_t *t, const char **res, size_t *n)
{
    const char *s = j->s + t->start;
    size_t len = (size_t)(t->end - t->start), k = 0, i = 0;
    char *out = j->scratch;
    while (i + 8 <= len && plain8((const unsigned char *)s + i)) /* a word at a time */
        i += 8;
    while (i < len && (unsigned char)s[i] >= 0x20 && s[i] != '\\')
        i++;
    if (i == len) {
        *res = s;
        *n = len;
        return 0;
    }
    memcpy(out, s, i);
    k = i;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            out[k++] = (char)c;
            continue;
        }
        if (++i >= len)
            return -1;
        switch (s[i]) {
        case '"': out[k++] = '"'; break;
        case '\\': out[k++] = '\\'; break;
        case '/': out[k++] = '/'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'n': out[k++] = '\n'; break;
        case 'r': out[k++] = '\r'; break;
        case 't': out[k++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (i + 4 >= len)
                return -1;
            for (size_t h = 1; h <= 4; h++) {
                int v = hexval(s[i + h]);
                if (v < 0)
                    return -1;
                cp = cp << 4 | (unsigned)v;
            }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                return -1; /* libyaml refuses surrogate escapes: the cJSON fallback reads them */
            if (cp < 0x80) {
                out[k++] = (char)cp;
            } else if (cp < 0x800) {
                out[k++] = (char)(0xC0 | cp >> 6);
                out[k++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[k++] = (char)(0xE0 | cp >> 12);
                out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[k++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return -1;
        }
    }
    out[k] = '\0';
    *res = out;
    *n = k;
    return 0;
}

/* true, false, null or a JSON number (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?). */
static int primitive_ok(const jctx *j, const jsmntok_t *t)
{
    const char *s = j->s + t->start;
    size_t len = (size_t)(t->end - t->start), i = 0;
    if ((len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5)) ||
        (len == 4 && !memcmp(s, "null", 4)))
        return 0;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return -1;
    }
    if (i < len && s[i] == '.') {
        size_t d = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return -1;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return -1;
    }
    return i == len ? 0 : -1;
}

static int scalar(jctx *j, const jsmntok_t *t)
{
    const char *v;
    size_t n = 0;
    int style;
    if (t->type == JSMN_STRING) {
        if (decode_string(j, t, &v, &n) != 0)
            return ACMS_DOC__NOT_HANDLED;
        style = ACMS_DOC__QUOTED;
    } else {
        if (primitive_ok(j, t) != 0)
            return ACMS_DOC__NOT_HANDLED;
        v = j->s + t->start;
        n = (size_t)(t->end - t->start);
        style = ACMS_DOC__JSON_LITERAL;
    }
    if (advance(j, tok_begin(t)) != 0)
        return ACMS_DOC__NOT_HANDLED;
    return acms_doc__scalar(j->p, v, n, style, j->line + 1, j->col + 1);
}

/* Builds token i and its subtree; *next gets the index after the subtree. */
static int walk(jctx *j, int i, int *next)
{
    const jsmntok_t *t = &j->t[i];
    int rc, k = i + 1, is_map = t->type == JSMN_OBJECT;
    if (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE) {
        *next = k;
        return scalar(j, t);
    }
    if ((t->type != JSMN_ARRAY && !is_map) || t->end < 0)
        return ACMS_DOC__NOT_HANDLED;
    if (advance(j, (size_t)t->start) != 0)
        return ACMS_DOC__NOT_HANDLED;
    if ((rc = acms_doc__open(j->p, is_map, 0, j->line + 1, j->col + 1)) != ACMS_OK)
        return rc;
    size_t pos = (size_t)t->start + 1;
    for (int n = 0; n < t->size; n++) {
        if (k >= j->nt)
            return ACMS_DOC__NOT_HANDLED;
        if (is_map) {
            const jsmntok_t *key = &j->t[k];
            if (key->type != JSMN_STRING || key->size != 1 || k + 1 >= j->nt ||
                !gap_ok(j, pos, tok_begin(key), n ? ',' : 0))
                return ACMS_DOC__NOT_HANDLED;
            if ((rc = scalar(j, key)) != ACMS_OK)
                return rc;
            pos = tok_end(key);
            k++;
            size_t vbegin = tok_begin(&j->t[k]);
            if (!gap_ok(j, pos, vbegin, ':') || memchr(j->s + pos, '\n', vbegin - pos) ||
                memchr(j->s + pos, '\r', vbegin - pos) || vbegin - tok_begin(key) > FASTJSON_KEY_SPAN_MAX)
                return ACMS_DOC__NOT_HANDLED;
        } else if (!gap_ok(j, pos, tok_begin(&j->t[k]), n ? ',' : 0)) {
            return ACMS_DOC__NOT_HANDLED;
        }
        int v = k;
        if ((rc = walk(j, v, &k)) != ACMS_OK)
            return rc;
        pos = tok_end(&j->t[v]);
    }
    if (!gap_ok(j, pos, (size_t)t->end - 1, 0))
        return ACMS_DOC__NOT_HANDLED;
    acms_doc__close(j->p);
    *next = k;
    return ACMS_OK;
}

int acms_doc__json_tree(acms_doc__parser *p, const char *text, size_t len)
{
    jsmn_parser jp;
    jctx j = {.s = text, .len = len, .p = p};
    size_t ntok;
    int rc, next = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        return ACMS_DOC__NOT_HANDLED;
    if (len > (size_t)ACMS_MAX_FILE_BYTES || len > 0x7FFFFFF0)
        return ACMS_DOC__NOT_HANDLED;
    if (len <= FASTJSON_GUESS_MAX) {
        ntok = len / 2 + 2; /* every token but the first takes at least two bytes */
    } else {
        jsmn_init(&jp);
        int count = jsmn_parse(&jp, text, len, NULL, 0);
        if (count <= 0)
            return ACMS_DOC__NOT_HANDLED;
        ntok = (size_t)count;
    }
    char *block = malloc(ntok * sizeof(jsmntok_t) + len + 1);
    if (!block)
        return ACMS_ERR_NOMEM;
    jsmntok_t *toks = (jsmntok_t *)block;
    j.scratch = block + ntok * sizeof(jsmntok_t);
    jsmn_init(&jp);
    j.nt = jsmn_parse(&jp, text, len, toks, (unsigned)ntok);
    j.t = toks;
    if (j.nt <= 0 || (toks[0].type != JSMN_OBJECT && toks[0].type != JSMN_ARRAY) ||
        !gap_ok(&j, 0, (size_t)toks[0].start, 0)) {
        rc = ACMS_DOC__NOT_HANDLED;
        goto out;
    }
    acms_doc__begin(p);
    if ((rc = walk(&j, 0, &next)) != ACMS_OK)
        goto out;
    if (next != j.nt || !gap_ok(&j, (size_t)toks[0].end, len, 0) || advance(&j, len) != 0) {
        rc = ACMS_DOC__NOT_HANDLED;
        goto out;
    }
    acms_doc__end(p, j.line + 1, j.col + 1);
    rc = ACMS_OK;
out:
    free(block);
    return rc;
}

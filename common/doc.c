/* doc.c: YAML/JSON text -> value trees (Acms__V1__Value) with 1-based line/column on every node.
 * Invariants: hostile input is bounded (file size, nesting depth, scalar length, node count, no
 * aliases, no NUL bytes, valid UTF-8 only, no duplicate keys); every tree lives in the caller's arena.
 * Trees are built through the acms_doc__* calls (doc_int.h), from libyaml's events or, for JSON, from
 * the fast path's single walk over jsmn tokens (doc_fastjson.c: same tree, same positions); what
 * that path leaves goes through libyaml too (flow style, so positions hold; tabs
 * outside strings become spaces), and valid JSON that libyaml refuses is read by cJSON without
 * positions. Typed conversion is in doc_convert.c, JSON rendering in doc_json.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "doc.h"
#include "doc_int.h"
#include "strmap.h"

/* Node budget of one parse (keys count): a 5000-step pipeline at 80 nodes a step fits; far below what a
 * 4 MiB file of "[0,0,0,..." could otherwise cost in memory (~150 bytes a node). */
#define DOC_MAX_NODES 400000
/* Maps with this many entries index their keys in a string map (duplicate checks stay O(1)). */
#define DOC_MAP_INDEX_MIN 16

typedef struct frame {
    Acms__V1__Value *node; /* an open list or map */
    size_t items_cap;      /* capacity of its values/entries array */
    char *key;             /* map: key waiting for its value (NULL: the next node is a key) */
    uint32_t key_line, key_column;
    uint32_t key_hash; /* map: hash of the waiting key */
    uint32_t *hashes;  /* map: key hash of every entry (capacity hashes_cap) */
    size_t hashes_cap;
    acms_strmap index; /* map: key -> entry position, from DOC_MAP_INDEX_MIN entries (no table before) */
} frame;

struct acms_doc__parser {
    acms_arena *a;
    char *errstr;
    size_t errstr_size;
    frame stack[ACMS_MAX_DEPTH + 1];
    size_t depth;
    Acms__V1__Value *root;
    Acms__V1__Value **docs;
    size_t ndocs, docs_cap;
    size_t nodes;
    int yaml_syntax; /* the failure came from libyaml's scanner or parser (JSON may fall back) */
};
typedef struct acms_doc__parser parser;

static void set_err(char *errstr, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (!errstr || size == 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        errstr[0] = '\0'; /* truncation is acceptable for an error message */
}

/* Formats "line L, column C: msg" into the parser's errstr and returns rc. */
static int perr(parser *p, int rc, size_t line, size_t col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int perr(parser *p, int rc, size_t line, size_t col, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    set_err(p->errstr, p->errstr_size, "line %zu, column %zu: %s", line, col, msg);
    return rc;
}

/* 1-based line and column (in characters) of byte offset off. */
static void offset_pos(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Offset of the first NUL byte or invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF), or len. */
static size_t bad_byte(const char *text, size_t len, int *is_nul)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    *is_nul = 0;
    while (i < len) {
        if (i + 8 <= len && acms_ascii8(s + i, 0x01)) { /* eight ASCII bytes, none NUL */
            i += 8;
            continue;
        }
        unsigned char c = s[i];
        if (c == 0) {
            *is_nul = 1;
            return i;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

/* --- tree building ------------------------------------------------------------------------ */

/* Room for element n of arr (capacity tracked by the caller). acms_arena_push remembers only a few
 * recent arrays, and a document grows many at once: an evicted large array would be copied on
 * every push (quadratic), so the parser keeps each open collection's capacity itself. */
static void *grow(acms_arena *a, void *arr, size_t n, size_t *cap, size_t es)
{
    if (arr && n < *cap)
        return arr;
    size_t nc = *cap > n ? *cap : n;
    nc = nc < 4 ? 4 : nc * 2;
    void *na = acms_arena_alloc_raw(a, nc * es); /* only [0, n) is read: copied here, the rest pushed */
    if (n && arr)
        memcpy(na, arr, n * es);
    *cap = nc;
    return na;
}

static void push_doc(parser *p, Acms__V1__Value *root)
{
    p->docs = grow(p->a, p->docs, p->ndocs, &p->docs_cap, sizeof *p->docs);
    p->docs[p->ndocs++] = root;
}

static void push_item(acms_arena *a, frame *f, Acms__V1__Value *v)
{
    Acms__V1__ListValue *l = f->node->list_value;
    l->values = grow(a, l->values, l->n_values, &f->items_cap, sizeof *l->values);
    l->values[l->n_values++] = v;
}

static void push_entry(acms_arena *a, frame *f, char *key, uint32_t hash, Acms__V1__Value *v)
{
    Acms__V1__MapValue *m = f->node->map_value;
    Acms__V1__MapEntry *e = acms_pb_new(a, &acms__v1__map_entry__descriptor);
    e->key = key;
    e->value = v;
    f->hashes = grow(a, f->hashes, m->n_entries, &f->hashes_cap, sizeof *f->hashes);
    f->hashes[m->n_entries] = hash;
    m->entries = grow(a, m->entries, m->n_entries, &f->items_cap, sizeof *m->entries);
    m->entries[m->n_entries++] = e;
}

/* Once the map of f has DOC_MAP_INDEX_MIN entries, indexes their keys (key_taken then keeps the
 * index up to date). Arena memory: cannot fail. */
static void index_build(acms_arena *a, frame *f)
{
    const Acms__V1__MapValue *m = f->node->map_value;
    if (f->index.slot || m->n_entries < DOC_MAP_INDEX_MIN)
        return;
    acms_strmap_init(&f->index, a, m->n_entries);
    for (size_t i = 0; i < m->n_entries; i++) {
        const char *k = m->entries[i]->key;
        acms_strmap_putn(&f->index, k, strlen(k), f->hashes[i], i, NULL);
    }
}

/* Whether the stored key k equals s[0..n) (strncmp: k may be shorter than n). */
static int key_is(const char *k, const char *s, size_t n)
{
    return strncmp(k, s, n) == 0 && k[n] == '\0';
}

/* Whether the map of f already has the key s[0..n) of hash h (keys hold no NUL: checked before).
 * When it has not and the map is indexed, the key is claimed: it enters the index as the next
 * entry's, so s must live as long as the frame (the arena copy, or the cJSON tree's). */
static int key_taken(frame *f, const char *s, size_t n, uint32_t h)
{
    const Acms__V1__MapValue *m = f->node->map_value;
    if (f->index.slot)
        return acms_strmap_putn(&f->index, s, n, h, m->n_entries, NULL) == 0;
    for (size_t i = 0; i < m->n_entries; i++)
        if (f->hashes[i] == h && key_is(m->entries[i]->key, s, n))
            return 1;
    return 0;
}

/* line and col are 1-based here and in everything below that takes them. */
static Acms__V1__Value *new_node(parser *p, size_t line, size_t col)
{
    Acms__V1__Value *v = acms_pb_new(p->a, &acms__v1__value__descriptor);
    v->line = (uint32_t)line;
    v->column = (uint32_t)col;
    return v;
}

/* Hangs a finished or just-opened node under the innermost open collection (or as the root). */
static void attach(parser *p, Acms__V1__Value *v)
{
    if (p->depth == 0) {
        p->root = v;
        return;
    }
    frame *f = &p->stack[p->depth - 1];
    if (f->node->kind_case == ACMS__V1__VALUE__KIND_LIST_VALUE) {
        push_item(p->a, f, v);
        return;
    }
    push_entry(p->a, f, f->key, f->key_hash, v);
    f->key = NULL;
    index_build(p->a, f);
}

static int expecting_key(const parser *p)
{
    if (p->depth == 0)
        return 0;
    const frame *f = &p->stack[p->depth - 1];
    return f->node->kind_case == ACMS__V1__VALUE__KIND_MAP_VALUE && f->key == NULL;
}

static int count_node(parser *p, size_t line, size_t col)
{
    if (++p->nodes > DOC_MAX_NODES)
        return perr(p, ACMS_ERR_LIMIT, line, col, "document has more than %d nodes", DOC_MAX_NODES);
    return ACMS_OK;
}

/* YAML 1.2 core schema for plain scalars: null, bool, decimal int/float, else string. */
static int resolve_plain(parser *p, const char *s, size_t len, size_t line, size_t col, Acms__V1__Value *v)
{
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
        v->kind_case = ACMS__V1__VALUE__KIND_NULL_VALUE;
        v->null_value = 1;
        return ACMS_OK;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0 || strcmp(s, "false") == 0 ||
        strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        v->kind_case = ACMS__V1__VALUE__KIND_BOOL_VALUE;
        v->bool_value = (s[0] == 't' || s[0] == 'T');
        return ACMS_OK;
    }
    /* [-+]? ( digits ( . digits* )? | . digits ) ( [eE] [-+]? digits )? */
    size_t i = 0, digits = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    int number = digits > 0;
    if (number && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;
        i++;
        if (s[i] == '-' || s[i] == '+')
            i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, e++;
        number = e > 0;
    }
    if (number && i == len) {
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (end != s + len)
            number = 0;
        else if (!isfinite(d))
            return perr(p, ACMS_ERR_INVALID, line, col, "number out of range: %.40s", s);
        if (number) {
            v->kind_case = ACMS__V1__VALUE__KIND_NUMBER_VALUE;
            v->number_value = d;
            return ACMS_OK;
        }
    }
    v->kind_case = ACMS__V1__VALUE__KIND_STRING_VALUE;
    v->string_value = acms_arena_strndup(p->a, s, len);
    return ACMS_OK;
}

/* A JSON literal already checked by the fast path (true, false, null or a JSON number, which the
 * core schema resolves the same way); s need not be NUL-terminated. */
static int resolve_json_literal(parser *p, const char *s, size_t len, size_t line, size_t col, Acms__V1__Value *v)
{
    if (s[0] == 't' || s[0] == 'f') {
        v->kind_case = ACMS__V1__VALUE__KIND_BOOL_VALUE;
        v->bool_value = s[0] == 't';
        return ACMS_OK;
    }
    if (s[0] == 'n') {
        v->kind_case = ACMS__V1__VALUE__KIND_NULL_VALUE;
        v->null_value = 1;
        return ACMS_OK;
    }
    /* An integer of at most 15 digits is exact in a double: the value strtod would give, without it */
    size_t neg = s[0] == '-', k = neg;
    uint64_t u = 0;
    while (k < len && k - neg < 16 && s[k] >= '0' && s[k] <= '9')
        u = u * 10 + (uint64_t)(s[k++] - '0');
    if (k == len && k - neg <= 15) {
        v->kind_case = ACMS__V1__VALUE__KIND_NUMBER_VALUE;
        v->number_value = neg ? -(double)u : (double)u;
        return ACMS_OK;
    }
    /* A JSON number is a core-schema number: strtod reads all of it, from a terminated copy */
    char buf[64];
    const char *num = s;
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        num = buf;
    } else {
        num = acms_arena_strndup(p->a, s, len);
    }
    char *end = NULL;
    double d = strtod(num, &end);
    if (end != num + len)
        return resolve_plain(p, num, len, line, col, v);
    if (!isfinite(d))
        return perr(p, ACMS_ERR_INVALID, line, col, "number out of range: %.40s", num);
    v->kind_case = ACMS__V1__VALUE__KIND_NUMBER_VALUE;
    v->number_value = d;
    return ACMS_OK;
}

int acms_doc__scalar(parser *p, const char *s, size_t len, int style, size_t line, size_t col)
{
    if (len > ACMS_MAX_STRING)
        return perr(p, ACMS_ERR_LIMIT, line, col, "scalar of %zu bytes exceeds the limit of %d", len, ACMS_MAX_STRING);
    if (memchr(s, '\0', len))
        return perr(p, ACMS_ERR_INVALID, line, col, "NUL character in a string");
    int rc = count_node(p, line, col);
    if (rc != ACMS_OK)
        return rc;
    if (expecting_key(p)) {
        frame *f = &p->stack[p->depth - 1];
        uint32_t h = acms_strmap_hash(s, len);
        char *key = acms_arena_strndup(p->a, s, len);
        if (key_taken(f, key, len, h))
            return perr(p, ACMS_ERR_INVALID, line, col, "duplicate key '%.*s'", (int)(len < 200 ? len : 200), s);
        f->key = key;
        f->key_hash = h;
        f->key_line = (uint32_t)line;
        f->key_column = (uint32_t)col;
        return ACMS_OK;
    }
    Acms__V1__Value *v = new_node(p, line, col);
    if (style == ACMS_DOC__PLAIN) {
        rc = resolve_plain(p, s, len, line, col, v);
    } else if (style == ACMS_DOC__JSON_LITERAL) {
        rc = resolve_json_literal(p, s, len, line, col, v);
    } else {
        v->kind_case = ACMS__V1__VALUE__KIND_STRING_VALUE;
        v->string_value = acms_arena_strndup(p->a, s, len);
    }
    if (rc != ACMS_OK)
        return rc;
    attach(p, v);
    return ACMS_OK;
}

/* A block collection under a key is positioned at its key ("steps:"), not at its first child. */
int acms_doc__open(parser *p, int is_map, int block, size_t line, size_t col)
{
    if (expecting_key(p))
        return perr(p, ACMS_ERR_INVALID, line, col, "only scalar map keys are supported");
    if (p->depth >= ACMS_MAX_DEPTH)
        return perr(p, ACMS_ERR_LIMIT, line, col, "nesting deeper than %d levels", ACMS_MAX_DEPTH);
    int rc = count_node(p, line, col);
    if (rc != ACMS_OK)
        return rc;
    Acms__V1__Value *v = new_node(p, line, col);
    if (block && p->depth > 0 && p->stack[p->depth - 1].key) {
        v->line = p->stack[p->depth - 1].key_line;
        v->column = p->stack[p->depth - 1].key_column;
    }
    if (is_map) {
        v->kind_case = ACMS__V1__VALUE__KIND_MAP_VALUE;
        v->map_value = acms_pb_new(p->a, &acms__v1__map_value__descriptor);
    } else {
        v->kind_case = ACMS__V1__VALUE__KIND_LIST_VALUE;
        v->list_value = acms_pb_new(p->a, &acms__v1__list_value__descriptor);
    }
    attach(p, v);
    frame *f = &p->stack[p->depth++];
    memset(f, 0, sizeof *f);
    f->node = v;
    return ACMS_OK;
}

void acms_doc__close(parser *p)
{
    if (p->depth > 0)
        p->depth--;
}

void acms_doc__begin(parser *p)
{
    p->root = NULL;
}

void acms_doc__end(parser *p, size_t line, size_t col)
{
    if (!p->root) {
        p->root = new_node(p, line, col);
        p->root->kind_case = ACMS__V1__VALUE__KIND_NULL_VALUE;
        p->root->null_value = 1;
    }
    push_doc(p, p->root);
    p->root = NULL;
}

static int on_scalar(parser *p, const yaml_event_t *e)
{
    const char *tag = (const char *)e->data.scalar.tag;
    int force_str = tag && strcmp(tag, YAML_STR_TAG) == 0;
    int style = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !force_str ? ACMS_DOC__PLAIN : ACMS_DOC__QUOTED;
    return acms_doc__scalar(p, (const char *)e->data.scalar.value, e->data.scalar.length, style, e->start_mark.line + 1,
                            e->start_mark.column + 1);
}

static int on_open(parser *p, const yaml_event_t *e, int is_map)
{
    int block = is_map ? e->data.mapping_start.style == YAML_BLOCK_MAPPING_STYLE
                       : e->data.sequence_start.style == YAML_BLOCK_SEQUENCE_STYLE;
    return acms_doc__open(p, is_map, block, e->start_mark.line + 1, e->start_mark.column + 1);
}

/* Translates a libyaml failure into errstr. */
static int yaml_failure(parser *p, const yaml_parser_t *yp, const char *text, size_t len)
{
    size_t line, col;
    const char *problem = yp->problem ? yp->problem : "malformed document";
    switch (yp->error) {
    case YAML_MEMORY_ERROR: set_err(p->errstr, p->errstr_size, "out of memory while parsing"); return ACMS_ERR_NOMEM;
    case YAML_READER_ERROR:
        offset_pos(text, len, yp->problem_offset, &line, &col);
        return perr(p, ACMS_ERR_INVALID, line, col, "%s", problem);
    default: break;
    }
    p->yaml_syntax = 1;
    line = yp->problem_mark.line + 1;
    col = yp->problem_mark.column + 1;
    size_t off = yp->problem_mark.index;
    if (off < len && text[off] == '\t')
        return perr(p, ACMS_ERR_INVALID, line, col, "tab character where YAML allows only spaces (indent with spaces)");
    if (yp->context)
        return perr(p, ACMS_ERR_INVALID, line, col, "%s (%s, line %zu)", problem, yp->context,
                    (size_t)yp->context_mark.line + 1);
    return perr(p, ACMS_ERR_INVALID, line, col, "%s", problem);
}

static int on_event(parser *p, const yaml_event_t *e, int *done)
{
    const yaml_mark_t *m = &e->start_mark;
    switch (e->type) {
    case YAML_STREAM_END_EVENT: *done = 1; return ACMS_OK;
    case YAML_DOCUMENT_START_EVENT: acms_doc__begin(p); return ACMS_OK;
    case YAML_DOCUMENT_END_EVENT: acms_doc__end(p, m->line + 1, m->column + 1); return ACMS_OK;
    case YAML_ALIAS_EVENT: return perr(p, ACMS_ERR_INVALID, m->line + 1, m->column + 1, "aliases are not supported");
    case YAML_SCALAR_EVENT: return on_scalar(p, e);
    case YAML_SEQUENCE_START_EVENT: return on_open(p, e, 0);
    case YAML_MAPPING_START_EVENT: return on_open(p, e, 1);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: acms_doc__close(p); return ACMS_OK;
    default: return ACMS_OK;
    }
}

static int parse_yaml(parser *p, const char *text, size_t len)
{
    yaml_parser_t yp;
    int rc = ACMS_OK, done = 0;
    if (!yaml_parser_initialize(&yp)) {
        set_err(p->errstr, p->errstr_size, "out of memory while parsing");
        return ACMS_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    while (!done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&yp, &e)) {
            rc = yaml_failure(p, &yp, text, len);
            goto out;
        }
        rc = on_event(p, &e, &done);
        yaml_event_delete(&e);
        if (rc != ACMS_OK)
            goto out;
    }
out:
    yaml_parser_delete(&yp);
    return rc;
}

/* --- JSON fallback (no positions) ---------------------------------------------------------- */

static int from_cjson(parser *p, const cJSON *j, size_t depth, Acms__V1__Value **out)
{
    Acms__V1__Value *v;
    int rc;
    if ((rc = count_node(p, 1, 1)) != ACMS_OK)
        return rc;
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        if (depth >= ACMS_MAX_DEPTH)
            return perr(p, ACMS_ERR_LIMIT, 1, 1, "nesting deeper than %d levels", ACMS_MAX_DEPTH);
        Acms__V1__Value *c = cJSON_IsArray(j) ? acms_value_new_list(p->a) : acms_value_new_map(p->a);
        frame f = {.node = c, .items_cap = 0};
        for (const cJSON *it = j->child; it; it = it->next) {
            Acms__V1__Value *child = NULL;
            size_t klen = 0;
            uint32_t h = 0;
            if (cJSON_IsObject(j)) {
                klen = strlen(it->string);
                if (klen > ACMS_MAX_STRING)
                    return perr(p, ACMS_ERR_LIMIT, 1, 1, "key exceeds the limit of %d bytes", ACMS_MAX_STRING);
                h = acms_strmap_hash(it->string, klen);
                if (key_taken(&f, it->string, klen, h))
                    return perr(p, ACMS_ERR_INVALID, 1, 1, "duplicate key '%.200s'", it->string);
            }
            if ((rc = from_cjson(p, it, depth + 1, &child)) != ACMS_OK)
                return rc;
            if (cJSON_IsObject(j)) {
                push_entry(p->a, &f, acms_arena_strndup(p->a, it->string, klen), h, child);
                index_build(p->a, &f);
            } else {
                push_item(p->a, &f, child);
            }
        }
        v = c;
    } else if (cJSON_IsString(j)) {
        if (strlen(j->valuestring) > ACMS_MAX_STRING)
            return perr(p, ACMS_ERR_LIMIT, 1, 1, "string exceeds the limit of %d bytes", ACMS_MAX_STRING);
        v = acms_value_new_string(p->a, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        if (!isfinite(j->valuedouble))
            return perr(p, ACMS_ERR_INVALID, 1, 1, "number out of range");
        v = acms_value_new_number(p->a, j->valuedouble);
    } else if (cJSON_IsBool(j)) {
        v = acms_value_new_bool(p->a, cJSON_IsTrue(j));
    } else {
        v = acms_value_new_null(p->a);
    }
    *out = v;
    return ACMS_OK;
}

/* A copy of JSON text with tabs outside strings turned into spaces (same length, so positions
 * hold): libyaml refuses a tab where a block-context token could start, e.g. before the first '{'. */
static char *untab_json(const char *text, size_t len)
{
    char *s = malloc(len + 1);
    int in_str = 0;
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\' && i + 1 < len) {
                s[i] = c;
                s[i + 1] = text[i + 1];
                i++;
                continue;
            }
            if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '\t') {
            c = ' ';
        }
        s[i] = c;
    }
    s[len] = '\0';
    return s;
}

static int looks_like_json(const char *text, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    return i < len && (text[i] == '{' || text[i] == '[');
}

/* Forgets a partly built tree (before another reading of the same text). */
static void parser_restart(parser *p)
{
    p->depth = 0;
    p->nodes = 0;
    p->ndocs = 0;
    p->docs_cap = 0;
    p->docs = NULL;
    p->root = NULL;
    p->yaml_syntax = 0;
}

/* JSON takes the fast path first (same events, same positions as libyaml). What it leaves is
 * parsed as YAML flow style, for positions. If the text is valid JSON (cJSON says so) that
 * libyaml still refuses (surrogate-pair escapes, keys over 1024 characters), it is read through
 * cJSON instead, with the same limits but without positions (line/column 0). */
static int parse_json(parser *p, const char *text, size_t len, int *handled)
{
    int rc = acms_doc__json_tree(p, text, len);
    if (rc != ACMS_DOC__NOT_HANDLED) {
        *handled = 1;
        return rc;
    }
    parser_restart(p);
    rc = ACMS_OK;
    *handled = 0;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        return ACMS_OK; /* not JSON: the YAML path reports the error */
    *handled = 1;
    char *clean = untab_json(text, len);
    if (!clean) {
        rc = ACMS_ERR_NOMEM;
        goto out;
    }
    rc = parse_yaml(p, clean, len);
    if (rc == ACMS_ERR_INVALID && p->yaml_syntax) {
        Acms__V1__Value *root = NULL;
        parser_restart(p);
        rc = from_cjson(p, j, 0, &root);
        if (rc == ACMS_OK)
            push_doc(p, root);
    }
out:
    free(clean);
    cJSON_Delete(j);
    return rc;
}

/* --- public API ---------------------------------------------------------------------------- */

int acms_doc_parse(acms_arena *a, const char *text, size_t len, Acms__V1__Value ***docs, size_t *ndocs, char *errstr,
                   size_t errstr_size)
{
    parser *p = NULL;
    int rc, is_nul = 0, handled = 0;
    size_t line, col;
    *docs = NULL;
    *ndocs = 0;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!text) {
        if (len)
            return ACMS_ERR_INVALID;
        text = "";
    }
    if (len > ACMS_MAX_FILE_BYTES) {
        set_err(errstr, errstr_size, "document of %zu bytes exceeds the limit of %d bytes", len, ACMS_MAX_FILE_BYTES);
        return ACMS_ERR_LIMIT;
    }
    size_t bad = bad_byte(text, len, &is_nul);
    if (bad < len) {
        offset_pos(text, len, bad, &line, &col);
        set_err(errstr, errstr_size, "line %zu, column %zu: %s", line, col,
                is_nul ? "binary input (NUL byte)" : "invalid UTF-8");
        return ACMS_ERR_INVALID;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return ACMS_ERR_NOMEM;
    p->a = a;
    p->errstr = errstr;
    p->errstr_size = errstr_size;
    if (looks_like_json(text, len)) {
        rc = parse_json(p, text, len, &handled);
        if (handled)
            goto out;
    }
    rc = parse_yaml(p, text, len);
out:
    if (rc == ACMS_OK) {
        *docs = p->docs;
        *ndocs = p->ndocs;
        if (errstr && errstr_size)
            errstr[0] = '\0'; /* a JSON fallback may have left libyaml's complaint */
    }
    free(p);
    return rc;
}

int acms_doc_parse_file(acms_arena *a, const char *path, Acms__V1__Value ***docs, size_t *ndocs, char *errstr,
                        size_t errstr_size)
{
    char *buf = NULL, inner[400];
    size_t len = 0;
    struct stat st;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; only a regular file is read */
    int rc = ACMS_ERR, fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    *docs = NULL;
    *ndocs = 0;
    if (fd < 0) {
        set_err(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? ACMS_ERR_NOTFOUND : ACMS_ERR;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(errstr, errstr_size, "%s: not a regular file (a FIFO, a device or a folder is refused)", path);
        rc = ACMS_ERR_INVALID;
        goto out;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (st.st_size > ACMS_MAX_FILE_BYTES) {
        set_err(errstr, errstr_size, "%s: file of %lld bytes exceeds the limit of %d bytes", path,
                (long long)st.st_size, ACMS_MAX_FILE_BYTES);
        rc = ACMS_ERR_LIMIT;
        goto out;
    }
    /* Read up to the cap + 1 whatever stat said (a file still growing): a longer input is refused. */
    buf = malloc((size_t)ACMS_MAX_FILE_BYTES + 1);
    if (!buf) {
        rc = ACMS_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, (size_t)ACMS_MAX_FILE_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(errstr, errstr_size, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > ACMS_MAX_FILE_BYTES) {
            set_err(errstr, errstr_size, "%s: file exceeds the limit of %d bytes", path, ACMS_MAX_FILE_BYTES);
            rc = ACMS_ERR_LIMIT;
            goto out;
        }
    }
    rc = acms_doc_parse(a, buf, len, docs, ndocs, inner, sizeof inner);
    if (rc != ACMS_OK)
        set_err(errstr, errstr_size, "%s: %s", path, inner);
out:
    free(buf);
    close(fd);
    return rc;
}

const char *acms_doc_kind(const Acms__V1__Value *doc)
{
    return acms_value_str(acms_value_get(doc, "kind"));
}

Acms__V1__Value *acms_value_from_json(acms_arena *a, const cJSON *j)
{
    parser *p;
    Acms__V1__Value *v = NULL;
    char err[8];
    if (!j)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->a = a;
    p->errstr = err;
    p->errstr_size = sizeof err;
    if (from_cjson(p, j, 0, &v) != ACMS_OK)
        v = NULL;
    free(p);
    return v;
}

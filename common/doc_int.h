/* doc_int.h: private interface between doc.c (tree building) and doc_fastjson.c (the JSON fast
 * path). Not part of the API: only those two files include it. doc.c builds value trees from calls
 * in document order (the libyaml events, or the fast path's walk over jsmn tokens), and keeps the
 * limits, duplicate-key checks and scalar resolution in one place. Positions are 1-based. */
#ifndef ACMS_DOC_INT_H
#define ACMS_DOC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether the 8 bytes at s are all in [lo, 0x80) (lo <= 0x80), checked a word at a time. */
static inline int acms_ascii8(const unsigned char *s, unsigned lo)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t w;
    memcpy(&w, s, 8);
    return (w & highs) == 0 && ((w - ones * lo) & ~w & highs) == 0;
}

/* Whether the 8 bytes at s are all printable ASCII ([0x20, 0x7E]). */
static inline int acms_printable8(const unsigned char *s)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t w, del;
    memcpy(&w, s, 8);
    del = w ^ (ones * 0x7F);
    return acms_ascii8(s, 0x20) && ((del - ones) & ~del & highs) == 0;
}

typedef struct acms_doc__parser acms_doc__parser;

/* Scalar styles: quoted (always a string), plain (YAML 1.2 core schema), a JSON literal the
 * caller has checked (true, false, null or a JSON number; resolves as plain would), and quoted
 * text the caller knows holds no NUL byte (a JSON string without a \u0000 escape: the text itself
 * has none, acms_doc_parse checks that first). */
enum { ACMS_DOC__QUOTED, ACMS_DOC__PLAIN, ACMS_DOC__JSON_LITERAL, ACMS_DOC__QUOTED_NO_NUL };

/* A scalar s[0..len) (need not be NUL-terminated): a map key when the innermost open map waits
 * for one, else a value. Returns ACMS_OK or ACMS_ERR_INVALID / ACMS_ERR_LIMIT (errstr set). */
int acms_doc__scalar(acms_doc__parser *p, const char *s, size_t len, int style, size_t line, size_t col);
/* Opens a map or list (block: YAML block style, positioned at its key). Same returns. */
int acms_doc__open(acms_doc__parser *p, int is_map, int block, size_t line, size_t col);
/* Closes the innermost open map or list. */
void acms_doc__close(acms_doc__parser *p);
/* Starts a document; ends it (an empty document is a null at line/col). */
void acms_doc__begin(acms_doc__parser *p);
void acms_doc__end(acms_doc__parser *p, size_t line, size_t col);

/* Returned when the text is not JSON the fast path reads exactly as libyaml would (invalid JSON,
 * a BOM, surrogate escapes, characters libyaml refuses or treats as line breaks, keys libyaml
 * cannot take as simple keys). Part of a tree may already be built: the caller discards it. */
#define ACMS_DOC__NOT_HANDLED 1

/* Tokenises text (jsmn), checks it is strict JSON (one value, separators, literals, numbers,
 * escapes) and builds its tree into p with the positions libyaml would report (columns in
 * characters; CR, LF and CRLF end a line). Returns ACMS_OK, a builder error, ACMS_ERR_NOMEM or
 * ACMS_DOC__NOT_HANDLED. */
int acms_doc__json_tree(acms_doc__parser *p, const char *text, size_t len);

#endif

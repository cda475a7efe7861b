/* doc_int.h: private interface between doc.c (tree building) and doc_fastjson.c (the JSON fast
 * path). Not part of the API: only those two files include it. The fast path replays JSON text as
 * the libyaml events doc.c already consumes, with the same positions libyaml would report. */
#ifndef ACMS_DOC_INT_H
#define ACMS_DOC_INT_H

#include <stddef.h>
#include <yaml.h>

/* Receives one event; returns ACMS_OK or an ACMS_ERR_* code (which stops the parse). */
typedef int (*acms_doc__event_fn)(void *ud, const yaml_event_t *e, int *done);

/* Returned when the text is not JSON the fast path reads exactly as libyaml would (invalid JSON,
 * a BOM, surrogate escapes, characters libyaml refuses or treats as line breaks, keys libyaml
 * cannot take as simple keys). Events may already have been delivered: the caller discards them. */
#define ACMS_DOC__NOT_HANDLED 1

/* Tokenises text (jsmn), checks it is strict JSON (one value, separators, literals, numbers,
 * escapes) and delivers STREAM/DOCUMENT/MAPPING/SEQUENCE/SCALAR events to fn with 0-based
 * line/column marks (columns in characters; CR, LF and CRLF end a line). Returns ACMS_OK, fn's
 * error, ACMS_ERR_NOMEM or ACMS_DOC__NOT_HANDLED. */
int acms_doc__json_events(const char *text, size_t len, acms_doc__event_fn fn, void *ud);

#endif

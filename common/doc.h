/* doc.h: YAML/JSON documents <-> value trees <-> typed protobuf messages, and messages -> JSON.
 * Parsing uses libyaml (JSON is read as YAML flow style) and records line/column on every node.
 * Conversion to typed messages is driven by the protobuf descriptors: document keys are the
 * proto field names, and unknown keys, wrong types and out-of-range numbers become syntax issues
 * (UNKNOWN_FIELD with "did you mean", TYPE_MISMATCH, ...). Hostile input is bounded by the
 * ACMS_MAX_* limits of acms.h. */
#ifndef ACMS_DOC_H
#define ACMS_DOC_H

#include <cjson/cJSON.h>

#include "issue.h"

/* Parses every document of text (YAML may hold several, separated by ---) into *docs (arena).
 * Returns ACMS_OK, or ACMS_ERR_INVALID / ACMS_ERR_LIMIT with errstr "line L, column C: reason". */
int acms_doc_parse(acms_arena *a, const char *text, size_t len, Acms__V1__Value ***docs, size_t *ndocs, char *errstr,
                   size_t errstr_size);
/* Reads and parses a file (at most ACMS_MAX_FILE_BYTES; binary or invalid UTF-8 refused).
 * errstr starts with the path. */
int acms_doc_parse_file(acms_arena *a, const char *path, Acms__V1__Value ***docs, size_t *ndocs, char *errstr,
                        size_t errstr_size);
/* The document's kind ("Pipeline", "Environment", "Policy") or NULL. */
const char *acms_doc_kind(const Acms__V1__Value *doc);

/* Typed conversion. Issues are reported with paths like spec.steps[1].instance_count.
 * Returns ACMS_OK when the result is usable (no error-severity issue), else ACMS_ERR_INVALID
 * (the partial message is still returned when *out is not NULL). */
int acms_doc_to_pipeline(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Pipeline **out, acms_issues *is);
/* A document's typed conversion kept for a later reader in the same process (adapter_prepare_kept
 * -> validator_validate_converted), so one document is converted once: the pipeline as written
 * (before any adaptation) and the issues the conversion reported. Arena-owned; read-only. */
typedef struct acms_doc_converted {
    Acms__V1__Pipeline *pipeline;
    Acms__V1__ValidationIssue *const *issues;
    size_t n_issues;
} acms_doc_converted;
int acms_doc_to_environment(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Environment **out, acms_issues *is);
int acms_doc_to_policy(acms_arena *a, const Acms__V1__Value *doc, Acms__V1__Policy **out, acms_issues *is);

/* JSON rendering (caller owns the cJSON tree: cJSON_Delete). Messages render with proto field
 * names; enums as their names; empty/zero fields omitted unless always is set. */
cJSON *acms_json_from_value(const Acms__V1__Value *v);
cJSON *acms_json_from_message(const ProtobufCMessage *m);
/* A malloc'd JSON string of a message (pretty when pretty != 0). Caller frees. */
char *acms_json_message_string(const ProtobufCMessage *m, int pretty);
/* Value tree from cJSON (for tests and JSON inputs read by tools). */
Acms__V1__Value *acms_value_from_json(acms_arena *a, const cJSON *j);

#endif

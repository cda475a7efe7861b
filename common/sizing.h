/* sizing.h: what a step's resource needs follow (Step.sizing, docs/learning.md), resolved to this
 * run's input value. One reader for the syntax, shared by the adapter's scaler (which sizes the run
 * from it and records it in sizing.input_value), the validator (which reports a declaration that
 * cannot be resolved) and the learning engine. Forms:
 *   sizing: {input: ROWS}                the value of the step's env var ROWS
 *   sizing: {input: --rows}              the command argument after "--rows", or of "--rows=N"
 *   sizing: {input_size_bytes: 5e9}      a declared size (used when input is empty)
 * A value is a positive finite number with an optional suffix: k M G T (x 1000^n) or Ki Mi Gi Ti
 * (x 1024^n), optionally followed by B ("1.5G", "200MiB", "3e6"). Pure; no allocation. */
#ifndef ACMS_SIZING_H
#define ACMS_SIZING_H

#include "pb.h"

typedef enum {
    ACMS_SIZING_OK = 0,        /* resolved: *value > 0 */
    ACMS_SIZING_NONE,          /* nothing declared */
    ACMS_SIZING_UNKNOWN_INPUT, /* input names no env var of the step and no command parameter */
    ACMS_SIZING_NOT_A_NUMBER,  /* the value is not a positive number */
    ACMS_SIZING_SECRET,        /* the env var holds a secret reference: never a size (nor history) */
    ACMS_SIZING_NO_VALUE,      /* the command parameter is the last argument: no value follows */
} acms_sizing_status;

/* Where the value came from, for records: "env ROWS", "--rows", "input_size_bytes" (points into s
 * or static text; valid while s is). */
typedef struct acms_sizing_input {
    double value;       /* > 0 when ACMS_SIZING_OK */
    const char *name;   /* the declared input ("ROWS", "--rows", "input_size_bytes"); "" when none */
    const char *source; /* "env", "parameter" or "declared" */
    const char *raw;    /* the text the value was read from (NULL for input_size_bytes) */
} acms_sizing_input;

/* Resolves s's sizing declaration. out is always filled (value 0 unless ACMS_SIZING_OK). */
acms_sizing_status acms_sizing_resolve(const Acms__V1__Step *s, acms_sizing_input *out);
/* Parses a size value as above. Returns 0 and *out (> 0), or -1. */
int acms_sizing_parse_value(const char *text, double *out);
/* A short static description of a status ("input names no env var or parameter of the step"...). */
const char *acms_sizing_status_text(acms_sizing_status st);
/* 1 when the step declares a sizing input (input or input_size_bytes). */
int acms_sizing_declared(const Acms__V1__Step *s);

#endif

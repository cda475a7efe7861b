/* error.c: how acmsctl reports an error: one JSON document on stdout with --format json (scripts
 * parse stdout alone), else one line on stderr. The codes are documented in docs/acmsctl.md. */
#include <stdarg.h>
#include <stdio.h>

#include "acmsctl.h"

int ctl_fail(const ctl_opts *o, int exit_code, const char *code, cJSON *details, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof msg, "%s", code);
    if (o && o->json) {
        cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddNumberToObject(e, "exit_code", exit_code);
        if (details)
            cJSON_AddItemToObject(e, "details", details);
        ctl_print_json(doc);
        cJSON_Delete(doc);
    } else {
        fprintf(stderr, "acmsctl: %s\n", msg);
        cJSON_Delete(details);
    }
    return exit_code;
}

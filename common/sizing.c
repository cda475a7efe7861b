/* sizing.c: a step's sizing declaration resolved to this run's input value (sizing.h).
 * Invariants: a resolved value is finite and > 0; a secret reference is never read as a value;
 * input (when set) wins over input_size_bytes. */
#include "sizing.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_PREFIX "secret://"

typedef struct suffix {
    const char *s;
    double mult;
} suffix;

/* Longest first, so "Ki" is tried before "k". */
static const suffix suffixes[] = {
    {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
    {"k", 1e3},     {"K", 1e3},        {"M", 1e6},           {"G", 1e9},
    {"T", 1e12},    {"", 1.0},
};

int acms_sizing_parse_value(const char *text, double *out)
{
    *out = 0;
    if (!text)
        return -1;
    while (*text == ' ')
        text++;
    if (!*text || *text == '-' || *text == '+')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || !(v > 0))
        return -1;
    if (!strncmp(text, "0x", 2) || !strncmp(text, "0X", 2))
        return -1; /* strtod reads hex: not a size anyone writes */
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t l = strlen(suffixes[i].s);
        if (strncmp(end, suffixes[i].s, l) != 0)
            continue;
        const char *rest = end + l;
        if (*rest == 'B')
            rest++;
        while (*rest == ' ')
            rest++;
        if (*rest)
            continue;
        double r = v * suffixes[i].mult;
        if (!isfinite(r) || !(r > 0))
            return -1;
        *out = r;
        return 0;
    }
    return -1;
}

int acms_sizing_declared(const Acms__V1__Step *s)
{
    const Acms__V1__Sizing *z = s ? s->sizing : NULL;
    return z && ((z->input && *z->input) || z->input_size_bytes > 0);
}

static acms_sizing_status from_env(const Acms__V1__Step *s, const char *name, acms_sizing_input *out)
{
    for (size_t i = 0; i < s->n_env; i++) {
        const Acms__V1__EnvVar *e = s->env[i];
        if (!e || !e->name || strcmp(e->name, name) != 0)
            continue;
        out->source = "env";
        if (e->value && !strncmp(e->value, SECRET_PREFIX, strlen(SECRET_PREFIX)))
            return ACMS_SIZING_SECRET;
        out->raw = e->value ? e->value : "";
        return acms_sizing_parse_value(out->raw, &out->value) == 0 ? ACMS_SIZING_OK : ACMS_SIZING_NOT_A_NUMBER;
    }
    return ACMS_SIZING_UNKNOWN_INPUT;
}

static acms_sizing_status from_command(const Acms__V1__Step *s, const char *flag, acms_sizing_input *out)
{
    size_t l = strlen(flag);
    for (size_t i = 0; i < s->n_command; i++) {
        const char *arg = s->command[i];
        if (!arg || strncmp(arg, flag, l) != 0 || (arg[l] != '=' && arg[l] != '\0'))
            continue;
        out->source = "parameter";
        if (arg[l] == '=')
            out->raw = arg + l + 1;
        else if (i + 1 < s->n_command)
            out->raw = s->command[i + 1] ? s->command[i + 1] : "";
        else
            return ACMS_SIZING_NO_VALUE;
        return acms_sizing_parse_value(out->raw, &out->value) == 0 ? ACMS_SIZING_OK : ACMS_SIZING_NOT_A_NUMBER;
    }
    return ACMS_SIZING_UNKNOWN_INPUT;
}

acms_sizing_status acms_sizing_resolve(const Acms__V1__Step *s, acms_sizing_input *out)
{
    memset(out, 0, sizeof *out);
    out->name = "";
    out->source = "";
    if (!acms_sizing_declared(s))
        return ACMS_SIZING_NONE;
    const Acms__V1__Sizing *z = s->sizing;
    if (z->input && *z->input) {
        out->name = z->input;
        acms_sizing_status st = z->input[0] == '-' ? from_command(s, z->input, out) : from_env(s, z->input, out);
        if (st != ACMS_SIZING_OK)
            out->value = 0;
        return st;
    }
    out->name = "input_size_bytes";
    out->source = "declared";
    out->value = (double)z->input_size_bytes;
    return ACMS_SIZING_OK;
}

const char *acms_sizing_status_text(acms_sizing_status st)
{
    switch (st) {
    case ACMS_SIZING_OK: return "resolved";
    case ACMS_SIZING_NONE: return "no sizing input declared";
    case ACMS_SIZING_UNKNOWN_INPUT: return "the sizing input names no env var and no command parameter of the step";
    case ACMS_SIZING_NOT_A_NUMBER: return "the sizing input's value is not a positive number";
    case ACMS_SIZING_SECRET: return "the sizing input is a secret reference, which is never read as a size";
    case ACMS_SIZING_NO_VALUE: return "the sizing parameter is the command's last argument: no value follows it";
    }
    return "unknown";
}

/* sizing.c: validation of a step's sizing declaration (Step.sizing, docs/learning.md). The input it
 * names must resolve for this run (common/sizing.h, the same reader the adapter's scaler uses): an
 * env var or a command parameter of the step holding a positive number, never a secret. Codes:
 * SIZING_INPUT_UNKNOWN, SIZING_INPUT_NOT_A_NUMBER, SIZING_INPUT_SECRET, SIZING_INPUT_NO_VALUE (errors:
 * the declaration says the step's needs follow something that is not there), SIZING_INPUT_AMBIGUOUS
 * (warning: input and input_size_bytes both set; input wins). Each comes with ranked suggestions. */
#include "names.h"
#include "paths.h"

#include <string.h>

#include "sizing.h"

#define NAME_DISTANCE 3

/* The step's env var names and its command's --parameters, as candidates for "did you mean". */
static size_t candidates(acms_arena *a, const Acms__V1__Step *s, int flags, const char ***out)
{
    size_t n = 0;
    *out = NULL;
    if (!flags)
        for (size_t i = 0; i < s->n_env; i++) {
            *out = acms_arena_push(a, *out, &n, sizeof **out);
            (*out)[n - 1] = validator_str(s->env[i]->name);
        }
    for (size_t i = 0; flags && i < s->n_command; i++) {
        const char *arg = validator_str(s->command[i]);
        if (arg[0] != '-' || arg[1] == '\0')
            continue;
        const char *eq = strchr(arg, '=');
        *out = acms_arena_push(a, *out, &n, sizeof **out);
        (*out)[n - 1] = eq ? acms_arena_strndup(a, arg, (size_t)(eq - arg)) : arg;
    }
    return n;
}

static void unknown(const validator_input *in, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    const char *name = s->sizing->input;
    int flag = name[0] == '-';
    const char *what = flag ? acms_arena_printf(a, "command parameter (an argument '%s VALUE' or '%s=VALUE')", name,
                                                name)
                            : "env var";
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, "sizing.input", "SIZING_INPUT_UNKNOWN", "error",
        "sizing input '%s' of step '%s' names no %s of the step, so its runs cannot be sized from their input", name,
        validator_str(s->name), what);
    const char **cands;
    size_t n = candidates(a, s, flag, &cands);
    const char *near = validator_closest(name, cands, n, NAME_DISTANCE);
    const char *path = validator_step_path(a, i, "sizing.input");
    if (near)
        acms_issue_suggest(is, x, "SIZING_INPUT_UNKNOWN:closest", "pattern", 0.8, path, near, "did you mean %s?", near);
    if (!flag && s->n_command > 0)
        acms_issue_suggest(is, x, "SIZING_INPUT_UNKNOWN:parameter", "pattern", 0.4, "", "",
                           "to read it from the command, name the parameter with its dashes (input: --rows)");
    acms_issue_suggest(is, x, "SIZING_INPUT_UNKNOWN:declare", "best_practice", 0.3, "", "",
                       "or declare the size itself: sizing: {input_size_bytes: N}");
}

static void bad_value(const validator_input *in, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s,
                      const acms_sizing_input *r)
{
    const char *where = !strcmp(r->source, "env") ? acms_arena_printf(a, "env.%s", r->name) : "command";
    Acms__V1__ValidationIssue *x = validator_step_issue(
        in, is, i, where, "SIZING_INPUT_NOT_A_NUMBER", "error",
        "sizing input %s of step '%s' is '%s', not a positive number: its runs cannot be sized from their input",
        r->name, validator_str(s->name), validator_str(r->raw));
    acms_issue_suggest(is, x, "SIZING_INPUT_NOT_A_NUMBER:format", "best_practice", 0.6, "", "",
                       "give the run's input size as a number: 1000000, 1.5M, 2GiB (suffixes k M G T, Ki Mi Gi Ti)");
}

static void check_step(const validator_input *in, acms_arena *a, acms_issues *is, size_t i, const Acms__V1__Step *s)
{
    acms_sizing_input r;
    acms_sizing_status st = acms_sizing_resolve(s, &r);
    if (st == ACMS_SIZING_UNKNOWN_INPUT)
        unknown(in, a, is, i, s);
    else if (st == ACMS_SIZING_NOT_A_NUMBER)
        bad_value(in, a, is, i, s, &r);
    else if (st == ACMS_SIZING_SECRET) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "sizing.input", "SIZING_INPUT_SECRET", "error",
            "sizing input %s of step '%s' is a secret reference: a secret is never read as a size (nor kept in the "
            "learning history)",
            r.name, validator_str(s->name));
        acms_issue_suggest(is, x, "SIZING_INPUT_SECRET:plain", "best_practice", 0.6, "", "",
                           "name a plain env var that holds the input size");
    } else if (st == ACMS_SIZING_NO_VALUE) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "sizing.input", "SIZING_INPUT_NO_VALUE", "error",
            "sizing parameter %s of step '%s' is the command's last argument: no value follows it", r.name,
            validator_str(s->name));
        acms_issue_suggest(is, x, "SIZING_INPUT_NO_VALUE:value", "pattern", 0.5, "", "",
                           "write the value after it (%s 1000000) or as %s=1000000", r.name, r.name);
    }
    const Acms__V1__Sizing *z = s->sizing;
    if (z->input && *z->input && z->input_size_bytes > 0) {
        Acms__V1__ValidationIssue *x = validator_step_issue(
            in, is, i, "sizing.input_size_bytes", "SIZING_INPUT_AMBIGUOUS", "warning",
            "step '%s' declares both sizing input %s and input_size_bytes: input wins, input_size_bytes is ignored",
            validator_str(s->name), z->input);
        acms_issue_suggest(is, x, "SIZING_INPUT_AMBIGUOUS:one", "pattern", 0.6, "", "",
                           "keep one: input when the size changes from run to run, input_size_bytes when it is fixed");
    }
}

int validator_sizing(const validator_input *in, acms_arena *a, acms_issues *is)
{
    const Acms__V1__Pipeline *p = in->pipeline;
    for (size_t i = 0; p && i < p->n_steps; i++)
        if (acms_sizing_declared(p->steps[i]))
            check_step(in, a, is, i, p->steps[i]);
    return ACMS_OK;
}

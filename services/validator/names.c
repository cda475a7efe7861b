/* names.c: the validator's name checks (names.h): step and pipeline names, their slug, environment
 * variable names, the closest candidate for "did you mean". Pure functions; results in the arena. */
#include "names.h"

#include <ctype.h>
#include <string.h>

static int name_inner(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
static int name_edge(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int validator_name_ok(const char *s)
{
    if (validator_empty(s))
        return 0;
    size_t n = strlen(s);
    if (n > VALIDATOR_MAX_NAME || !name_edge((unsigned char)s[0]) || !name_edge((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (!name_inner((unsigned char)s[i]))
            return 0;
    return 1;
}

const char *validator_name_slug(acms_arena *a, const char *s, const char *fallback)
{
    char buf[VALIDATOR_MAX_NAME + 1];
    size_t n = 0;
    int dash = 0;
    for (const char *p = s ? s : ""; *p && n < VALIDATOR_MAX_NAME; p++) {
        int c = tolower((unsigned char)*p);
        if (name_inner(c) && c != '-') {
            buf[n++] = (char)c;
            dash = 0;
        } else if (n > 0 && !dash) {
            buf[n++] = '-';
            dash = 1;
        }
    }
    while (n > 0 && !name_edge((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    size_t start = 0;
    while (buf[start] && !name_edge((unsigned char)buf[start]))
        start++;
    if (buf[start] == '\0')
        return fallback;
    return acms_arena_strdup(a, buf + start);
}

int validator_env_name_ok(const char *s)
{
    if (validator_empty(s) || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

const char *validator_closest(const char *s, const char *const *cands, size_t n, size_t cap)
{
    const char *best = NULL;
    size_t bestd = cap + 1;
    if (validator_empty(s))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cands[i] == NULL || strcmp(cands[i], s) == 0)
            continue;
        size_t d = acms_edit_distance(s, cands[i], bestd > 0 ? bestd - 1 : 0);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= cap ? best : NULL;
}

/* name_table.h: an enum's names as a table of strings indexed by value. acms_name_of gives a value's
 * name (the fallback outside the table); acms_name_index gives a name's value, -1 for NULL or an
 * unknown name. Pure: no I/O, no allocation. */
#ifndef ACMS_NAME_TABLE_H
#define ACMS_NAME_TABLE_H

#include <stddef.h>
#include <string.h>

#define ACMS_NAMES_LEN(t) (sizeof(t) / sizeof *(t))

static inline const char *acms_name_of(const char *const *names, size_t n, unsigned v, const char *fallback)
{
    return v < n ? names[v] : fallback;
}

static inline int acms_name_index(const char *const *names, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return (int)i;
    return -1;
}

#endif

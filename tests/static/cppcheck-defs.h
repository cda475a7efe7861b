/* cppcheck-defs.h: the few system-header definitions make lint gives cppcheck, which does not read
 * the system headers (too slow, too noisy): the macros our code uses as statements or tests in #if.
 * Copied from Debian 12's headers; keep them in step with those. */
#define cJSON_ArrayForEach(element, array) \
    for (element = (array != NULL) ? (array)->child : NULL; element != NULL; element = element->next)
#define PROTOBUF_C_VERSION_NUMBER 1004001
#define PROTOBUF_C_MIN_COMPILER_VERSION 1000000

/* strerror.c: the text of every ACMS_* return code (acms.h). */
#include "acms.h"

const char *acms_strerror(int code)
{
    switch (code) {
    case ACMS_OK: return "ok";
    case ACMS_ERR: return "error";
    case ACMS_ERR_RETRY: return "transient failure, retry";
    case ACMS_ERR_POISON: return "unprocessable input";
    case ACMS_ERR_NOTFOUND: return "not found";
    case ACMS_ERR_INVALID: return "invalid input";
    case ACMS_ERR_NOMEM: return "out of memory";
    case ACMS_ERR_LIMIT: return "input limit exceeded";
    case ACMS_ERR_STALE: return "stale version, re-read";
    default: return "unknown error";
    }
}

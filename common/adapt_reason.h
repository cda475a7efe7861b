/* adapt_reason.h: adaptation reasons carried as a template and its arguments (AdaptationRecord's
 * reason_template and reason_args) and rendered only when shown. The adapter records the frequent
 * reasons this way (no formatting, no copies: the arguments point at strings that live as long as
 * the record); whoever shows or sends a record on renders it with acms_adaptation_reason, or
 * acms_adaptation_render to store the text in place. Invariants: a template's text is fixed forever
 * once released (old records render as they did); its placeholders are all "%s", filled in order,
 * a missing argument rendering as ""; a record whose reason is set renders as that text. */
#ifndef ACMS_ADAPT_REASON_H
#define ACMS_ADAPT_REASON_H

#include "arena.h"
#include "acms/v1/runtime.pb-c.h"

/* Template ids (never renumbered; 0 = no template). */
enum {
    ACMS_REASON_NONE = 0,
    ACMS_REASON_PATH_REWRITES = 1,      /* env */
    ACMS_REASON_MEMORY_SCALED = 2,      /* type, catalogue MiB, memory_scale, env */
    ACMS_REASON_MEMORY_CATALOGUE = 3,   /* type, catalogue MiB */
    ACMS_REASON_VCPU_CATALOGUE = 4,     /* type, vCPU */
    ACMS_REASON_DEFAULT_EXECUTOR = 5,   /* env */
    ACMS_REASON_DEFAULT_ATTEMPTS = 6,   /* env */
    ACMS_REASON_INTERRUPTIBLE = 7,      /* env, step type */
    ACMS_REASON_DEFAULT_PARALLEL = 8,   /* env */
    ACMS_REASON_DEFAULT_TYPE = 9,       /* env */
    ACMS_REASON_DEFAULT_NETWORK = 10,   /* env */
    ACMS_REASON_NETWORK_ISOLATION = 11, /* env */
    ACMS_REASON_COUNT
};

/* The template of id ("%s" placeholders), NULL for an unknown id. */
const char *acms_adaptation_template(unsigned id);
/* The record's reason: r->reason when set or when it has no template; else the template rendered
 * with its arguments (arena; an unknown template renders as "reason template N"). Never NULL. */
const char *acms_adaptation_reason(acms_arena *a, const Acms__V1__AdaptationRecord *r);
/* Renders every record's reason into r->reason and drops template and arguments, so the records
 * read as records with a rendered reason (for readers that predate templates). ACMS_ERR_NOMEM. */
int acms_adaptation_render(acms_arena *a, Acms__V1__AdaptationRecord *const *v, size_t n);

#endif

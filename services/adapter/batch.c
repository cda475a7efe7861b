/* batch.c: the inline submissions waiting in the queue, together: they share two Redis round trips
 * (the scaler's reads, then the status-and-log writes through common/batch.h) instead of two each.
 * Submissions by reference, undecodable ones and opportunities go through adapter_handle first;
 * a rejection is written and published on its own. Per message the outcome is
 * adapter_on_submitted's. */
#include <string.h>

#include "adapter/handlers.h"
#include "adapter/stages.h"
#include "batch.h"

#define S(x) ((x) ? (x) : "")

typedef struct batch_item {
    Acms__V1__ConfigSubmitted *in; /* NULL: handled on its own, or done */
    adapter_prefetch pf;
    size_t first; /* its replies in the read pipeline */
    Acms__V1__RuntimeConfiguration *rc;
    const char *kv[12]; /* its status write (acms_batch_write points here) */
    const char *log;
    size_t log_len;
} batch_item;

typedef struct adapter_batch {
    adapter_service *s;
    acms_service *svc;
    acms_arena *a;
    const acms_msg *msgs;
    batch_item *it;
} adapter_batch;

/* An inline submission with a run id joins; anything else is handled alone (which also gives the
 * poison reasons). */
static int join(void *ctx, size_t i)
{
    adapter_batch *b = ctx;
    const acms_msg *m = &b->msgs[i];
    if (!b->s->ctx.redis || acms_cfg_topic_id(acms_service_cfg(b->svc), m->topic) != ACMS_TOPIC_CONFIG_SUBMITTED)
        return 0;
    const char *why = NULL;
    Acms__V1__ConfigSubmitted *in = (Acms__V1__ConfigSubmitted *)acms_pb_decode(
        b->a, &acms__v1__config_submitted__descriptor, m->payload, m->len, &why);
    if (!in || !in->meta->run_id || !*in->meta->run_id || !in->document || (in->config_ref && *in->config_ref))
        return 0;
    b->it[i].in = in;
    return 1;
}

static int alone(void *ctx, size_t i, const char **reason)
{
    adapter_batch *b = ctx;
    return adapter_handle(b->s, b->svc, &b->msgs[i], reason);
}

static int status(void *ctx, size_t i, acms_batch_write *w)
{
    adapter_batch *b = ctx;
    batch_item *it = &b->it[i];
    if (!it->in)
        return ACMS_ERR_INVALID;
    it->log = adapter_log_packed(b->a, it->rc, &it->log_len);
    *w = (acms_batch_write){.run_id = it->in->meta->run_id,
                            .status = "prepared",
                            .kv = it->kv,
                            .nkv = adapter_prepared_fields(b->a, it->rc, it->kv),
                            .list_suffix = "adaptations",
                            .items = &it->log,
                            .lens = &it->log_len,
                            .nitems = 1};
    return ACMS_OK;
}

static int publish(void *ctx, size_t i, int applied)
{
    adapter_batch *b = ctx;
    batch_item *it = &b->it[i];
    return adapter_prepared_publish(b->svc, b->a, it->in, &b->msgs[i], it->rc, it->log, it->log_len, applied);
}

static const acms_batch_ops batch_ops = {.join = join, .alone = alone, .status = status, .publish = publish};

/* What the scaler will read for an inline submission, named from the document as written (the
 * prepared pipeline keeps these names; when it does not, adapter_prepare reads again). */
static size_t doc_step_names(acms_arena *a, const Acms__V1__Value *doc, const char ***out)
{
    const Acms__V1__Value *steps = acms_value_path(doc, "spec.steps");
    size_t n = acms_value_is(steps, ACMS__V1__VALUE__KIND_LIST_VALUE) ? steps->list_value->n_values : 0;
    const char **names = acms_arena_alloc(a, (n ? n : 1) * sizeof *names);
    for (size_t i = 0; i < n; i++) {
        const char *name = acms_value_str(acms_value_get(steps->list_value->values[i], "name"));
        names[i] = name ? name : "";
    }
    *out = names;
    return n;
}

/* Queues the scaler's reads of every member and runs them: *rep (arena) holds *cmds replies, the
 * caller frees each. ACMS_OK or ACMS_ERR_RETRY (*rep NULL). */
static int prefetch(adapter_batch *b, size_t n, redisReply ***rep, size_t *cmds)
{
    *cmds = 0;
    *rep = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!b->it[i].in)
            continue;
        adapter_prefetch *pf = &b->it[i].pf;
        const char **names;
        pf->env = S(b->it[i].in->environment);
        pf->pipeline = S(acms_value_str(acms_value_path(b->it[i].in->document, "metadata.name")));
        pf->n = doc_step_names(b->a, b->it[i].in->document, &names);
        pf->steps = names;
        b->it[i].first = *cmds;
        *cmds += adapter_scaler_append(b->s->ctx.redis, b->a, pf->env, pf->pipeline, pf->steps, pf->n);
    }
    redisReply **r = acms_arena_alloc(b->a, (*cmds ? *cmds : 1) * sizeof *r);
    if (acms_redis_exec(b->s->ctx.redis, r, *cmds) != ACMS_OK)
        return ACMS_ERR_RETRY;
    *rep = r;
    return ACMS_OK;
}

/* Prepares each member with its reads done; a member that cannot be prepared leaves the group
 * (a rejection is written and published now: nothing is queued yet). */
static void prepare(adapter_batch *b, size_t n, redisReply **rep, int *rcs, const char **reasons)
{
    for (size_t i = 0; i < n; i++) {
        Acms__V1__ConfigSubmitted *in = b->it[i].in;
        if (!in)
            continue;
        b->it[i].pf.rep = rep + b->it[i].first;
        adapter_ctx c = b->s->ctx;
        c.prefetch = &b->it[i].pf;
        acms_issues issues;
        acms_issues_init(&issues, b->a, "environment");
        acms_log_set_trace(b->msgs[i].traceparent);
        int pr = adapter_prepare(&c, b->a, in, &b->it[i].rc, &issues);
        if (pr == ACMS_OK)
            continue;
        b->it[i].in = NULL;
        if (pr == ACMS_ERR_INVALID)
            rcs[i] = adapter_on_rejected(b->s, b->svc, b->a, in, &issues, NULL);
        else if (pr != ACMS_ERR_RETRY && pr != ACMS_ERR_NOMEM) {
            rcs[i] = ACMS_ERR_POISON;
            reasons[i] = "the configuration could not be prepared";
        }
    }
    acms_log_set_trace(NULL);
}

int adapter_handle_batch(adapter_service *s, acms_service *svc, const acms_msg *msgs, size_t n, int *rcs,
                         const char **reasons)
{
    acms_arena *a = acms_arena_new(0);
    adapter_batch b = {.s = s, .svc = svc, .a = a, .msgs = msgs};
    b.it = acms_arena_alloc(a, (n ? n : 1) * sizeof *b.it);
    redisReply **rep = NULL;
    size_t cmds = 0;
    if (acms_batch_split(&batch_ops, &b, n, rcs, reasons) == 0)
        goto out;
    if (prefetch(&b, n, &rep, &cmds) != ACMS_OK)
        goto out; /* all still ACMS_ERR_RETRY */
    prepare(&b, n, rep, rcs, reasons);
    acms_batch_write_publish(s->ctx.redis, &batch_ops, &b, msgs, n, rcs); /* every status-and-log write in
                                                                            * one round trip, then publish */
out:
    for (size_t j = 0; rep && j < cmds; j++)
        if (rep[j])
            freeReplyObject(rep[j]);
    acms_arena_free(a);
    return ACMS_OK;
}

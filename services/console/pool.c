/* pool.c: the console's Redis connections (pool.h): a stack of free handles under one mutex, a
 * condition variable for a thread that finds it empty. */
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct console_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    acms_redis **all;  /* every handle (freed by console_pool_free) */
    acms_redis **free; /* the free ones: free[0 .. nfree) */
    size_t n, nfree;
};

console_pool *console_pool_new(const char *url, size_t n, acms_metrics *m, char *errstr, size_t errstr_size)
{
    if (n == 0) {
        snprintf(errstr, errstr_size, "a pool of no connection");
        return NULL;
    }
    console_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!(p->all = calloc(n, sizeof *p->all)) || !(p->free = calloc(n, sizeof *p->free))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (; p->n < n; p->n++) {
        if (!(p->all[p->n] = acms_redis_new(url, m, errstr, errstr_size)))
            goto fail;
        p->free[p->nfree++] = p->all[p->n];
    }
    return p;
fail:
    console_pool_free(p);
    return NULL;
}

void console_pool_free(console_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->all && i < p->n; i++)
        acms_redis_free(p->all[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->all);
    free(p->free);
    free(p);
}

acms_redis *console_pool_get(console_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    acms_redis *r = p->free[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return r;
}

void console_pool_put(console_pool *p, acms_redis *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&p->mu);
    p->free[p->nfree++] = r;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

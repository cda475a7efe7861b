/* exec_backend.h: the backends behind exec.h, which only exec.c calls (and each backend's own
 * file defines): local processes (exec_local.c), http workers (exec_http.c) and kubernetes Pods
 * (exec_kubernetes.c). Each start returns a handle whose poll fills a coord_exec_status; a start
 * that failed gives a handle already done. */
#ifndef ACMS_COORD_EXEC_BACKEND_H
#define ACMS_COORD_EXEC_BACKEND_H

#include <sys/types.h>

#include "exec.h"

/* Backends (exec.c dispatches). */
typedef struct coord_local coord_local;
coord_local *coord_local_start(const coord_exec_req *req, coord_exec_status *st);
int coord_local_poll(coord_local *l, int64_t now, coord_exec_status *st);
void coord_local_cancel(coord_local *l, int64_t now);
void coord_local_abandon(coord_local *l);
void coord_local_free(coord_local *l);
pid_t coord_local_pid(const coord_local *l);
int coord_local_set_memory(coord_local *l, uint64_t memory_mb, char *errstr, size_t errstr_size);

typedef struct coord_http coord_http;
coord_http *coord_http_start(const coord_exec_req *req, coord_exec_status *st);
int coord_http_poll(coord_http *h, int64_t now, coord_exec_status *st);
void coord_http_cancel(coord_http *h, int64_t now);
void coord_http_abandon(coord_http *h);
void coord_http_free(coord_http *h);
const char *coord_http_id(const coord_http *h);

typedef struct coord_k8s coord_k8s;
coord_k8s *coord_k8s_start(const coord_exec_req *req, coord_exec_status *st);
coord_k8s *coord_k8s_adopt(const coord_exec_req *req, coord_exec_status *st);
int coord_k8s_poll(coord_k8s *k, int64_t now, coord_exec_status *st);
void coord_k8s_cancel(coord_k8s *k, int64_t now);
void coord_k8s_abandon(coord_k8s *k);
void coord_k8s_free(coord_k8s *k);
const char *coord_k8s_id(const coord_k8s *k);
int coord_k8s_resize(coord_k8s *k, uint64_t memory_mb);
int coord_k8s_tail(coord_k8s *k, char **out, size_t *len, uint64_t *total);
void coord_k8s_run_done(struct k8s_exec *x, const char *run_id, const Acms__V1__Environment *env);
/* local: the last bytes of stdout (1) or stderr (2), at most cap (<= 64 KiB). */
size_t coord_local_tail(const coord_local *l, int stream, char *out, size_t cap, uint64_t *total);

#endif

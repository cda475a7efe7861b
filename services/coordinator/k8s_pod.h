/* k8s_pod.h: the Kubernetes objects of one step attempt, as JSON built from plain inputs (no
 * network, no globals): the Pod, its ephemeral Secret (resolved secret values, owned by the Pod)
 * and the run's NetworkPolicy. Invariants: a resolved secret value appears only in the Secret's
 * body, never in the Pod's; every name and label value is a valid DNS-1123 name / label value
 * derived deterministically from (run, step, attempt), so a restarted coordinator finds the Pod of
 * an attempt by name. */
#ifndef ACMS_K8S_POD_H
#define ACMS_K8S_POD_H

#include <stddef.h>
#include <stdint.h>

#include "acms/v1/config.pb-c.h"

#define K8S_NAME_MAX 64  /* pod, secret and policy names we make (<= 63 chars) */
#define K8S_LABEL_MAX 64 /* label values (<= 63 chars) */
#define K8S_MANAGED_SELECTOR "app.kubernetes.io/managed-by=acms-coordinator"
#define K8S_CONTAINER "step"
#define K8S_WORK_DIR "/work"

/* One variable of the container: a plain value, or a reference to a key of a Secret (our
 * ephemeral one or an existing one named by secret://k8s/<secret>#<key>). */
typedef struct k8s_env {
    const char *name;
    const char *value; /* plain value (NULL when secret_name is set) */
    const char *secret_name;
    const char *secret_key;
} k8s_env;

typedef struct k8s_pod_in {
    const char *name, *ns; /* from k8s_pod_name */
    const char *run_id, *step, *pipeline;
    uint32_t attempt;
    const char *image;
    char *const *command; /* command[0] -> container command, the rest -> args */
    size_t ncommand;
    const k8s_env *env;
    size_t nenv;
    uint64_t memory_mb;
    double vcpu;
    uint32_t gpus;
    uint32_t volume_gb;
    uint32_t max_runtime_s; /* activeDeadlineSeconds, 0 = none */
    const char *instance_type;
    int interruptible;
    int network_isolated;                   /* the run's NetworkPolicy selects it */
    const Acms__V1__KubernetesSettings *ks; /* may be NULL: defaults */
} k8s_pod_in;

/* The Pod name of an attempt: "acms-<step, sanitised, <= 30>-<10 hex of sha256(run \0 step)>-a<n>".
 * The label values: acms.io/run and acms.io/step sanitised to label syntax (<= 63, with a hash
 * suffix when shortened). The NetworkPolicy of a run: "acms-run-<16 hex of sha256(run)>". */
void k8s_pod_name(const char *run_id, const char *step, uint32_t attempt, char out[K8S_NAME_MAX]);
void k8s_label_value(const char *s, char out[K8S_LABEL_MAX]);
void k8s_policy_name(const char *run_id, char out[K8S_NAME_MAX]);
/* "2048Mi", "1500m" / "4", as Kubernetes quantities. */
void k8s_quantity_mib(uint64_t mib, char *out, size_t size);
void k8s_quantity_cpu(double vcpu, char *out, size_t size);

/* Each returns a malloc'd JSON document (caller frees; the Secret's body holds secret values:
 * wipe it before free) or NULL when out of memory. */
char *k8s_pod_json(const k8s_pod_in *in);
/* The ephemeral Secret named like the Pod, owned by it (pod_uid), holding keys[i] = values[i]. */
char *k8s_secret_json(const k8s_pod_in *in, const char *pod_uid, char *const *keys, char *const *values, size_t n);
/* Egress denied except DNS (UDP/TCP 53) and the environment's egress_allow entries (CIDR or
 * CIDR:port), for the pods labelled acms.io/run=<run>. Ingress is not restricted. */
char *k8s_policy_json(const char *run_id, const char *ns, const Acms__V1__KubernetesSettings *ks);

/* secret://k8s/<secret>#<key>: 1 with name and key copied, 0 when ref is another kind of reference
 * (or malformed). The one place the executor reads a reference's form (the shared parser). */
int k8s_secret_ref(const char *ref, char *name, size_t name_size, char *key, size_t key_size);

#endif

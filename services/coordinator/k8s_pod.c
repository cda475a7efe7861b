/* k8s_pod.c: the Pod, ephemeral Secret and NetworkPolicy of step attempts as JSON (cJSON), from
 * plain inputs. Requests equal limits (Guaranteed QoS), so what the scheduler reserves is what the
 * kubelet enforces; secret values only ever enter k8s_secret_json's body. */
#include "k8s_pod.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "pb.h"

#define DEFAULT_TYPE_LABEL "node.kubernetes.io/instance-type"
#define DEFAULT_GPU "nvidia.com/gpu"
#define STEP_UID 10001

static const char *nz(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* Lower-case [a-z0-9-] of s, at most max chars, no leading/trailing '-'. */
static size_t dns_part(const char *s, char *out, size_t max)
{
    size_t k = 0;
    for (; s && *s && k < max; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '-';
        if (c == '-' && (k == 0 || out[k - 1] == '-'))
            continue;
        out[k++] = c;
    }
    while (k > 0 && out[k - 1] == '-')
        k--;
    out[k] = '\0';
    return k;
}

void k8s_pod_name(const char *run_id, const char *step, uint32_t attempt, char out[K8S_NAME_MAX])
{
    char part[32], hex[65], buf[1024];
    size_t rl = strlen(run_id ? run_id : ""), sl = strlen(step ? step : "");
    if (rl + sl + 1 < sizeof buf) {
        memcpy(buf, run_id ? run_id : "", rl);
        buf[rl] = '\0';
        memcpy(buf + rl + 1, step ? step : "", sl);
        acms_sha256_hex(buf, rl + 1 + sl, hex);
    } else {
        acms_sha256_hex(step ? step : "", sl, hex);
    }
    if (!dns_part(step, part, 30))
        snprintf(part, sizeof part, "step");
    snprintf(out, K8S_NAME_MAX, "acms-%s-%.10s-a%u", part, hex, attempt);
}

void k8s_label_value(const char *s, char out[K8S_LABEL_MAX])
{
    size_t k = 0, n = strlen(s ? s : "");
    for (size_t i = 0; i < n && k < 63; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        out[k++] = ok ? c : '_';
    }
    out[k] = '\0';
    int shortened = n > 63 || strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n;
    if (shortened) { /* keep it unique: 52 chars + '-' + 10 hex */
        char hex[65];
        acms_sha256_hex(s, n, hex);
        if (k > 52)
            k = 52;
        snprintf(out + k, K8S_LABEL_MAX - k, "-%.10s", hex);
        k = strlen(out);
    }
    while (k > 0 && !((out[k - 1] >= 'a' && out[k - 1] <= 'z') || (out[k - 1] >= 'A' && out[k - 1] <= 'Z') ||
                      (out[k - 1] >= '0' && out[k - 1] <= '9')))
        out[--k] = '\0';
    size_t lead = 0;
    while (out[lead] && !((out[lead] >= 'a' && out[lead] <= 'z') || (out[lead] >= 'A' && out[lead] <= 'Z') ||
                          (out[lead] >= '0' && out[lead] <= '9')))
        lead++;
    memmove(out, out + lead, strlen(out + lead) + 1);
    if (!out[0])
        snprintf(out, K8S_LABEL_MAX, "x");
}

void k8s_policy_name(const char *run_id, char out[K8S_NAME_MAX])
{
    char hex[65];
    acms_sha256_hex(run_id ? run_id : "", strlen(run_id ? run_id : ""), hex);
    snprintf(out, K8S_NAME_MAX, "acms-run-%.16s", hex);
}

void k8s_quantity_mib(uint64_t mib, char *out, size_t size)
{
    snprintf(out, size, "%lluMi", (unsigned long long)mib);
}

void k8s_quantity_cpu(double vcpu, char *out, size_t size)
{
    long milli = (long)(vcpu * 1000.0 + 0.5);
    if (milli % 1000 == 0)
        snprintf(out, size, "%ld", milli / 1000);
    else
        snprintf(out, size, "%ldm", milli);
}

int k8s_secret_ref(const char *ref, char *name, size_t name_size, char *key, size_t key_size)
{
    acms_secret_ref r;
    if (acms_secret_parse(ref, &r, NULL) != ACMS_OK || r.kind != ACMS_SECRET_K8S)
        return 0;
    snprintf(name, name_size, "%s", r.path);
    snprintf(key, key_size, "%s", r.key);
    return 1;
}

/* --- the Pod ----------------------------------------------------------------------------------- */

static cJSON *labels(const k8s_pod_in *in)
{
    char v[K8S_LABEL_MAX], n[16];
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", "acms-coordinator");
    k8s_label_value(in->run_id, v);
    cJSON_AddStringToObject(l, "acms.io/run", v);
    k8s_label_value(in->step, v);
    cJSON_AddStringToObject(l, "acms.io/step", v);
    snprintf(n, sizeof n, "%u", in->attempt);
    cJSON_AddStringToObject(l, "acms.io/attempt", n);
    return l;
}

static cJSON *metadata(const k8s_pod_in *in, const char *name)
{
    cJSON *m = cJSON_CreateObject(), *a = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "namespace", in->ns);
    cJSON_AddItemToObject(m, "labels", labels(in));
    cJSON_AddStringToObject(a, "acms.io/run-id", nz(in->run_id, ""));
    cJSON_AddStringToObject(a, "acms.io/step-name", nz(in->step, ""));
    if (in->pipeline && *in->pipeline)
        cJSON_AddStringToObject(a, "acms.io/pipeline", in->pipeline);
    cJSON_AddItemToObject(m, "annotations", a);
    return m;
}

static cJSON *resources(const k8s_pod_in *in)
{
    char q[32];
    cJSON *req = cJSON_CreateObject();
    if (in->memory_mb) {
        k8s_quantity_mib(in->memory_mb, q, sizeof q);
        cJSON_AddStringToObject(req, "memory", q);
    }
    if (in->vcpu > 0) {
        k8s_quantity_cpu(in->vcpu, q, sizeof q);
        cJSON_AddStringToObject(req, "cpu", q);
    }
    if (in->volume_gb) {
        snprintf(q, sizeof q, "%uGi", in->volume_gb);
        cJSON_AddStringToObject(req, "ephemeral-storage", q);
    }
    if (in->gpus) {
        snprintf(q, sizeof q, "%u", in->gpus);
        cJSON_AddStringToObject(req, nz(in->ks ? in->ks->gpu_resource : NULL, DEFAULT_GPU), q);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "requests", req);
    cJSON_AddItemToObject(r, "limits", cJSON_Duplicate(req, 1));
    return r;
}

static cJSON *env_list(const k8s_pod_in *in)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < in->nenv; i++) {
        const k8s_env *e = &in->env[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->name);
        if (e->secret_name) {
            cJSON *ref = cJSON_CreateObject(), *from = cJSON_CreateObject();
            cJSON_AddStringToObject(ref, "name", e->secret_name);
            cJSON_AddStringToObject(ref, "key", e->secret_key);
            cJSON_AddItemToObject(from, "secretKeyRef", ref);
            cJSON_AddItemToObject(o, "valueFrom", from);
        } else {
            cJSON_AddStringToObject(o, "value", nz(e->value, ""));
        }
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *container(const k8s_pod_in *in)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", K8S_CONTAINER);
    cJSON_AddStringToObject(c, "image", nz(in->image, ""));
    if (in->ncommand) {
        cJSON *cmd = cJSON_CreateArray(), *args = cJSON_CreateArray();
        cJSON_AddItemToArray(cmd, cJSON_CreateString(in->command[0]));
        for (size_t i = 1; i < in->ncommand; i++)
            cJSON_AddItemToArray(args, cJSON_CreateString(in->command[i]));
        cJSON_AddItemToObject(c, "command", cmd);
        cJSON_AddItemToObject(c, "args", args);
    }
    cJSON_AddStringToObject(c, "workingDir", K8S_WORK_DIR);
    cJSON_AddItemToObject(c, "env", env_list(in));
    cJSON_AddItemToObject(c, "resources", resources(in));
    cJSON *sc = cJSON_CreateObject(), *caps = cJSON_CreateObject(), *drop = cJSON_CreateArray();
    cJSON_AddBoolToObject(sc, "runAsNonRoot", 1);
    cJSON_AddBoolToObject(sc, "readOnlyRootFilesystem", 1);
    cJSON_AddBoolToObject(sc, "allowPrivilegeEscalation", 0);
    cJSON_AddBoolToObject(sc, "privileged", 0);
    cJSON_AddItemToArray(drop, cJSON_CreateString("ALL"));
    cJSON_AddItemToObject(caps, "drop", drop);
    cJSON_AddItemToObject(sc, "capabilities", caps);
    cJSON_AddItemToObject(c, "securityContext", sc);
    cJSON *mounts = cJSON_CreateArray();
    static const char *const mv[][2] = {{"work", K8S_WORK_DIR}, {"tmp", "/tmp"}};
    for (size_t i = 0; i < 2; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", mv[i][0]);
        cJSON_AddStringToObject(m, "mountPath", mv[i][1]);
        cJSON_AddItemToArray(mounts, m);
    }
    cJSON_AddItemToObject(c, "volumeMounts", mounts);
    cJSON_AddStringToObject(c, "terminationMessagePolicy", "FallbackToLogsOnError");
    return c;
}

/* The work volume (volume_size_gb, node-local scratch with a size limit) and a small /tmp. */
static cJSON *volumes(const k8s_pod_in *in)
{
    char q[32];
    cJSON *v = cJSON_CreateArray(), *work = cJSON_CreateObject(), *wd = cJSON_CreateObject();
    cJSON_AddStringToObject(work, "name", "work");
    snprintf(q, sizeof q, "%uGi", in->volume_gb ? in->volume_gb : 1);
    cJSON_AddStringToObject(wd, "sizeLimit", q);
    cJSON_AddItemToObject(work, "emptyDir", wd);
    cJSON_AddItemToArray(v, work);
    cJSON *tmp = cJSON_CreateObject(), *td = cJSON_CreateObject();
    cJSON_AddStringToObject(tmp, "name", "tmp");
    cJSON_AddStringToObject(td, "sizeLimit", "1Gi");
    cJSON_AddItemToObject(tmp, "emptyDir", td);
    cJSON_AddItemToArray(v, tmp);
    return v;
}

/* Interruptible: tolerate the spot taints, and require the spot node labels. */
static void spot(cJSON *spec, const Acms__V1__KubernetesSettings *ks)
{
    if (!ks)
        return;
    if (ks->n_spot_tolerations) {
        cJSON *tol = cJSON_CreateArray();
        for (size_t i = 0; i < ks->n_spot_tolerations; i++) {
            const Acms__V1__KubernetesToleration *t = ks->spot_tolerations[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "key", nz(t->key, ""));
            cJSON_AddStringToObject(o, "operator", t->value && *t->value ? "Equal" : "Exists");
            if (t->value && *t->value)
                cJSON_AddStringToObject(o, "value", t->value);
            cJSON_AddStringToObject(o, "effect", nz(t->effect, "NoSchedule"));
            cJSON_AddItemToArray(tol, o);
        }
        cJSON_AddItemToObject(spec, "tolerations", tol);
    }
    if (!ks->n_spot_node_labels)
        return;
    cJSON *exprs = cJSON_CreateArray();
    for (size_t i = 0; i < ks->n_spot_node_labels; i++) {
        cJSON *e = cJSON_CreateObject(), *vals = cJSON_CreateArray();
        cJSON_AddStringToObject(e, "key", nz(ks->spot_node_labels[i]->key, ""));
        cJSON_AddStringToObject(e, "operator", "In");
        cJSON_AddItemToArray(vals, cJSON_CreateString(nz(ks->spot_node_labels[i]->value, "")));
        cJSON_AddItemToObject(e, "values", vals);
        cJSON_AddItemToArray(exprs, e);
    }
    cJSON *term = cJSON_CreateObject(), *terms = cJSON_CreateArray(), *req = cJSON_CreateObject(),
          *na = cJSON_CreateObject(), *aff = cJSON_CreateObject();
    cJSON_AddItemToObject(term, "matchExpressions", exprs);
    cJSON_AddItemToArray(terms, term);
    cJSON_AddItemToObject(req, "nodeSelectorTerms", terms);
    cJSON_AddItemToObject(na, "requiredDuringSchedulingIgnoredDuringExecution", req);
    cJSON_AddItemToObject(aff, "nodeAffinity", na);
    cJSON_AddItemToObject(spec, "affinity", aff);
}

static cJSON *pod_security(void)
{
    cJSON *psc = cJSON_CreateObject(), *sp = cJSON_CreateObject();
    cJSON_AddBoolToObject(psc, "runAsNonRoot", 1);
    cJSON_AddNumberToObject(psc, "runAsUser", STEP_UID);
    cJSON_AddNumberToObject(psc, "runAsGroup", STEP_UID);
    cJSON_AddNumberToObject(psc, "fsGroup", STEP_UID);
    cJSON_AddStringToObject(sp, "type", "RuntimeDefault");
    cJSON_AddItemToObject(psc, "seccompProfile", sp);
    return psc;
}

char *k8s_pod_json(const k8s_pod_in *in)
{
    const Acms__V1__KubernetesSettings *ks = in->ks;
    cJSON *pod = cJSON_CreateObject(), *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(pod, "apiVersion", "v1");
    cJSON_AddStringToObject(pod, "kind", "Pod");
    cJSON *meta = metadata(in, in->name);
    if (in->network_isolated)
        cJSON_AddStringToObject(cJSON_GetObjectItem(meta, "labels"), "acms.io/isolated", "true");
    cJSON_AddItemToObject(pod, "metadata", meta);
    cJSON_AddStringToObject(spec, "restartPolicy", "Never");
    if (in->max_runtime_s)
        cJSON_AddNumberToObject(spec, "activeDeadlineSeconds", in->max_runtime_s);
    cJSON_AddNumberToObject(spec, "terminationGracePeriodSeconds",
                            ks && ks->termination_grace_s ? ks->termination_grace_s : 30);
    if (ks && ks->service_account && *ks->service_account)
        cJSON_AddStringToObject(spec, "serviceAccountName", ks->service_account);
    cJSON_AddBoolToObject(spec, "automountServiceAccountToken", 0);
    cJSON_AddBoolToObject(spec, "enableServiceLinks", 0);
    cJSON_AddItemToObject(spec, "securityContext", pod_security());
    if (in->instance_type && *in->instance_type) {
        cJSON *ns = cJSON_CreateObject();
        cJSON_AddStringToObject(ns, nz(ks ? ks->instance_type_label : NULL, DEFAULT_TYPE_LABEL), in->instance_type);
        cJSON_AddItemToObject(spec, "nodeSelector", ns);
    }
    if (in->interruptible)
        spot(spec, ks);
    cJSON *cs = cJSON_CreateArray();
    cJSON_AddItemToArray(cs, container(in));
    cJSON_AddItemToObject(spec, "containers", cs);
    cJSON_AddItemToObject(spec, "volumes", volumes(in));
    cJSON_AddItemToObject(pod, "spec", spec);
    char *s = cJSON_PrintUnformatted(pod);
    cJSON_Delete(pod);
    return s;
}

char *k8s_secret_json(const k8s_pod_in *in, const char *pod_uid, char *const *keys, char *const *values, size_t n)
{
    cJSON *sec = cJSON_CreateObject(), *data = cJSON_CreateObject();
    cJSON_AddStringToObject(sec, "apiVersion", "v1");
    cJSON_AddStringToObject(sec, "kind", "Secret");
    cJSON *meta = metadata(in, in->name);
    cJSON *owners = cJSON_CreateArray(), *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "Pod");
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "uid", nz(pod_uid, ""));
    cJSON_AddItemToArray(owners, o);
    cJSON_AddItemToObject(meta, "ownerReferences", owners);
    cJSON_AddItemToObject(sec, "metadata", meta);
    cJSON_AddStringToObject(sec, "type", "Opaque");
    cJSON_AddBoolToObject(sec, "immutable", 1);
    for (size_t i = 0; i < n; i++)
        cJSON_AddStringToObject(data, keys[i], values[i]);
    cJSON_AddItemToObject(sec, "stringData", data);
    char *s = cJSON_PrintUnformatted(sec);
    for (cJSON *v = data->child; v; v = v->next)
        if (v->valuestring)
            explicit_bzero(v->valuestring, strlen(v->valuestring));
    cJSON_Delete(sec);
    return s;
}

static cJSON *port(const char *proto, long p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "protocol", proto);
    cJSON_AddNumberToObject(o, "port", (double)p);
    return o;
}

/* One egress rule: to the CIDR of "CIDR[:port]" (TCP port when given). */
static cJSON *allow_rule(const char *entry)
{
    char cidr[128];
    const char *colon = strrchr(entry, ':');
    long p = 0;
    if (colon && !strchr(colon, '/')) {
        p = strtol(colon + 1, NULL, 10);
        snprintf(cidr, sizeof cidr, "%.*s", (int)(colon - entry), entry);
    } else {
        snprintf(cidr, sizeof cidr, "%s", entry);
    }
    cJSON *rule = cJSON_CreateObject(), *to = cJSON_CreateArray(), *peer = cJSON_CreateObject(),
          *ip = cJSON_CreateObject();
    cJSON_AddStringToObject(ip, "cidr", cidr);
    cJSON_AddItemToObject(peer, "ipBlock", ip);
    cJSON_AddItemToArray(to, peer);
    cJSON_AddItemToObject(rule, "to", to);
    if (p > 0 && p < 65536) {
        cJSON *ports = cJSON_CreateArray();
        cJSON_AddItemToArray(ports, port("TCP", p));
        cJSON_AddItemToObject(rule, "ports", ports);
    }
    return rule;
}

char *k8s_policy_json(const char *run_id, const char *ns, const Acms__V1__KubernetesSettings *ks)
{
    char name[K8S_NAME_MAX], v[K8S_LABEL_MAX];
    k8s_policy_name(run_id, name);
    k8s_label_value(run_id, v);
    cJSON *np = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *lab = cJSON_CreateObject(),
          *spec = cJSON_CreateObject(), *sel = cJSON_CreateObject(), *ml = cJSON_CreateObject();
    cJSON_AddStringToObject(np, "apiVersion", "networking.k8s.io/v1");
    cJSON_AddStringToObject(np, "kind", "NetworkPolicy");
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", ns);
    cJSON_AddStringToObject(lab, "app.kubernetes.io/managed-by", "acms-coordinator");
    cJSON_AddStringToObject(lab, "acms.io/run", v);
    cJSON_AddItemToObject(meta, "labels", lab);
    cJSON_AddItemToObject(np, "metadata", meta);
    cJSON_AddStringToObject(ml, "acms.io/run", v);
    cJSON_AddStringToObject(ml, "acms.io/isolated", "true");
    cJSON_AddItemToObject(sel, "matchLabels", ml);
    cJSON_AddItemToObject(spec, "podSelector", sel);
    cJSON *types = cJSON_CreateArray();
    cJSON_AddItemToArray(types, cJSON_CreateString("Egress"));
    cJSON_AddItemToObject(spec, "policyTypes", types);
    cJSON *egress = cJSON_CreateArray(), *dns = cJSON_CreateObject(), *dports = cJSON_CreateArray();
    cJSON_AddItemToArray(dports, port("UDP", 53));
    cJSON_AddItemToArray(dports, port("TCP", 53));
    cJSON_AddItemToObject(dns, "ports", dports);
    cJSON_AddItemToArray(egress, dns);
    for (size_t i = 0; ks && i < ks->n_egress_allow; i++)
        if (ks->egress_allow[i] && *ks->egress_allow[i])
            cJSON_AddItemToArray(egress, allow_rule(ks->egress_allow[i]));
    cJSON_AddItemToObject(spec, "egress", egress);
    cJSON_AddItemToObject(np, "spec", spec);
    char *s = cJSON_PrintUnformatted(np);
    cJSON_Delete(np);
    return s;
}

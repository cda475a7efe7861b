/* test_k8s_pod.c: the objects of a step attempt. The Pod carries requests = limits (memory, CPU,
 * GPUs, ephemeral storage), the instance-type nodeSelector under the configured key, spot
 * tolerations and affinity only when interruptible, the deadline, the labels, the hardened
 * security context; secret values are only in the Secret (owned by the Pod) and referenced by
 * secretKeyRef; the NetworkPolicy denies egress but DNS and the allowed CIDRs; names and label
 * values are valid and deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/k8s_pod.h"

static const cJSON *at(const cJSON *j, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, "/", &save); k && j; k = strtok_r(NULL, "/", &save))
        j = (*k >= '0' && *k <= '9') ? cJSON_GetArrayItem(j, k[0] - '0') : cJSON_GetObjectItemCaseSensitive(j, k);
    return j;
}

static const char *str(const cJSON *j, const char *path)
{
    const cJSON *v = at(j, path);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static Acms__V1__KubernetesSettings ks = ACMS__V1__KUBERNETES_SETTINGS__INIT;
static Acms__V1__Label spot_label = ACMS__V1__LABEL__INIT;
static Acms__V1__Label *spot_labels[] = {&spot_label};
static Acms__V1__KubernetesToleration tol = ACMS__V1__KUBERNETES_TOLERATION__INIT;
static Acms__V1__KubernetesToleration *tols[] = {&tol};
static char *egress[] = {"10.20.0.0/16:443", "192.168.0.0/24"};

static int setup(void **state)
{
    (void)state;
    ks.instance_type_label = "example.com/type";
    ks.service_account = "acms-step-prod";
    spot_label.key = "karpenter.sh/capacity-type";
    spot_label.value = "spot";
    ks.spot_node_labels = spot_labels;
    ks.n_spot_node_labels = 1;
    tol.key = "spot";
    tol.value = "true";
    ks.spot_tolerations = tols;
    ks.n_spot_tolerations = 1;
    ks.egress_allow = egress;
    ks.n_egress_allow = 2;
    return 0;
}

static char *cmd[] = {"python", "train.py", "--epochs", "3"};

static k8s_pod_in input(const k8s_env *env, size_t nenv, int interruptible)
{
    k8s_pod_in in = {.name = "acms-train-0123456789-a2", .ns = "acms-steps", .run_id = "run-1", .step = "train",
                     .pipeline = "churn", .attempt = 2, .image = "registry.example.com/train:1", .command = cmd,
                     .ncommand = 4, .env = env, .nenv = nenv, .memory_mb = 15360, .vcpu = 3.5, .gpus = 1,
                     .volume_gb = 50, .max_runtime_s = 300, .instance_type = "ml.g4dn.xlarge",
                     .interruptible = interruptible, .network_isolated = 1, .ks = &ks};
    return in;
}

static void test_pod_fields(void **state)
{
    (void)state;
    k8s_env env[] = {{.name = "EPOCHS", .value = "3"}, {.name = "DB_PASSWORD", .secret_name = "acms-train-0123456789-a2",
                                                        .secret_key = "k0"}};
    k8s_pod_in in = input(env, 2, 0);
    char *s = k8s_pod_json(&in);
    cJSON *p = cJSON_Parse(s);
    assert_non_null(p);
    const cJSON *labels = at(p, "metadata/labels");
    assert_string_equal(cJSON_GetObjectItem(labels, "acms.io/run")->valuestring, "run-1");
    assert_string_equal(cJSON_GetObjectItem(labels, "acms.io/step")->valuestring, "train");
    assert_string_equal(cJSON_GetObjectItem(labels, "acms.io/attempt")->valuestring, "2");
    assert_string_equal(cJSON_GetObjectItem(labels, "acms.io/isolated")->valuestring, "true");
    assert_string_equal(str(p, "spec/restartPolicy"), "Never");
    assert_int_equal(at(p, "spec/activeDeadlineSeconds")->valueint, 300);
    assert_string_equal(str(p, "spec/serviceAccountName"), "acms-step-prod");
    assert_true(cJSON_IsFalse(at(p, "spec/automountServiceAccountToken")));
    assert_string_equal(cJSON_GetObjectItem(at(p, "spec/nodeSelector"), "example.com/type")->valuestring,
                        "ml.g4dn.xlarge");
    assert_null(at(p, "spec/tolerations"));
    assert_null(at(p, "spec/affinity"));
    assert_true(cJSON_IsTrue(at(p, "spec/securityContext/runAsNonRoot")));
    assert_string_equal(str(p, "spec/securityContext/seccompProfile/type"), "RuntimeDefault");
    const cJSON *c = at(p, "spec/containers/0");
    assert_string_equal(str(c, "image"), "registry.example.com/train:1");
    assert_string_equal(str(c, "command/0"), "python");
    assert_int_equal(cJSON_GetArraySize(at(c, "args")), 3);
    assert_true(cJSON_IsTrue(at(c, "securityContext/readOnlyRootFilesystem")));
    assert_true(cJSON_IsFalse(at(c, "securityContext/allowPrivilegeEscalation")));
    const cJSON *req = at(c, "resources/requests"), *lim = at(c, "resources/limits");
    assert_string_equal(cJSON_GetObjectItem(req, "memory")->valuestring, "15360Mi");
    assert_string_equal(cJSON_GetObjectItem(req, "cpu")->valuestring, "3500m");
    assert_string_equal(cJSON_GetObjectItem(req, "nvidia.com/gpu")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItem(req, "ephemeral-storage")->valuestring, "50Gi");
    char *a = cJSON_PrintUnformatted(req), *b = cJSON_PrintUnformatted(lim);
    assert_string_equal(a, b); /* requests = limits */
    const cJSON *e1 = at(c, "env/1");
    assert_string_equal(str(e1, "valueFrom/secretKeyRef/key"), "k0");
    assert_null(cJSON_GetObjectItem(e1, "value"));
    assert_string_equal(str(p, "spec/volumes/0/emptyDir/sizeLimit"), "50Gi");
    free(a);
    free(b);
    cJSON_Delete(p);
    free(s);
}

static void test_spot(void **state)
{
    (void)state;
    k8s_pod_in in = input(NULL, 0, 1);
    char *s = k8s_pod_json(&in);
    cJSON *p = cJSON_Parse(s);
    assert_string_equal(str(p, "spec/tolerations/0/key"), "spot");
    assert_string_equal(str(p, "spec/tolerations/0/operator"), "Equal");
    assert_string_equal(str(p, "spec/tolerations/0/effect"), "NoSchedule");
    const cJSON *e = at(p, "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
                           "nodeSelectorTerms/0/matchExpressions/0");
    assert_string_equal(str(e, "key"), "karpenter.sh/capacity-type");
    assert_string_equal(str(e, "values/0"), "spot");
    cJSON_Delete(p);
    free(s);
}

static void test_secret_only_in_secret(void **state)
{
    (void)state;
    k8s_env env[] = {{.name = "DB_PASSWORD", .secret_name = "acms-train-0123456789-a2", .secret_key = "k0"}};
    k8s_pod_in in = input(env, 1, 0);
    char *keys[] = {"k0"}, *values[] = {"s3cr3t-value"};
    char *pod = k8s_pod_json(&in), *sec = k8s_secret_json(&in, "uid-1", keys, values, 1);
    assert_null(strstr(pod, "s3cr3t-value"));
    cJSON *j = cJSON_Parse(sec);
    assert_string_equal(str(j, "stringData/k0"), "s3cr3t-value");
    assert_string_equal(str(j, "metadata/ownerReferences/0/kind"), "Pod");
    assert_string_equal(str(j, "metadata/ownerReferences/0/uid"), "uid-1");
    assert_string_equal(str(j, "metadata/name"), "acms-train-0123456789-a2");
    cJSON_Delete(j);
    free(pod);
    free(sec);
}

static void test_policy(void **state)
{
    (void)state;
    char *s = k8s_policy_json("run-1", "acms-steps", &ks);
    cJSON *j = cJSON_Parse(s);
    assert_string_equal(str(j, "spec/policyTypes/0"), "Egress");
    assert_string_equal(cJSON_GetObjectItem(at(j, "spec/podSelector/matchLabels"), "acms.io/run")->valuestring, "run-1");
    assert_int_equal(cJSON_GetArraySize(at(j, "spec/egress")), 3);
    assert_int_equal(at(j, "spec/egress/0/ports/0/port")->valueint, 53);
    assert_string_equal(str(j, "spec/egress/1/to/0/ipBlock/cidr"), "10.20.0.0/16");
    assert_int_equal(at(j, "spec/egress/1/ports/0/port")->valueint, 443);
    assert_string_equal(str(j, "spec/egress/2/to/0/ipBlock/cidr"), "192.168.0.0/24");
    assert_null(at(j, "spec/egress/2/ports"));
    cJSON_Delete(j);
    free(s);
}

static void test_names(void **state)
{
    (void)state;
    char a[K8S_NAME_MAX], b[K8S_NAME_MAX], l[K8S_LABEL_MAX];
    k8s_pod_name("r1", "Feature Stats!", 3, a);
    k8s_pod_name("r1", "Feature Stats!", 3, b);
    assert_string_equal(a, b);
    assert_true(!strncmp(a, "acms-feature-stats-", 19));
    assert_true(strlen(a) <= 63);
    k8s_pod_name("r2", "Feature Stats!", 3, b);
    assert_string_not_equal(a, b); /* another run, another name */
    for (const char *p = a; *p; p++)
        assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
    char longstep[300];
    memset(longstep, 'x', sizeof longstep - 1);
    longstep[sizeof longstep - 1] = '\0';
    k8s_label_value(longstep, l);
    assert_true(strlen(l) <= 63);
    k8s_label_value("_a b_", l);
    assert_true(l[0] == 'a' && l[strlen(l) - 1] != '_');
    char q[32];
    k8s_quantity_cpu(4, q, sizeof q);
    assert_string_equal(q, "4");
    k8s_quantity_cpu(0.25, q, sizeof q);
    assert_string_equal(q, "250m");
}

static void test_secret_ref(void **state)
{
    (void)state;
    char n[256], k[256];
    assert_int_equal(k8s_secret_ref("secret://k8s/model-registry#api-key", n, sizeof n, k, sizeof k), 1);
    assert_string_equal(n, "model-registry");
    assert_string_equal(k, "api-key");
    assert_int_equal(k8s_secret_ref("secret://k8s/Upper#k", n, sizeof n, k, sizeof k), 0);
    assert_int_equal(k8s_secret_ref("secret://k8s/name", n, sizeof n, k, sizeof k), 0);
    assert_int_equal(k8s_secret_ref("secret://env/X", n, sizeof n, k, sizeof k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_fields), cmocka_unit_test(test_spot),  cmocka_unit_test(test_secret_only_in_secret),
        cmocka_unit_test(test_policy),     cmocka_unit_test(test_names), cmocka_unit_test(test_secret_ref),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

# shellcheck shell=bash
# k8s_cluster.sh: a bash library that runs a Kubernetes control plane on loopback for the
# kubernetes executor's tests, from the binaries tools/k8s-testenv.sh builds: Debian's etcd, the
# real kube-apiserver (TLS, client certificates, token users, RBAC, an audit log of every request),
# kube-scheduler, kube-controller-manager (garbage collector only), kwok playing the nodes' kubelets
# from tests/k8s/kwok/ (Stages: pod lifecycles; ClusterLogs: the log endpoint; Metric +
# ClusterResourceUsage: the kubelet's resource metrics) and metrics-server behind the aggregation
# layer (metrics.k8s.io). Every process is recorded in $STACK_DIR/k8s-*.pid and stopped by
# k8s_cluster_stop, never found by name. Source after tests/lib/stack.sh.
#
#   k8s_cluster_available || { echo SKIP ...; exit 0; }
#   k8s_cluster_start                # needs STACK_DIR; exports K8S_API K8S_CA K8S_ADMIN_TOKEN K8S_DIR
#   k8s_add_token_user NAME          # prints a token file for user NAME (no group, no permission)
#   k8s_node NAME INSTANCE_TYPE CPU MEMORY [GPUS] [spot]
#   kc GET /api/v1/...               # curl as the cluster admin; kc_json PATH -> the body
#   k8s_cluster_stop
# K8S_KWOK_LOG: the CRI-format file kwok serves as every step container's log.
# K8S_METRICS_NODE: the node whose kubelet metrics kwok serves (one kwok serves every node on one
# address, and its Metric names the node it reports); K8S_HUNGRY_MEMORY: the working set it reports
# for a container of image tag "hungry" (tests/k8s/kwok/metrics.yaml).

K8S_ENV_DIR=${K8S_ENV_DIR:-$("$REPO/tools/k8s-testenv.sh" --print-dir)}

k8s_cluster_available() {
  local c
  for c in kube-apiserver kube-scheduler kube-controller-manager kwok metrics-server; do
    [ -x "$K8S_ENV_DIR/bin/$c" ] || return 1
  done
  command -v etcd >/dev/null && command -v openssl >/dev/null
}

k8s__spawn() { # NAME ARGS...: background process recorded in $STACK_DIR/k8s-NAME.pid
  local name=$1; shift
  "$@" >"$STACK_DIR/k8s-$name.log" 2>&1 &
  echo $! >"$STACK_DIR/k8s-$name.pid"
}

# Stops the control plane; first says each component's peak resident memory (VmHWM).
k8s_cluster_stop() {
  local f pid hwm peaks=""
  # dependents first; nothing here holds state worth a graceful stop (an open watch would
  # delay a TERM by a minute)
  for f in metrics-server kwok controller-manager scheduler apiserver etcd; do
    [ -f "$STACK_DIR/k8s-$f.pid" ] || continue
    pid=$(cat "$STACK_DIR/k8s-$f.pid")
    hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$hwm" ] && peaks="$peaks $f $((hwm / 1024))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$STACK_DIR/k8s-$f.pid"
  done
  [ -z "$peaks" ] || echo "k8s_cluster: peak RSS (MB):$peaks" >&2
}

# The test PKI: one CA; one certificate (CN admin, O system:masters; serverAuth and clientAuth for
# 127.0.0.1 and localhost) that the API server, kwok and metrics-server serve with and the control
# plane components authenticate with (the aggregation layer checks the name metrics-server.kube-system.svc).
k8s__pki() {
  local d=$K8S_DIR/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=acms-test-ca -keyout "$d/ca.key" \
    -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" -keyout "$d/admin.key" \
    -out "$d/admin.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:metrics-server.kube-system.svc\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext" -out "$d/admin.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  K8S_CA=$d/ca.crt
  cat >"$K8S_DIR/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "$K8S_API", certificate-authority: "$d/ca.crt"}}]
users: [{name: admin, user: {client-certificate: "$d/admin.crt", client-key: "$d/admin.key"}}]
contexts: [{name: t, context: {cluster: t, user: admin}}]
current-context: t
EOF
}

kc() { # METHOD PATH [curl args...]: as the admin user; fails on an HTTP error
  local m=$1 p=$2; shift 2
  curl -fsS -X "$m" --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_ADMIN_TOKEN" "$K8S_API$p" "$@"
}
kc_post() { # PATH JSON
  kc POST "$1" -H 'Content-Type: application/json' -d "$2" >/dev/null
}

k8s_add_token_user() { # NAME -> path of its token file (takes effect at the API server's start)
  local t
  t=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  printf '%s,%s,%s\n' "$t" "$1" "$1" >>"$K8S_DIR/tokens.csv"
  echo "$t" >"$K8S_DIR/$1.token"
  echo "$K8S_DIR/$1.token"
}

# TaintNodesByCondition off: a new node is not tainted not-ready (the node lifecycle controller,
# not run here, would lift the taint once kwok reports it Ready).
# --watch-cache=false: Debian's etcd 3.4.23 has no watch progress requests, and the watch cache
# refuses the streaming lists ("watch list") that client-go 1.36 starts every informer with (kwok's
# pod informer then re-lists with backoff and sees a Pod's changes up to a minute late); without the
# cache the API server serves them from etcd's own watch.
k8s__apiserver() {
  local etcd_port=$1 api_port=$2
  cat >"$K8S_DIR/audit.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Request
    resources: [{group: "", resources: [pods, pods/binding, pods/resize, pods/eviction, secrets]}, {group: networking.k8s.io}]
    verbs: [create, delete, patch]
  - level: Metadata
    resources: [{group: "", resources: [pods/log]}, {group: metrics.k8s.io}]
  - level: None
EOF
  k8s__spawn apiserver "$K8S_ENV_DIR/bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$K8S_DIR/pki/admin.crt" --tls-private-key-file="$K8S_DIR/pki/admin.key" \
    --client-ca-file="$K8S_CA" --token-auth-file="$K8S_DIR/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://acms.test --service-account-key-file="$K8S_DIR/pki/sa.key" \
    --service-account-signing-key-file="$K8S_DIR/pki/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --kubelet-certificate-authority="$K8S_CA" --kubelet-preferred-address-types=InternalIP \
    --kubelet-client-certificate="$K8S_DIR/pki/admin.crt" --kubelet-client-key="$K8S_DIR/pki/admin.key" \
    --proxy-client-cert-file="$K8S_DIR/pki/admin.crt" --proxy-client-key-file="$K8S_DIR/pki/admin.key" \
    --requestheader-client-ca-file="$K8S_CA" --requestheader-allowed-names=admin \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --audit-policy-file="$K8S_DIR/audit.yaml" --audit-log-path="$K8S_DIR/audit.log" --audit-log-format=json \
    --watch-cache=false --disable-admission-plugins=TaintNodesByCondition
}

k8s__kwok_config() { # kwok's stages, logs and metrics (tests/k8s/kwok/*.yaml), with this run's paths
  K8S_KWOK_LOG=$K8S_DIR/container.log
  printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)" "step output served by the node's kubelet (kwok)" \
    >"$K8S_KWOK_LOG"
  local f
  for f in "$REPO"/tests/k8s/kwok/*.yaml; do
    echo "---"
    sed -e "s|@LOGS_FILE@|$K8S_KWOK_LOG|g" -e "s|@METRICS_NODE@|$K8S_METRICS_NODE|g" \
      -e "s|@HUNGRY_MEMORY@|${K8S_HUNGRY_MEMORY:-1Gi}|g" "$f"
  done >"$K8S_DIR/kwok.yaml"
}

k8s_cluster_start() {
  K8S_DIR=$STACK_DIR/k8s
  K8S_METRICS_NODE=${K8S_METRICS_NODE:-node-metrics}
  mkdir -p "$K8S_DIR"
  local etcd_port peer_port api_port kwok_port ms_port
  etcd_port=$(stack_free_port) peer_port=$(stack_free_port) api_port=$(stack_free_port)
  kwok_port=$(stack_free_port) ms_port=$(stack_free_port)
  K8S_API=https://127.0.0.1:$api_port
  k8s__pki
  K8S_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  printf '%s,admin-token,admin-token,system:masters\n' "$K8S_ADMIN_TOKEN" >>"$K8S_DIR/tokens.csv"
  export K8S_API K8S_CA K8S_ADMIN_TOKEN K8S_DIR K8S_METRICS_NODE
  k8s__spawn etcd etcd --data-dir "$K8S_DIR/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port"
  k8s__apiserver "$etcd_port" "$api_port"
  wait_for 180 "kc GET /readyz >/dev/null 2>&1" "kube-apiserver ready ($K8S_API)"
  k8s__spawn controller-manager "$K8S_ENV_DIR/bin/kube-controller-manager" --kubeconfig="$K8S_DIR/admin.kubeconfig" \
    --controllers=garbagecollector --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
  k8s__spawn scheduler "$K8S_ENV_DIR/bin/kube-scheduler" --kubeconfig="$K8S_DIR/admin.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
  k8s__kwok_config
  k8s__spawn kwok "$K8S_ENV_DIR/bin/kwok" --kubeconfig="$K8S_DIR/admin.kubeconfig" --config="$K8S_DIR/kwok.yaml" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --node-ip=127.0.0.1 --node-port="$kwok_port" \
    --server-address="127.0.0.1:$kwok_port" --tls-cert-file="$K8S_DIR/pki/admin.crt" \
    --tls-private-key-file="$K8S_DIR/pki/admin.key"
  k8s__spawn metrics-server "$K8S_ENV_DIR/bin/metrics-server" --bind-address=127.0.0.1 --secure-port="$ms_port" \
    --kubeconfig="$K8S_DIR/admin.kubeconfig" --authentication-kubeconfig="$K8S_DIR/admin.kubeconfig" \
    --authorization-kubeconfig="$K8S_DIR/admin.kubeconfig" --tls-cert-file="$K8S_DIR/pki/admin.crt" \
    --tls-private-key-file="$K8S_DIR/pki/admin.key" --kubelet-certificate-authority="$K8S_CA" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port --metric-resolution=10s \
    --kubelet-request-timeout=5s
  k8s__metrics_apiservice "$ms_port"
  wait_for 120 "kc GET /apis/metrics.k8s.io/v1beta1 >/dev/null 2>&1" "metrics.k8s.io served (metrics-server behind the aggregation layer)"
}

# metrics.k8s.io through the aggregation layer: an ExternalName Service (localhost) and the APIService
k8s__metrics_apiservice() {
  local ca
  ca=$(base64 -w0 <"$K8S_CA")
  kc_post /api/v1/namespaces/kube-system/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"metrics-server"},
    "spec":{"type":"ExternalName","externalName":"localhost"}}'
  kc_post /apis/apiregistration.k8s.io/v1/apiservices '{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService",
    "metadata":{"name":"v1beta1.metrics.k8s.io"},"spec":{"group":"metrics.k8s.io","version":"v1beta1",
    "service":{"namespace":"kube-system","name":"metrics-server","port":'"$1"'},"caBundle":"'"$ca"'",
    "groupPriorityMinimum":100,"versionPriority":100}}'
}

# k8s_node NAME INSTANCE_TYPE CPU MEMORY [GPUS] [spot]: a node kwok plays, labelled and sized like
# an instance of that type (spot: capacity-type label and NoSchedule taint, as Karpenter makes them)
k8s_node() {
  local name=$1 type=$2 cpu=$3 mem=$4 gpus=${5:-0} spot=${6:-} labels taints res
  labels='"node.kubernetes.io/instance-type":"'$type'","kubernetes.io/hostname":"'$name'","type":"kwok"'
  taints='[]'
  if [ "$spot" = spot ]; then
    labels=$labels',"karpenter.sh/capacity-type":"spot"'
    taints='[{"key":"karpenter.sh/capacity-type","value":"spot","effect":"NoSchedule"}]'
  fi
  res='"cpu":"'$cpu'","memory":"'$mem'","pods":"110","ephemeral-storage":"200Gi"'
  [ "$gpus" != 0 ] && res=$res',"nvidia.com/gpu":"'$gpus'"'
  kc_post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"'"$name"'",
    "annotations":{"kwok.x-k8s.io/node":"fake"},"labels":{'"$labels"'}},"spec":{"taints":'"$taints"'},
    "status":{"capacity":{'"$res"'},"allocatable":{'"$res"'}}}'
}

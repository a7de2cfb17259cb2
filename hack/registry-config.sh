#!/usr/bin/env bash
# Writes what a local registry needs into DIR: a serving certificate for 127.0.0.1 signed by the
# local cluster's CA (.cluster/pki, so the operator trusts it with --registry-ca), an htpasswd
# file for USER (password on stdin), and config.yml for `registry serve DIR/config.yml` on
# 127.0.0.1:PORT with storage under DIR/storage. The caller runs (and ends) the registry.
# USER "-" serves without authentication (the real node's registry, which containerd pulls the
# pause image from; it listens on 127.0.0.1 only) and reads no password.
#   hack/registry-config.sh DIR PORT USER < password
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 DIR PORT USER < password" >&2; exit 2; }
dir="$1" port="$2" user="$3"
pki="$root/.cluster/pki"
[ -f "$pki/ca.key" ] || { echo "registry-config: no cluster CA in $pki (make cluster)" >&2; exit 1; }
bin="$("$here/build-registry.sh")"
mkdir -p "$dir/storage"
(
  cd "$dir"
  umask 077
  openssl genrsa -out tls.key 2048 2>/dev/null
  cat >tls.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
  openssl req -new -key tls.key -subj "/CN=cutover-local-registry" -out tls.csr
  openssl x509 -req -in tls.csr -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -CAserial "$dir/ca.srl" -days 30 -extfile tls.ext -out tls.crt 2>/dev/null
  rm -f tls.csr tls.ext ca.srl
  if [ "$user" != - ]; then "$bin/htpasswd" "$user" >htpasswd; fi
)
auth=""
if [ "$user" != - ]; then
  auth="auth:
  htpasswd:
    realm: cutover-local-registry
    path: $dir/htpasswd"
fi
cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $dir/tls.crt
    key: $dir/tls.key
$auth
YML
echo "$bin/registry"

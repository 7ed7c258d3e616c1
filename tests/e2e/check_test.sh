#!/usr/bin/env bash
# End-to-end: `mitmscope check` against TLS servers on loopback (openssl s_server on 127.40.0.N), names given with
# --resolve so nothing is looked up: a genuine site (its CA is the test's browser trust store), a site forged by a
# known interceptor (its CA is in a --known-roots folder), one forged under a root installed on the test's
# machine tree (--root), one with a self-signed certificate, one that does not answer, and one that resolves to a
# private address without --allow-private. Usage: check_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
cd "$work" || exit 1
ca() {  # ca NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -subj "/O=check test/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -days 30 -out "$1.pem" 2>/dev/null
}
leaf() {  # leaf NAME CA: a certificate for NAME signed by CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$1" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 10 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
ca public-root
ca interceptor-root
ca local-root
leaf good.example public-root
leaf facebook.com interceptor-root
leaf vk.com local-root
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.example.key -subj /CN=self.example \
  -addext subjectAltName=DNS:self.example -days 10 -out self.example.pem 2>/dev/null
mkdir -p known-roots machine/etc/ssl/certs
cp interceptor-root.pem known-roots/
cat public-root.pem local-root.pem >machine/etc/ssl/certs/ca-certificates.crt
port=$((20000 + RANDOM % 20000))
n=1
for name in good.example facebook.com vk.com self.example; do
  openssl s_server -quiet -www -accept "127.40.0.$n:$port" -cert "$name.pem" -key "$name.key" >/dev/null 2>&1 &
  pids+=($!)
  n=$((n + 1))
done
for _ in $(seq 1 50); do
  ready=0
  for n in 1 2 3 4; do (exec 3<>"/dev/tcp/127.40.0.$n/$port") 2>/dev/null && ready=$((ready + 1)); done
  [ "$ready" -eq 4 ] && break
  sleep 0.1
done
printf 'good.example\nfacebook.com\nvk.com\nself.example\nsilent.example\nprivate.example\n' >sites
common=(--sites sites --trust-store public-root.pem --known-roots known-roots --root machine --port "$port"
        --connect-timeout 2 --handshake-timeout 3
        --resolve good.example=127.40.0.1 --resolve facebook.com=127.40.0.2 --resolve vk.com=127.40.0.3
        --resolve self.example=127.40.0.4 --resolve silent.example=127.40.0.5)

"$mitmscope" check "${common[@]}" --resolve private.example=127.40.0.1 --allow-private --json >check.json 2>check.err
check "a known interceptor on the path: exit 11" 11 $?
kind() { jq -r --arg site "$1" '.sites[] | select(.site == $site) | .kind' check.json; }
check "the genuine site" genuine "$(kind good.example)"
check "the site forged by the known interceptor" forged_known_interceptor "$(kind facebook.com)"
check "the site forged under a root of this machine" forged_local_root "$(kind vk.com)"
check "the self-signed site is untrusted" untrusted "$(kind self.example)"
check "the silent address was not checked" unreachable "$(kind silent.example)"
check "each site checked once, in order" "good.example facebook.com vk.com self.example silent.example private.example" \
  "$(jq -r '[.sites[].site] | join(" ")' check.json)"
check "the local root is named" 1 "$(jq '[.sites[] | select(.site == "vk.com") | select(.detail | test("local-root"))] | length' check.json)"

# Without --allow-private a name that resolves to loopback is not contacted.
"$mitmscope" check --sites <(echo private.example) --resolve private.example=127.40.0.1 --port "$port" \
  --trust-store public-root.pem --root machine --json >private.json 2>/dev/null
check "a private address from the resolver is refused: nothing checked, exit 12" "12 unreachable" \
  "$? $(jq -r '.sites[0].kind' private.json)"

# The plain-words text, and the all-genuine case.
"$mitmscope" check "${common[@]}" --allow-private >check.txt 2>&1
grep -q "Your connection is intercepted: 2 of 6 sites answered with forged certificates" check.txt
check "the text says the connection is intercepted and how much" 0 $?
"$mitmscope" check --sites <(echo good.example) --resolve good.example=127.40.0.1 --port "$port" --allow-private \
  --trust-store public-root.pem --root machine >good.txt 2>&1
check "only genuine answers: exit 0" 0 $?
grep -q "No interception seen: 1 sites answered genuinely" good.txt
check "only genuine answers: said so" 0 $?
printf 'good.example\nbad name!\n' >bad-sites
"$mitmscope" check --sites bad-sites --resolve good.example=127.40.0.1 --port "$port" --allow-private \
  --trust-store public-root.pem --root machine >/dev/null 2>bad.err
check "a bad site name is skipped and reported with its line; the others are checked (exit 0)" "0 1" \
  "$? $(grep -c 'bad-sites: line 2: skipped' bad.err)"

finish

#!/usr/bin/env bash
# Captures the first ClientHello of Debian's chromium, firefox-esr and curl, each visiting a listener on
# 127.0.0.1 that saves what it reads until the ClientHello is whole and then closes (no TLS is answered).
# The built-in profiles of tls/client_hello_profile were made from these; run it again after a browser
# update and compare (tests/tls/client_hello_builder_test.cc says what must match).
#   scripts/capture-client-hellos.sh OUT_DIR [PORT=24443]
# Traffic: loopback only.
set -euo pipefail
out=${1:?OUT_DIR}
port=${2:-24443}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One listener per client: saves each connection's bytes up to the whole ClientHello as PREFIX-N.bin.
listen() {
  rm -f "$work/ready"
  python3 - "$port" "$out/$1" "$2" "$work/ready" <<'PYTHON' &
import socket, sys
port, prefix, count, ready = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(8)
server.settimeout(60)
open(ready, "w").close()
def whole(data):   # the handshake message's length against what the records carried so far
    body, at = b"", 0
    while at + 5 <= len(data):
        length = int.from_bytes(data[at + 3:at + 5], "big")
        body, at = body + data[at + 5:at + 5 + length], at + 5 + length
    return len(body) >= 4 and len(body) >= 4 + int.from_bytes(body[1:4], "big")
for n in range(count):
    connection, _ = server.accept()
    connection.settimeout(5)
    data = b""
    while not whole(data):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    open(f"{prefix}-{n}.bin", "wb").write(data)
    connection.close()
PYTHON
  for _ in $(seq 1 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
}

listen chromium 2
for n in 0 1; do
  timeout 30 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$work/chromium-$n" \
    --screenshot="$work/shot.png" "https://localhost:$port/" >/dev/null 2>&1 || true
done
wait
listen firefox-esr 1
timeout 60 firefox-esr --headless --profile "$(mkdir -p "$work/firefox" && echo "$work/firefox")" \
  --screenshot "$work/shot.png" "https://localhost:$port/" >/dev/null 2>&1 || true
wait
listen curl 1
curl -sk --max-time 5 --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/" >/dev/null 2>&1 || true
wait
{
  echo "captured $(date -u +%FT%TZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
  chromium --version 2>/dev/null | head -1
  firefox-esr --version 2>/dev/null
  curl --version | head -1
} >"$out/versions.txt"
ls -l "$out"

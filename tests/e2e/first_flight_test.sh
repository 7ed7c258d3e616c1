#!/usr/bin/env bash
# The first-flight client held to OpenSSL's whole handshake, against servers nobody here wrote: Debian's
# `openssl s_server` (TLS 1.3 with each suite, each key share group, a group no profile sends a share for, which
# costs a HelloRetryRequest; TLS 1.2 with ECDHE and plain RSA key exchange, GCM, ChaCha20 and CBC suites; RSA and
# ECDSA certificates under a CA) and Debian's nginx. Every server is probed with `--client-hello openssl` (the
# reference) and with every profile. Where a profile offers what the server requires, its result must equal the
# reference's: the same chain (every certificate's SHA-256, in order), version, suite (where the server allows one),
# verdict and outcome. Where it does not (kz-2019 offers no TLS 1.3, minimal few suites), the server's refusal must
# be a clear error. Then the strategies (discover --strategies), on the wire: tcpdump captures what each sends to
# s_server, and each must be what it says (two TCP segments cut inside the name, two records, 1,400 bytes, the name
# in upper or mixed case, http/1.1 alone) and still read the same chain. Loopback only.
# Usage: first_flight_test.sh MITMSCOPE
set -u
mitmscope=$(realpath "$1")
work=$(mktemp -d)
port=${MITMSCOPE_TEST_FLIGHT_PORT:-24480}
cleanup() { pkill -f "s_server -accept 127.0.0.1:$port" 2>/dev/null; [ -s "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A CA, and an RSA and an ECDSA leaf for flight.lab under it.
cd "$work" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 -subj "/CN=first flight test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.pem 2>/dev/null
for kind in rsa ec; do
  if [ "$kind" = rsa ]; then key_options=(-newkey rsa:2048); else key_options=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
  openssl req -new "${key_options[@]}" -nodes -subj /CN=flight.lab -keyout "$kind.key" -out "$kind.csr" 2>/dev/null
  printf 'subjectAltName=DNS:flight.lab\n' >ext.cnf
  openssl x509 -req -in "$kind.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out "$kind.pem" 2>/dev/null
done

python3 - "$mitmscope" "$work" "$port" <<'PYTHON'
import json, socket, subprocess, sys, time
mitmscope, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
clients = ["openssl", "curl", "chromium", "firefox-esr", "safari", "kz-2019", "minimal"]

def profile(name):
    out = json.loads(subprocess.run([mitmscope, "client-hello", name, "--json"], capture_output=True, text=True, check=True).stdout)
    fields = out["ja3_text"].split(",")
    return {"suites": {int(s) for s in fields[1].split("-") if s}, "groups": {int(g) for g in fields[3].split("-") if g},
            "tls13": out["ja4"].startswith("t13")}
profiles = {name: profile(name) for name in clients[1:]}

SUITES = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302, "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
          "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F, "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
          "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9, "ECDHE-RSA-AES128-SHA": 0xC013, "AES128-SHA": 0x002F}
GROUPS = {"X25519": 0x001D, "P-256": 0x0017, "P-384": 0x0018}
# name, certificate, TLS 1.3?, the one suite allowed (or None), the one group allowed (or None)
cases = [("tls13-aes128-rsa", "rsa", True, "TLS_AES_128_GCM_SHA256", None),
         ("tls13-aes256-ecdsa", "ec", True, "TLS_AES_256_GCM_SHA384", None),
         ("tls13-chacha20-rsa", "rsa", True, "TLS_CHACHA20_POLY1305_SHA256", None),
         ("tls13-x25519-ecdsa", "ec", True, None, "X25519"),
         ("tls13-p256-rsa (curl, minimal: HelloRetryRequest)", "rsa", True, None, "P-256"),
         ("tls13-p384-ecdsa (HelloRetryRequest)", "ec", True, None, "P-384"),
         ("tls12-ecdhe-rsa-aes128-gcm", "rsa", False, "ECDHE-RSA-AES128-GCM-SHA256", None),
         ("tls12-ecdhe-rsa-aes256-gcm", "rsa", False, "ECDHE-RSA-AES256-GCM-SHA384", None),
         ("tls12-ecdhe-ecdsa-chacha20", "ec", False, "ECDHE-ECDSA-CHACHA20-POLY1305", None),
         ("tls12-ecdhe-rsa-aes128-cbc", "rsa", False, "ECDHE-RSA-AES128-SHA", None),
         ("tls12-rsa-key-exchange", "rsa", False, "AES128-SHA", None)]

def wait_for(port_number):
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port_number)) == 0: return True
        time.sleep(0.05)
    return False

def probe(client, port_number):
    run = subprocess.run([mitmscope, "probe", f"127.0.0.1:{port_number}", "--sni", "flight.lab", "--allow-private", "--json",
                          "--trust-store", f"{work}/ca.pem", "--client-hello", client, "--handshake-timeout", "5"],
                         capture_output=True, text=True, timeout=30)
    return json.loads(run.stdout)

def summary(result):
    certificates = result["server_certificates"]
    chain = [certificates["certificate"]["sha256"]] + [c["sha256"] for c in certificates["chain"]] if certificates else []
    hello = result["server_hello"] or {}
    return {"complete": result["handshake_complete"], "chain": chain, "version": (hello.get("version") or {}).get("name"),
            "suite": (hello.get("cipher_suite") or {}).get("name"), "verdict": result["interception"]["verdict"], "outcome": result["outcome"],
            "error": result["error"]["code"] if result["error"] else None}

def supported(name, tls13, suite, group):
    p = profiles[name]
    if tls13 and not p["tls13"]: return False
    if suite and SUITES[suite] not in p["suites"]: return False
    if group and GROUPS[group] not in p["groups"]: return False
    return True

failures, checks, rows = 0, 0, []
def compare(case, results, tls13, suite, group, suite_fixed):
    global failures, checks
    reference = summary(results["openssl"])
    cells = [f"{reference['version']} {reference['suite']}, {len(reference['chain'])} certificates, {reference['outcome']}"
             if reference["complete"] else f"FAILED {reference['error']}"]
    if not reference["complete"] or len(reference["chain"]) != 2 or reference["verdict"] != "clean":
        failures += 1
        print(f"FAIL {case}: the reference (openssl) did not read the two-certificate chain, clean: {reference}")
    for name in clients[1:]:
        got = summary(results[name])
        checks += 1
        if supported(name, tls13, suite, group):
            # A server that speaks both versions gives a TLS 1.2 profile TLS 1.2, and a suite of it.
            same_version = profiles[name]["tls13"] or reference["version"] != "TLSv1.3"
            keys = ["complete", "chain", "verdict", "outcome"] + (["version"] if same_version else []) + \
                   (["suite"] if suite_fixed else [])
            differ = [k for k in keys if got[k] != reference[k]]
            cells.append(("same" if same_version else f"same but {got['version']}") if not differ else "DIFFERS: " + ", ".join(f"{k} {got[k]} vs {reference[k]}" for k in differ))
            if differ:
                failures += 1
                print(f"FAIL {case} {name}: {differ}: {got} vs {reference}")
        else:
            ok = not got["complete"] and got["error"] in ("tls_alert", "tls_protocol_error")
            cells.append(f"refused ({got['error']})" if ok else f"UNEXPECTED {got}")
            if not ok:
                failures += 1
                print(f"FAIL {case} {name}: the server cannot answer this profile, yet: {got}")
    rows.append((case, cells))

for number, (case, kind, tls13, suite, group) in enumerate(cases):
    server_port = port + number
    arguments = ["openssl", "s_server", "-accept", f"127.0.0.1:{server_port}", "-cert", f"{work}/{kind}.pem",
                 "-key", f"{work}/{kind}.key", "-cert_chain", f"{work}/ca.pem", "-www", "-quiet",
                 "-tls1_3" if tls13 else "-tls1_2"]
    if suite: arguments += ["-ciphersuites", suite] if tls13 else ["-cipher", suite + ":@SECLEVEL=0"]
    if group: arguments += ["-groups", group]
    server = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for(server_port):
            failures += 1; print(f"FAIL {case}: s_server did not start"); continue
        compare(case, {c: probe(c, server_port) for c in clients}, tls13, suite, group, suite is not None)
    finally:
        server.kill(); server.wait()

# nginx as a site runs it (TLS 1.2 and 1.3, its default suites), RSA, with the CA in the chain.
nginx_port = port + len(cases)
with open(f"{work}/full.pem", "w") as full:
    full.write(open(f"{work}/rsa.pem").read() + open(f"{work}/ca.pem").read())
open(f"{work}/nginx.conf", "w").write(f"""worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
  server {{
    listen 127.0.0.1:{nginx_port} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {work}/full.pem;
    ssl_certificate_key {work}/rsa.key;
    location / {{ return 200 "ok"; }}
  }}
}}
""")
nginx = subprocess.Popen(["nginx", "-e", f"{work}/nginx-error.log", "-c", f"{work}/nginx.conf", "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    if wait_for(nginx_port):
        compare("nginx (TLS 1.2 and 1.3)", {c: probe(c, nginx_port) for c in clients}, False, None, None, False)
    else:
        failures += 1; print("FAIL nginx did not start: " + open(f"{work}/nginx-error.log").read()[-300:])
finally:
    nginx.terminate(); nginx.wait()   # SIGTERM: the master stops its workers (SIGKILL would orphan them)

# The strategies on the wire: each connection's client payloads (TCP segments with data), captured by tcpdump.
def segments_by_connection(pcap):
    import struct
    data, out = open(pcap, "rb").read(), {}
    link = struct.unpack("<I", data[20:24])[0]
    at = 24
    while at + 16 <= len(data):
        length = struct.unpack("<I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + length]
        at += 16 + length
        ip = frame[14:] if link == 1 else frame[16:] if link == 113 else frame[4:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6: continue
        tcp = ip[(ip[0] & 15) * 4:]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload: out.setdefault(struct.unpack("!H", tcp[0:2])[0], []).append(payload)
    return list(out.values())   # in the order the connections first sent (the probes run one after the other), not
                                # by source port: the kernel's ephemeral ports need not rise (seen in CI)

strategy_port = nginx_port + 1
expect = {"plain": lambda s: len(s) == 1 and len(s[0]) == 517,
          "split-tcp-name": lambda s: len(s) >= 2 and b"flight.lab".startswith(s[0][-(len(s[0]) - s[0].find(b"fli")):]) and
                                      s[0].find(b"fli") > 0 and b"".join(s[:2])[5:].count(b"flight.lab") == 1,
          "split-record-name": lambda s: s[0][0] == 0x16 and int.from_bytes(s[0][3:5], "big") + 5 < len(s[0]) and
                                         s[0][5 + int.from_bytes(s[0][3:5], "big")] == 0x16 and b"flight.lab" not in s[0],
          "name-upper": lambda s: b"FLIGHT.LAB" in s[0], "name-mixed": lambda s: b"fLiGhT.lAb" in s[0],
          "pad-1400": lambda s: sum(map(len, s)) == 1405 and s[0][0] == 0x16,
          "alpn-http1": lambda s: b"\x08http/1.1" in s[0] and b"\x02h2" not in s[0]}
server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{strategy_port}", "-cert", f"{work}/rsa.pem",
                           "-key", f"{work}/rsa.key", "-cert_chain", f"{work}/ca.pem", "-www", "-quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
capture = subprocess.Popen(["tcpdump", "-i", "lo", "-nn", "-U", "-w", f"{work}/strategies.pcap",
                            f"tcp dst port {strategy_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    wait_for(strategy_port)
    time.sleep(1)   # tcpdump is listening
    results = {}
    for name in expect:
        run = subprocess.run([mitmscope, "probe", f"127.0.0.1:{strategy_port}", "--sni", "flight.lab", "--allow-private",
                              "--json", "--trust-store", f"{work}/ca.pem", "--client-hello", "curl"] +
                             ([] if name == "plain" else ["--strategy", name]), capture_output=True, text=True, timeout=30)
        results[name] = summary(json.loads(run.stdout))
        time.sleep(0.2)
    time.sleep(1)
finally:
    capture.terminate(); capture.wait(); server.kill(); server.wait()
connections = segments_by_connection(f"{work}/strategies.pcap")
if len(connections) != len(expect):
    failures += 1; print(f"FAIL strategies: {len(connections)} connections captured, {len(expect)} expected")
print("\n| strategy | client payload segments (bytes) | on the wire as it says | chain as plain's |\n|---|---|---|---|")
for (name, check), segments in zip(expect.items(), connections):
    first_flight = segments[:2] if name == "split-tcp-name" else segments[:1]
    wire_ok, same = check(segments), results[name]["complete"] and results[name]["chain"] == results["plain"]["chain"]
    print(f"| {name} | {[len(s) for s in first_flight]} | {'yes' if wire_ok else 'NO'} | {'yes' if same else 'NO'} |")
    checks += 2
    if not wire_ok: failures += 1; print(f"FAIL strategy {name}: on the wire {[bytes(s[:80]) for s in segments[:2]]}")
    if not same: failures += 1; print(f"FAIL strategy {name}: {results[name]} vs plain {results['plain']}")

print("\n| server | " + " | ".join(clients) + " |\n|---|" + "---|" * len(clients))
for case, cells in rows: print(f"| {case} | " + " | ".join(cells) + " |")
print(f"\n{checks - failures} of {checks} checks: profile results as the reference or refused as due, strategies as they say; {failures} failures")
sys.exit(1 if failures else 0)
PYTHON

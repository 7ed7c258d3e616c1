"""Slow-connection flood for bench/sentinel_load.sh and tests: N connections to HOST:PORT that each send the first
three bytes of a TLS record and then nothing, from one source address or from N; while they are all open, a visitor
(curl from its own source address) fetches the page. Prints one JSON line: the flood's connections that the server
kept open when the visitor came, and the visitor's HTTP status, seconds and curl's error (empty when none).

Usage: slow_flood.py HOST PORT CONNECTIONS one|many VISITOR_ADDRESS NAME [HOLD_SECONDS]"""
import json
import socket
import subprocess
import sys
import time

host, port, count, kind, visitor, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
hold = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
held = []
for i in range(count):
    source = "127.0.0.1" if kind == "one" else f"127.0.{1 + i // 250}.{1 + i % 250}"
    s = socket.socket()
    s.bind((source, 0))
    try:
        s.connect((host, port))
        s.send(b"\x16\x03\x01")
        held.append(s)
    except OSError:
        s.close()
time.sleep(0.3)
still_open = 0
for s in held:
    s.setblocking(False)
    try:
        still_open += s.recv(1) != b""
    except BlockingIOError:
        still_open += 1
    except OSError:
        pass
visit = subprocess.run(["curl", "-sk", "--max-time", "10", "--interface", visitor, "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{errormsg}",
                        "--resolve", f"{name}:{port}:{host}", f"https://{name}:{port}/"], capture_output=True, text=True)
code, seconds = (visit.stdout.split() + ["000", "10"])[:2]
error = visit.stdout.split(" ", 2)[2] if visit.stdout.count(" ") >= 2 else ""
print(json.dumps({"flood": kind, "connections": count, "held_open": still_open, "visitor_status": int(code),
                  "visitor_seconds": float(seconds), "visitor_error": error}))
time.sleep(hold)

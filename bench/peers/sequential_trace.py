#!/usr/bin/env python3
"""The sequential method of locating an SNI-triggered interceptor, as CenTrace does it:
one TTL at a time, each probe waiting a fixed time for its answer, a target and a control
series, stopping a series at the first TLS answer. Python standard library only; the routers
come from a raw ICMP socket (root). For bench/trace_peers.sh: it is the baseline `trace` is
compared with, and its answer must be the same.

usage: sequential_trace.py ADDRESS SNI CONTROL_SNI [--wait 3] [--max-ttl 16] [--port 443]
prints one JSON object: injection TTL, routers before and after, kind, per-TTL answers, seconds.
"""
import argparse
import hashlib
import json
import select
import socket
import ssl
import struct
import time


def drain_icmp(raw, found):
    """Reads queued ICMP time-exceeded messages: (dst, dport, sport) -> router."""
    while True:
        try:
            packet = raw.recv(1500, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if len(packet) < 28:
            continue
        outer = (packet[0] & 0x0F) * 4
        if packet[outer] != 11:
            continue
        quoted = outer + 8
        inner = (packet[quoted] & 0x0F) * 4
        if len(packet) < quoted + inner + 8 or packet[quoted + 9] != 6:
            continue
        router = socket.inet_ntoa(packet[12:16])
        destination = socket.inet_ntoa(packet[quoted + 16:quoted + 20])
        sport, dport = struct.unpack("!HH", packet[quoted + inner:quoted + inner + 4])
        found[(destination, dport, sport)] = router


def probe(address, port, sni, ttl, wait, raw, routers):
    """One TTL: a normal TCP handshake, then the ClientHello with this TTL, waiting `wait` s."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        sock = socket.create_connection((address, port), timeout=wait)
    except OSError as error:
        return {"ttl": ttl, "outcome": "error", "detail": str(error)}
    sport = sock.getsockname()[1]
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    tls = context.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False)
    tls.settimeout(wait)
    result = {"ttl": ttl}
    try:
        tls.do_handshake()
        leaf = tls.getpeercert(binary_form=True) or b""
        result.update(outcome="answer", leaf=hashlib.sha256(leaf).hexdigest())
    except (socket.timeout, TimeoutError):
        result["outcome"] = "silence"
    except ConnectionResetError:
        result["outcome"] = "reset"
    except (ssl.SSLError, OSError) as error:
        result.update(outcome="closed", detail=str(error))
    finally:
        tls.close()
    if result["outcome"] == "silence":
        drain_icmp(raw, routers)
        router = routers.get((address, port, sport))
        if router:
            result.update(outcome="time_exceeded", router=router)
    return result


def series(address, port, sni, wait, max_ttl, raw, routers):
    hops = []
    for ttl in range(1, max_ttl + 1):
        hop = probe(address, port, sni, ttl, wait, raw, routers)
        hops.append(hop)
        if hop["outcome"] in ("answer", "reset", "closed"):
            break
    return hops


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("sni")
    parser.add_argument("control_sni")
    parser.add_argument("--wait", type=float, default=3.0)
    parser.add_argument("--max-ttl", type=int, default=16)
    parser.add_argument("--port", type=int, default=443)
    args = parser.parse_args()
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    routers = {}
    start = time.monotonic()
    control = series(args.address, args.port, args.control_sni, args.wait, args.max_ttl, raw, routers)
    target = series(args.address, args.port, args.sni, args.wait, args.max_ttl, raw, routers)
    genuine = next((hop.get("leaf") for hop in control if hop["outcome"] == "answer"), None)
    forged_at = next((hop["ttl"] for hop in target if hop["outcome"] == "answer" and hop.get("leaf") != genuine), None)
    control_end = next((hop["ttl"] for hop in control if hop["outcome"] != "time_exceeded" and hop["outcome"] != "silence"), None)
    by_ttl = {hop["ttl"]: hop.get("router") for hop in control + target if hop.get("router")}
    kind = "no_interception"
    if forged_at is not None:
        kind = "in_path_injector" if control_end is None or control_end > forged_at else "terminating_proxy_or_server"
    print(json.dumps({
        "address": args.address, "kind": kind, "injection_ttl": forged_at,
        "router_before": by_ttl.get(forged_at - 1) if forged_at else None,
        "router_after": by_ttl.get(forged_at) if forged_at else None,
        "control_terminating_ttl": control_end, "probes": len(control) + len(target),
        "seconds": round(time.monotonic() - start, 3), "target": target, "control": control}))


if __name__ == "__main__":
    main()

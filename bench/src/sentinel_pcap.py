#!/usr/bin/env python3
"""Writes a pcap of N TLS client flows towards 198.51.100.1:443 for bench/sentinel_bench.sh.

Each flow: SYN, then the ClientHello in one segment, or (every 4th) in two segments, every 8th of those
delivered out of order. ClientHellos come from Python's OpenSSL (so they are real): a TLS 1.3 client and
one configured like the lab's interceptor (TLS 1.2 only, its 12 suites + SCSV), each with a per-flow SNI.
Clients: 95.56.x.y (a tenth through the "interceptor" profile) and 203.0.113.0/24, one pfx2as line each.
Usage: sentinel_pcap.py FLOWS OUT.pcap PFX2AS.txt
"""
import random
import ssl
import struct
import sys

INTERCEPTOR_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                       "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
                       "ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA")


def client_hello(context, name):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def packet(source, sport, seq, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, 443, seq, 0, 0x50, flags, 65535, 0, 0) + payload
    total = 20 + len(tcp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 57, 6, 0, bytes(source), bytes([198, 51, 100, 1]))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    frame = b"\x02" * 12 + b"\x08\x00" + ip + tcp
    return frame


def main():
    flows, out_path, pfx2as_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    random.seed(7)
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    modern.check_hostname = False
    modern.verify_mode = ssl.CERT_NONE
    modern.set_alpn_protocols(["h2", "http/1.1"])
    device = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    device.check_hostname = False
    device.verify_mode = ssl.CERT_NONE
    device.maximum_version = ssl.TLSVersion.TLSv1_2
    device.minimum_version = ssl.TLSVersion.TLSv1
    device.set_ciphers(INTERCEPTOR_CIPHERS + ":@SECLEVEL=0")
    # A few hundred distinct ClientHellos per profile (the SNI varies), reused round robin.
    hellos = {kind: [client_hello(context, f"site{i}.example") for i in range(200)] for kind, context in
              (("modern", modern), ("device", device))}
    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        second = 1700000000
        for flow in range(flows):
            kazakh = flow % 2 == 0
            if kazakh:
                source = [95, 56, (flow >> 8) & 0xFF, flow & 0xFF]
                kind = "device" if flow % 20 == 0 else "modern"
            else:
                source = [203, 0, 113, flow % 256]
                kind = "modern"
            sport = 1024 + (flow * 7) % 60000
            hello = hellos[kind][flow % 200]
            isn = random.getrandbits(32)
            frames = [packet(source, sport, isn, 0x02, b"")]
            if flow % 4 == 0:
                cut = len(hello) // 2
                first = packet(source, sport, (isn + 1) & 0xFFFFFFFF, 0x10, hello[:cut])
                second_part = packet(source, sport, (isn + 1 + cut) & 0xFFFFFFFF, 0x18, hello[cut:])
                frames += [second_part, first] if flow % 32 == 0 else [first, second_part]
            else:
                frames.append(packet(source, sport, (isn + 1) & 0xFFFFFFFF, 0x18, hello))
            for index, frame in enumerate(frames):
                out.write(struct.pack("<IIII", second + flow // 1000, (flow % 1000) * 1000 + index, len(frame), len(frame)))
                out.write(frame)
    with open(pfx2as_path, "w") as table:
        table.write("95.56.0.0\t16\t9198\n203.0.113.0\t24\t64500\n")


main()

#!/usr/bin/python3
"""The plain peer of the source readers in bench/sources_bench.sh: what a researcher writes first to pull the
certificates out of a public data set (gzip + json from the standard library, one record per line). It finds each
record's certificates the way mitmscope's readers do (RIPE Atlas `cert[]` PEM, Hyperquack v1 `Results[].Received.tls
.cert`, v2 `response[].response.Certificate`, Satellite `https.Certificate`, ZGrab2 `handshake_log.server_certificates`)
and base64-decodes them, but judges nothing: a floor for a Python reader, not a competing analysis.

Usage: sources_reference.py FILE.jsonl.gz...   Prints records and certificates found.
"""
import base64, gzip, json, sys


def pem_der(pem):
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def as_list(value):
    if isinstance(value, list):
        return value
    return [value] if value else []


def certificates(record):
    if record.get("type") == "sslcert":
        return [pem_der(pem) for pem in record.get("cert", [])]
    if "Server" in record:
        return [base64.b64decode(r["Received"]["tls"]["cert"]) for r in record.get("Results", [])
                if isinstance(r.get("Received"), dict) and "tls" in r["Received"]]
    if "vp" in record:
        return [base64.b64decode(c) for r in record.get("response", []) if "control_url" not in r
                for c in as_list(r.get("response", {}).get("Certificate"))]
    if "keyword" in record:
        return [base64.b64decode(c) for c in as_list(record.get("https", {}).get("Certificate"))]
    found = []
    for module in record.get("data", {}).values():
        log = module.get("result", {}).get("handshake_log", {})
        certs = log.get("server_certificates", {})
        found += [base64.b64decode(c["raw"]) for c in [certs.get("certificate", {})] + certs.get("chain", []) if c.get("raw")]
    return found


def main():
    records = found = 0
    for path in sys.argv[1:]:
        with gzip.open(path, "rt") as lines:
            for line in lines:
                records += 1
                found += len(certificates(json.loads(line)))
    print(json.dumps({"records": records, "certificates": found}))


if __name__ == "__main__":
    main()

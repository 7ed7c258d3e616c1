#!/usr/bin/python3
"""The peer of `mitmscope ooni` in bench/ooni_bench.sh: the same interception detection written
plainly in Python, the way OONI's own pipeline is (gzip + json from the standard library, one
measurement per line, certificates parsed with `cryptography`, Debian's python3-cryptography).

Same rules as src/ooni/analysis.h: a certificate of the chain, or the leaf's issuer found in the
corpus, that is / shares a key with / is signed by a registry certificate -> known_interceptor; an
untrusted chain with consistent DNS, a working control and an issuer seen on >= 3 unrelated
domains -> forging_ca; then the categories that are not interception. Chains are validated by
walking AKI/issuer name to the trust anchors with signatures, validity at the measurement's time
and the SNI against the leaf's DNS names. Prints the findings as JSON for the comparison.

Usage: ooni_reference.py --trust-store PEM --known-roots DIR [--known-roots DIR...] PATH...
"""
import argparse, base64, datetime, glob, gzip, hashlib, json, math, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID

SECOND_LEVEL = {"co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp", "or.jp", "com.br",
                "com.cn", "net.cn", "org.cn", "com.tr", "co.kr", "co.in", "com.kz", "org.kz", "gov.kz", "edu.kz", "com.ru",
                "msk.ru", "spb.ru", "com.ua", "co.za", "com.mx", "com.ar", "co.il", "com.sg", "com.hk", "com.tw", "gov.kg",
                "com.kg", "org.kg", "com.ir", "co.ir", "ac.ir", "com.eg", "com.pk", "com.vn", "co.id", "or.id", "com.my", "com.ph"}


def registrable(host):
    host = host.rstrip(".").lower()
    labels = host.split(".")
    if all(c.isdigit() or c in ".:" for c in host):
        return host
    if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


class Cert:
    def __init__(self, der):
        self.der = der
        self.cert = x509.load_der_x509_certificate(der)
        self.sha1 = hashlib.sha1(der).hexdigest()
        self.sha256 = hashlib.sha256(der).hexdigest()
        self.spki = hashlib.sha256(self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
        self.subject = self.cert.subject.public_bytes()
        self.issuer = self.cert.issuer.public_bytes()
        self.ski = self.aki = None
        self.is_ca = False
        self.dns = []
        for extension in self.cert.extensions:
            if extension.oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
                self.ski = extension.value.digest
            elif extension.oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
                self.aki = extension.value.key_identifier
            elif extension.oid == ExtensionOID.BASIC_CONSTRAINTS:
                self.is_ca = extension.value.ca
            elif extension.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
                self.dns = [name.lower() for name in extension.value.get_values_for_type(x509.DNSName)]
        self.not_before = int(self.cert.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp())
        self.not_after = int(self.cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
        self.self_signed = self.subject == self.issuer and self.signed_by(self)
        self.registry = None

    def signed_by(self, issuer):
        key = issuer.cert.public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(self.cert.signature, self.cert.tbs_certificate_bytes, padding.PKCS1v15(),
                           self.cert.signature_hash_algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(self.cert.signature, self.cert.tbs_certificate_bytes, ec.ECDSA(self.cert.signature_hash_algorithm))
            else:
                return False
            return True
        except Exception:
            return False


def load_pems(path):
    out = []
    text = open(path, "rb").read()
    for block in text.split(b"-----END CERTIFICATE-----"):
        if b"-----BEGIN CERTIFICATE-----" in block:
            out.append(Cert(x509.load_pem_x509_certificate(block + b"-----END CERTIFICATE-----\n").public_bytes(serialization.Encoding.DER)))
    return out


def name_matches(cert, name):
    name = name.lower()
    for pattern in cert.dns:
        if pattern == name or (pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]):
            return True
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trust-store", required=True)
    parser.add_argument("--known-roots", action="append", default=[])
    parser.add_argument("--min-forged-domains", type=int, default=3)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    anchors = load_pems(args.trust_store)
    registry = []  # (id, Cert)
    for directory in args.known_roots:
        meta = {}
        if os.path.exists(os.path.join(directory, "registry.json")):
            for entry in json.load(open(os.path.join(directory, "registry.json")))["entries"]:
                meta[entry["file"]] = entry["id"]
        for pem in sorted(glob.glob(os.path.join(directory, "*.pem"))):
            for cert in load_pems(pem):
                registry.append((meta.get(os.path.basename(pem), os.path.basename(pem)), cert))
    registry_sha = {cert.sha256: rid for rid, cert in registry}
    registry_spki = {cert.spki: rid for rid, cert in registry}

    def attribute(cert):
        if cert.sha256 in registry_sha:
            return registry_sha[cert.sha256]
        if cert.spki in registry_spki:
            return registry_spki[cert.spki]
        for rid, root in registry:
            if cert.aki is not None and root.ski != cert.aki and root.subject != cert.issuer:
                continue
            if cert.signed_by(root):
                return rid
        return None

    pool, by_text = [], {}

    def intern(text):
        index = by_text.get(text)
        if index is None:
            try:
                cert = Cert(base64.b64decode(text))
                cert.registry = attribute(cert)
            except Exception:
                cert = None
            index = by_text[text] = len(pool)
            pool.append(cert)
        return index

    validations = {}

    def trusted(chain, sni, time):
        certs = [pool[i] for i in chain]
        if any(c is None for c in certs):
            return False
        inside = all(c.not_before <= time <= c.not_after for c in certs)
        key = (tuple(chain), sni, inside)
        if key in validations:
            return validations[key]
        ok = bool(sni) and name_matches(certs[0], sni) and inside
        current, depth = certs[0], 0
        while ok:
            anchor = next((a for a in anchors if a.subject == current.issuer and current.signed_by(a)), None)
            if anchor is not None:
                ok = anchor.not_before <= time <= anchor.not_after
                break
            parent = next((c for c in certs[1:] if c.subject == current.issuer and c.is_ca and current.signed_by(c)), None)
            depth += 1
            if parent is None or depth > 10:
                ok = False
                break
            current = parent
        validations[key] = ok
        return ok

    files = []
    for path in args.paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                files += [os.path.join(root, n) for n in names if n.endswith((".jsonl.gz", ".jsonl", ".json", ".json.gz"))]
        else:
            files.append(path)
    files.sort()
    kept, verdicts, malformed, measurements = [], {"clean": 0, "failed": 0}, 0, 0
    network_measurements = {}
    for file_index, path in enumerate(files):
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rb") as stream:
                for line_number, line in enumerate(stream, 1):
                    if not line.strip():
                        continue
                    try:
                        m = json.loads(line)
                        start = datetime.datetime.strptime(m["measurement_start_time"], "%Y-%m-%d %H:%M:%S")
                        for hs in (m.get("test_keys") or {}).get("tls_handshakes") or []:
                            if any(not isinstance(pc.get("data"), str) for pc in hs.get("peer_certificates") or []):
                                raise ValueError("peer_certificates[].data is not a string")
                    except Exception:
                        malformed += 1
                        continue
                    measurements += 1
                    start = int(start.replace(tzinfo=datetime.timezone.utc).timestamp())
                    asn = int(str(m.get("probe_asn") or "AS0")[2:] or 0)
                    network_measurements[asn] = network_measurements.get(asn, 0) + 1
                    keys = m.get("test_keys") or {}
                    control = keys.get("control") or {}
                    control_addrs = (control.get("dns") or {}).get("addrs") or []
                    control_tls = control.get("tls_handshake") or {}
                    for index, hs in enumerate(keys.get("tls_handshakes") or []):
                        certs = [pc["data"] for pc in hs.get("peer_certificates") or [] if pc.get("data")]
                        if not certs:
                            verdicts["failed"] += 1
                            continue
                        chain = [intern(text) for text in certs]
                        time = start + math.floor(max(0.0, hs.get("t") or 0.0))
                        sni = hs.get("server_name") or ""
                        attributed = any(pool[i] is not None and pool[i].registry for i in chain)
                        if not attributed and trusted(chain, sni, time):
                            verdicts["clean"] += 1
                            continue
                        address = hs.get("address") or ""
                        ip = address.rsplit(":", 1)[0]
                        if ip in control_addrs:
                            dns = "yes"
                        elif keys.get("dns_consistency") == "consistent":
                            dns = "yes"
                        elif keys.get("dns_consistency") == "inconsistent":
                            dns = "no"
                        else:
                            dns = "unknown"
                        entry = control_tls.get(address) if address else None
                        control_ok = "unknown" if entry is None else ("yes" if entry.get("status") else "no")
                        kept.append(dict(time=time, asn=asn, cc=m.get("probe_cc") or "", sni=sni, chain=chain,
                                         failure=hs.get("failure") or "", dns=dns, control=control_ok,
                                         test=m.get("test_name") or "", measurement=(file_index, line_number)))
        except (OSError, EOFError, UnicodeDecodeError):
            pass  # a damaged file: what was read before stays

    index = {}
    for i, cert in enumerate(pool):
        if cert is not None and cert.is_ca and cert.ski is not None:
            index.setdefault(cert.ski, []).append(i)
    for rid, cert in registry:
        if cert.sha256 not in {c.sha256 for c in pool if c is not None} and cert.ski is not None:
            pool.append(cert)
            cert.registry = attribute(cert)
            index.setdefault(cert.ski, []).append(len(pool) - 1)
    resolved = {}

    def issuer_of(record):
        leaf_id = record["chain"][0]
        leaf = pool[leaf_id]
        if leaf is None:
            return None, False
        if len(record["chain"]) > 1 and pool[record["chain"][1]] is not None and leaf.signed_by(pool[record["chain"][1]]):
            return record["chain"][1], False
        if leaf_id not in resolved:
            resolved[leaf_id] = next((c for c in index.get(leaf.aki, []) if c != leaf_id and leaf.signed_by(pool[c])), None)
        found = resolved[leaf_id]
        return found, found is not None and found not in record["chain"]

    forged = {}
    kept = [record for record in kept if pool[record["chain"][0]] is not None]  # unparseable leaves: inconclusive
    for record in kept:
        issuer, from_corpus = issuer_of(record)
        leaf = pool[record["chain"][0]]
        record["issuer"] = issuer
        record["key"] = ("sha256:" + pool[issuer].sha256) if issuer is not None else ("aki:" + (leaf.aki or b"").hex())
        record["root"] = next((pool[i].registry for i in record["chain"] if pool[i] is not None and pool[i].registry), None)
        if record["root"] is None and issuer is not None and from_corpus and pool[issuer].registry:
            record["root"] = pool[issuer].registry
        if record["root"] is None and not leaf.self_signed and record["dns"] == "yes" and record["control"] == "yes":
            forged.setdefault(record["key"], set()).add(registrable(record["sni"]))

    categories = {}
    issuers, domains, networks = {}, {}, {}
    for record in kept:
        leaf = pool[record["chain"][0]]
        if record["root"]:
            verdict = "intercepted/known_interceptor"
        elif leaf.self_signed:
            verdict = "not_intercepted/self_signed_service"
        elif not record["failure"] and record["test"] == "signal":
            verdict = "not_intercepted/pinned_by_test"
        elif record["dns"] == "no":
            verdict = "not_intercepted/dns_inconsistent"
        elif record["dns"] == "yes" and record["control"] == "yes" and len(forged.get(record["key"], ())) >= args.min_forged_domains:
            verdict = "intercepted/forging_ca"
        elif record["failure"] == "ssl_invalid_certificate" and record["control"] != "yes":
            verdict = "not_intercepted/server_certificate_invalid"
        elif record["failure"] == "ssl_invalid_hostname" and record["control"] != "yes":
            verdict = "not_intercepted/server_hostname_mismatch"
        elif record["control"] == "no":
            verdict = "not_intercepted/control_failed_too"
        else:
            verdict = "inconclusive/" + ("issuer_on_few_domains" if record["dns"] == "yes" and record["control"] == "yes" else "no_control")
        categories[verdict] = categories.get(verdict, 0) + 1
        if not verdict.startswith("intercepted/"):
            continue
        issuer = pool[record["issuer"]] if record["issuer"] is not None else None
        row = issuers.setdefault(record["key"], dict(sha1=issuer.sha1 if issuer else "", root=record["root"] or "unknown",
                                                     handshakes=0, first=None, last=None, before=0, after=0))
        row["handshakes"] += 1
        row["first"] = record["time"] if row["first"] is None else min(row["first"], record["time"])
        row["last"] = record["time"] if row["last"] is None else max(row["last"], record["time"])
        if issuer is not None and record["time"] < issuer.not_before:
            row["before"] += 1
        if issuer is not None and record["time"] > issuer.not_after:
            row["after"] += 1
        domains[record["sni"]] = domains.get(record["sni"], 0) + 1
        networks.setdefault(record["asn"], set()).add(record["measurement"])

    def iso(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({
        "measurements": measurements, "malformed": malformed,
        "clean": verdicts["clean"], "failed": verdicts["failed"], "categories": dict(sorted(categories.items())),
        "issuers": sorted([dict(sha1=r["sha1"], root=r["root"], handshakes=r["handshakes"], first_seen=iso(r["first"]),
                                last_seen=iso(r["last"]), used_before_validity=r["before"], used_after_validity=r["after"])
                           for r in issuers.values()], key=lambda r: r["sha1"]),
        "domains": dict(sorted(domains.items())),
        "networks": {f"AS{asn}": len(v) for asn, v in sorted(networks.items())},
        "network_measurements": {f"AS{asn}": network_measurements[asn] for asn in sorted(networks)},
    }, sort_keys=False))


if __name__ == "__main__":
    main()

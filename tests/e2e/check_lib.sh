# Sourced by the end-to-end scripts: `check DESCRIPTION EXPECTED ACTUAL` counts and prints (and fails when they
# differ, so `check ... || show-more` works), `finish` says the
# totals and exits non-zero when something failed.
failures=0
passed=0
check() {
  if [ "$2" == "$3" ]; then echo "ok   $1"; passed=$((passed + 1)); return 0; fi
  echo "FAIL $1: expected '$2', got '$3'"
  failures=$((failures + 1))
  return 1
}
finish() {
  echo "$passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
# The fields two clients of one scan must agree on (tests comparing the first-flight client with OpenSSL's), one
# sorted line per (host, name) of a scan's JSONL; a forged leaf is new per connection, so only "forged" is compared.
agreed_fields() {
  jq -r '[.ip, .sni, .verdict, (.server_hello.version.name // "-"), (.server_hello.cipher_suite.name // "-"),
          (.server_certificates.certificate.issuer // "-"),
          (if .verdict == "intercepted" then "forged" else (.server_certificates.certificate.sha256 // "-") end)] | join(" ")' "$1" | sort
}

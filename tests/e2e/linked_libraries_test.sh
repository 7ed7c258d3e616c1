#!/usr/bin/env bash
# libcurl and libpcap are loaded when a command first needs them (src/core/shared_library.h), never at start-up:
# linked, they and the libraries they bring (GnuTLS, Kerberos, LDAP, D-Bus, systemd...) cost every command
# 5.5 MB of memory (bench/RESULTS.md, issue 20). Fails when the binary needs them at start-up, directly or through
# another library. Usage: linked_libraries_test.sh MITMSCOPE
set -u
needed=$(ldd "$1") || { echo "ldd cannot read $1"; exit 1; }
# The list is real only if it holds what mitmscope does link.
echo "$needed" | grep -q 'libssl.so' || { echo "ldd $1 does not list libssl:"; echo "$needed"; exit 1; }
if echo "$needed" | grep -E 'libcurl|libpcap|libgnutls|libldap|libdbus'; then
  echo "FAIL: $1 loads the libraries above at start-up"
  exit 1
fi
echo "ok: no libcurl, libpcap or what they bring at start-up ($(echo "$needed" | wc -l) libraries)"

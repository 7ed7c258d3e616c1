#!/usr/bin/env bash
# libcurl and libpcap are loaded when a command first needs them (src/core/shared_library.h), never at start-up:
# linked, they and the libraries they bring (GnuTLS, Kerberos, LDAP, D-Bus, systemd...) cost every command
# 5.5 MB of memory (bench/RESULTS.md, issue 20). Fails when the binary needs them at start-up, directly or through
# another library, or when a scan loads them at run time; and checks that `sentinel --pcap` does load libpcap
# (the run-time check sees what it looks for). Usage: linked_libraries_test.sh MITMSCOPE
set -u
source "$(dirname "$0")/check_lib.sh"
mitmscope=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
needed=$(ldd "$mitmscope") || { echo "ldd cannot read $mitmscope"; exit 1; }
# The list is real only if it holds what mitmscope does link.
check "ldd lists libssl" 1 "$(echo "$needed" | grep -c 'libssl.so')"
check "no libcurl, libpcap or what they bring at start-up" 0 \
  "$(echo "$needed" | grep -cE 'libcurl|libpcap|libgnutls|libldap|libdbus')"
# What the dynamic loader opens while the command runs (LD_DEBUG=files names each library it loads, dlopen too).
opened() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -oE 'file=lib(curl|pcap)[^ ]*' | sort -u | tr '\n' ' '; }
echo "127.0.0.1:9" >"$work/hosts.txt"
echo "example.com" >"$work/domains.txt"
check "a scan opens neither libcurl nor libpcap" "" \
  "$(opened "$mitmscope" scan --hosts "$work/hosts.txt" --domains "$work/domains.txt" --allow-private --out /dev/null)"
# An empty capture file: the 24-byte pcap header, Ethernet, no packets.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' >"$work/empty.pcap"
check "sentinel --pcap opens libpcap when it needs it" "file=libpcap.so.0.8 " \
  "$(opened "$mitmscope" sentinel --pcap "$work/empty.pcap")"
finish

# Real clients from Debian visiting a site in the lab from the vantage namespace: chromium and firefox-esr
# (headless), curl, wget and python3-requests. Sourced by the tests and benches that need visitors.
#
#   visitors_setup WORK ROOTS_PEM     # a Firefox profile and a CA bundle trusting ROOTS_PEM
#   visit CLIENT NAME ADDRESS         # one HTTPS visit of https://NAME/ with NAME resolved to ADDRESS
#   visitors_hosts "ADDRESS NAME"...  # several names at once; then `visit CLIENT NAME` (no ADDRESS) may run
#                                     # in parallel: each visit has a browser profile of its own
#   visitors_teardown                 # removes the vantage namespace's hosts file
#
# NAME resolves through /etc/netns/ms-vantage/hosts, which `ip netns exec` mounts over /etc/hosts for the
# command (iproute2's convention), so every client resolves it its own way and still reaches ADDRESS.
VISITOR_CLIENTS=(chromium firefox-esr curl wget python3-requests)
visitor_hosts_dir=/etc/netns/ms-vantage

visitors_setup() {
  visitor_work=$1
  visitor_roots=$2
  mkdir -p "$visitor_work/firefox-profile" "$visitor_hosts_dir"
  certutil -N -d "sql:$visitor_work/firefox-profile" --empty-password
  local index=0
  # certutil takes one certificate per call: split the bundle.
  awk -v dir="$visitor_work" '/BEGIN CERT/ { n++ } { print > (dir "/visitor-root-" n ".pem") }' "$visitor_roots"
  for root in "$visitor_work"/visitor-root-*.pem; do
    index=$((index + 1))
    certutil -A -n "lab root $index" -t "CT,," -i "$root" -d "sql:$visitor_work/firefox-profile"
  done
  # No first-run pages, no telemetry or update traffic: the only visit is the one asked for.
  cat >"$visitor_work/firefox-profile/user.js" <<'EOF'
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("network.dns.disableIPv6", true);
EOF
}

visitors_teardown() {
  rm -f "$visitor_hosts_dir/hosts"
  rmdir "$visitor_hosts_dir" 2>/dev/null
  return 0
}

visitors_hosts() {
  { echo "127.0.0.1 localhost"; printf '%s\n' "$@"; } >"$visitor_hosts_dir/hosts"
}

visit() {  # visit CLIENT NAME [ADDRESS]
  local client=$1 name=$2
  [ $# -ge 3 ] && visitors_hosts "$3 $name"
  local run=(ip netns exec ms-vantage timeout 60)
  local own
  own=$(mktemp -d "$visitor_work/visit-XXXXXX")
  cp -r "$visitor_work/firefox-profile" "$own/firefox-profile"
  case "$client" in
    chromium)
      # Chromium trusts its NSS database in $HOME; the lab's roots are not there, so certificate errors are
      # accepted: the visit and its ClientHello are what counts, not the page.
      HOME="$own" "${run[@]}" chromium --headless --no-sandbox --disable-gpu \
        --ignore-certificate-errors --no-first-run --disable-background-networking --disable-component-update \
        --user-data-dir="$own/chromium-profile" --dump-dom "https://$name/" >/dev/null 2>&1 ;;
    firefox-esr)
      HOME="$own" "${run[@]}" firefox-esr --headless --profile "$own/firefox-profile" \
        --screenshot "$own/firefox.png" "https://$name/" >/dev/null 2>&1 ;;
    curl) "${run[@]}" curl -s --cacert "$visitor_roots" -o /dev/null "https://$name/" ;;
    wget) "${run[@]}" wget -q --ca-certificate="$visitor_roots" -O /dev/null "https://$name/" ;;
    python3-requests)
      "${run[@]}" python3 -c "import requests, sys; requests.get(sys.argv[1], verify=sys.argv[2], timeout=20)" \
        "https://$name/" "$visitor_roots" ;;
  esac
}

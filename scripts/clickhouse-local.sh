#!/usr/bin/env bash
# Runs Debian's clickhouse-server on this machine for mitmscope: one server, or a cluster of
# N shards (N server processes, one configuration naming all of them as cluster
# "mitmscope_local"), every one listening on 127.0.0.1 only, its data under DIR.
#
#   clickhouse-local.sh start DIR [SHARDS=1] [PORT=18123] [secure]   prints the --store address's servers
#   clickhouse-local.sh halt DIR     stops the servers and keeps DIR: `start DIR` starts them again on it
#   clickhouse-local.sh stop DIR     stops them and removes DIR
#
# Shard i listens on PORT+i, and for the native protocol (used between shards) on PORT+1000+i.
# Use the printed servers as
#   --store clickhouse://SERVERS/DATABASE                    (one server)
#   --store clickhouse://SERVERS/DATABASE?cluster=mitmscope_local   (SHARDS > 1)
#
# Plain: PORT is HTTP and the only user, default, has no password. With `secure`, as a store
# on a real network should be: PORT is HTTPS only, with a certificate for 127.0.0.1 and
# localhost signed by a CA made here (DIR/tls/ca.pem), and there are three users, each with a
# random password in DIR/secrets/USER.password (mode 600), none with the default's rights:
#   admin    creates the store's tables (the first mitmscope command on a new database)
#   writer   reads and inserts, no DDL (allow_ddl=0): scan, monitor, trace, ooni --store
#   reader   reads only (readonly=2): report, export, store counts
# $CLICKHOUSE_DATABASES ("campaign other") limits writer and reader to those databases.
#   --store "clickhouse://writer@SERVERS/DATABASE?secure=1&ca=DIR/tls/ca.pem&password_file=DIR/secrets/writer.password"
set -euo pipefail

command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { sed -n '2,28p' "$0" >&2; exit 2; }

halt() {
  for pidfile in "$dir"/shard*/pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "$command" in
  stop) halt; rm -rf "$dir"; exit 0 ;;
  halt) halt; exit 0 ;;
  start) ;;
  *) echo "clickhouse-local.sh: unknown command $command" >&2; exit 2 ;;
esac

server=$(command -v clickhouse-server || true)
[ -n "$server" ] || { echo "clickhouse-local.sh: clickhouse-server is not installed (apt-get install clickhouse-server)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(realpath "$dir")
chmod 700 "$dir"   # its data are measurements, its configuration holds the internode password

# A secret only its owner reads.
secret() { (umask 077; openssl rand -hex 16 > "$dir/secrets/$1.password"); }
sha256() { tr -d '\n' < "$dir/secrets/$1.password" | sha256sum | cut -d' ' -f1; }

make_tls() {
  local tls="$dir/tls"
  mkdir -p "$tls" && chmod 700 "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=mitmscope clickhouse-local CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') \
    -out "$tls/server.pem" 2>/dev/null
  rm -f "$tls/server.csr" "$tls/ca.key"   # nothing more is signed with it
}

# <users> of a secure server: admin, writer, reader, and internode (the shards' queries to each other).
secure_users() {
  local databases=""
  for db in ${CLICKHOUSE_DATABASES:-}; do databases+="<database>$db</database>"; done
  [ -z "$databases" ] || databases="<allow_databases>$databases</allow_databases>"
  local common="<networks><ip>127.0.0.1</ip></networks><quota>default</quota>"
  echo "<admin><password_sha256_hex>$(sha256 admin)</password_sha256_hex>$common<profile>default</profile></admin>"
  echo "<writer><password_sha256_hex>$(sha256 writer)</password_sha256_hex>$common<profile>writer</profile>$databases</writer>"
  echo "<reader><password_sha256_hex>$(sha256 reader)</password_sha256_hex>$common<profile>reader</profile>$databases</reader>"
  echo "<internode><password_sha256_hex>$(sha256 internode)</password_sha256_hex>$common<profile>default</profile></internode>"
}

write_configs() {
  local shards=$1 port=$2 secure=$3 remote="" servers="" users listen
  local credentials=""
  if [ "$secure" = secure ]; then
    mkdir -p "$dir/secrets" && chmod 700 "$dir/secrets"
    for user in admin writer reader internode; do secret $user; done
    make_tls
    credentials="<user>internode</user><password>$(cat "$dir/secrets/internode.password")</password>"
    users=$(secure_users)
  else
    users="<default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>"
  fi
  for i in $(seq 0 $((shards - 1))); do
    remote+="<shard><replica><host>127.0.0.1</host><port>$((port + 1000 + i))</port>$credentials</replica></shard>"
    servers+="${servers:+,}127.0.0.1:$((port + i))"
  done
  for i in $(seq 0 $((shards - 1))); do
    local shard="$dir/shard$i"
    mkdir -p "$shard/data" "$shard/tmp" "$shard/user_files" "$shard/format_schemas"
    if [ "$secure" = secure ]; then
      listen="<https_port>$((port + i))</https_port><openSSL><server><certificateFile>$dir/tls/server.pem</certificateFile>"
      listen+="<privateKeyFile>$dir/tls/server.key</privateKeyFile><verificationMode>none</verificationMode>"
      listen+="<loadDefaultCAFile>false</loadDefaultCAFile><disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>"
      listen+="<preferServerCiphers>true</preferServerCiphers></server></openSSL>"
    else
      listen="<http_port>$((port + i))</http_port>"
    fi
    (umask 077; cat > "$shard/config.xml") <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$shard/server.log</log><errorlog>$shard/error.log</errorlog></logger>
  $listen
  <tcp_port>$((port + 1000 + i))</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$shard/data/</path>
  <tmp_path>$shard/tmp/</tmp_path>
  <user_files_path>$shard/user_files/</user_files_path>
  <format_schema_path>$shard/format_schemas/</format_schema_path>
  <users_config>$shard/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <remote_servers><mitmscope_local>$remote</mitmscope_local></remote_servers>
</yandex>
XML
    (umask 077; cat > "$shard/users.xml") <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage></default>
    <writer><max_memory_usage>4000000000</max_memory_usage><allow_ddl>0</allow_ddl></writer>
    <reader><max_memory_usage>4000000000</max_memory_usage><readonly>2</readonly></reader>
  </profiles>
  <users>$users</users>
  <quotas><default></default></quotas>
</yandex>
XML
    echo "$((port + i))" > "$shard/port"
  done
  echo "$servers" > "$dir/servers"
  echo "$secure" > "$dir/mode"
}

# Starting again on a DIR that has its configuration (after halt) keeps its data, users and certificate.
[ -e "$dir/servers" ] || write_configs "${3:-1}" "${4:-18123}" "${5:-plain}"
ping_url() { if [ "$(cat "$dir/mode")" = secure ]; then echo "--cacert $dir/tls/ca.pem https://127.0.0.1:$1/ping"; else echo "http://127.0.0.1:$1/ping"; fi; }

for shard in "$dir"/shard*/; do
  # The server runs as whoever starts it; its files must be that user's.
  "$server" --config-file="$shard/config.xml" >"$shard/stdout.log" 2>&1 &
  echo $! > "$shard/pid"
done
for shard in "$dir"/shard*/; do
  port=$(cat "$shard/port")
  # shellcheck disable=SC2046
  for _ in $(seq 1 150); do
    if [ "$(curl -s --max-time 1 $(ping_url "$port") 2>/dev/null)" = "Ok." ]; then break; fi
    if ! kill -0 "$(cat "$shard/pid")" 2>/dev/null; then
      echo "clickhouse-local.sh: $shard did not start:" >&2
      tail -n 5 "$shard/error.log" "$shard/stdout.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
  # shellcheck disable=SC2046
  [ "$(curl -s --max-time 1 $(ping_url "$port"))" = "Ok." ] || { echo "clickhouse-local.sh: $shard does not answer on $port" >&2; exit 1; }
done
cat "$dir/servers"

#!/usr/bin/env bash
# Runs Debian's clickhouse-server on this machine for mitmscope: one server, or a cluster of
# N shards (N server processes, one configuration naming all of them as cluster
# "mitmscope_local"), every one listening on 127.0.0.1 only, its data under DIR.
#
#   clickhouse-local.sh start DIR [SHARDS=1] [HTTP_PORT=18123]   prints the --store address's servers
#   clickhouse-local.sh stop DIR                                   stops them and removes DIR
#
# Shard i listens for HTTP on HTTP_PORT+i and for the native protocol (used between shards)
# on HTTP_PORT+1000+i. Use the printed servers as
#   --store clickhouse://SERVERS/DATABASE                    (one server)
#   --store clickhouse://SERVERS/DATABASE?cluster=mitmscope_local   (SHARDS > 1)
set -euo pipefail

command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { sed -n '2,13p' "$0" >&2; exit 2; }

if [ "$command" = stop ]; then
  for pidfile in "$dir"/shard*/pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
  exit 0
fi
[ "$command" = start ] || { echo "clickhouse-local.sh: unknown command $command" >&2; exit 2; }

shards=${3:-1}
http_port=${4:-18123}
server=$(command -v clickhouse-server || true)
[ -n "$server" ] || { echo "clickhouse-local.sh: clickhouse-server is not installed (apt-get install clickhouse-server)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(realpath "$dir")

remote=""
servers=""
for i in $(seq 0 $((shards - 1))); do
  remote+="<shard><replica><host>127.0.0.1</host><port>$((http_port + 1000 + i))</port></replica></shard>"
  servers+="${servers:+,}127.0.0.1:$((http_port + i))"
done

for i in $(seq 0 $((shards - 1))); do
  shard="$dir/shard$i"
  mkdir -p "$shard/data" "$shard/tmp" "$shard/user_files" "$shard/format_schemas"
  cat > "$shard/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$shard/server.log</log><errorlog>$shard/error.log</errorlog></logger>
  <http_port>$((http_port + i))</http_port>
  <tcp_port>$((http_port + 1000 + i))</tcp_port>
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
  cat > "$shard/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
  # The server runs as whoever starts it; its files must be that user's.
  "$server" --config-file="$shard/config.xml" >"$shard/stdout.log" 2>&1 &
  echo $! > "$shard/pid"
done

for i in $(seq 0 $((shards - 1))); do
  port=$((http_port + i))
  for _ in $(seq 1 150); do
    if [ "$(curl -s --max-time 1 "http://127.0.0.1:$port/ping" 2>/dev/null)" = "Ok." ]; then break; fi
    if ! kill -0 "$(cat "$dir/shard$i/pid")" 2>/dev/null; then
      echo "clickhouse-local.sh: shard $i did not start:" >&2
      tail -5 "$dir/shard$i/error.log" "$dir/shard$i/stdout.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
  [ "$(curl -s --max-time 1 "http://127.0.0.1:$port/ping")" = "Ok." ] || { echo "clickhouse-local.sh: shard $i does not answer on $port" >&2; exit 1; }
done
echo "$servers" > "$dir/servers"
echo "$servers"

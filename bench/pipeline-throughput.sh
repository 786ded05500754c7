#!/usr/bin/env bash
# Pipeline throughput: datagen -> embedded broker -> a discarding sink inside one
# `culvert standalone` process, for values of ~200 B and ~1 KiB. Prints records/s, MB/s
# (value bytes) and the process's CPU per record (worker and embedded broker together),
# next to a baseline run side by side on the same machine: librdkafka alone moving the same
# records through `culvert broker` (a producer with acks=all and a consumer running
# concurrently), i.e. the floor of the Kafka clients the worker is built on.
# Also reports the worker's RSS with 10 idle connectors.
#
#   bench/pipeline-throughput.sh [RECORDS]      (default 2000000)
#
# Release builds; needs the .venv of scripts/deps (confluent-kafka creates the topic). Not
# part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-2000000}

echo "building (release)..." >&2
cargo build --release -q -p culvert --bin culvert
cargo build --release -q -p culvert-log-engine --example loadgen
CULVERT=target/release/culvert
LOADGEN=target/release/examples/loadgen
SINK=target/connectors/wasm32-wasip2/release/discard_sink.wasm
[ -f "$SINK" ] || { echo "missing $SINK (built with the culvert-guests crate)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{print ($14+$15)/t}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
now() { python3 -c 'import time; print(time.time())'; }
post() { curl -sf -X POST -H 'Content-Type: application/json' --data "$2" "$1/connectors" >/dev/null; }
metric() { # base series -> value (0 when absent)
  curl -sf "$1/metrics" | awk -v s="$2" 'index($0, s" ") == 1 {print $2; found=1} END {if (!found) print 0}'
}

baseline() { # size -> "records/s MB/s"
  local size=$1 port data pid start end consumer
  port=$(free_port); data=$(mktemp -d)
  printf 'listeners = "127.0.0.1:%s"\n"log.dirs" = "%s"\n' "$port" "$data" > "$data.toml"
  RUST_LOG=warn "$CULVERT" broker --config "$data.toml" >/dev/null 2>"$data.log" &
  pid=$!
  wait_port "$port"
  start=$(now)
  "$LOADGEN" consume "127.0.0.1:$port" base "$RECORDS" >/dev/null &
  consumer=$!
  "$LOADGEN" produce "127.0.0.1:$port" base "$RECORDS" "$size" all >/dev/null
  wait "$consumer"
  end=$(now)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.toml" "$data.log"
  python3 -c "d=$end-$start; print(round($RECORDS/d), round($RECORDS*$size/d/1e6, 1))"
}

start_worker() { # dir -> sets WORKER_PID, BASE, BROKER
  local dir=$1 rest broker
  rest=$(free_port); broker=$(free_port)
  BROKER="127.0.0.1:$broker"
  mkdir -p "$dir/plugins"
  cp "$SINK" "$dir/plugins/discard-sink.wasm"
  printf '{"name":"discard-sink","version":"0.1.0","kind":"sink","sha256":"%s"}\n' \
    "$(sha256sum "$SINK" | cut -d' ' -f1)" > "$dir/plugins/discard-sink.json"
  printf 'listeners = "http://127.0.0.1:%s"\nplugin.path = "%s/plugins"\noffset.flush.interval.ms = 1000\n' \
    "$rest" "$dir" > "$dir/worker.toml"
  RUST_LOG=warn "$CULVERT" standalone --data-dir "$dir/data" --config "$dir/worker.toml" \
    --broker-listener "127.0.0.1:$broker" >/dev/null 2>"$dir/log" &
  WORKER_PID=$!
  BASE="http://127.0.0.1:$rest"
  wait_port "$rest"
}

pipeline() { # size -> "records/s MB/s cpu_us_per_record"
  local size=$1 dir before after start end sent
  dir=$(mktemp -d)
  start_worker "$dir"
  # The topic exists and the sink owns its partition before the clock starts, so the
  # group join is not part of the measurement.
  .venv/bin/python -c "from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({'bootstrap.servers': '$BROKER'})
[f.result() for f in a.create_topics([NewTopic('bench', 1, 1)]).values()]"
  post "$BASE" '{"name":"discard","config":{"connector.class":"discard-sink","topics":"bench",
    "key.converter.schemas.enable":"false","value.converter.schemas.enable":"false"}}'
  until [ "$(metric "$BASE" 'culvert_sink_task_partitions{connector="discard",task="0"}')" = 1 ]; do
    sleep 0.1
  done
  before=$(cpu_seconds "$WORKER_PID"); start=$(now)
  post "$BASE" "{\"name\":\"gen\",\"config\":{\"connector.class\":\"datagen\",\"kafka.topic\":\"bench\",
    \"iterations\":\"$RECORDS\",\"max.interval\":\"0\",\"batch.size\":\"5000\",\"pad.bytes\":\"$size\",
    \"key.converter.schemas.enable\":\"false\",\"value.converter.schemas.enable\":\"false\"}}"
  while :; do
    sent=$(metric "$BASE" 'culvert_sink_task_sink_record_send_total{connector="discard",task="0"}')
    python3 -c "import sys; sys.exit(0 if float('$sent') >= $RECORDS else 1)" && break
    sleep 0.05
  done
  end=$(now); after=$(cpu_seconds "$WORKER_PID")
  kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true
  rm -rf "$dir"
  python3 -c "d=$end-$start; print(round($RECORDS/d), round($RECORDS*$size/d/1e6, 1), round(($after-$before)/$RECORDS*1e6, 2))"
}

idle_rss() { # -> "RSS MB, of which transparent huge pages MB" with 10 idle connectors
  local dir rss thp i
  dir=$(mktemp -d)
  start_worker "$dir"
  for i in 1 2 3 4 5; do
    post "$BASE" "{\"name\":\"gen$i\",\"config\":{\"connector.class\":\"datagen\",\"kafka.topic\":\"idle$i\",\"iterations\":\"10\",\"max.interval\":\"0\"}}"
    post "$BASE" "{\"name\":\"sink$i\",\"config\":{\"connector.class\":\"discard-sink\",\"topics\":\"idle$i\"}}"
  done
  sleep 15
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$WORKER_PID/status")
  # Transparent huge pages count 2 MB each, however little of them is used (mimalloc
  # asks for them on its arena; culvert turns them off unless MIMALLOC_ALLOW_THP=1).
  thp=$(awk '/AnonHugePages/ {print $2}' "/proc/$WORKER_PID/smaps_rollup")
  kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true
  rm -rf "$dir"
  python3 -c "print(round($rss/1024, 1), 'MB, of which transparent huge pages', round($thp/1024, 1), 'MB')"
}

printf '\n%s records per run, %s, %s cores, %s\n' "$RECORDS" "$(uname -m)" "$(nproc)" "$(git log -1 --format=%h)"
printf '%-8s %14s %10s %16s %16s %12s %8s\n' size "culvert rec/s" "MB/s" "CPU us/record" "librdkafka rec/s" "MB/s" ratio
for size in 200 1024; do
  read -r prps pmbs pcpu <<<"$(pipeline "$size")"
  read -r brps bmbs <<<"$(baseline "$size")"
  printf '%-8s %14s %10s %16s %16s %12s %8s\n' "$size" "$prps" "$pmbs" "$pcpu" "$brps" "$bmbs" \
    "$(python3 -c "print(round($prps/$brps, 2))")"
done
printf 'RSS with 10 idle connectors (worker + embedded broker): %s\n' "$(idle_rss)"

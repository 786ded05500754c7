#!/usr/bin/env bash
# Broker throughput: 1 KiB records produced (acks=1 and acks=all) and consumed with
# librdkafka over loopback, against Culvert's broker and against nisshi (an independent
# Rust Kafka-compatible broker) on the same machine in the same run. Prints MB/s,
# records/s, broker CPU seconds per GB and the ratio Culvert / nisshi. The last phase,
# `fetch`, reads the same records with raw Fetch requests that only walk batch headers:
# what each broker serves when the client costs next to nothing (librdkafka's own decoding
# bounds `consume` on two shared cores). Its MB/s counts whole batches, headers included.
#
#   bench/broker-throughput.sh [RECORDS]      (default 1000000)
#
# Release builds; nisshi is built once by scripts/nisshi into $CULVERT_BENCH_CACHE (default
# ~/.cache/culvert-bench), which takes ~15 minutes the first time. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-1000000}
SIZE=1024

echo "building (release)..." >&2
cargo build --release -q -p culvert --bin culvert
cargo build --release -q -p culvert-log-engine --example loadgen
CULVERT=target/release/culvert
LOADGEN=target/release/examples/loadgen
NISSHI=$(scripts/nisshi)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{print ($14+$15)/t}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

declare -A RESULT
run_broker() { # name
  local name=$1 port data pid
  port=$(free_port)
  data=$(mktemp -d)
  if [ "$name" = culvert ]; then
    printf 'listeners = "127.0.0.1:%s"\n"log.dirs" = "%s"\n' "$port" "$data" > "$data.toml"
    RUST_LOG=warn "$CULVERT" broker --config "$data.toml" >/dev/null 2>"$data.log" &
  else
    "$NISSHI" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine memory://nisshi/ --group-initial-rebalance-delay 0s >/dev/null 2>"$data.log" &
  fi
  pid=$!
  wait_port "$port"
  for phase in "produce acks1 1" "produce acksall all" "consume acksall" "fetch acksall"; do
    set -- $phase
    local before after out
    before=$(cpu_seconds "$pid")
    # The client's CPU too: on two shared cores it bounds what any broker reaches.
    if [ "$1" = produce ]; then
      out=$(/usr/bin/time -f '%U %S' -o "$data.client" "$LOADGEN" produce "127.0.0.1:$port" "t-$2" "$RECORDS" "$SIZE" "$3")
    else
      out=$(/usr/bin/time -f '%U %S' -o "$data.client" "$LOADGEN" "$1" "127.0.0.1:$port" "t-$2" "$RECORDS")
    fi
    after=$(cpu_seconds "$pid")
    local key="$name/$1-$2"
    RESULT[$key.mbs]=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mb_per_s"])')
    RESULT[$key.rps]=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records_per_s"])')
    RESULT[$key.cpu]=$(python3 -c "print(round(($after-$before)/($RECORDS*$SIZE/1e9),2))")
    RESULT[$key.client]=$(awk -v gb="$(python3 -c "print($RECORDS*$SIZE/1e9)")" '{printf "%.2f", ($1+$2)/gb}' "$data.client")
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.toml" "$data.log" "$data.client"
}

run_broker culvert
run_broker nisshi

printf '\n%s records of %s B, %s, %s cores\n' "$RECORDS" "$SIZE" "$(uname -m)" "$(nproc)"
printf '(CPU s/GB: the broker process; client s/GB: the librdkafka load generator against it)\n'
printf '%-16s %12s %10s %9s %9s %12s %10s %9s %9s %7s\n' phase "culvert MB/s" "rec/s" "CPU s/GB" "client" \
  "nisshi MB/s" "rec/s" "CPU s/GB" "client" "ratio"
for p in produce-acks1 produce-acksall consume-acksall fetch-acksall; do
  c=${RESULT[culvert/$p.mbs]}; n=${RESULT[nisshi/$p.mbs]}
  printf '%-16s %12s %10s %9s %9s %12s %10s %9s %9s %7s\n' "$p" "$c" "${RESULT[culvert/$p.rps]}" \
    "${RESULT[culvert/$p.cpu]}" "${RESULT[culvert/$p.client]}" "$n" "${RESULT[nisshi/$p.rps]}" \
    "${RESULT[nisshi/$p.cpu]}" "${RESULT[nisshi/$p.client]}" "$(python3 -c "print(round($c/$n,2) if $n else 'n/a')")"
done

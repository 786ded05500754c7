#!/usr/bin/env bash
# Transaction commits: librdkafka transactional producers (one thread and transactional id
# each) commit small transactions (one 1 KiB record per partition) against Culvert's broker
# and, side by side on the same machine, against nisshi (an independent Rust
# Kafka-compatible broker). Prints commits/s over all producers, the commit latency the
# producers saw (p50/p99 ms) and the ratio Culvert / nisshi, for one and for eight
# producers writing one and eight partitions per transaction.
#
#   bench/txn-commit.sh [TRANSACTIONS_PER_PRODUCER]     (default 200)
#
# Release builds; nisshi is built once by scripts/nisshi (see bench/broker-throughput.sh).
# Culvert's default durability applies: every transaction-state change and marker is
# fsynced before the commit is answered (nisshi's memory engine fsyncs nothing). Not part
# of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
TXNS=${1:-200}

echo "building (release)..." >&2
cargo build --release -q -p culvert --bin culvert
cargo build --release -q -p culvert-log-engine --example txnload
CULVERT=target/release/culvert
TXNLOAD=target/release/examples/txnload
NISSHI=$(scripts/nisshi)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

CASES="1x1 1x8 8x1 8x8"
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
  for c in $CASES; do
    local producers=${c%x*} partitions=${c#*x} out
    if out=$("$TXNLOAD" "127.0.0.1:$port" "t-$c" "$producers" "$TXNS" "$partitions" 2>"$data.err"); then
      RESULT[$name/$c.cps]=$(field "$out" commits_per_s)
      RESULT[$name/$c.p50]=$(field "$out" commit_p50_ms)
      RESULT[$name/$c.p99]=$(field "$out" commit_p99_ms)
    else
      echo "$name $c failed: $(tail -1 "$data.err")" >&2
      RESULT[$name/$c.cps]=0; RESULT[$name/$c.p50]=n/a; RESULT[$name/$c.p99]=n/a
    fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.toml" "$data.log" "$data.err"
}

run_broker culvert
run_broker nisshi

printf '\n%s transactions per producer, %s, %s cores\n' "$TXNS" "$(uname -m)" "$(nproc)"
printf '%-22s %14s %8s %8s %14s %8s %8s %7s\n' "producers x partitions" "culvert com/s" p50 p99 \
  "nisshi com/s" p50 p99 ratio
for c in $CASES; do
  a=${RESULT[culvert/$c.cps]}; b=${RESULT[nisshi/$c.cps]}
  printf '%-22s %14s %8s %8s %14s %8s %8s %7s\n' "$c" "$a" "${RESULT[culvert/$c.p50]}" \
    "${RESULT[culvert/$c.p99]}" "$b" "${RESULT[nisshi/$c.p50]}" "${RESULT[nisshi/$c.p99]}" \
    "$(python3 -c "print(round($a/$b,2) if $b else 'n/a')")"
done

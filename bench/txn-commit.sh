#!/usr/bin/env bash
# Transaction commits on Culvert's broker: librdkafka transactional producers (one thread
# and transactional id each) commit small transactions (one 1 KiB record per partition),
# for one and for eight producers writing one and eight partitions per transaction.
# Baseline, run side by side on the same broker: idempotent producers sending the same
# records and waiting for their acknowledgements (acks=all) where the others commit — what
# the same writes cost without a transaction. Prints commits (or acknowledged rounds) per
# second over all producers, the latency each producer saw (p50/p99 ms, from its sends to
# the commit's answer) and the ratio transactional / plain.
#
#   bench/txn-commit.sh [TRANSACTIONS_PER_PRODUCER]     (default 300)
#
# nisshi, the other brokers' baseline in bench/, answers InitProducerId with a
# transactional id with "transactions are not supported", so it cannot be measured here.
# Culvert's default durability applies: every transaction-state change (but the final
# Complete record) and every marker is fsynced before the commit is answered. Release
# builds; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
TXNS=${1:-300}

echo "building (release)..." >&2
cargo build --release -q -p culvert --bin culvert
cargo build --release -q -p culvert-log-engine --example txnload
CULVERT=target/release/culvert
TXNLOAD=target/release/examples/txnload

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

port=$(free_port)
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data" "$data.toml" "$data.log"' EXIT
printf 'listeners = "127.0.0.1:%s"\n"log.dirs" = "%s"\n' "$port" "$data" > "$data.toml"
RUST_LOG=warn "$CULVERT" broker --config "$data.toml" >/dev/null 2>"$data.log" &
pid=$!
wait_port "$port"

CASES="1x1 1x8 8x1 8x8"
declare -A RESULT
for c in $CASES; do
  producers=${c%x*}; partitions=${c#*x}
  for mode in txn plain; do
    extra=; [ "$mode" = plain ] && extra=plain
    out=$("$TXNLOAD" "127.0.0.1:$port" "t-$mode-$c" "$producers" "$TXNS" "$partitions" $extra)
    RESULT[$mode/$c.cps]=$(field "$out" commits_per_s)
    RESULT[$mode/$c.p50]=$(field "$out" commit_p50_ms)
    RESULT[$mode/$c.p99]=$(field "$out" commit_p99_ms)
  done
done

printf '\n%s transactions per producer, %s, %s cores\n' "$TXNS" "$(uname -m)" "$(nproc)"
printf '%-22s %13s %7s %7s %13s %7s %7s %7s\n' "producers x partitions" "txn commits/s" p50 p99 \
  "plain acks/s" p50 p99 ratio
for c in $CASES; do
  a=${RESULT[txn/$c.cps]}; b=${RESULT[plain/$c.cps]}
  printf '%-22s %13s %7s %7s %13s %7s %7s %7s\n' "$c" "$a" "${RESULT[txn/$c.p50]}" \
    "${RESULT[txn/$c.p99]}" "$b" "${RESULT[plain/$c.p50]}" "${RESULT[plain/$c.p99]}" \
    "$(python3 -c "print(round($a/$b,2) if $b else 'n/a')")"
done

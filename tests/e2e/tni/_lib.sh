#!/usr/bin/env bash
# tests/e2e/tni/_lib.sh - helpers of the `tni` group (transactional network
# interface; not a scenario).
#
#   source "$(dirname "$0")/_lib.sh"       # also sources tests/lib.sh
#   test_begin
#   tni_setup tla|2ca|sma|plain [craft-txserver options...]
#   tni_capture_start; tni_client --conns 8 --txns 20 ...; tni_capture_stop
#   tni_verify_capture; tni_check_server_log
#
# Topology: the peer is cl (python, plain sockets, tests/e2e/tni/_client.py),
# the transactional server is craft-txserver on b1 port TNI_PORT; the logger
# host lg runs craft-tla (TLA: rules/tla.sh queues the service's forwarded
# TCP) or craft-relay2ca (2CA: the peer connects to the relay on lg's
# proxy-side address, the relay connects to b1). Control connections go
# from b1 to lg's backend-side address, port TNI_CTL_PORT. SMA and plain
# need nothing on lg (it forwards).
# After tni_setup: PEER_HOST, PEER_PORT (where the peer connects), SRV_PID,
# SRV_LOG (the server's per-attempt log), TLA_STATS / TLA_PID (tla),
# RELAY_STATS / RELAY_PID (2ca), TNI_KEY.
# Results are returned in globals read by the scenarios.
# shellcheck disable=SC2034
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

TNI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TNI_PORT=7000
TNI_CTL_PORT=7100
TNI_Q=0
TNI_TLA_EXTRA=${TNI_TLA_EXTRA:-}
CAP_PID=

tni_key() {
  TNI_KEY=$TOPO_DIR/tx.key
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$TNI_KEY")
}

tni_start_tla() {
  local conf=$TOPO_DIR/tla.conf lgbe
  lgbe=$(topo_addr lg-be)
  {
    echo "[queue]"
    echo "num = $TNI_Q"
    echo "copy_range = 65531"
    echo "[tla]"
    echo "port = $TNI_PORT"
    [ -n "$TNI_TLA_EXTRA" ] && printf '%s\n' "$TNI_TLA_EXTRA"
    echo "[control]"
    echo "listen = $lgbe:$TNI_CTL_PORT"
    echo "key_file = $TNI_KEY"
  } >"$conf"
  t_check "rules/tla.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/tla.sh" up --port "$TNI_PORT" --queue "$TNI_Q"
  TLA_STATS=$TOPO_DIR/tla.stats
  TLA_LOG=$TOPO_DIR/tla.log
  start_daemon lg tla "$TLA_LOG" -c "$conf" --stats-file "$TLA_STATS"
  TLA_PID=$DAEMON_PID
  wait_daemon_queue lg "$TNI_Q" "$TLA_PID" "$TLA_LOG"
  topo_wait_port lg "$lgbe" "$TNI_CTL_PORT" 5 || result_fail "craft-tla does not listen for control: $(tail -n 3 "$TLA_LOG" | tr '\n' ' ')"
}

tni_start_relay() {
  local lg lgbe b1
  lg=$(topo_addr lg)
  lgbe=$(topo_addr lg-be)
  b1=$(topo_addr b1)
  RELAY_STATS=$TOPO_DIR/relay.stats
  RELAY_LOG=$TOPO_DIR/relay.log
  require_bin relay2ca
  topo_start_bg lg "$RELAY_LOG" "$(craft_path relay2ca)" --listen "$lg:$TNI_PORT" \
    --server "$b1:$TNI_PORT" --control "$lgbe:$TNI_CTL_PORT" --key-file "$TNI_KEY" \
    --stats-file "$RELAY_STATS"
  RELAY_PID=$TOPO_LAST_PID
  topo_wait_port lg "$lg" "$TNI_PORT" 5 || result_fail "craft-relay2ca does not listen: $(tail -n 3 "$RELAY_LOG" | tr '\n' ' ')"
}

# tni_setup MODE [craft-txserver options...]
tni_setup() {
  local mode=$1 b1 lgbe
  shift
  TNI_MODE=$mode
  require_tools python3 tcpdump iptables
  require_bin txserver
  [ "$mode" = tla ] && require_bin tla
  [ "$mode" = 2ca ] && require_bin relay2ca
  topo_up
  tni_key
  b1=$(topo_addr b1)
  lgbe=$(topo_addr lg-be)
  PEER_HOST=$b1
  PEER_PORT=$TNI_PORT
  case "$mode" in
    tla) tni_start_tla ;;
    2ca)
      tni_start_relay
      PEER_HOST=$(topo_addr lg)
      ;;
  esac
  SRV_LOG=$TOPO_DIR/server.log
  : >"$SRV_LOG"
  topo_start_bg b1 "$TOPO_DIR/txserver.err" "$(craft_path txserver)" --mode "$mode" \
    --listen "$b1:$TNI_PORT" --logger "$lgbe:$TNI_CTL_PORT" --key-file "$TNI_KEY" \
    --log "$SRV_LOG" "$@"
  SRV_PID=$TOPO_LAST_PID
  topo_wait_port b1 "$b1" "$TNI_PORT" 5 || result_fail "craft-txserver does not listen: $(tail -n 3 "$TOPO_DIR/txserver.err" | tr '\n' ' ')"
}

tni_capture_start() {
  CAP_PCAP=$TOPO_DIR/peer.pcap
  topo_start_bg cl "$TOPO_DIR/tcpdump.log" tcpdump -i eth0 -s 0 -B 65536 --immediate-mode -U -n -w "$CAP_PCAP" "tcp port $PEER_PORT"
  CAP_PID=$TOPO_LAST_PID
  wait_for 5 grep -qs "listening on" "$TOPO_DIR/tcpdump.log" || result_fail "tcpdump did not start: $(tr '\n' ' ' <"$TOPO_DIR/tcpdump.log")"
}

tni_capture_stop() {
  local i s0 s1
  [ -n "$CAP_PID" ] || return 0
  # tcpdump drops what it has not read from the kernel yet when it is
  # interrupted: wait until the file stops growing.
  s0=-1
  for ((i = 0; i < 20; i++)); do
    sleep 0.4
    s1=$(stat -c %s "$CAP_PCAP" 2>/dev/null || echo 0)
    [ "$s1" = "$s0" ] && break
    s0=$s1
  done
  topo_stop "$CAP_PID" INT 5 || true
  CAP_PID=
}

# json_get JSON KEY
json_get() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if not isinstance(v, list) else "; ".join(map(str, v)))' "$1" "$2"; }

# tni_client [client options...]: runs the peer; sets CLIENT_JSON, CLIENT_RC.
tni_client() {
  CLIENT_RC=0
  rm -f "$TOPO_DIR"/peer.*.bin
  CLIENT_JSON=$(topo_exec cl timeout 200 python3 "$TNI_DIR/_client.py" --host "$PEER_HOST" \
    --port "$PEER_PORT" --out-prefix "$TOPO_DIR/peer" "$@") || CLIENT_RC=$?
  say "client: $CLIENT_JSON"
  [ -n "$CLIENT_JSON" ] || result_fail "client printed nothing (exit $CLIENT_RC)"
}

# tni_client_ok: FAIL unless every response was exact and no 'X' arrived.
tni_client_ok() {
  local errs leaked
  errs=$(json_get "$CLIENT_JSON" errors)
  leaked=$(json_get "$CLIENT_JSON" leaked_x)
  [ "$leaked" = 0 ] || result_fail "$leaked aborted bytes reached the peer: $(json_get "$CLIENT_JSON" first_errors)"
  if [ "$CLIENT_RC" != 0 ] || [ "$errs" != 0 ]; then
    result_fail "peer saw $errs bad responses (exit $CLIENT_RC): $(json_get "$CLIENT_JSON" first_errors) | server: $(tail -n 2 "$SRV_LOG" | tr '\n' ' ')"
  fi
}

# tni_verify_capture: the capture on the peer's side holds, per connection,
# exactly the bytes the peer read, and no aborted byte anywhere.
tni_verify_capture() {
  local cap f port len sha n=0
  cap=$(python3 "$TNI_DIR/_pcap.py" "$CAP_PCAP" "$PEER_PORT") || result_fail "cannot read the capture"
  [ "$(json_get "$cap" x_bytes)" = 0 ] || result_fail "capture: $(json_get "$cap" x_bytes) aborted bytes on the wire to the peer"
  [ "$(json_get "$cap" conflicts)" = 0 ] || result_fail "capture: $(json_get "$cap" conflicts) bytes differ between copies"
  for f in "$TOPO_DIR"/peer.*.bin; do
    [ -e "$f" ] || continue
    port=${f%.bin}
    port=${port##*.}
    read -r len sha < <(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["streams"].get(sys.argv[2]); print(s["len"], s["sha256"]) if s else print(0, "none")' "$cap" "$port")
    [ "$len" = "$(stat -c %s "$f")" ] || result_fail "capture: connection $port carried $len bytes, the peer read $(stat -c %s "$f") (tcpdump: $(grep -h "packets" "$TOPO_DIR/tcpdump.log" | tr '\n' ' '))"
    [ "$sha" = "$(sha256_of "$f")" ] || result_fail "capture: connection $port bytes differ from what the peer read"
    n=$((n + 1))
  done
  CAP_STREAMS=$n
  CAP_SEGMENTS=$(json_get "$cap" segments)
}

# tni_check_server_log: every aborted attempt was followed by an attempt
# that read the same request again; no probe or replay check failed.
# Sets SRV_ABORTS, SRV_COMMITS, SRV_PROBES_OK.
tni_check_server_log() {
  local out
  out=$(awk '
    / abort_at=/ { split($1, c, "="); split($2, r, "="); split($3, a, "="); ab[c[2] " " r[2] " " a[2] + 1] = 1; aborts++ }
    / commit size=/ || / abort_at=/ || / commit_failed=/ {
      split($1, c, "="); split($2, r, "="); split($3, a, "="); seen[c[2] " " r[2] " " a[2]] = 1 }
    / commit size=/ { commits++ }
    /replay=bad/ { bad++ }
    / done / { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "probes_ok") pok += kv[2]; if (kv[1] == "probes_bad") pbad += kv[2] } }
    /probe=/ { pbad_lines++ }
    END {
      missing = 0
      for (k in ab) if (!(k in seen)) missing++
      printf "%d %d %d %d %d %d\n", aborts, commits, bad, missing, pok, pbad + pbad_lines }' "$SRV_LOG")
  read -r SRV_ABORTS SRV_COMMITS bad missing SRV_PROBES_OK pbad <<<"$out"
  [ "$bad" = 0 ] || result_fail "server read another request after $bad aborts: $(grep -m1 replay=bad "$SRV_LOG")"
  [ "$missing" = 0 ] || result_fail "$missing aborted requests were never read again"
  [ "$pbad" = 0 ] || result_fail "control probes not refused as expected: $(grep -m2 probe= "$SRV_LOG" | tr '\n' ' ')"
}

# tni_stat FILE NAME: a counter (0 when absent).
tni_stat() { stats_get "$1" "$2" 2>/dev/null || echo 0; }

tni_wait_stats() {
  local f=$1 m0
  m0=$(stat -c %Y.%y "$f" 2>/dev/null || echo none)
  wait_for 3 tni__moved "$f" "$m0" || true
}
tni__moved() { [ "$(stat -c %Y.%y "$1" 2>/dev/null || echo none)" != "$2" ]; }

test_cleanup() {
  [ -n "$CAP_PID" ] && topo_stop "$CAP_PID" INT 2 >/dev/null 2>&1
  [ -n "${TOPO_PREFIX:-}" ] && topo_exec lg "$CRAFT_ROOT/rules/tla.sh" down >/dev/null 2>&1
  return 0
}

# tni_run_random MODE CONNS TXNS: random transactions on CONNS concurrent
# connections: commit rates 0/30/70/100% per connection, response sizes
# random up to 200 KB, random abort points, at most 2 aborts per request;
# every other connection has a 16 KB receive buffer, so the server's queue
# backs up and the tail of one attempt shares segments with the next (the
# logger must split them). Checks the peer's bytes, the capture and the
# server's log.
# Sets RUN_S (seconds), TXNS, BYTES.
tni_run_random() {
  local mode=$1 conns=$2 txns=$3 t0 t1
  tni_setup "$mode" --commit-rate 50 --max-aborts 2 --abort-point random --seed "$RANDOM" --max-conns 64
  tni_capture_start
  t0=$(now_ms)
  tni_client --conns "$conns" --txns "$txns" --size-random "${TNI_SIZES:-1:200000}" --rates 0,30,70,100 \
    --rcvbuf 16384 --seed "$RANDOM"
  t1=$(now_ms)
  tni_capture_stop
  tni_client_ok
  tni_verify_capture
  tni_check_server_log
  [ "$SRV_ABORTS" -gt 10 ] || result_fail "only $SRV_ABORTS aborts: the test did not exercise aborts"
  [ "$SRV_COMMITS" = $((conns * txns)) ] || result_fail "server committed $SRV_COMMITS transactions, want $((conns * txns))"
  RUN_S=$(fdiv $((t1 - t0)) 1000 1)
  # aborts whose point is not on an MSS boundary (1448 bytes with timestamps)
  MIDSEG=$(awk '/ abort_at=/ { split($4, k, "="); if (k[2] % 1448) n++ } END { print n + 0 }' "$SRV_LOG")
  TXNS=$(json_get "$CLIENT_JSON" txns)
  BYTES=$(json_get "$CLIENT_JSON" bytes)
}

# tni_run_control MODE: every 3rd transaction's control connection drops in
# the middle of its response, every 4th commit is preceded by control
# requests the logger must refuse (wrong offsets, unknown connection,
# forged, replayed, wrong session). Sets DROPS, PROBES, TXNS, BYTES.
tni_run_control() {
  local mode=$1
  tni_setup "$mode" --commit-rate 80 --max-aborts 1 --abort-point random --seed "$RANDOM" \
    --drop-ctl-every 3 --probe-bad-every 4
  tni_capture_start
  tni_client --conns 6 --txns 12 --size-random 1000:40000 --seed "$RANDOM"
  tni_capture_stop
  tni_client_ok
  tni_verify_capture
  tni_check_server_log
  DROPS=$(grep -c "commit_failed=.*reason=ctl_lost" "$SRV_LOG" || true)
  PROBES=$SRV_PROBES_OK
  [ "$DROPS" -ge 6 ] || result_fail "only $DROPS transactions lost their control connection: $(grep -m2 commit_failed "$SRV_LOG" | tr '\n' ' ')"
  [ "$PROBES" -ge 60 ] || result_fail "only $PROBES bad control requests were refused"
  TXNS=$(json_get "$CLIENT_JSON" txns)
  BYTES=$(json_get "$CLIENT_JSON" bytes)
}

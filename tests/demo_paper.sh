#!/usr/bin/env bash
# tests/demo_paper.sh - the last part of `make demo` (run by tests/demo.sh,
# also on its own): the paper's experiment (CRAFT §6, Tables 2-3) on the
# demo application. Prints the table on stdout and ends with one line
# `PASS demo/paper: ...` or `FAIL demo/paper: why`; tears down on every exit.
#
# Test bed: the failover matrix's webmail bed (tests/e2e/failover/_matrix.sh,
# mx_setup webmail): craft-webmail on b1 (primary, pushing session state)
# and b2 (alternate, with craft-agent), craft-auxd on aux, craft-logger on
# lg (detection, crash guard, [logged]), craft-proxy on p1 with [recovery].
#
# Workloads (tests/net/actions.py, the one Action client): Action 1 (GET /,
# style.css, app.js, logo.svg) and Action 2 (log in, compose, send, log
# out), DEMO_N1 / DEMO_N2 actions per run, every run on ONE keep-alive
# connection. Action DEMO_CRASH_AT of every run (see CRASH_AT) carries one
# more request, a GET of a 2 MiB static file read at DEMO_RATE bytes/s: the
# failure comes when 40% of it is in (in action 2 inside the session,
# after compose).
# The same requests in every run, so the runs compare:
#   direct       cl -> b1:8080 without CRAFT (the logger's queue bypassed
#                for cl's flows to b1 and b2 by a rule ahead of its own)
#   craft        cl -> VIP -> craft-proxy -> craft-logger -> b1, no failure
#   sigkill      as craft; every craft-webmail process on b1 SIGKILLed (by
#                PID) mid-response: the crash guard turns b1's close into a
#                failure, the proxy moves the connection to b2
#   link down    as craft; b1's interface goes down mid-response
#   traditional  as direct; b1's interface goes down mid-response; the
#                client notices by its timeout (DEMO_TRAD_TIMEOUT s),
#                reconnects to b2, re-issues the request, logs in again when
#                b2 says its session is gone and redoes the action's compose
# b1 comes back between failure runs (webmail restarted with its old command
# line, or the link up) and the logger has declared it recovered before the
# next run. Checked per run: every answer 200 and, head and body, equal to
# the craft run's (session keys masked); one connection for every CRAFT run
# and one "recovered b1 -> b2" failover row per failure; the SIGKILL rows
# are the crash guard's (trigger=close). Figures are the client's own:
# time of the run without the test's pauses, and the longest wait for a byte.
# shellcheck source=tests/e2e/failover/_matrix.sh
source "$(dirname "$0")/e2e/failover/_matrix.sh"
# shellcheck source=tests/e2e/failover/_crash.sh
source "$(dirname "$0")/e2e/failover/_crash.sh"
TEST_NAME=demo/paper
test_begin
# on a failure: the proxy's (tests/e2e/splice/_lib.sh) and the logger's log
# tails to stderr before the test bed goes
eval "$(declare -f test_cleanup | sed '1s/^test_cleanup/px_test_cleanup/')"
# shellcheck disable=SC2317 # called by the EXIT trap of tests/lib.sh
test_cleanup() {
  px_test_cleanup
  [ -n "${LG_LOG:-}" ] && [ -f "$LG_LOG" ] || return 0
  echo "--- logger log (last ${DEMO_LOG_LINES:-20} lines) ---" >&2
  tail -n "${DEMO_LOG_LINES:-20}" "$LG_LOG" >&2
  [ -f "${LG_STATS:-}" ] && echo "--- logger stats: $(grep -E '^(crash|detect_(failures|recoveries|probe))' "$LG_STATS" | tr '\n' ' ')" >&2
  return 0
}
require_tools ps sqlite3

# scaled so that the ten runs and four failovers take about a minute on a
# busy 2-core host
N1=${DEMO_N1:-1000}
N2=${DEMO_N2:-600}
# The action that carries the failure: early enough that fewer than 256
# transactions precede it. Recovery asks the logger for the connection's
# transactions (T_L, the replay list) and both bound them: the logger's
# byte store indexes the newest 256 per connection ([logger] txn_index) and
# the proxy's job holds 256 (RECOVERY_MAX_REPLAY); on a read-only
# connection (T_A 0) an older log yields "inconsistent-log" and a reset.
CRASH_AT=${DEMO_CRASH_AT:-50}
RATE=${DEMO_RATE:-4000000}
# the traditional client's timeout: above any normal answer here (a few ms)
# and short, so that the demo stays short; a browser waits far longer
TRAD_TIMEOUT=${DEMO_TRAD_TIMEOUT:-2}

T0=$(now_ms)
mx_setup webmail
CL=$(topo_addr cl)
# b1's send buffers capped (the autotuning would reach 4 MiB): craft-webmail
# writes a response as fast as its socket takes it, and with the whole 2
# MiB in b1's kernel a SIGKILL would not cut the response at all - the
# kernel would finish it and close, a failure between two transactions.
# Capped, most of the body is still in the process when it dies (p > 0).
topo_exec b1 sysctl -qw net.ipv4.tcp_wmem="4096 65536 262144"
# the direct runs are the baseline without CRAFT: the logger must not even
# see them (its queue is the cost being measured)
for b in "$B1" "$B2"; do
  for dir in "-s $CL -d $b --dport $FO_PORT" "-s $b --sport $FO_PORT -d $CL"; do
    # shellcheck disable=SC2086 # the match is several words
    t_check "cannot exempt the direct flows from the logger" topo_exec lg iptables -w -t mangle \
      -I FORWARD 1 -p tcp $dir -j ACCEPT -m comment --comment demo-direct
  done
done

# ---- the client -------------------------------------------------------------

SYNC=$TOPO_DIR/act
ACT_OUT=$TOPO_DIR/act.out
fifo=$TOPO_DIR/act.fifo
mkfifo "$fifo"
: >"$ACT_OUT"
topo_exec cl python3 "$CRAFT_ROOT/tests/net/actions.py" serve "$SYNC" <"$fifo" >"$ACT_OUT" 2>&1 &
ACT_PID=$!
printf '%s cl actions.py\n' "$ACT_PID" >>"$TOPO_DIR/pids"
exec {ACT_FD}>"$fifo"

act_done() { [ "$(wc -l <"$ACT_OUT")" -gt "$ACT_LINES" ]; }
act_alive() { kill -0 "$ACT_PID" 2>/dev/null || result_fail "$RUN: the client died: $(tail -n 3 "$ACT_OUT" | tr '\n' ' ')"; }

# act_start ACTION HOST PORT NOSYNC [FALLBACK_JSON]: one run, in the background.
act_start() {
  local action=$1 host=$2 port=$3 nosync=$4 fb=${5:-null} n=$N1 timeout=30 at
  [ "$action" = action2 ] && n=$N2
  at=$((n / 2 < CRASH_AT ? n / 2 : CRASH_AT))
  [ "$fb" = null ] || timeout=$TRAD_TIMEOUT
  rm -f "$SYNC.ready" "$SYNC.go"
  ACT_LINES=$(wc -l <"$ACT_OUT")
  ACT_FILE=$TOPO_DIR/answers.${RUN// /_}
  printf '{"host":"%s","port":%s,"action":"%s","n":%s,"nosync":%s,"timeout":%s,"fallback":%s,"out":"%s","crash":{"at":%s,"path":"/static/big","rate":%s}}\n' \
    "$host" "$port" "$action" "$n" "$nosync" "$timeout" "$fb" "$ACT_FILE" "$at" "$RATE" >&"$ACT_FD"
}

# act_wait_ready: the client stopped reading in the middle of the big file.
act_wait_ready() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [ -e "$SYNC.ready" ] && return 0
    act_done && result_fail "$RUN: the run ended before its failure point: $(tail -n 1 "$ACT_OUT")"
    act_alive
    sleep 0.05
  done
  result_fail "$RUN: the client did not reach its failure point within 60 s"
}

# act_wait: R_TOTAL R_GAP R_CONN R_RELOGIN R_REQS of the current run; its
# answers must be the reference's (REF_FILE[action], the craft run).
declare -A REF_FILE=()
act_wait() {
  local action=$1 i line ok
  for ((i = 0; i < 1800; i++)); do
    act_done && break
    act_alive
    sleep 0.05
  done
  act_done || result_fail "$RUN: the client did not finish within 90 s; proxy: $(px_log_tail 4)"
  line=$(sed -n "$((ACT_LINES + 1))p" "$ACT_OUT")
  read -r ok R_TOTAL R_GAP R_CONN R_RELOGIN R_REQS <<<"$line"
  [ "$ok" = OK ] || result_fail "$RUN: client: $line; proxy: $(px_log_tail 4)"
  if [ -n "${REF_FILE[$action]:-}" ]; then
    cmp -s "$ACT_FILE" "${REF_FILE[$action]}" ||
      result_fail "$RUN: answers differ from the run without failure: $(diff "${REF_FILE[$action]}" "$ACT_FILE" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
  fi
}

# ---- failure and revival of b1 ------------------------------------------------

# wm_pids_b1: every craft-webmail process in b1's namespace.
wm_pids_b1() {
  local pid
  for pid in $(ip netns pids "$(topo_ns b1)"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = craft-webmail ] && echo "$pid"
  done
  return 0
}

# kill_webmail_b1: SIGKILL every craft-webmail process on b1 by PID; keeps
# the command line of the first to start it again.
kill_webmail_b1() {
  local pids
  pids=$(wm_pids_b1)
  [ -n "$pids" ] || result_fail "$RUN: no craft-webmail on b1"
  mapfile -d '' -t WM_ARGV <"/proc/$(head -n 1 <<<"$pids")/cmdline"
  # shellcheck disable=SC2086 # one PID a word
  kill -KILL $pids
  KILLED=${pids//$'\n'/ }
}

n_rows() { mx__nrows; }

# revive_b1 HOW: b1 back (sigkill: craft-webmail started again with the
# command line it had; link: the interface up with its routes) and, when
# the logger had declared it failed, seen recovered.
revive_b1() {
  local how=$1 r0 pid
  r0=$(lg_stat detect_recoveries)
  if [ "$how" = sigkill ]; then
    for pid in $KILLED; do wait "$pid" 2>/dev/null || true; done
    topo_start_bg b1 "$TOPO_DIR/b1.log.$r0" "${WM_ARGV[@]}"
    wait_port b1 "$B1" "$FO_PORT" || result_fail "$RUN: webmail on b1 did not start again: $(tail -n 2 "$TOPO_DIR/b1.log.$r0" | tr '\n' ' ')"
  else
    fo_revive_link b1
  fi
  if [ "$(lg_stat detect_failures)" -gt "$(lg_stat detect_recoveries)" ]; then
    wait_for 15 mx__recovered "$r0" || result_fail "$RUN: the logger never saw b1 come back: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
  fi
}

# wait_row N: the proxy's N-th failover row, "recovered b1 -> b2" with
# p > 0 (the failure cut a response: the client had part of it).
wait_row() {
  local row outcome backend alternate p
  row=$(mx__row "$1")
  [ -n "$row" ] || result_fail "$RUN: no failover row within 30 s: $(px_log_tail 4)"
  IFS='|' read -r outcome backend alternate _ p _ <<<"$row"
  [ "$outcome|$backend|$alternate" = "recovered|$B1:$FO_PORT|$B2:$FO_PORT" ] || result_fail "$RUN: failover row: $row"
  [ "$p" -gt 0 ] || result_fail "$RUN: p = 0, the failure did not cut a response: $row"
}

# ---- the runs -------------------------------------------------------------------

declare -A T=() GAP=() CONN=() RELOG=()

# run ACTION MODE: one run, figures into T, GAP, CONN, RELOG [ACTION MODE].
run() {
  local action=$1 mode=$2 rows0
  RUN="$action $mode"
  rows0=$(n_rows)
  case "$mode" in
    direct) act_start "$action" "$B1" "$FO_PORT" 1 ;;
    craft) act_start "$action" "$VIP" 80 1 ;;
    sigkill | link) act_start "$action" "$VIP" 80 0 ;;
    traditional) act_start "$action" "$B1" "$FO_PORT" 0 "[\"$B2\",$FO_PORT]" ;;
  esac
  case "$mode" in
    sigkill)
      act_wait_ready
      kill_webmail_b1
      touch "$SYNC.go"
      ;;
    link | traditional)
      act_wait_ready
      fo_kill_link b1
      touch "$SYNC.go"
      ;;
  esac
  act_wait "$action"
  [ "$mode" = craft ] && REF_FILE[$action]=$ACT_FILE
  if [ "$mode" = traditional ]; then
    [ "$R_CONN" -ge 2 ] || result_fail "$RUN: the traditional client never reconnected"
  else
    [ "$R_CONN" = 1 ] || result_fail "$RUN: $R_CONN connects, want 1"
  fi
  case "$mode" in
    sigkill | link) wait_row $((rows0 + 1)) ;;
    *) [ "$(n_rows)" = "$rows0" ] || result_fail "$RUN: a failover row without a failure: $(fo_rows | tail -n 1)" ;;
  esac
  T[$action $mode]=$R_TOTAL
  GAP[$action $mode]=$R_GAP
  CONN[$action $mode]=$R_CONN
  RELOG[$action $mode]=$R_RELOGIN
  say "$RUN: ${R_TOTAL} ms, longest gap ${R_GAP} ms, $R_REQS requests, $R_CONN connect(s), $R_RELOGIN relogin(s)"
  case "$mode" in
    sigkill) revive_b1 sigkill ;;
    link | traditional) revive_b1 link ;;
  esac
}

TE0=$(now_ms)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for a in action1 action2; do
  # craft first: its answers are what every other run must match
  run "$a" craft
  run "$a" direct
done
for mode in sigkill link traditional; do
  for a in action1 action2; do run "$a" "$mode"; done
done
TE=$(($(now_ms) - TE0))
px_require_alive "after the experiment"
lg_alive

# ---- the table ----------------------------------------------------------------------

sec() { fdiv "$1" 1000 2; }
echo
echo "  Time for one run of N actions on one connection (s), as the client measured it"
echo "  (paper Tables 2-3; LAN in network namespaces, 2 MiB read at $((RATE / 1000000)) MB/s in action $CRASH_AT; failure at 40% of it)"
printf '  %-8s %4s | %-15s | %-27s | %-27s | %s\n' "" "" "no failure" "with failure" "failover (longest gap)" "CRAFT overhead"
printf '  %-8s %4s | %7s %7s | %8s %8s %9s | %8s %8s %9s | %s\n' \
  action N direct CRAFT SIGKILL "link dn" tradit. SIGKILL "link dn" tradit. "vs direct"
for a in action1 action2; do
  n=$N1
  [ "$a" = action2 ] && n=$N2
  d=${T[$a direct]} c=${T[$a craft]}
  printf '  %-8s %4s | %7s %7s | %8s %8s %9s | %8s %8s %9s | %s\n' "$a" "$n" \
    "$(sec "$d")" "$(sec "$c")" "$(sec "${T[$a sigkill]}")" "$(sec "${T[$a link]}")" "$(sec "${T[$a traditional]}")" \
    "$(sec "${GAP[$a sigkill]}")" "$(sec "${GAP[$a link]}")" "$(sec "${GAP[$a traditional]}")" \
    "$(sec $((c - d))) ($(fdiv $(((c - d) * 100)) "$d" 1)%)"
done
c1=${CONN[action1 traditional]} c2=${CONN[action2 traditional]}
rc1=$((c1 - 1)) rc2=$((c2 - 1))
echo "  reconnects: CRAFT runs 0 (one connection each); traditional action1 $rc1 (logged in again ${RELOG[action1 traditional]}x), action2 $rc2 (logged in again ${RELOG[action2 traditional]}x)"
echo "  after a failover the rest of a CRAFT run is served by b2"
echo "  every answer (status, head, body; session keys masked) equal to the CRAFT run without failure"
echo "  host: $(nproc) cores for all of it (client, craft-proxy, craft-logger, both backends, the agent, and"
echo "  whatever else runs here), load average $LOAD0 before the runs, $(cut -d' ' -f1 /proc/loadavg) after:"
echo "  CRAFT's per-request work competes with the request path for them (the paper: one machine per role)"

# ---- the failover history -----------------------------------------------------------

echo
echo "  sqlite3 proxy.db: SELECT ... FROM v_failover_history   (one row per recovered connection)"
sqlite3 -header -column "$PX_DB" \
  "SELECT event_id AS ev, backend, alternate, outcome, printf('%.1f', detect_to_start_ms) AS detect_to_start_ms, printf('%.1f', total_ms) AS total_ms, t_l, p, ack_cl, t_a, t_r, bytes_resent, txns_replayed AS replayed FROM v_failover_history" | sed 's/^/    /'
echo
echo "  sqlite3 logger.db: SELECT ... FROM failover_events   (the logger's detections; cause and latency"
echo "  taken out of detail; trigger=close: the crash guard held b1's FIN and its probe was refused)"
sqlite3 -header -column "$LG_DB" \
  "WITH f AS (SELECT detected_us, backend, outcome, detail || ' ' AS d FROM failover_events)
   SELECT strftime('%H:%M:%f', detected_us / 1e6, 'unixepoch') AS detected_utc, backend, outcome,
     substr(d, instr(d, 'cause=') + 6, instr(substr(d, instr(d, 'cause=') + 6), ' ') - 1) AS cause,
     printf('%.1f', substr(d, instr(d, 'latency_us=') + 11, instr(substr(d, instr(d, 'latency_us=') + 11), ' ') - 1) / 1000.0) AS latency_ms,
     CASE WHEN d LIKE '% trigger=close %' THEN 'close' ELSE '' END AS 'trigger',
     substr(d, instr(d, 'conns_affected=') + 15, instr(substr(d, instr(d, 'conns_affected=') + 15), ' ') - 1) AS conns
   FROM f ORDER BY detected_us" | sed 's/^/    /'
echo
echo "  sqlite3 logger.db: what the logger logged per backend (v_connections, v_transactions)"
sqlite3 -header -column "$LG_DB" \
  "SELECT c.server_ip || ':' || c.server_port AS backend, count(DISTINCT c.conn_id) AS conns, count(*) AS txns, sum(t.state = 'complete') AS complete, sum(t.access = 'update') AS updates, sum(t.response_bytes) AS response_bytes FROM v_transactions t JOIN v_connections c USING (conn_id) GROUP BY 1" | sed 's/^/    /'

# the SIGKILL detections are the crash guard's: b1's close held, a refused
# probe, failure declared at once
kills=$(sqlite3 -batch -noheader "$LG_DB" "SELECT count(*) FROM failover_events WHERE detail LIKE '%trigger=close%'")
[ "$kills" -ge 2 ] || result_fail "the logger's rows show $kills crash-guard detections, want 2 (the SIGKILLs): $(crash_lg_row | tr '\n' ' ')"
rows=$(n_rows)
[ "$rows" = 4 ] || result_fail "$rows failover rows at the proxy, want 4: $(fo_rows | tr '\n' ' ')"
gmax=0
for k in "${!GAP[@]}"; do
  case "$k" in *sigkill | *link) [ "${GAP[$k]}" -gt "$gmax" ] && gmax=${GAP[$k]} ;; esac
done
echo
result_pass "10 runs (${N1} x Action 1, ${N2} x Action 2 each, one connection each), 4 CRAFT failovers without a reconnect (longest client gap ${gmax} ms), traditional reconnected; experiment $(sec "$TE") s, with setup $(sec $(($(now_ms) - T0))) s"

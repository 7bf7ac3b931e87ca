#!/usr/bin/env bash
# logger/logged: the logger's "response fully logged" signal (logged.h,
# paper §4.1 step 5). craft-agent runs on b2 (b1's alternate); craft-logger
# on lg routes b1:8000's completed responses to it ([logged] agent =
# "b1:8000 b2:7500", the cluster key). curl on cl sends 5 GETs to httpd.py
# on b1:8000 on one keep-alive connection and 2 to nginx on b1:80 (no
# route). Then:
#   - the agent accepted authenticated LOGGED messages marking exactly 5
#     transactions (store_logged_marks), refused nothing;
#   - the logger counted 5 routed transactions, 2 unrouted, no send error;
#   - every body curl got equals the file served.
# shellcheck disable=SC2317 # the predicates below run through wait_for
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools curl nginx iptables sqlite3 sha256sum python3
require_bin logger agent

topo_up
topo_www
topo_nginx b1
topo_pyhttp b1 8000
B1=$(topo_addr b1)
B2=$(topo_addr b2)
KEY=$TOPO_DIR/cluster.key
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$KEY"
chmod 600 "$KEY"
AGENT_STATS=$TOPO_DIR/agent.stats
start_daemon b2 agent "$TOPO_DIR/agent.log" -o "agent.bind=$B2:7500" -o "agent.key_file=$KEY" -s "$AGENT_STATS"
AGENT_PID=$DAEMON_PID
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "[logged]
agent = \"$B1:8000 $B2:7500\"
key_file = $KEY
sender_id = 4"
lg_start "$CONF"

W=$TOPO_DIR/curl
mkdir -p "$W"
urls=()
for i in 1 2 3 4 5; do urls+=(-o "$W/py$i" "http://$B1:8000/1k"); done
topo_exec cl curl -sS --connect-timeout 5 -w '%{http_code} %{num_connects}\n' "${urls[@]}" >"$W/py.txt" || result_fail "curl to b1:8000 failed"
topo_exec cl curl -sS --connect-timeout 5 -w '%{http_code} %{num_connects}\n' -o "$W/ng1" "http://$B1/1k" -o "$W/ng2" "http://$B1/1k" >"$W/ng.txt" ||
  result_fail "curl to b1:80 failed"
[ "$(awk '{s += $2} END {print s}' "$W/py.txt")" = 1 ] || result_fail "curl did not reuse the connection"
for f in py1 py2 py3 py4 py5 ng1 ng2; do sha_eq "$W/$f" "$(topo_www_file 1k)" || result_fail "$f differs from the file served"; done

agent_stat() { stats_get "$AGENT_STATS" "$1" || echo 0; }
marks5() { [ "$(agent_stat store_logged_marks)" -ge 5 ]; }
wait_for 10 marks5 || result_fail "the agent marked $(agent_stat store_logged_marks) transactions logged, want 5 (rx $(agent_stat rx), refused $(agent_stat rx_auth_rejected))"
lg_wait_stat logged_unrouted 2
sleep 1.2 # one more stats period: nothing else arrives
[ "$(agent_stat store_logged_marks)" = 5 ] || result_fail "store_logged_marks $(agent_stat store_logged_marks), want exactly 5"
[ "$(agent_stat rx_auth_rejected)" = 0 ] || result_fail "the agent refused $(agent_stat rx_auth_rejected) datagrams"
msgs=$(lg_stat logged_messages)
[ "$(lg_stat logged_txns)" = 5 ] || result_fail "logged_txns $(lg_stat logged_txns), want 5"
[ "$(lg_stat logged_send_errors)" = 0 ] || result_fail "logged_send_errors $(lg_stat logged_send_errors)"
[ "$(agent_stat rx)" = "$msgs" ] || result_fail "the agent received $(agent_stat rx) messages, the logger sent $msgs"
lg_stop
topo_stop "$AGENT_PID" TERM 5 || result_fail "craft-agent did not exit 0"
result_pass "5 responses from b1:8000 reported logged to b2's agent in $msgs authenticated LOGGED message(s), 2 unrouted (b1:80), bodies byte-exact"

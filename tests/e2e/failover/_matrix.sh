#!/usr/bin/env bash
# tests/e2e/failover/_matrix.sh - the fault-injection matrix (issue 6):
# crash point x backend, each cell repeated on ONE test bed (the backend
# comes back between repetitions), shared by matrix_nginx.sh,
# matrix_webmail.sh and tests/bench/failover.sh. Not a scenario.
#
#   source "$(dirname "$0")/_matrix.sh"
#   test_begin
#   mx_setup nginx|webmail        # fo_setup with the backend's servers
#   mx_reference POINT            # the no-failure run: MX_REF[POINT]
#   mx_cell POINT REP             # one failover: MX_OUT (client figures),
#                                 # MX_ROW (its failover row), MX_LINE
#
# Crash points (POINT):
#   sent     the backend received a request and sent nothing yet: b1's
#            packets from the service port are dropped (iptables on b1)
#            before the request; once b1's socket holds the unsent answer
#            (so b1 and the logger on the way have the request) the link
#            goes down
#   mid      in the middle of a response (p > 0): at 40% of a large body
#            read at a bounded rate (the client reads on once it crashed)
#   between  between two transactions: after the earlier ones completed,
#            the next request follows the crash at once
#   upload   an upload whose body is half sent: the client sends the head
#            and half the body, waits until b1 acknowledged it, the link
#            goes down, then the client sends the rest
#   nondet   (nginx) like mid on /own/clock, a file that differs between
#            b1 and b2 and that no tag rule names: the client must get an
#            RST, never a body that mixes two responses
#   auxreplay (webmail) while the alternate is replaying an aux request:
#            like sent, but the silenced request is POST /send (of the
#            draft composed just before): b1 makes the aux request (the
#            aux server counts it, the aux logger on lg keeps its answer),
#            its own answer never leaves b1; recovery replays the send on
#            b2, and b2's aux request for the same transaction ID must be
#            answered by the aux logger from its log (the wiring of
#            failover/aux_replay: craft-logger with aux = yes and
#            [aux_divert], rules/aux-divert.sh on lg, the proxy's
#            [recovery] aux_logger), never by the aux server: had the
#            aux server seen the send twice, it would answer "aux 2" and
#            the response would differ from the run without failure.
#            MX_AUX_DIVERT=no leaves the proxy's aux_logger out (nothing
#            is diverted), to see this cell fail.
#
# The crash method is mx_crash: MX_CRASH=link (default) takes the host's
# link down (fo_kill_link), a machine that lost power; MX_CRASH=kill
# SIGKILLs every server process on the host by PID (_crash.sh; nginx bed
# only): the host lives, its kernel closes the sockets, and the logger's
# crash guard turns the FIN/RST into an immediate failure. mx_revive
# undoes either (kill: the server restarted, with the bed's conf patch).
#
# A cell passes when the client's one socket got every response with HTTP
# 2xx and the digest of the run without failure (so every update took
# effect exactly once as far as the responses show: draft ids and inboxes
# included), the failover row says recovered b1 -> b2, and the point's
# plan holds (mid: p > 0; sent, upload, auxreplay: T_L + 1 replayed). The
# scenario checks the application state (aux counters, the aux logger's
# diverted answers, uploaded files) on top.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
# shellcheck source=tests/e2e/failover/_crash.sh
source "$(dirname "${BASH_SOURCE[0]}")/_crash.sh"

MX_CRASH=${MX_CRASH:-link}
MX_REPS=${MX_REPS:-5}
MX_CLIENT=$CRAFT_ROOT/tests/e2e/failover/_mx_client.py
declare -gA MX_REF=()
MX_NCLIENTS=0

# ---- the crash ---------------------------------------------------------------

# mx_crash ROLE: ROLE falls silent (MX_CRASH).
mx_crash() {
  case "$MX_CRASH" in
    link) fo_kill_link "$1" ;;
    kill)
      # _crash.sh knows nginx's processes only; a webmail kill would also
      # have to restart b1's sync to b2's agent
      [ "$MX_BACKEND" = nginx ] || result_fail "MX_CRASH=kill: only the nginx bed has it"
      crash_kill_nginx "$1"
      ;;
    *) result_fail "unknown crash method MX_CRASH=$MX_CRASH" ;;
  esac
}

# mx_revive ROLE: ROLE answers again (whatever mx_silence and mx_crash did
# undone); waits until the logger has declared it recovered, so that the
# next repetition's failure is detected again.
mx_revive() {
  local role=$1 n0
  n0=$(lg_stat detect_recoveries)
  topo_exec "$role" iptables -w -D OUTPUT -p tcp --sport "$FO_PORT" -j DROP \
    -m comment --comment mx-silent 2>/dev/null || true
  case "$MX_CRASH" in
    link) fo_revive_link "$role" ;;
    kill)
      # a new nginx from the template, then the bed's /up/ and /own/ again;
      # the killed master's pid file goes first: nginx listens before it
      # writes its own, and the patch signals the PID in it
      rm -f "$TOPO_DIR/nginx-$role-80/nginx.pid"
      topo_nginx "$role" || result_fail "nginx on $role did not restart"
      wait_for 5 test -s "$TOPO_DIR/nginx-$role-80/nginx.pid" || result_fail "the new nginx on $role wrote no pid file"
      mx__nginx_patch "$role"
      ;;
  esac
  wait_for 15 mx__recovered "$n0" || result_fail "the logger never saw $role come back: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
}
mx__recovered() { [ "$(lg_stat detect_recoveries)" -gt "$1" ]; }

# mx_silence ROLE: ROLE's server port stops sending (the request still
# arrives): "received, nothing sent".
mx_silence() {
  topo_exec "$1" iptables -w -I OUTPUT -p tcp --sport "$FO_PORT" -j DROP -m comment --comment mx-silent
}

# mx__answer_held ROLE: the server on ROLE has written an answer its
# kernel could not send (Send-Q > 0 on an established service socket).
mx__answer_held() {
  topo_exec "$1" ss -Htn state established "( sport = :$FO_PORT )" | awk '$2 > 0 { f = 1 } END { exit !f }'
}

# ---- test beds -----------------------------------------------------------------

# nginx: /up/ takes PUT (dav) into the instance's own directory, /own/
# serves the instance's own files: the same URL answers differently on b1
# and b2 (the untagged non-determinism of the nondet point).
# shellcheck disable=SC2317 # called by fo_setup
mx__nginx_extras() {
  local r d
  head -c $((3 * 1024 * 1024)) "$(topo_www_file 10M)" >"$TOPO_DIR/www/3M"
  chmod 644 "$TOPO_DIR/www/3M"
  for r in b1 b2; do
    d=$TOPO_DIR/nginx-$r-80
    mkdir -p "$d/up" "$d/own"
    { echo "own file of $r"; head -c $((2 * 1024 * 1024)) "$(topo_www_file 10M)"; } >"$d/own/clock"
    mx__nginx_patch "$r"
  done
}

# mx__nginx_patch ROLE: ROLE's nginx (as topo_nginx wrote its conf) gets
# /up/ and /own/ and reloads; returns once /own/clock answers.
mx__nginx_patch() {
  local r=$1 d=$TOPO_DIR/nginx-$1-80 pid i
  sed -i "s|^        location / {|        location /up/ { root $d; dav_methods PUT; create_full_put_path on; }\n        location /own/ { root $d; }\n&|" "$d/nginx.conf"
  pid=$(cat "$d/nginx.pid")
  kill -HUP "$pid"
  for ((i = 0; i < 100; i++)); do
    [ "$(topo_exec "$r" curl -s -o /dev/null -w '%{http_code}' "http://$(topo_addr "$r")/own/clock")" = 200 ] && break
    sleep 0.05
  done
  [ "$i" -lt 100 ] || result_fail "nginx on $r did not reload with /up/ and /own/"
}

# webmail: as failover/webmail (b1 primary pushing to b2's agent, aux
# server), with a static directory that also holds a 2 MiB file (big) for
# the mid-response point, and, as failover/aux_replay, the logger on lg
# also the aux logger: it logs the aux service (7000, line protocol) and
# answers the replaying alternate's aux requests from that log
# ([aux_divert], rules/aux-divert.sh), told by the proxy's recovery
# (mx__px_write_conf). The whole bed has it, as a deployment would: in the
# other points b2's own sends after a recovery go through the diversion's
# relay to the aux server.
MX_AUXDIV_CTL=7610
# shellcheck disable=SC2317 # called by fo_setup
mx__webmail_apps() {
  local st=$TOPO_DIR/wm-static
  mkdir -p "$st"
  cp "$CRAFT_ROOT"/tools/webmail/static/* "$st/"
  head -c $((2 * 1024 * 1024)) "$(topo_www_file 10M)" >"$st/big"
  FO_LOGGER_EXTRA="$FO_LOGGER_EXTRA
key_file = $KEY
$(fo_aux_logger_conf "$(topo_addr lg):$MX_AUXDIV_CTL")"
  t_check "rules/aux-divert.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/aux-divert.sh" up --port 7000
  fo_webmail_apps "$st"
}

# The webmail bed's proxy also tells the aux logger when a recovery
# replays on b2 (px_write_conf of _lib.sh, plus [recovery] aux_logger),
# unless MX_AUX_DIVERT=no.
MX_AUX_DIVERT=${MX_AUX_DIVERT:-yes}
eval "mx__px_write_conf_base() $(declare -f px_write_conf | tail -n +2)"
# shellcheck disable=SC2317 # px_write_conf on the webmail bed
mx__px_write_conf() {
  mx__px_write_conf_base
  [ "$MX_AUX_DIVERT" = no ] && return 0
  printf '[recovery]\naux_logger = %s:%s\n' "$(topo_addr lg)" "$MX_AUXDIV_CTL" >>"$PX_CONF"
}

# mx_setup nginx|webmail
mx_setup() {
  MX_BACKEND=$1
  FO_KEEP=16MiB
  # the logger's counters every 100 ms: mx_revive waits for its
  # detect_recoveries (the detection config itself stays fo__logger's)
  FO_LOGGER_EXTRA="[daemon]
stats_interval = 100ms"
  case "$MX_BACKEND" in
    nginx)
      FO_TAGS='GET,HEAD /1k      deterministic read-only idempotent
GET      /3M      deterministic read-only idempotent
PUT      /up/*    deterministic update idempotent'
      # shellcheck disable=SC2034 # read by fo_setup
      FO_BEFORE_LOGGER=mx__nginx_extras
      ;;
    webmail)
      require_bin webmail agent auxd
      FO_PORT=8080
      FO_TAGS=$(cat "$CRAFT_ROOT/tools/webmail/tags.conf")
      FO_PROBE="HEAD / HTTP/1.0"
      FO_AGENT=$(topo_addr b2):7500
      FO_LOGGER_EXTRA="$FO_LOGGER_EXTRA
[logged]
agent = $(topo_addr b1):8080 $(topo_addr b2):7500
sender_id = 5"
      AUX=$(topo_addr aux)
      # shellcheck disable=SC2034 # read by fo_setup
      FO_BEFORE_LOGGER=mx__webmail_apps
      px_write_conf() { mx__px_write_conf; }
      ;;
    *) result_fail "mx_setup: unknown backend $MX_BACKEND" ;;
  esac
  fo_setup
  if [ "$MX_BACKEND" = webmail ]; then
    topo_wait_port lg 127.0.0.1 7399 5 || result_fail "the aux logger's listener is not up: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
  fi
  MX_SYNC=$TOPO_DIR/mx
  MX_UPLOAD=$TOPO_DIR/mx-upload
  if [ "$MX_BACKEND" = nginx ]; then
    head -c $((256 * 1024)) "$(topo_www_file 10M)" >"$MX_UPLOAD"
  else
    # a compose whose body is 1000 characters, each sent %-encoded
    printf 'to=dave%%40example.org&subject=upload&body=%s' "$(printf '%%41%.0s' $(seq 1000))" >"$MX_UPLOAD"
  fi
}

# ---- the workloads ---------------------------------------------------------------

# mx_steps POINT NAME: the client's steps (JSON) for POINT; NAME makes the
# upload's URL unique (nginx answers 201 only to a new file).
mx_steps() {
  local point=$1 name=$2
  if [ "$MX_BACKEND" = nginx ]; then
    local g1='{"m":"GET","p":"/1k"}' g3='{"m":"GET","p":"/3M"}'
    case "$point" in
      sent) echo "[$g1,{\"sync\":1},$g3,$g1]" ;;
      mid) echo "[$g1,{\"m\":\"GET\",\"p\":\"/3M\",\"rate\":2000000},$g1]" ;;
      between) echo "[$g1,$g1,{\"sync\":1},$g3,$g1]" ;;
      upload) echo "[$g1,{\"m\":\"PUT\",\"p\":\"/up/$name\",\"body\":\"$MX_UPLOAD\",\"split\":1},$g1,{\"m\":\"GET\",\"p\":\"/up/$name\"}]" ;;
      nondet) echo "[$g1,{\"m\":\"GET\",\"p\":\"/own/clock\",\"rate\":1000000}]" ;;
    esac
    return
  fi
  local pre='{"m":"POST","p":"/login","body":"'$TOPO_DIR/mx-login'"},{"m":"POST","p":"/compose","body":"'$TOPO_DIR/mx-c1'","cookie":1},{"m":"POST","p":"/send","body":"'$TOPO_DIR/mx-s1'","cookie":1},{"m":"GET","p":"/inbox","cookie":1}'
  local post='{"m":"POST","p":"/send","body":"'$TOPO_DIR/mx-s2'","cookie":1},{"m":"GET","p":"/inbox","cookie":1}'
  local c2='{"m":"POST","p":"/compose","body":"'$TOPO_DIR/mx-c2'","cookie":1}'
  [ -f "$TOPO_DIR/mx-login" ] || {
    printf 'user=alice&password=secret' >"$TOPO_DIR/mx-login"
    printf 'to=bob%%40example.org&subject=one&body=first' >"$TOPO_DIR/mx-c1"
    printf 'id=2' >"$TOPO_DIR/mx-s1"
    printf 'to=carol%%40example.org&subject=two&body=second' >"$TOPO_DIR/mx-c2"
    printf 'id=3' >"$TOPO_DIR/mx-s2"
  }
  case "$point" in
    sent | between) echo "[$pre,{\"sync\":1},$c2,$post]" ;;
    # the send of draft 3 (composed before the crash point) is the one
    # silenced
    auxreplay) echo "[$pre,$c2,{\"sync\":1},$post]" ;;
    mid) echo "[$pre,{\"m\":\"GET\",\"p\":\"/static/big\",\"rate\":2000000},$c2,$post]" ;;
    upload) echo "[$pre,{\"m\":\"POST\",\"p\":\"/compose\",\"body\":\"$MX_UPLOAD\",\"cookie\":1,\"split\":1},$post]" ;;
  esac
}

# mx__client_start: the client process on cl (_mx_client.py), fed one
# run per line through a fifo (MX_FD); its answers go to MX_CL_OUT.
mx__client_start() {
  local fifo=$TOPO_DIR/mx.fifo
  MX_CL_OUT=$TOPO_DIR/mx.client.out
  mkfifo "$fifo"
  : >"$MX_CL_OUT"
  topo_exec cl python3 "$MX_CLIENT" "$VIP" 80 "$MX_SYNC" <"$fifo" >"$MX_CL_OUT" 2>&1 &
  MX_CL_PID=$!
  printf '%s cl mx-client\n' "$MX_CL_PID" >>"$TOPO_DIR/pids"
  exec {MX_FD}>"$fifo"
}

# mx__client POINT NAME: one run of POINT's workload.
mx__client() {
  rm -f "$MX_SYNC".ready "$MX_SYNC".go "$MX_SYNC".got
  [ -n "${MX_CL_PID:-}" ] || mx__client_start
  local raw=0
  [ "$MX_BACKEND" = webmail ] && raw=1
  MX_NCLIENTS=$((MX_NCLIENTS + 1))
  MX_LINES=$(wc -l <"$MX_CL_OUT")
  printf '{"raw":%s,"nosync":%s,"steps":%s}\n' "$raw" "${MX_NOSYNC:-0}" "$(mx_steps "$1" "$2")" >&"$MX_FD"
}

# mx__done: the client answered the current run.
mx__done() { [ "$(wc -l <"$MX_CL_OUT")" -gt "$MX_LINES" ]; }

mx__client_alive() {
  kill -0 "$MX_CL_PID" 2>/dev/null || result_fail "$MX_CELL: the client died: $(tail -n 3 "$MX_CL_OUT" | tr '\n' ' ')"
}

# mx__wait_ready: the client reached its crash point.
mx__wait_ready() {
  local i
  for ((i = 0; i < 600; i++)); do
    if [ -e "$MX_SYNC.ready" ]; then
      rm -f "$MX_SYNC.ready"
      return 0
    fi
    mx__done && result_fail "$MX_CELL: the run ended before its crash point: $(tail -n 1 "$MX_CL_OUT")"
    mx__client_alive
    sleep 0.01
  done
  result_fail "$MX_CELL: the client never reached its crash point"
}

mx__go() { touch "$MX_SYNC.go"; }

# mx__wait_client: MX_OUT = the client's answer for the current run.
mx__wait_client() {
  local i
  for ((i = 0; i < 1200; i++)); do
    mx__done && break
    mx__client_alive
    sleep 0.05
  done
  mx__done || result_fail "$MX_CELL: the client did not finish within 60 s; proxy: $(px_log_tail 4)"
  MX_OUT=$(sed -n "$((MX_LINES + 1))p" "$MX_CL_OUT")
}

# mx_reference POINT: the run without failure: MX_REF[POINT] = its digest,
# MX_REF_MS[POINT] its duration.
declare -gA MX_REF_MS=()
mx_reference() {
  MX_CELL="$MX_BACKEND/$1/no-failure"
  MX_NOSYNC=1 mx__client "$1" "ref-$1"
  mx__wait_client
  local ok gap ms sha
  read -r ok gap ms sha _ <<<"$MX_OUT"
  [ "$ok" = OK ] || result_fail "$MX_CELL: $MX_OUT"
  MX_REF[$1]=$sha
  MX_REF_MS[$1]=$ms
}

# mx__lg_grew NAME BEFORE: the logger's counter NAME is above BEFORE.
mx__lg_grew() { [ "$(lg_stat "$1")" -gt "$2" ]; }

mx__nrows() { sqlite3 -batch -noheader "$PX_DB" "SELECT count(*) FROM failover_events" 2>/dev/null || echo 0; }

# mx__row N: the N-th failover row (1-based), waiting (30 s at most) for
# it to be stored.
mx__row() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$(mx__nrows)" -ge "$1" ] && break
    sleep 0.05
  done
  fo_rows | sed -n "${1}p"
}

# mx_cell POINT REP: one failover at POINT. Sets MX_OUT, MX_ROW, MX_GAP,
# MX_MS, MX_CRASH_MS (epoch ms of the crash) and MX_LINE (the figures).
mx_cell() {
  local point=$1 rep=$2 rows0 drop0
  MX_CELL="$MX_BACKEND/$point#$rep"
  [ "$MX_CRASH" = link ] || MX_CELL="$MX_BACKEND/$point:$MX_CRASH#$rep"
  rows0=$(mx__nrows)
  drop0=$(lg_stat crash_dropped)
  mx__client "$point" "r$rep-$RANDOM"
  case "$point" in
    sent | auxreplay)
      mx__wait_ready
      mx_silence b1
      mx__go
      wait_for 10 mx__answer_held b1 || result_fail "$MX_CELL: b1 never held an answer; proxy: $(px_log_tail 4)"
      MX_CRASH_MS=$(now_ms)
      mx_crash b1
      ;;
    mid | nondet | between | upload)
      mx__wait_ready
      MX_CRASH_MS=$(now_ms)
      mx_crash b1
      mx__go
      ;;
  esac
  # b1 comes back as soon as its connection is recovered (the row is
  # written when the job ends), while the client goes on with b2
  MX_ROW=$(mx__row $((rows0 + 1)))
  [ -n "$MX_ROW" ] || result_fail "$MX_CELL: no failover row within 30 s: $(px_log_tail 4)"
  local t_rev
  t_rev=$(now_ms)
  mx_revive b1
  t_rev=$(($(now_ms) - t_rev))
  mx__wait_client
  # a killed server's kernel closed the connection: the failure must have
  # come from the crash guard holding that close back from the client
  if [ "$MX_CRASH" = kill ]; then
    wait_for 3 mx__lg_grew crash_dropped "$drop0" ||
      result_fail "$MX_CELL: the crash guard dropped no close of b1 (crash_dropped $(lg_stat crash_dropped)); logger: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
  fi
  local n
  n=$(mx__nrows)
  [ "$n" = $((rows0 + 1)) ] || result_fail "$MX_CELL: $((n - rows0)) failover rows, want 1: $(fo_rows | tail -n $((n - rows0)) | tr '\n' ' ')"
  local outcome backend alternate t_l p replayed total_ms detail
  IFS='|' read -r outcome backend alternate t_l p _ _ _ _ replayed total_ms detail <<<"$MX_ROW"
  MX_LINE="T_L $t_l p $p replayed $replayed detected->done ${total_ms}ms; b1 back in ${t_rev}ms"
  if [ "$point" = nondet ]; then
    mx__check_nondet "$outcome" "$detail"
    return
  fi
  local ok gap ms sha
  read -r ok gap ms sha _ <<<"$MX_OUT"
  [ "$ok" = OK ] || result_fail "$MX_CELL: client: $MX_OUT; row: $MX_ROW; proxy: $(px_log_tail 4)"
  [ "$sha" = "${MX_REF[$point]}" ] || result_fail "$MX_CELL: the responses differ from the run without failure (sha256 $sha, want ${MX_REF[$point]})"
  [ "$outcome|$backend|$alternate" = "recovered|$B1:$FO_PORT|$B2:$FO_PORT" ] || result_fail "$MX_CELL: failover row: $MX_ROW"
  case "$point" in
    mid) [ "$p" -gt 0 ] || result_fail "$MX_CELL: p = 0, the crash was not mid-response: $MX_ROW" ;;
    sent | upload | auxreplay) { [ "$p" = 0 ] && [ "$replayed" -ge 1 ]; } || result_fail "$MX_CELL: want p = 0 and T_L + 1 replayed: $MX_ROW" ;;
  esac
  MX_GAP=$gap
  # shellcheck disable=SC2034 # read by tests/bench/failover.sh
  MX_MS=$ms
  MX_LINE="gap ${gap}ms total ${ms}ms (no failure ${MX_REF_MS[$point]}ms) recovered, $MX_LINE"
}

# mx__check_nondet OUTCOME DETAIL: the client got a reset (not a mix of
# two responses) within the detection bound, holding a prefix of b1's file.
mx__check_nondet() {
  local what got t_reset
  read -r what got t_reset <<<"$MX_OUT"
  [ "$what" = RESET ] || result_fail "$MX_CELL: the client got no reset: $MX_OUT; row: $MX_ROW"
  cmp -s "$MX_SYNC.got" <(head -c "$got" "$TOPO_DIR/nginx-b1-80/own/clock") ||
    result_fail "$MX_CELL: the bytes the client holds are not a prefix of b1's response"
  { [ "$1" = nondeterministic ] && [[ $2 == *"differs at byte"* ]]; } || result_fail "$MX_CELL: failover row: $MX_ROW"
  MX_GAP=$((t_reset - MX_CRASH_MS))
  [ "$MX_GAP" -le "$MX_RESET_BOUND_MS" ] || result_fail "$MX_CELL: reset $MX_GAP ms after the crash, bound $MX_RESET_BOUND_MS ms"
  MX_LINE="reset ${MX_GAP}ms after the crash, $got bytes of b1's held; $MX_LINE; $2"
}

# The detection time the nondet point's reset must come within: with the
# detection config of fo__logger, a stall of a kind never sampled (b1
# never completes /own/clock) is overdue after the ceiling (2000 ms) and
# confirmed by a failed probe (300 ms) or the confirm window (300 ms);
# plus 1000 ms for taking the link down, the recovery (fetching and
# comparing the p bytes, about 1.3 MB) and the reset's way to the client,
# on a loaded 2-core host. Well below the job timeout and the client's.
MX_RESET_BOUND_MS=${MX_RESET_BOUND_MS:-3600}

#!/usr/bin/env bash
# tests/bench/splice.sh - the proxy's splice against plain kernel forwarding
# and against HAProxy on the same host and path, in one run (issue 3,
# "Benchmark").  `make bench T=splice`.
#
# Path for every configuration: cl -> lb -> p1 -> lg -> b1 and back, so the
# proxy host is one of the hops in all of them:
#   kernel      no proxy: the client talks to b1's own address; for the
#               duration of the round lb routes 198.18.2.0/24 and lg routes
#               198.18.0.0/24 via p1 (198.18.1.11), which forwards them
#               (ip_forward=1, send_redirects=0, no queue rule).  The round
#               checks that p1's ForwDatagrams counter moved.
#   craft       build/bin/craft-proxy on the VIP (rules/proxy.sh up): reads
#               the first request head, routes by path, splices; every
#               later segment is rewritten in its NFQUEUE handler.
#   hap_tcp     HAProxy (Debian package) `mode tcp` on the VIP
#   hap_splice  the same + `option splice-request` + `option splice-response`
#   hap_http    HAProxy `mode http`
#   split       craft-proxy + split splice on b1 (rules/backend.sh +
#               craft-splitd): only when build/bin/craft-splitd exists.
# HAProxy configs: tests/bench/haproxy/{tcp,tcp-splice,http}.cfg.in.  Both
# craft-proxy and HAProxy route by path like each other: /upload goes to the
# upload sink, everything else to nginx (HAProxy mode tcp does it with
# `tcp-request inspect-delay` + `path_beg`, then forwards bytes blindly).
# Servers on b1: nginx :80 (tests/net, sendfile) and an upload sink :8001
# (python, reads the body into a 1 MiB buffer and throws it away).
#
# Per round and configuration (the configuration order rotates per round):
#   down_MBps, up_MBps   bulk: BULK_COUNT x 200 MiB GET from nginx / PUT to
#       the sink on ONE keep-alive connection, by a python client with big
#       buffers (GET: recv_into 1 MiB; PUT: sendfile) so that neither end is
#       the bottleneck (curl's 16 KiB buffers were); status and length of
#       every response are checked.  MB = 10^6 bytes.
#   rps_1k_cN, p50_1k_cN_ms, p99_1k_cN_ms      wrk -t1 -cN --latency on 1k
#   rps_10M_cN, p50_10M_cN_ms, p99_10M_cN_ms   the same on the 10 MiB file
#       (wrk --timeout 10s: the default 2 s counts slow 10 MiB replies as
#       errors)
#   cpu_s_per_GB_bulk, cpu_s_per_GB   utime+stime of the proxy process
#       (craft-proxy or haproxy) over the bulk phase / the whole round,
#       divided by the bytes (10^9) the client's interface sent and
#       received in that time (the same measure for every configuration)
#   proxy_busy_down, proxy_busy_up   CPU time of the proxy process during
#       the transfer / its duration (1.0: one core busy all the time, i.e.
#       the proxy is the bottleneck on this 2-core host)
#   errors   wrk socket errors + non-2xx + failed bulk transfers
#   craft, split: resp_segs (nginx->client segments the proxy rewrote,
#       seg_b2c over the GET and wrk phases), rewrite_errors;
#       split: splitd_cpu_s_per_GB, split_segs (segments craft-splitd
#       rewrote), splitd_rewrite_errors
#   kernel: iperf_down_MBps, iperf_up_MBps (iperf3 -t 2, the path's capacity)
# Before the rounds, one short run each of hap_splice and hap_tcp under
# `strace -f -c -e trace=splice` proves whether splice() is really called.
#
# Targets (issue 3), on medians of the same run:
#   must  craft bulk (down and up) > hap_tcp; craft rps_10M >= hap_http;
#         craft rps_1k >= hap_http; split: resp_segs ~0 (< 1% of craft's)
#         and split down_MBps >= craft's
#   aim   craft bulk >= hap_splice; craft rps_10M >= hap_splice
# The result line is FAIL when a "must" target is missed or a
# configuration had errors; "aim" misses are reported.
#
# Environment: BENCH_RUNS (3), BENCH_SECONDS (5), BENCH_CONNS_1K ("16"),
# BENCH_CONNS_10M ("16") (space-separated lists: one wrk run per count),
# BENCH_BULK_COUNT (2), BENCH_HAPROXY_THREADS (1; craft-proxy is one
# thread), BENCH_CONFIGS (all of the above), CRAFT_BIN (build/bin).
# Output: build/bench/splice.csv (raw), splice-summary.csv (medians,
# spreads, ratios to kernel), splice-targets.csv, splice.png.
# shellcheck disable=SC2154 # S0_*, SA_*, SB_*, S1_*: set by stats_snap (printf -v)
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_begin
require_tools wrk nginx iperf3 iptables python3 haproxy strace
require_bin proxy

RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_SECONDS:-5}
read -r -a C1K <<<"${BENCH_CONNS_1K:-16}"
read -r -a C10M <<<"${BENCH_CONNS_10M:-16}"
BULK_N=${BENCH_BULK_COUNT:-2}
HAP_THREADS=${BENCH_HAPROXY_THREADS:-1}
read -r -a CONFIGS <<<"${BENCH_CONFIGS:-kernel craft hap_tcp hap_splice hap_http split}"
HAP_DIR=$CRAFT_ROOT/tests/bench/haproxy
Q=0
SINK_PORT=8001
SPLIT_PORT=7411 # replication (splice state) datagrams, proxy <-> splitd
VIP=$(topo_addr vip)
B1=$(topo_addr b1)
P1=$(topo_addr p1)
BULK_FILE=
PROXY_PID=
SPLITD_PID=
NOTES=()
ERRCFG=()
SPLIT_STATE=

note() {
  NOTES+=("$*")
  say "NOTE: $*"
}

# ---- helpers written into $TOPO_DIR ------------------------------------------

write_tools() {
  cat >"$TOPO_DIR/bulk.py" <<'EOF'
"""bulk.py GET|PUT HOST PORT PATH COUNT [FILE]: COUNT requests on one
keep-alive HTTP/1.1 connection; GET reads bodies with recv_into (1 MiB),
PUT sends FILE with sendfile.  Prints "BYTES SECONDS" (body bytes moved,
from connect to the last response) or exits non-zero naming what failed."""
import os, socket, sys, time

op, host, port, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
buf = bytearray(1 << 20)
mv = memoryview(buf)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
pend = b""
moved = 0
for i in range(count):
    if op == "PUT":
        size = os.path.getsize(sys.argv[6])
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n\r\n".encode())
        with open(sys.argv[6], "rb") as f:
            if s.sendfile(f) != size:
                sys.exit(f"request {i}: short sendfile")
        moved += size
    else:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    while b"\r\n\r\n" not in pend:
        n = s.recv_into(buf)
        if n == 0:
            sys.exit(f"request {i}: connection closed before the response head")
        pend += bytes(mv[:n])
    head, _, pend = pend.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    clen = 0
    for l in lines[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == "content-length":
            clen = int(v)
    if status != 200:
        sys.exit(f"request {i}: status {status}")
    got = min(len(pend), clen)
    body = pend[:got]
    pend = pend[got:]
    while got < clen:
        n = s.recv_into(mv[:min(len(buf), clen - got)])
        if n == 0:
            sys.exit(f"request {i}: closed after {got} of {clen} body bytes")
        if op == "PUT":
            body += bytes(mv[:n])
        got += n
    if op == "GET":
        moved += clen
    elif int(body.split()[0]) != size:
        sys.exit(f"request {i}: sink got {body!r}, sent {size}")
t1 = time.monotonic()
s.close()
print(moved, f"{t1 - t0:.6f}")
EOF
  cat >"$TOPO_DIR/sink.py" <<'EOF'
"""sink.py ADDR PORT: HTTP/1.1 upload sink (keep-alive, a thread per
connection): reads Content-Length body bytes into a 1 MiB buffer, throws
them away, answers 200 with the count."""
import socket, sys, threading

def serve(c):
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    pend = b""
    try:
        while True:
            while b"\r\n\r\n" not in pend:
                n = c.recv_into(buf)
                if n == 0:
                    return
                pend += bytes(mv[:n])
            head, _, pend = pend.partition(b"\r\n\r\n")
            clen, close = 0, False
            for l in head.decode("latin-1").split("\r\n")[1:]:
                k, _, v = l.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    clen = int(v)
                elif k == "connection" and v.strip().lower() == "close":
                    close = True
            got = min(len(pend), clen)
            pend = pend[got:]
            while got < clen:
                n = c.recv_into(mv[:min(len(buf), clen - got)])
                if n == 0:
                    return
                got += n
            body = b"%d\n" % got
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            if close:
                return
    except OSError:
        pass
    finally:
        c.close()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(1024)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
}

# ---- setup -------------------------------------------------------------------

setup() {
  local i
  topo_up
  topo_www
  write_tools
  BULK_FILE=$TOPO_DIR/www/200M
  for ((i = 0; i < 10; i++)); do cat "$(topo_www_file 20M)"; done >"$BULK_FILE"
  topo_nginx b1
  topo_start_bg b1 "$TOPO_DIR/sink.log" python3 "$TOPO_DIR/sink.py" "$B1" "$SINK_PORT"
  wait_port b1 "$B1" "$SINK_PORT"
  topo_start_bg b1 "$TOPO_DIR/iperf3.log" iperf3 -s -B "$B1"
  wait_port b1 "$B1" 5201
  # p1 forwards in every configuration (kernel: plain routing; craft: the
  # rewritten segments); it must never tell lb/lg about the shorter path.
  topo_exec p1 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
  LB_ROUTE=$(topo_exec lb ip -4 route show 198.18.2.0/24)
  LG_ROUTE=$(topo_exec lg ip -4 route show 198.18.0.0/24)
  if [ -z "$LB_ROUTE" ] || [ -z "$LG_ROUTE" ]; then result_fail "test bed routes not found"; fi
  # warm up nginx, the page cache and ARP
  topo_exec cl timeout 10 wrk -t1 -c4 -d1s "http://$B1/1k" >/dev/null ||
    result_fail "warm-up wrk to $B1 failed"
  topo_exec cl timeout 20 python3 "$TOPO_DIR/bulk.py" GET "$B1" 80 /200M 1 >/dev/null ||
    result_fail "warm-up GET from $B1 failed"
}

write_proxy_conf() { # FILE [extra sections]
  {
    printf '[proxy]\nid = 1\n[routing]\nbackend = web %s:80\nbackend = sink %s:%s\n' "$B1" "$B1" "$SINK_PORT"
    printf 'route = * /upload sink\ndefault_pool = web\n'
    [ -z "${2:-}" ] || printf '%s\n' "$2"
  } >"$1"
}

# Bytes moved: everything the client's interface sent and received (the same
# measure for every configuration; with split splice the responses bypass
# p1, so p1's own counters would not do).
moved() { echo $(($(if_bytes cl eth0 rx) + $(if_bytes cl eth0 tx))); }

# ---- configurations ----------------------------------------------------------

start_craft() { # CONF LOG
  t_check "rules/proxy.sh up failed" topo_exec p1 "$CRAFT_ROOT/rules/proxy.sh" up --queue "$Q"
  start_daemon p1 proxy "$2" -c "$1" -q "$Q" --stats-file "$TOPO_DIR/p1.stats"
  PROXY_PID=$DAEMON_PID
  wait_daemon_queue p1 "$Q" "$PROXY_PID" "$2"
  wait_port p1 "$VIP" 80 5 || result_fail "craft-proxy does not listen on $VIP:80: $(tail -n 3 "$2" | tr '\n' ' ')"
}

start_haproxy() { # TEMPLATE CFGFILE LOG [wrapper...]
  local tpl=$1 cfg=$2 log=$3
  shift 3
  sed -e "s|@THREADS@|$HAP_THREADS|g" -e "s|@VIP@|$VIP|g" -e "s|@PORT@|80|g" \
    -e "s|@WEB@|$B1:80|g" -e "s|@UPLOAD@|$B1:$SINK_PORT|g" "$HAP_DIR/$tpl.cfg.in" >"$cfg"
  topo_exec p1 haproxy -c -q -f "$cfg" >"$log" 2>&1 || result_fail "haproxy rejects $cfg: $(tail -n 3 "$log" | tr '\n' ' ')"
  topo_start_bg p1 "$log" "$@" haproxy -f "$cfg" -db
  PROXY_PID=$TOPO_LAST_PID
  wait_port p1 "$VIP" 80 5 || result_fail "haproxy ($tpl) does not listen: $(tail -n 3 "$log" | tr '\n' ' ')"
}

stats_snap() { # PREFIX: copies the proxy's counters into PREFIX_name variables
  local f=$TOPO_DIR/p1.stats k
  for k in seg_b2c seg_c2b rewrite_errors spliced socket_bytes_read; do
    printf -v "${1}_$k" '%s' "$(stats_get "$f" "$k" || echo 0)"
  done
}

# The stats file is rewritten every second: wait for a fresh one.
stats_uptime() { stats_get "$TOPO_DIR/p1.stats" uptime_ms || echo none; }
stats_fresh() {
  local u0 i
  u0=$(stats_uptime)
  for ((i = 0; i < 60; i++)); do
    [ "$(stats_uptime)" = "$u0" ] || return 0
    sleep 0.05
  done
}

# split: craft-splitd on b1 (rules/backend.sh: b1:80 -> IVIP segments into
# its queue, fail-open) learns the splices from craft-proxy over
# [replication] (UDP, HMAC key shared by both configs) and sends nginx's
# responses straight to the client; craft-proxy still takes the client's
# segments.
# phase_snap PREFIX: fresh proxy counters between two phases (craft, split)
phase_snap() {
  [ "$CUR_CFG" = craft ] || [ "$CUR_CFG" = split ] || return 0
  stats_fresh
  stats_snap "$1"
}

split_start() {
  local conf=$TOPO_DIR/splitd.conf key out
  key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  printf '[replication]\nlisten = %s:%s\nkey = %s\npeer = p1 %s:%s proxy id=1\n' \
    "$B1" "$SPLIT_PORT" "$key" "$P1" "$SPLIT_PORT" >"$conf"
  write_proxy_conf "$TOPO_DIR/proxy-split.conf" "$(printf '[replication]\nlisten = %s:%s\nkey = %s\npeer = b1 %s:%s backend' \
    "$P1" "$SPLIT_PORT" "$key" "$B1" "$SPLIT_PORT")"
  if ! out=$("$(craft_path splitd)" -c "$conf" --check-config 2>&1); then
    SPLIT_STATE="craft-splitd rejects the bench's config: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    return 1
  fi
  if ! out=$("$(craft_path proxy)" -c "$TOPO_DIR/proxy-split.conf" --check-config 2>&1); then
    SPLIT_STATE="craft-proxy rejects the split config: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    return 1
  fi
  t_check "rules/backend.sh up failed in b1" topo_exec b1 "$CRAFT_ROOT/rules/backend.sh" up \
    --addr "$B1" --port 80 --queue "$Q"
  start_daemon b1 splitd "$TOPO_DIR/splitd.log" -c "$conf" -q "$Q" --stats-file "$TOPO_DIR/b1.stats"
  SPLITD_PID=$DAEMON_PID
  wait_daemon_queue b1 "$Q" "$SPLITD_PID" "$TOPO_DIR/splitd.log"
  start_craft "$TOPO_DIR/proxy-split.conf" "$TOPO_DIR/proxy.log"
}

config_on() {
  local cfg=$1
  CUR_CFG=$cfg
  PROXY_PID=
  SPLITD_PID=
  case $cfg in
    kernel)
      topo_exec lb ip route replace 198.18.2.0/24 via "$P1"
      topo_exec lg ip route replace 198.18.0.0/24 via "$P1"
      FWD0=$(snmp_get p1 Ip ForwDatagrams)
      ;;
    craft) start_craft "$TOPO_DIR/proxy.conf" "$TOPO_DIR/proxy.log" ;;
    hap_tcp) start_haproxy tcp "$TOPO_DIR/hap_tcp.cfg" "$TOPO_DIR/hap_tcp.log" ;;
    hap_splice) start_haproxy tcp-splice "$TOPO_DIR/hap_splice.cfg" "$TOPO_DIR/hap_splice.log" ;;
    hap_http) start_haproxy http "$TOPO_DIR/hap_http.cfg" "$TOPO_DIR/hap_http.log" ;;
    split) split_start || return 1 ;;
  esac
  if [ "$cfg" = craft ] || [ "$cfg" = split ]; then
    stats_fresh
    stats_snap S0
  fi
  TICKS0=0
  [ -z "$PROXY_PID" ] || TICKS0=$(cpu_ticks "$PROXY_PID")
  SPLITD_TICKS0=0
  [ -z "$SPLITD_PID" ] || SPLITD_TICKS0=$(cpu_ticks "$SPLITD_PID")
  RX0=$(moved)
  return 0
}

# per_gb TICKS BYTES -> CPU seconds per 10^9 bytes
per_gb() { awk -v t="$1" -v hz="$(clk_tck)" -v b="$2" 'BEGIN { if (b <= 0) print "nan"; else printf "%.3f\n", (t / hz) / (b / 1e9) }'; }

config_off() {
  local cfg=$1 run=$2 rc=0 ticks bytes fwd log=$TOPO_DIR/proxy.log
  [[ $cfg != hap_* ]] || log=$TOPO_DIR/$cfg.log
  case $cfg in
    kernel)
      fwd=$(($(snmp_get p1 Ip ForwDatagrams) - FWD0))
      # shellcheck disable=SC2086 # "PREFIX via ADDR dev IF ...": words
      topo_exec lb ip route replace $LB_ROUTE
      # shellcheck disable=SC2086
      topo_exec lg ip route replace $LG_ROUTE
      ((fwd > 1000)) || result_fail "kernel run $run: p1 forwarded only $fwd datagrams: the path does not cross p1"
      bench_rec kernel p1_forwarded "$run" "$fwd" packets
      return 0
      ;;
  esac
  bytes=$(($(moved) - RX0))
  if ! kill -0 "$PROXY_PID" 2>/dev/null; then
    note "$cfg run $run: proxy process died: $(tail -n 3 "$log" | tr '\n' ' ')"
  fi
  ticks=$(($(cpu_ticks "$PROXY_PID" 2>/dev/null || echo "$TICKS0") - TICKS0))
  bench_rec "$cfg" cpu_s_per_GB "$run" "$(per_gb "$ticks" "$bytes")" s/GB
  say "$cfg run $run: proxy pid $PROXY_PID $ticks ticks, client moved $bytes bytes"
  if [ -n "$SPLITD_PID" ]; then
    ticks=$(($(cpu_ticks "$SPLITD_PID") - SPLITD_TICKS0))
    say "$cfg run $run: craft-splitd pid $SPLITD_PID $ticks ticks"
    bench_rec "$cfg" splitd_cpu_s_per_GB "$run" "$(per_gb "$ticks" "$bytes")" s/GB
  fi
  if [ "$cfg" = craft ] || [ "$cfg" = split ]; then
    stats_fresh
    stats_snap S1
    # response segments of nginx (port 80) the proxy rewrote: the GET and
    # wrk phases; the upload phase is left out (the sink's ACKs on port
    # 8001 are not split-spliced: rules/backend.sh --port 80)
    bench_rec "$cfg" resp_segs "$run" $((SA_seg_b2c - S0_seg_b2c + S1_seg_b2c - SB_seg_b2c)) segments
    bench_rec "$cfg" rewrite_errors "$run" $((S1_rewrite_errors - S0_rewrite_errors)) count
    ((S1_rewrite_errors == S0_rewrite_errors)) ||
      note "$cfg run $run: rewrite_errors +$((S1_rewrite_errors - S0_rewrite_errors)) ($(grep -vE ' 0$' "$TOPO_DIR/p1.stats" | tr '\n' ' '))"
    say "$cfg run $run counters: $(grep -E '^(packets|spliced|seg_[a-z0-9]+|bytes_[a-z0-9]+|socket_bytes_read|rewrite_errors|malformed|fin|rst|ts_cache_miss|inject_failed|splice_failed|kernel_queue_dropped|kernel_user_dropped|enobufs) ' "$TOPO_DIR/p1.stats" | tr '\n' ' ')"
  fi
  if [ -n "$SPLITD_PID" ]; then
    wait_for 3 test -s "$TOPO_DIR/b1.stats" || true
    bench_rec "$cfg" split_segs "$run" "$(stats_get "$TOPO_DIR/b1.stats" seg_rewritten || echo 0)" segments
    bench_rec "$cfg" splitd_rewrite_errors "$run" "$(stats_get "$TOPO_DIR/b1.stats" rewrite_errors || echo 0)" count
    say "split run $run splitd counters: $(grep -vE ' 0$' "$TOPO_DIR/b1.stats" 2>/dev/null | tr '\n' ' ')"
    topo_stop "$SPLITD_PID" TERM 5 || rc=$?
    [ "$rc" = 0 ] || note "split run $run: craft-splitd exit status $rc on SIGTERM"
    topo_exec b1 "$CRAFT_ROOT/rules/backend.sh" down || true
    rc=0
  fi
  topo_stop "$PROXY_PID" TERM 5 || rc=$?
  case $cfg in
    craft | split)
      [ "$rc" = 0 ] || note "$cfg run $run: craft-proxy exit status $rc on SIGTERM: $(tail -n 3 "$log" | tr '\n' ' ')"
      { grep -E ' (error|warning|crit|alert): ' "$log" || true; } | head -n 5 |
        while read -r l; do say "craft-proxy log: $l"; done
      topo_exec p1 "$CRAFT_ROOT/rules/proxy.sh" down
      ;;
  esac
  PROXY_PID=
  SPLITD_PID=
}

# ---- measurements --------------------------------------------------------------

# iperf_mbps RUN up|down: one iperf3 stream cl -> b1 (up) or b1 -> cl
# (down, -R) for 2 s on the kernel path; records iperf_DIR_MBps.
iperf_mbps() {
  local run=$1 dir=$2 json rev=()
  [ "$dir" = down ] && rev=(-R)
  if ! json=$(topo_exec cl timeout 20 iperf3 -c "$B1" -t 2 "${rev[@]}" -J 2>&1); then
    note "kernel run $run: iperf3 $dir failed: $(tr '\n' ' ' <<<"$json" | head -c 200)"
    return 0
  fi
  bench_rec kernel "iperf_${dir}_MBps" "$run" "$(python3 -c 'import json,sys
print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))' <<<"$json")" MB/s
}

# bulk CFG RUN GET|PUT ADDR PORT PATH [FILE] -> BULK_MBPS ("" on failure,
# noted) and BULK_BUSY: the proxy process's CPU time during the transfer
# divided by its duration (1.0 = one core busy the whole time)
bulk() {
  local cfg=$1 run=$2 op=$3 addr=$4 port=$5 path=$6 out t0=0 t1=0
  shift 6
  BULK_MBPS=
  BULK_BUSY=
  [ -z "$PROXY_PID" ] || t0=$(cpu_ticks "$PROXY_PID")
  if ! out=$(topo_exec cl timeout 60 python3 "$TOPO_DIR/bulk.py" "$op" "$addr" "$port" "$path" "$BULK_N" "$@" 2>&1); then
    note "$cfg run $run: bulk $op failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    BULK_ERR=$((BULK_ERR + 1))
    return 0
  fi
  [ -z "$PROXY_PID" ] || t1=$(cpu_ticks "$PROXY_PID")
  BULK_MBPS=$(awk '{ printf "%.1f\n", $1 / $2 / 1e6 }' <<<"$out")
  [ -z "$PROXY_PID" ] ||
    BULK_BUSY=$(awk -v t=$((t1 - t0)) -v hz="$(clk_tck)" '{ printf "%.2f\n", t / hz / $2 }' <<<"$out")
}

# splice_wrk CFG RUN URL CONNS: wrk -t1 with --timeout 10s; sets WRK_RPS,
# WRK_P50, WRK_P99 (ms), WRK_ERRORS; failures are noted, not fatal.
splice_wrk() {
  local cfg=$1 run=$2 url=$3 c=$4 out
  WRK_RPS=
  if ! out=$(topo_exec cl timeout $((DUR + 20)) wrk -t1 -c"$c" -d"${DUR}s" --timeout 10s --latency "$url" 2>&1); then
    note "$cfg run $run: wrk $url -c$c failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    WRK_ERRORS=1
    return 0
  fi
  WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.1f\n", $2 }' <<<"$out")
  WRK_P50=$(wrk_to_ms "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
  WRK_P99=$(wrk_to_ms "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
  WRK_ERRORS=$(awk '/Socket errors:/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
                    /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
  [ "$WRK_ERRORS" = 0 ] || note "$cfg run $run: wrk $url -c$c: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ')"
}

measure() {
  local cfg=$1 run=$2 addr=$VIP port=80 sport=80 errs=0 c t ticks
  BULK_ERR=0
  if [ "$cfg" = kernel ]; then
    addr=$B1
    sport=$SINK_PORT
    iperf_mbps "$run" up
    iperf_mbps "$run" down
  else
    port=80
    sport=80
  fi
  bulk "$cfg" "$run" GET "$addr" "$port" /200M
  [ -z "$BULK_MBPS" ] || bench_rec "$cfg" down_MBps "$run" "$BULK_MBPS" MB/s
  [ -z "$BULK_BUSY" ] || bench_rec "$cfg" proxy_busy_down "$run" "$BULK_BUSY" cores
  phase_snap SA
  bulk "$cfg" "$run" PUT "$addr" "$sport" /upload "$BULK_FILE"
  [ -z "$BULK_MBPS" ] || bench_rec "$cfg" up_MBps "$run" "$BULK_MBPS" MB/s
  [ -z "$BULK_BUSY" ] || bench_rec "$cfg" proxy_busy_up "$run" "$BULK_BUSY" cores
  if [ -n "$PROXY_PID" ]; then
    ticks=$(($(cpu_ticks "$PROXY_PID" 2>/dev/null || echo "$TICKS0") - TICKS0))
    bench_rec "$cfg" cpu_s_per_GB_bulk "$run" "$(per_gb "$ticks" $(($(moved) - RX0)))" s/GB
  fi
  phase_snap SB
  errs=$BULK_ERR
  for t in 1k 10M; do
    local conns=("${C1K[@]}")
    [ "$t" = 10M ] && conns=("${C10M[@]}")
    for c in "${conns[@]}"; do
      splice_wrk "$cfg" "$run" "http://$addr/$t" "$c"
      errs=$((errs + WRK_ERRORS))
      [ -n "$WRK_RPS" ] || continue
      bench_rec "$cfg" "rps_${t}_c$c" "$run" "$WRK_RPS" req/s
      bench_rec "$cfg" "p50_${t}_c${c}_ms" "$run" "$WRK_P50" ms
      bench_rec "$cfg" "p99_${t}_c${c}_ms" "$run" "$WRK_P99" ms
    done
  done
  bench_rec "$cfg" errors "$run" "$errs" count
  ((errs == 0)) || ERRCFG+=("$cfg/run$run:$errs")
}

# ---- does HAProxy really call splice()? ------------------------------------------

# strace_check TEMPLATE -> STRACE_SPLICE (number of splice() calls)
strace_check() {
  local tpl=$1 out=$TOPO_DIR/strace-$1.txt hp
  start_haproxy "$tpl" "$TOPO_DIR/strace-$tpl.cfg" "$TOPO_DIR/strace-$tpl.log" \
    strace -f -c -e trace=splice -o "$out"
  local spid=$PROXY_PID
  topo_exec cl timeout 30 python3 "$TOPO_DIR/bulk.py" GET "$VIP" 80 /20M 1 >/dev/null ||
    note "strace run ($tpl): GET failed"
  topo_exec cl timeout 30 python3 "$TOPO_DIR/bulk.py" PUT "$VIP" 80 /upload 1 "$(topo_www_file 20M)" >/dev/null ||
    note "strace run ($tpl): PUT failed"
  hp=$(pgrep -P "$spid" -x haproxy | head -n 1 || true)
  [ -n "$hp" ] && kill -TERM "$hp" 2>/dev/null
  topo_stop "$spid" TERM 10 || true
  PROXY_PID=
  STRACE_SPLICE=$(awk '$NF == "splice" { print $4; f = 1 } END { if (!f) print 0 }' "$out" 2>/dev/null || echo 0)
  say "strace -f -c -e trace=splice, haproxy $tpl, a 20 MiB GET and a 20 MiB PUT: $STRACE_SPLICE splice() calls"
}

# shellcheck disable=SC2317 # called by the EXIT trap (tests/lib.sh)
test_cleanup() {
  [ -z "${SPLITD_PID:-}" ] || topo_stop "$SPLITD_PID" TERM 3 || true
  [ -z "${PROXY_PID:-}" ] || topo_stop "$PROXY_PID" TERM 3 || true
}

# ---- main -----------------------------------------------------------------------

T_START=$(now_ms)
setup
write_proxy_conf "$TOPO_DIR/proxy.conf"
HAVE_SPLIT=0
active=()
for cfg in "${CONFIGS[@]}"; do
  if [ "$cfg" = split ]; then
    if [ -x "$(craft_path splitd)" ]; then
      HAVE_SPLIT=1
    else
      SPLIT_STATE="pending: $(craft_path splitd) not built"
      say "split splice: $SPLIT_STATE"
      continue
    fi
  fi
  active+=("$cfg")
done

STRACE_SPLICE_HAP=-1
STRACE_TCP_HAP=-1
if [[ " ${active[*]} " == *" hap_splice "* ]]; then
  strace_check tcp-splice
  STRACE_SPLICE_HAP=$STRACE_SPLICE
fi
if [[ " ${active[*]} " == *" hap_tcp "* ]]; then
  strace_check tcp
  STRACE_TCP_HAP=$STRACE_SPLICE
fi

n=${#active[@]}
declare -A SKIP=()
for ((r = 1; r <= RUNS; r++)); do
  for ((i = 0; i < n; i++)); do
    cfg=${active[$(((i + r - 1) % n))]}
    [ -z "${SKIP[$cfg]:-}" ] || continue
    if ! config_on "$cfg"; then
      note "$cfg: not measured: $SPLIT_STATE"
      SKIP[$cfg]=1
      continue
    fi
    measure "$cfg" "$r"
    config_off "$cfg" "$r"
  done
done
T_END=$(now_ms)
# recorded last so that the tables list the configurations in run order
[ "$STRACE_SPLICE_HAP" = -1 ] || bench_rec hap_splice strace_splice_calls 1 "$STRACE_SPLICE_HAP" calls
[ "$STRACE_TCP_HAP" = -1 ] || bench_rec hap_tcp strace_splice_calls 1 "$STRACE_TCP_HAP" calls

# ---- summary ------------------------------------------------------------------------

echo "splice bench: $RUNS rounds x (${BULK_N} x 200 MiB down + up, wrk -t1 ${DUR}s 1k -c${C1K[*]}, 10M -c${C10M[*]}), HAProxy $(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }') nbthread $HAP_THREADS, ratio = config/kernel"
bench_summarize kernel ""

med() { awk -F, -v c="$1" -v m="$2" '$1 == c && $2 == m { print $3; f = 1 } END { if (!f) print "" }' "$BENCH_SUMMARY"; }
TARGETS=$BENCH_DIR/$BENCH_NAME-targets.csv
echo "config,metric,versus,ratio,target,kind,status" >"$TARGETS"
MUST_MISSED=()
AIM_MISSED=()
# target CFG METRIC VERSUS OP THRESHOLD KIND: ratio of medians CFG/VERSUS
target() {
  local cfg=$1 m=$2 vs=$3 op=$4 thr=$5 kind=$6 a b ratio st
  a=$(med "$cfg" "$m")
  b=$(med "$vs" "$m")
  if [ -z "$a" ] || [ -z "$b" ]; then
    st=n/a
    ratio=
  else
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "inf"; else printf "%.3f\n", a / b }')
    if awk -v r="$ratio" -v t="$thr" -v op="$op" 'BEGIN { exit !((op == ">") ? r > t : r >= t) }'; then st=PASS; else st=MISS; fi
  fi
  if [ "$st" = n/a ] && [[ " ${active[*]} " == *" $cfg "* ]] && [[ " ${active[*]} " == *" $vs "* ]]; then
    st=MISS # both configurations were to be measured: no data is a miss
  fi
  echo "$cfg,$m,$vs,$ratio,$op$thr,$kind,$st" >>"$TARGETS"
  printf '  %-6s %-10s %-18s vs %-10s %7s  %-6s %s\n' "$kind" "$cfg" "$m" "$vs" "${ratio:--}" "$op$thr" "$st"
  if [ "$st" = MISS ]; then
    if [ "$kind" = must ]; then MUST_MISSED+=("$cfg/$m vs $vs=$ratio"); else AIM_MISSED+=("$cfg/$m vs $vs=$ratio"); fi
  fi
}
echo "targets (ratio of medians in this run):"
target craft down_MBps hap_tcp ">" 1 must
target craft up_MBps hap_tcp ">" 1 must
target craft down_MBps hap_splice ">=" 1 aim
target craft up_MBps hap_splice ">=" 1 aim
for c in "${C10M[@]}"; do
  target craft "rps_10M_c$c" hap_http ">=" 1 must
  target craft "rps_10M_c$c" hap_splice ">=" 1 aim
done
for c in "${C1K[@]}"; do target craft "rps_1k_c$c" hap_http ">=" 1 must; done
if [ "$HAVE_SPLIT" = 1 ] && [ -n "$(med split down_MBps)" ]; then
  target split down_MBps craft ">=" 1 must
  rs=$(med split resp_segs)
  rc=$(med craft resp_segs)
  if [ -n "$rc" ] && awk -v s="$rs" -v c="$rc" 'BEGIN { exit !(s <= 0.01 * c) }'; then st=PASS; else st=MISS; fi
  echo "split,resp_segs,craft,$(fdiv "$rs" "${rc:-0}" 4),<=0.01,must,$st" >>"$TARGETS"
  printf '  %-6s %-10s %-18s vs %-10s %7s  %-6s %s\n' must split resp_segs craft "$(fdiv "$rs" "${rc:-0}" 4)" "<=0.01" "$st"
  [ "$st" = PASS ] || MUST_MISSED+=("split/resp_segs=$rs (craft $rc)")
fi

# plot: throughput ratios to kernel by configuration, and CPU-s per GB
plot() {
  local dat=$BENCH_DIR/.$BENCH_NAME-plot.dat cpu=$BENCH_DIR/.$BENCH_NAME-cpu.dat cfgs
  cfgs=$(for c in "${CONFIGS[@]}"; do
    [ "$c" != kernel ] && grep -q "^$c,down_MBps," "$BENCH_SUMMARY" && printf '%s ' "$c"
  done || true)
  awk -F, -v cfgs="$cfgs" -v mets="down_MBps up_MBps rps_1k_c${C1K[0]} rps_10M_c${C10M[0]} p99_1k_c${C1K[0]}_ms p99_10M_c${C10M[0]}_ms" '
    NR > 1 { r[$1, $2] = ($8 == "") ? "NaN" : $8 }
    END {
      nc = split(cfgs, c, " "); nm = split(mets, m, " ")
      printf "metric"; for (j = 1; j <= nc; j++) printf " %s", c[j]; printf "\n"
      for (i = 1; i <= nm; i++) {
        printf "%s", m[i]
        for (j = 1; j <= nc; j++) printf " %s", ((c[j], m[i]) in r) ? r[c[j], m[i]] : "NaN"
        printf "\n"
      }
    }' "$BENCH_SUMMARY" >"$dat"
  awk -F, -v cfgs="$cfgs" 'NR > 1 && $2 == "cpu_s_per_GB_bulk" { b[$1] = $3 }
           NR > 1 && $2 == "cpu_s_per_GB" { w[$1] = $3 }
           NR > 1 && $2 == "splitd_cpu_s_per_GB" { d[$1] = $3 }
           END {
             print "config bulk all splitd"
             n = split(cfgs, o, " ")
             for (i = 1; i <= n; i++) if (o[i] in b)
               printf "%s %s %s %s\n", o[i], b[o[i]], (o[i] in w) ? w[o[i]] : "NaN", (o[i] in d) ? d[o[i]] : "NaN"
           }' "$BENCH_SUMMARY" >"$cpu"
  bench_gnuplot "$CRAFT_ROOT/tests/bench/splice_plot.gp" \
    -e "datafile='$dat'; cpufile='$cpu'; outfile='$BENCH_PNG'; ncfg=$(wc -w <<<"$cfgs")"
  rm -f "$dat" "$cpu"
}
plot
echo "csv: ${BENCH_CSV#"$CRAFT_ROOT"/} ${BENCH_SUMMARY#"$CRAFT_ROOT"/} ${TARGETS#"$CRAFT_ROOT"/} png: ${BENCH_PNG#"$CRAFT_ROOT"/}"
echo "strace -f -c -e trace=splice (a 20 MiB GET + a 20 MiB PUT): hap_splice $STRACE_SPLICE_HAP splice() calls, hap_tcp $STRACE_TCP_HAP"
[ -n "$SPLIT_STATE" ] && echo "split splice: $SPLIT_STATE"
for n in "${NOTES[@]}"; do echo "note: $n"; done
echo "wall time $(((T_END - T_START) / 1000)) s; load average $(cut -d' ' -f1-3 /proc/loadavg) (at start ${BENCH_LOAD0})"

cr() { awk -F, -v c="$1" -v m="$2" '$1 == c && $2 == m { print $8 }' "$BENCH_SUMMARY"; }
note_load=$(bench_load_note)
[ -z "$note_load" ] || echo "WARNING: $note_load"
figs="${note_load:+[$note_load] }to kernel: craft down $(cr craft down_MBps) up $(cr craft up_MBps) 1k $(cr craft "rps_1k_c${C1K[0]}") 10M $(cr craft "rps_10M_c${C10M[0]}"); hap_tcp down $(cr hap_tcp down_MBps); hap_splice down $(cr hap_splice down_MBps) 10M $(cr hap_splice "rps_10M_c${C10M[0]}"); hap_http 1k $(cr hap_http "rps_1k_c${C1K[0]}") 10M $(cr hap_http "rps_10M_c${C10M[0]}"); craft $(med craft cpu_s_per_GB_bulk) CPU-s/GB bulk; splice() calls $STRACE_SPLICE_HAP${AIM_MISSED:+; aim missed: ${AIM_MISSED[*]}}"
if [ ${#MUST_MISSED[@]} -gt 0 ] || [ ${#ERRCFG[@]} -gt 0 ] || [ "$STRACE_SPLICE_HAP" = 0 ]; then
  result_fail "${MUST_MISSED:+must missed: ${MUST_MISSED[*]}; }${ERRCFG:+errors: ${ERRCFG[*]}; }$( [ "$STRACE_SPLICE_HAP" = 0 ] && echo 'hap_splice never called splice(); ')$figs"
fi
result_pass "$figs"

#!/usr/bin/env bash
# tests/bench/detect.sh - issue 5's check 3 in full: the logger's adaptive
# failure detection measured over many trials, and a long run against a
# backend whose latency varies by 10x that must raise no false failure.
#
#   1. trials: tests/e2e/logger/detect_trials.sh with DETECT_TRIALS (50)
#      frozen-backend trials (SIGSTOP with a request outstanding); every
#      trial must be detected within its bound (the scenario's own checks);
#      the latencies (request waiting -> declared) go to the CSV as
#      config "frozen", metric "latency_ms", one row per trial.
#   2. variance: httpd.py on b1 sleeps a log-uniform random time between
#      BENCH_DELAY_MS (20:400: a 20x range, so that the response times the
#      clients see, the server's own overhead included, span at least 10x)
#      before each GET; BENCH_CLIENTS (8) keep-alive
#      clients on cl fetch /1k through the logger (detection on, the
#      detect_trials configuration) for BENCH_VARIANCE_SECONDS (300). Every
#      body is checked by SHA-256; the logger must declare no failure (its
#      counter and the control listener on p1 both say 0), and the observed
#      response times must span at least a factor of 10.
# bench-timeout: 1500 (50 trials of a few seconds, then the 300 s run)
# Output: build/bench/detect.csv, detect-summary.csv, detect.png (the
# latency distribution of the trials and of the variance run's responses).
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$CRAFT_ROOT/tests/e2e/logger/_lib.sh"
# shellcheck source=tests/e2e/logger/_ctl.sh
source "$CRAFT_ROOT/tests/e2e/logger/_ctl.sh"
bench_begin
require_tools curl iptables sqlite3 python3
require_bin logger ctl

TRIALS=${DETECT_TRIALS:-50}
VAR_S=${BENCH_VARIANCE_SECONDS:-300}
DELAY=${BENCH_DELAY_MS:-20:400}
CLIENTS=${BENCH_CLIENTS:-8}

# ---- 1. frozen-backend trials (the e2e scenario, more trials) ----------
TRIALS_LOG=$BENCH_DIR/detect-trials.log
say "frozen-backend trials: $TRIALS (log: ${TRIALS_LOG#"$CRAFT_ROOT"/})"
DETECT_TRIALS=$TRIALS TEST_NAME=bench/detect-trials \
  bash "$CRAFT_ROOT/tests/e2e/logger/detect_trials.sh" >"$TRIALS_LOG" 2>&1 || true
trials_line=$(grep -E '^(PASS|FAIL) ' "$TRIALS_LOG" | tail -n 1)
case "$trials_line" in
  PASS\ *) ;;
  *) result_fail "detect_trials with $TRIALS trials: ${trials_line:-no result line}" ;;
esac
lat_us=$(grep -o 'latencies (us): .*' "$TRIALS_LOG" | tail -n 1 | cut -d: -f2)
n=0
for v in $lat_us; do
  n=$((n + 1))
  bench_rec frozen latency_ms "$n" "$(awk -v v="$v" 'BEGIN { printf "%.1f", v / 1000 }')" ms
done
[ "$n" = "$TRIALS" ] || result_fail "$n latencies in the trials' output, want $TRIALS"
say "${trials_line#PASS }"

# ---- 2. 10x latency variance, no false failure ----------------------------
topo_up
topo_www
B1=$(topo_addr b1)
LGA=$(topo_addr lg)
P1=$(topo_addr p1)
KEY=$TOPO_DIR/ctl.key
ctl_keys "$KEY"
py=$(command -v /usr/bin/python3 || command -v python3)
topo_start_bg b1 "$TOPO_DIR/pyhttp.log" "$py" "$TOPO_NET_DIR/httpd.py" \
  --bind "$B1" --port 8000 --root "$TOPO_DIR/www" --delay-ms "$DELAY"
topo_wait_port b1 "$B1" 8000
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "$(ctl_detect_conf 2000 300 10 200)
[control]
bind = $LGA:7600
peer = $P1:7700
key_file = $KEY
repeats = 1"
lg_start "$CONF"
LISTEN=$TOPO_DIR/listen.out
ctl_listen p1 "$P1:7700" "$KEY" "$LISTEN" --timeout "$((VAR_S + 120))s"
LISTEN_PID=$CTL_LISTEN_PID

say "variance run: $CLIENTS clients, GET delay ${DELAY} ms, ${VAR_S} s"
RESP=$TOPO_DIR/response_ms.txt
# Each client: one keep-alive connection, GETs until the deadline; every
# body compared with the file's SHA-256; response times in ms on stdout.
topo_exec cl timeout $((VAR_S + 60)) "$py" - "$B1" "$CLIENTS" "$VAR_S" "$(sha256sum "$(topo_www_file 1k)" | cut -d' ' -f1)" \
  >"$RESP" 2>"$TOPO_DIR/clients.err" <<'EOF' || result_fail "variance clients failed: $(tail -n 3 "$TOPO_DIR/clients.err" | tr '\n' ' ')"
import hashlib, http.client, sys, threading, time
host, n, secs, want = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
end = time.monotonic() + secs
errors, times, lock = [], [], threading.Lock()
def client():
    c = http.client.HTTPConnection(host, 8000, timeout=30)
    mine = []
    while time.monotonic() < end:
        t0 = time.monotonic()
        c.request("GET", "/1k")
        r = c.getresponse()
        body = r.read()
        mine.append((time.monotonic() - t0) * 1000)
        if r.status != 200 or hashlib.sha256(body).hexdigest() != want:
            with lock:
                errors.append(f"status {r.status}, {len(body)} bytes")
    with lock:
        times.extend(mine)
ts = [threading.Thread(target=client) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
for t in times: print(f"{t:.1f}")
if errors:
    sys.exit(f"{len(errors)} bad responses, first: {errors[0]}")
EOF
lg_alive
sleep 1.2 # one more stats interval
fails=$(lg_stat detect_failures)
topo_stop "$LISTEN_PID" TERM 5 || true
lg_stop
msgs=$(grep -c '^backend_failed ' "$LISTEN" || true)
nresp=$(wc -l <"$RESP")
[ "$nresp" -gt 0 ] || result_fail "the variance run got no response"
read -r rmin rp50 rp99 rmax <<<"$(sort -n "$RESP" | awk '{ a[NR] = $1 } END {
  print a[1], a[int((NR + 1) / 2)], a[int(NR * 0.99 + 0.5)], a[NR] }')"
i=0
while read -r v; do
  i=$((i + 1))
  bench_rec variance response_ms "$i" "$v" ms
done < <(sort -n "$RESP" | awk -v n="$nresp" 'NR % int(n / 200 + 1) == 0')
bench_rec variance false_failures 1 "$fails" count
bench_rec variance responses 1 "$nresp" count

bench_summarize frozen
# Two distributions on one log axis: detection latency of the trials and
# response time under the 10x variance (a sample of 200 sorted points each
# plotted against its quantile).
dat_f=$BENCH_DIR/.detect-frozen.dat
dat_v=$BENCH_DIR/.detect-variance.dat
awk -F, '$1 == "frozen" && $2 == "latency_ms" { print $4 }' "$BENCH_CSV" | sort -n | awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print i / NR, a[i] }' >"$dat_f"
awk -F, '$1 == "variance" && $2 == "response_ms" { print $4 }' "$BENCH_CSV" | sort -n | awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print i / NR, a[i] }' >"$dat_v"
bench_gnuplot "$CRAFT_ROOT/tests/bench/detect_plot.gp" -e "frozen='$dat_f'; variance='$dat_v'; outfile='$BENCH_PNG'"
rm -f "$dat_f" "$dat_v"
echo "csv: ${BENCH_CSV#"$CRAFT_ROOT"/} ${BENCH_SUMMARY#"$CRAFT_ROOT"/} png: ${BENCH_PNG#"$CRAFT_ROOT"/}"

spread=$(awk -v a="$rmin" -v b="$rmax" 'BEGIN { printf "%.1f", b / a }')
figs="frozen: $TRIALS trials all detected ($(grep -o 'latency min [^(]*' <<<"$trials_line" | sed 's/ *$//')); variance: $nresp responses in ${VAR_S} s, response ms min $rmin p50 $rp50 p99 $rp99 max $rmax (x$spread), false failures $fails (listener: $msgs)"
[ "$fails" = 0 ] && [ "$msgs" = 0 ] || result_fail "false failure under ${DELAY} ms latency: $figs"
awk -v s="$spread" 'BEGIN { exit !(s >= 10) }' || result_fail "response times spanned only x$spread, not 10x: $figs"
note=$(bench_load_note)
result_pass "$figs${note:+; $note}"

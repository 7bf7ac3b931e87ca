#!/usr/bin/env bash
# tests/pcap/make_corpus.sh [OUTDIR] [NAME...] - rebuilds the pcap corpus in
# the test bed: real clients in cl, real servers on b1/b2, tcpdump on lg's
# backend interface (eth1, where craft-logger sits), one capture per case.
# Then tests/pcap/expect_from_tshark.py writes NAME.expect next to each
# NAME.pcap. Default OUTDIR: tests/pcap. Needs root (namespaces).
#
# Servers: nginx b1:80, httpd.py b1:8000 (tests/net), lighttpd b1:8080,
# corpus_server.py b2:8000 (framing corner cases on demand). Every service
# port is one craft-logger's test config (tests/e2e/logger/_lib.sh) knows.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
HERE=$CRAFT_ROOT/tests/pcap
OUT=$(realpath "${1:-$HERE}")
[ $# -gt 0 ] && shift
ONLY=("$@")
PY=$(command -v /usr/bin/python3 || command -v python3)

die() { echo "make_corpus: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for t in tcpdump tshark curl wget ab wrk nginx lighttpd python3; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
trap 'topo_down' EXIT

topo_up
topo_www
head -c 200000 /dev/urandom >"$(topo_www_file 200k)"
head -c 150000 /dev/urandom >"$TOPO_DIR/up150k"
head -c 6000 /dev/urandom >"$TOPO_DIR/up6k"
chmod 644 "$(topo_www_file 200k)"
topo_nginx b1
topo_pyhttp b1 8000
topo_lighttpd b1 8080
topo_start_bg b2 "$TOPO_DIR/corpus_server.log" "$PY" "$HERE/corpus_server.py" --bind "$(topo_addr b2)" --port 8000
topo_wait_port b2 "$(topo_addr b2)" 8000
B1=$(topo_addr b1)
B2=$(topo_addr b2)
CLIENT=("$PY" "$HERE/corpus_client.py")
CURL=(curl -sS --connect-timeout 5 --max-time 20)

# cl: run a client in the client namespace; its output goes to stderr
cl() { topo_exec cl "$@" >&2; }

capture() {
  local name=$1 log=$TOPO_DIR/tcpdump-$1.log pid drops
  if [ ${#ONLY[@]} -gt 0 ] && [[ " ${ONLY[*]} " != *" $name "* ]]; then return 0; fi
  echo "make_corpus: $name" >&2
  topo_start_bg lg "$log" tcpdump -i eth1 -nn -s 0 -B 65536 --immediate-mode -U -w "$TOPO_DIR/$name.pcap" tcp
  pid=$TOPO_LAST_PID
  wait_for 5 grep -qs 'listening on' "$log" || die "tcpdump did not start: $(cat "$log")"
  "case_$name" # not in a condition: set -e stops at the first failing client
  sleep 1 # FINs, last ACKs
  topo_stop "$pid" INT 5 || true
  drops=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$log")
  [ "${drops:-0}" = 0 ] || die "$name: tcpdump dropped $drops packets"
  # both files or neither: a capture without its table is no use
  "$PY" "$HERE/expect_from_tshark.py" "$TOPO_DIR/$name.pcap" >"$TOPO_DIR/$name.expect"
  cp "$TOPO_DIR/$name.pcap" "$TOPO_DIR/$name.expect" "$OUT/"
}

# keep-alive: curl -> nginx (4 GETs, one 404), wget -> lighttpd (2 URLs),
# ab -k (HTTP/1.0 keep-alive) -> nginx
case_keepalive() {
  cl "${CURL[@]}" -o /dev/null "http://$B1/1k" -o /dev/null "http://$B1/1k" \
    -o /dev/null "http://$B1/missing" -o /dev/null "http://$B1/1k"
  cl wget -q -O /dev/null "http://$B1:8080/1k" "http://$B1:8080/200k"
  cl ab -q -k -n 5 -c 1 "http://$B1/1k"
}

# chunked both ways: curl uploads chunked (and gets a chunked answer), curl
# and python fetch chunked responses on keep-alive connections
case_chunked() {
  cl "${CURL[@]}" -o /dev/null -H 'Transfer-Encoding: chunked' -H 'Expect:' -T "$TOPO_DIR/up6k" "http://$B2:8000/echo"
  cl "${CURL[@]}" -o /dev/null "http://$B2:8000/chunked" -o /dev/null "http://$B2:8000/chunked"
  cl "${CLIENT[@]}" sequence "$B2" 8000 GET:/chunked GET:/100 GET:/chunked
}

# pipelining: python writes all requests at once (nginx, corpus server);
# wrk with a pipelining script (3 requests per write) stops after 6 answers
case_pipelining() {
  cl "${CLIENT[@]}" pipeline "$B1" 80 /1k /missing /1k /1k
  cl "${CLIENT[@]}" pipeline "$B2" 8000 /chunked /204 /100 /etag /chunked
  cl timeout 10 wrk -t1 -c1 -d2s -s "$HERE/wrk_pipeline.lua" "http://$B1:8080/1k"
}

# HEAD, 204, 304 on one keep-alive connection (python, corpus server), curl
# HEAD and a 304 (If-Modified-Since = the file's mtime) from nginx
case_head_204_304() {
  cl "${CLIENT[@]}" sequence "$B2" 8000 HEAD:/chunked GET:/204 GET:/etag \
    'GET:/etag:If-None-Match="craft-corpus-1"' HEAD:/5000 GET:/100 HEAD:/etag GET:/204
  cl "${CURL[@]}" -o /dev/null -I "http://$B1/1k"
  cl "${CURL[@]}" -o /dev/null -z "$(topo_www_file 1k)" "http://$B1/1k" -o /dev/null "http://$B1/1k"
}

# close-delimited bodies: HTTP/1.1 and HTTP/1.0 responses without length,
# after a keep-alive exchange on the same connection
case_close_delimited() {
  cl "${CURL[@]}" -o /dev/null "http://$B2:8000/close"
  cl wget -q -O /dev/null "http://$B2:8000/close10"
  cl "${CLIENT[@]}" sequence "$B2" 8000 GET:/100 GET:/close
}

# Expect: 100-continue: curl to httpd.py (interim 100 before the body) and
# to the corpus server (PUT, interim 100, chunked answer)
case_expect_100() {
  cl "${CURL[@]}" -o /dev/null -H 'Expect: 100-continue' --data-binary "@$TOPO_DIR/up6k" "http://$B1:8000/upload"
  cl "${CURL[@]}" -o /dev/null -H 'Expect: 100-continue' -T "$TOPO_DIR/up6k" "http://$B2:8000/echo"
}

# RST in the middle of a response body, after a complete transaction on the
# same connection; curl reports the cut (exit 18 or 56), which is the point
case_rst_mid_response() {
  local rc=0
  topo_exec cl "${CURL[@]}" -o /dev/null "http://$B2:8000/100" -o /dev/null "http://$B2:8000/rst" >&2 || rc=$?
  [ "$rc" = 18 ] || [ "$rc" = 56 ] || { echo "curl /rst: exit $rc, want 18 or 56" >&2; return 1; }
}

# requests written one byte per segment (nginx, corpus server)
case_bytewise() {
  cl "${CLIENT[@]}" bytewise "$B1" 80 /1k /missing
  cl "${CLIENT[@]}" bytewise "$B2" 8000 /chunked
}

# GSO super-segments: a 200 kB download (nginx sendfile) and a 150 kB
# upload (curl -> httpd.py) with veth offloads on: frames above the MTU,
# partial TCP checksums
case_gso() {
  cl "${CURL[@]}" -o /dev/null "http://$B1/200k"
  cl "${CURL[@]}" -o /dev/null -H 'Expect:' --data-binary "@$TOPO_DIR/up150k" "http://$B1:8000/upload"
}

for c in keepalive chunked pipelining head_204_304 close_delimited expect_100 rst_mid_response bytewise gso; do
  capture "$c"
done
echo "make_corpus: done: $(du -ch "$OUT"/*.pcap | tail -n 1 | cut -f1) in $OUT" >&2

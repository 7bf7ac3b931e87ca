#!/usr/bin/env bash
# logger/pcap_corpus: every committed capture under tests/pcap (real traffic
# from the test bed, see tests/pcap/README.md) through craft-pcap offline.
# Every transaction's client/server, ordinal, request and response offsets,
# status, method and completeness must equal NAME.expect, which tshark's
# HTTP dissector worked out (tests/pcap/expect_from_tshark.py), line for
# line. Then damaged copies of each capture:
#   - cut inside the file header, inside a record header, inside a packet;
#   - a record header whose length field is flipped to 0xffffffff;
#   - the magic number flipped;
# each gives exit 1 with a clear message ("damaged after frame N" naming the
# last intact frame, or the reason a file is no capture), and prints every
# transaction completed before the damage exactly as expected (a frame
# holding the last byte of a transaction's messages, from the .expect
# table) and no complete transaction that differs from the table.
#   - 16 payload bytes flipped in one packet: no crash, exit 0, and every
#     transaction completed before that packet still identical.
# No namespaces: offline only.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools python3 awk diff
require_bin pcap

CORPUS=$CRAFT_ROOT/tests/pcap
W=$(mktemp -d "${TMPDIR:-/tmp}/craft-pcap-corpus.XXXXXX")
# shellcheck disable=SC2317 # called by test_begin's exit trap
test_cleanup() { rm -rf "$W"; }
PCAP=$(craft_path pcap)
PY=$(command -v /usr/bin/python3 || command -v python3) # not a slow shim
SERVICES=(-s "80 http" -s "8000 http" -s "8080 http") # the ports the .expect tables decode

# norm: craft-pcap --print lines in the .expect notation (without frame=)
norm() {
  awk '$1 == "txn" {
    m = ""
    for (i = 11; i <= NF; i++) if ($i !~ /=/) { m = $i; break }
    st = ($9 == "end=complete") ? "complete" : "incomplete"
    print "txn", $5, $4, $6, $7, $8, "method=" m, "state=" st
  }'
}

# expected NAME [LAST_FRAME]: the .expect lines without frame=; with
# LAST_FRAME, only the complete ones done by that frame
expected() {
  awk -v last="${2:--1}" '$1 == "txn" {
    f = $NF; sub(/^frame=/, "", f)
    if (last >= 0 && ($(NF - 1) != "state=complete" || f + 0 > last)) next
    $NF = ""; sub(/ $/, ""); print
  }' "$CORPUS/$1.expect"
}

# offsets FILE: byte offset of every record header, one per line (frame 1
# first), then the file size; the pcap header tells the byte order
offsets() {
  "$PY" - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
e = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
off = 24
while off + 16 <= len(d):
    print(off)
    off += 16 + struct.unpack(e + "I", d[off + 8 : off + 12])[0]
print(len(d))
EOF
}

# run_pcap FILE OUT: craft-pcap --print; sets RC
run_pcap() {
  RC=0
  "$PCAP" --print "${SERVICES[@]}" "$1" >"$2.raw" 2>"$2.err" || RC=$?
  norm <"$2.raw" >"$2"
}

# check_damaged NAME FILE LAST_FRAME WHAT: exit 1, the message names the
# last intact frame, every transaction done by then printed as expected,
# no complete line that the table does not have.
check_damaged() {
  local name=$1 f=$2 last=$3 what=$4 out=$W/out.txt
  run_pcap "$f" "$out"
  [ "$RC" = 1 ] || result_fail "$name $what: exit $RC, want 1: $(head -c 200 "$out.err")"
  grep -q "damaged after frame $last:" "$out.err" ||
    result_fail "$name $what: no 'damaged after frame $last' message: $(head -c 200 "$out.err")"
  check_prefix "$name" "$out" "$last" "$what"
}

# check_prefix NAME OUT LAST_FRAME WHAT (the whole table is in $W/want.txt)
check_prefix() {
  local name=$1 out=$2 last=$3 what=$4 line
  expected "$name" "$last" >"$W/prefix.txt"
  line=$(grep -vxFf "$out" "$W/prefix.txt" | head -n 1 || true)
  [ -z "$line" ] || result_fail "$name $what: lost a transaction completed by frame $last: $line"
  KEPT=$((KEPT + $(wc -l <"$W/prefix.txt")))
  line=$(grep 'state=complete' "$out" | grep -vxFf "$W/want.txt" | head -n 1 || true)
  [ -z "$line" ] || result_fail "$name $what: printed a transaction the table does not have: $line"
}

NAMES=()
for p in "$CORPUS"/*.pcap; do NAMES+=("$(basename "$p" .pcap)"); done
[ ${#NAMES[@]} -ge 9 ] || result_fail "only ${#NAMES[@]} captures in tests/pcap"
TXNS=0
GSO_BIG=
KEPT=0
VARIANTS=0
FLIPS=0
for name in "${NAMES[@]}"; do
  src=$CORPUS/$name.pcap
  [ -s "$CORPUS/$name.expect" ] || result_fail "$name: no $name.expect"
  # ---- the whole capture: exactly the table ------------------------------------
  run_pcap "$src" "$W/full.txt"
  [ "$RC" = 0 ] || result_fail "$name: craft-pcap exit $RC: $(head -c 200 "$W/full.txt.err")"
  expected "$name" >"$W/want.txt"
  [ -s "$W/want.txt" ] || result_fail "$name: empty expectation table"
  if ! diff -u "$W/want.txt" "$W/full.txt" >"$W/diff.txt"; then
    say "$name: $(cat "$W/diff.txt")"
    result_fail "$name: craft-pcap differs from tshark's table: $(grep -m 1 '^[-+]txn' "$W/diff.txt")"
  fi
  grep -q ' 0 malformed' "$W/full.txt.err" || result_fail "$name: malformed segments: $(cat "$W/full.txt.err")"
  TXNS=$((TXNS + $(wc -l <"$W/want.txt")))

  # ---- damaged copies ---------------------------------------------------------------
  mapfile -t off < <(offsets "$src")
  n=$((${#off[@]} - 1)) # frames
  [ "$n" -ge 6 ] || result_fail "$name: only $n frames"
  size=${off[$n]}
  if [ "$name" = gso ]; then
    # the point of that capture: frames above the 1514-byte Ethernet MTU
    big=0
    for ((i = 0; i < n; i++)); do [ $((off[i + 1] - off[i] - 16)) -gt 1514 ] && big=$((big + 1)); done
    [ "$big" -ge 4 ] || result_fail "gso: only $big frames above the MTU: not a GSO capture"
    GSO_BIG=$big
  fi
  # frame k (1-based) starts at off[k-1]; frames 1..k-1 stay intact
  k=$((n / 3)) # cut inside its data
  head -c $((off[k - 1] + 16 + 7)) "$src" >"$W/cut.pcap"
  check_damaged "$name" "$W/cut.pcap" $((k - 1)) "cut inside frame $k"
  k=$n # the last frame cut short
  head -c $((off[k - 1] + 16 + 7)) "$src" >"$W/cut.pcap"
  check_damaged "$name" "$W/cut.pcap" $((k - 1)) "cut inside frame $k"
  k=$((2 * n / 3)) # cut inside its record header
  head -c $((off[k - 1] + 9)) "$src" >"$W/cut.pcap"
  check_damaged "$name" "$W/cut.pcap" $((k - 1)) "cut inside record header $k"
  k=$((n / 2)) # its caplen -> 0xffffffff
  cp "$src" "$W/bad.pcap"
  printf '\377\377\377\377' | dd of="$W/bad.pcap" bs=1 seek=$((off[k - 1] + 8)) conv=notrunc status=none
  check_damaged "$name" "$W/bad.pcap" $((k - 1)) "length of record $k flipped"
  VARIANTS=$((VARIANTS + 4))
  # 16 bytes flipped in the payload of the first data frame (150+ bytes:
  # the middle is past the 66 bytes of headers) from the middle on: parsed
  # as data, never fatal
  for ((k = n / 2; k <= n; k++)); do
    len=$((off[k] - off[k - 1] - 16))
    [ "$len" -ge 150 ] && break
  done
  [ "$k" -le "$n" ] || result_fail "$name: no data frame of 150+ bytes after frame $((n / 2))"
  "$PY" - "$src" "$W/flip.pcap" $((off[k - 1] + 16 + len / 2)) <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
at = int(sys.argv[3])
for i in range(at, at + 16):
    d[i] ^= 0xFF
open(sys.argv[2], "wb").write(d)
EOF
  run_pcap "$W/flip.pcap" "$W/flip.txt"
  [ "$RC" = 0 ] || result_fail "$name: 16 payload bytes flipped in frame $k: exit $RC: $(head -c 200 "$W/flip.txt.err")"
  expected "$name" $((k - 1)) >"$W/prefix.txt"
  line=$(grep -vxFf "$W/flip.txt" "$W/prefix.txt" | head -n 1 || true)
  [ -z "$line" ] || result_fail "$name: payload flipped in frame $k: lost $line"
  FLIPS=$((FLIPS + 1))
  [ "$size" = "$(stat -c %s "$src")" ] || result_fail "$name: record offsets do not add up to the file size"
done

# file header damage: too short, wrong magic
name=${NAMES[0]}
head -c 10 "$CORPUS/$name.pcap" >"$W/short.pcap"
run_pcap "$W/short.pcap" "$W/short.txt"
[ "$RC" = 1 ] || result_fail "10-byte file: exit $RC, want 1"
grep -q 'short.pcap' "$W/short.txt.err" || result_fail "10-byte file: message does not name the file: $(cat "$W/short.txt.err")"
cp "$CORPUS/$name.pcap" "$W/magic.pcap"
printf 'XXXX' | dd of="$W/magic.pcap" bs=1 seek=0 conv=notrunc status=none
run_pcap "$W/magic.pcap" "$W/magic.txt"
[ "$RC" = 1 ] || result_fail "flipped magic: exit $RC, want 1"
grep -q 'magic.pcap: .*format' "$W/magic.txt.err" || result_fail "flipped magic: unclear message '$(cat "$W/magic.txt.err")'"
[ ! -s "$W/magic.txt" ] || result_fail "flipped magic: printed transactions"
say "short file: $(cat "$W/short.txt.err"); bad magic: $(cat "$W/magic.txt.err")"
[ -n "$GSO_BIG" ] || result_fail "no gso.pcap in the corpus"
result_pass "${#NAMES[@]} captures (gso: ${GSO_BIG:-?} frames above the MTU), $TXNS transactions = tshark's offsets/status/method exactly;" \
  "$VARIANTS damaged copies: exit 1 with the last intact frame named, $KEPT completed transactions kept identical;" \
  "$FLIPS with flipped payload bytes: exit 0, nothing lost before them; bad file headers refused"

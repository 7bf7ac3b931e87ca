#!/usr/bin/env bash
# failover/matrix_nginx: the fault-injection matrix (issue 6) on nginx
# static (b1, alternate b2): crash points sent, mid, between, upload (see
# _matrix.sh), MX_REPS (5) failovers each on one test bed (b1 comes back
# and the logger sees it recover between repetitions), then the untagged
# non-deterministic endpoint (nondet): a reset, never a mixed body. Then
# the between and mid cells again with MX_CRASH=kill (between:kill,
# mid:kill): every nginx process on b1 SIGKILLed by PID instead of the
# link going down, so b1's kernel closes the connection and the logger's
# crash guard must turn that FIN/RST into an immediate failure (neither
# the close nor a reset may reach the client); nginx restarts on b1
# between repetitions. MX_POINTS picks cells (POINT or POINT:METHOD).
# Per repetition: one client socket, never reconnected; every response
# 2xx with the digest of the run without failure; one failover row
# "recovered" b1 -> b2 (nondet: "nondeterministic", the reset within
# MX_RESET_BOUND_MS of the crash). The upload (PUT /up/NAME, 256 KiB, cut
# in the middle) must exist exactly on b2 with the client's bytes and not
# on b1. One line per cell on stderr (build/test-logs) and the figures in
# the result line.
# test-timeout: 480 (about 160 s on a quiet host; 30 failovers with revivals)
# shellcheck source=tests/e2e/failover/_matrix.sh
source "$(dirname "$0")/_matrix.sh"
test_begin

mx_setup nginx
figs=()
method0=$MX_CRASH
for cell in ${MX_POINTS:-sent mid between upload nondet between:kill mid:kill}; do
  point=${cell%%:*}
  MX_CRASH=$method0
  [ "$cell" = "$point" ] || MX_CRASH=${cell#*:}
  # the run without failure does not depend on the crash method
  [ "$point" = nondet ] || [ -n "${MX_REF[$point]:-}" ] || mx_reference "$point"
  gaps=()
  for ((rep = 1; rep <= MX_REPS; rep++)); do
    mx_cell "$point" "$rep"
    say "cell nginx/$cell #$rep: $MX_LINE"
    gaps+=("$MX_GAP")
  done
  if [ "$point" = upload ]; then
    n1=$(find "$TOPO_DIR/nginx-b1-80/up" -name 'r[0-9]*' -type f | wc -l)
    n2=$(find "$TOPO_DIR/nginx-b2-80/up" -name 'r[0-9]*' -type f | wc -l)
    [ "$n1" = 0 ] || result_fail "b1 stored $n1 cut uploads"
    [ "$n2" = "$MX_REPS" ] || result_fail "b2 stored $n2 uploads, want $MX_REPS"
    for f in "$TOPO_DIR"/nginx-b2-80/up/r[0-9]*; do
      sha_eq "$f" "$MX_UPLOAD" || result_fail "b2's upload $(basename "$f") differs from the client's body"
    done
  fi
  outcome=recovered
  [ "$point" = nondet ] && outcome="reset (nondeterministic), ms after the crash"
  line="nginx/$cell x$MX_REPS $outcome, gaps(ms) ${gaps[*]}"
  echo "$line" >&2
  figs+=("$line")
done
px_require_alive "after the matrix"
px_stop
lg_stop
want=$((MX_NCLIENTS))
[ "$(px_stat accepted)" = "$want" ] || result_fail "proxy accepted $(px_stat accepted) connections, want $want (one per client run)"
result_pass "$(IFS=';'; echo "${figs[*]}")"

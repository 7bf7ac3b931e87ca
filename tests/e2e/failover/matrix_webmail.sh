#!/usr/bin/env bash
# failover/matrix_webmail: the fault-injection matrix (issue 6) on the
# webmail demo application (b1 primary pushing session state to b2's
# craft-agent, aux server counting sends): crash points sent, mid, between,
# upload (see _matrix.sh), MX_REPS (5) failovers each on one test bed.
# Every run logs in, composes, sends (an aux request), reads the inbox;
# then, across the crash, composes (sent: the compose b1 received and
# answered into the void; upload: a compose whose 3 KB body is cut in the
# middle; mid: first a 2 MiB static file read slowly), sends and reads the
# inbox again. Per repetition: one client socket, never reconnected;
# every response 200 and, byte for byte (heads included, the session key
# aside), the responses of the run without failure: the same draft ids,
# sends and final inbox, so no update was lost or applied twice on b2; one
# failover row "recovered" b1 -> b2. At the end the aux server saw every
# send exactly once (no duplicate transaction ID).
# shellcheck source=tests/e2e/failover/_matrix.sh
source "$(dirname "$0")/_matrix.sh"
test_begin

mx_setup webmail
figs=()
for point in ${MX_POINTS:-sent mid between upload}; do
  mx_reference "$point"
  gaps=()
  for ((rep = 1; rep <= MX_REPS; rep++)); do
    mx_cell "$point" "$rep"
    say "cell webmail/$point #$rep: $MX_LINE"
    gaps+=("$MX_GAP")
  done
  line="webmail/$point x$MX_REPS recovered, gaps(ms) ${gaps[*]}"
  echo "$line" >&2
  figs+=("$line")
done
aux=$(fo_aux_stats "$AUX" 2>&1) || result_fail "auxd STATS failed: ${aux//$'\n'/ }"
aux_head=$(head -n 1 <<<"$aux")
sends=$((2 * MX_NCLIENTS))
[ "$aux_head" = "total $sends distinct $sends duplicates 0" ] ||
  result_fail "aux server saw: $aux_head (want $sends sends, each once)"
px_require_alive "after the matrix"
px_stop
lg_stop
[ "$(px_stat accepted)" = "$MX_NCLIENTS" ] || result_fail "proxy accepted $(px_stat accepted) connections, want $MX_NCLIENTS (one per client run)"
result_pass "$(IFS=';'; echo "${figs[*]}"); aux: $aux_head"

#!/usr/bin/env bash
# failover/matrix_webmail: the fault-injection matrix (issue 6) on the
# webmail demo application (b1 primary pushing session state to b2's
# craft-agent, aux server counting sends, the logger on lg also the aux
# logger): crash points sent, mid, between, upload, auxreplay (see
# _matrix.sh), MX_REPS (5) failovers each on one test bed.
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
# The fifth point, auxreplay (see _matrix.sh): b1 fails under the send
# itself, after its aux request; the replay of the send on b2 makes the
# same aux request, which the aux logger on lg must answer from its log.
# Per repetition, on top of the cell's checks: the aux server's STATS say
# every send so far was counted once (total = distinct = 2 per client run,
# duplicates 0) and the aux logger's diverted answers grew by exactly one.
# At the end the aux logger answered exactly one request per auxreplay
# repetition (none in the other points, whose replays make no aux request).
# test-timeout: 480 (about 110 s on a quiet host; 25 failovers with revivals)
# shellcheck source=tests/e2e/failover/_matrix.sh
source "$(dirname "$0")/_matrix.sh"
test_begin

mx_setup webmail

# aux_sends_once: auxd counted every send of the client runs so far, each
# once (the client finished its run: its sends are all in).
aux_sends_once() {
  local aux head sends=$((2 * MX_NCLIENTS))
  aux=$(fo_aux_stats "$AUX" 2>&1) || result_fail "$MX_CELL: auxd STATS failed: ${aux//$'\n'/ }"
  head=$(head -n 1 <<<"$aux")
  [ "$head" = "total $sends distinct $sends duplicates 0" ] ||
    result_fail "$MX_CELL: aux server saw: $head (want $sends sends, each once): $(awk '$1 == "txn" && $4 != 1' <<<"$aux" | tr '\n' '|')"
}

figs=()
answered=0 # the aux logger's diverted answers the matrix expects
for point in ${MX_POINTS:-sent mid between upload auxreplay}; do
  mx_reference "$point"
  gaps=()
  for ((rep = 1; rep <= MX_REPS; rep++)); do
    mx_cell "$point" "$rep"
    if [ "$point" = auxreplay ]; then
      answered=$((answered + 1))
      wait_for 3 mx__lg_grew aux_divert_answered $((answered - 1)) || true
      [ "$(lg_stat aux_divert_answered)" = "$answered" ] ||
        result_fail "$MX_CELL: the aux logger has answered $(lg_stat aux_divert_answered) diverted requests, want $answered (one per repetition); relayed $(lg_stat aux_divert_relayed)"
      aux_sends_once
      MX_LINE="$MX_LINE; aux logger answered $answered in all, relayed $(lg_stat aux_divert_relayed)"
    fi
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
# the final counters: no diverted answer outside the auxreplay cells
[ "$(lg_stat aux_divert_answered)" = "$answered" ] ||
  result_fail "the aux logger answered $(lg_stat aux_divert_answered) diverted requests in all, want $answered"
[ "$(px_stat accepted)" = "$MX_NCLIENTS" ] || result_fail "proxy accepted $(px_stat accepted) connections, want $MX_NCLIENTS (one per client run)"
result_pass "$(IFS=';'; echo "${figs[*]}"); aux: $aux_head; aux logger: answered $answered, relayed $(lg_stat aux_divert_relayed)"

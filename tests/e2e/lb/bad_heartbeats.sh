#!/usr/bin/env bash
# lb/bad_heartbeats: forged, replayed, stale, garbage, unknown-sender and
# misaddressed heartbeats change no membership (test 5). Heartbeats every
# 100 ms, 3 missed = out, rejoin after 3.
#  - p2's genuine beats are recorded for 0.5 s (p2 is admitted), then p2
#    falls silent: replaying the recording at once (replay window) and 2.5 s
#    later (stale) keeps nobody alive: p2 leaves on time and stays out;
#  - beats for p2 sealed with another key (forged), 5000 garbage datagrams
#    (random bytes, heartbeat-shaped with random tags, wrong key, cut
#    short), a genuine beat from an unknown id, and p2's id with the right
#    key but sent from p1's address: p2 stays out, p1 stays in, each kind
#    is counted under its reason;
#  - p1's genuine sender dies while forged and replayed beats in its name
#    keep arriving: p1 is removed within 3 intervals (+ a tick) all the same;
#  - in total the membership changed exactly 4 times (p1 in, p2 in, p2 out,
#    p1 out).
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

lb_bed
CONF=$TOPO_DIR/lb.conf
lb_write_conf "$CONF" flow-hash
lb_start "$CONF"
TO=$LB_LISTEN:$LB_HB_PORT
HB=$(craft_path heartbeat)
hb_start p1 1 --record "$TOPO_DIR/p1.rec"
lb_wait_live 1

# ---- p2: recorded, silent, replayed
hb_start p2 2 --record "$TOPO_DIR/p2.rec"
lb_wait_live 2
sleep 0.5
hb_stop p2
for _ in 1 2 3; do
  topo_exec p2 "$HB" --replay "$TOPO_DIR/p2.rec" --to "$TO" --interval 5ms 2>/dev/null
  sleep 0.1
done
lb_wait_stat 2 proxy2_live -eq 0 || result_fail "replayed beats kept p2 alive"
D2=$(lb_stat proxy2_detect_last_ms)
[ "$(lb_stat hb_replay)" -gt 0 ] || result_fail "no replay counted"
sleep 2.5
topo_exec p2 "$HB" --replay "$TOPO_DIR/p2.rec" --to "$TO" --interval 2ms 2>/dev/null
sleep 0.3
[ "$(lb_stat hb_too_old)" -gt 0 ] || result_fail "a 3 s old replay was not counted too_old"
[ "$(lb_stat proxy2_live)" = 0 ] || result_fail "stale replay brought p2 back"
REPLAYS=$(lb_stat hb_replay)
STALE=$(lb_stat hb_too_old)

# ---- forged, garbage, unknown, wrong source
tag0=$(lb_stat hb_bad_tag)
topo_start_bg p2 "$TOPO_DIR/forge2.log" "$HB" --id 2 --to "$TO" --key "$LB_BADKEY" --interval 20ms --count 50
forge_pid=$TOPO_LAST_PID
dg0=$(lb_stat hb_datagrams)
topo_exec cl "$HB" --garbage 5000 --to "$TO" --id 2 2>/dev/null
topo_exec p2 "$HB" --id 99 --to "$TO" --key "$LB_KEY" --count 5 --interval 20ms 2>/dev/null
topo_exec p1 "$HB" --id 2 --to "$TO" --key "$LB_KEY" --count 5 --interval 20ms 2>/dev/null
topo_stop "$forge_pid" TERM 5 || true
sleep 0.5
lb_require_alive "under bad heartbeats"
[ "$(lb_stat proxy2_live)" = 0 ] || result_fail "bad heartbeats brought p2 back"
[ "$(lb_stat proxy1_live)" = 1 ] || result_fail "p1 fell out under bad heartbeats"
dg=$(($(lb_stat hb_datagrams) - dg0))
[ "$dg" -ge 4500 ] || result_fail "only $dg of >= 5060 bad datagrams reached the lb ($(lb_stat hb_recv_errors) recv errors)"
FORGED=$(($(lb_stat hb_bad_tag) - tag0))
[ "$FORGED" -ge 50 ] || result_fail "forged beats: bad_tag grew by $FORGED, want >= 50"
[ "$(lb_stat hb_unknown_sender)" -ge 5 ] || result_fail "unknown sender not counted: $(lb_stat hb_unknown_sender)"
[ "$(lb_stat hb_wrong_source)" -ge 5 ] || result_fail "wrong source not counted: $(lb_stat hb_wrong_source)"
GARBAGE=$(($(lb_stat hb_too_short) + $(lb_stat hb_bad_magic) + $(lb_stat hb_bad_length)))
[ "$GARBAGE" -gt 1000 ] || result_fail "garbage not counted: too_short+bad_magic+bad_length = $GARBAGE"

# ---- p1 dies while its id is forged and replayed
topo_start_bg p2 "$TOPO_DIR/forge1.log" "$HB" --id 1 --to "$TO" --key "$LB_BADKEY" --interval 20ms --count 100
forge_pid=$TOPO_LAST_PID
hb_stop p1 KILL
t1=$(now_ms)
topo_exec p1 "$HB" --replay "$TOPO_DIR/p1.rec" --to "$TO" --interval 5ms 2>/dev/null
lb_wait_stat 2 proxy1_live -eq 0 || result_fail "forged/replayed beats kept p1 alive"
det1=$(($(now_ms) - t1))
D1=$(lb_stat proxy1_detect_last_ms)
[ "$D1" -le 450 ] || result_fail "p1 removed $D1 ms after its last genuine beat, want <= 3 x 100 ms + ticks"
topo_stop "$forge_pid" TERM 5 || true
CH=$(lb_stat hb_membership_changes)
[ "$CH" = 4 ] || result_fail "membership changed $CH times, want 4 (p1 in, p2 in, p2 out, p1 out)"
lb_stop
result_pass "replayed: $REPLAYS refused (p2 out $D2 ms after its last genuine beat), stale: $STALE; bad_tag: $FORGED (50 forged beats + shaped garbage); other garbage: $GARBAGE+; unknown id and wrong source counted; p1 out $D1 ms after its last genuine beat ($det1 ms after the kill) despite forgeries; membership changes = 4 exactly"

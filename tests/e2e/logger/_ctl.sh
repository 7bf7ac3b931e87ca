#!/usr/bin/env bash
# tests/e2e/logger/_ctl.sh - helpers of the scenarios that use the logger's
# control channel and failure detection (not a scenario: the runner skips
# files starting with "_"). Source after tests/lib.sh and _lib.sh.
#
#   ctl_bed                              # test bed, httpd.py on b1:8000 (PY_PID),
#                                        # B1 CL LGA P1, cluster key KEY
#   ctl_keys FILE...                     # random cluster keys, mode 600
#   ctl_detect_conf CEIL_MS CONFIRM_MS TICK_MS IDLE_MS
#                                        # [detect] + [probe] lines (stdout)
#   ctl_listen ROLE ADDR:PORT KEY OUT [ARGS...]
#                                        # craft-ctl listen in the background:
#                                        # messages in OUT, counters in OUT.err;
#                                        # sets CTL_LISTEN_PID

# shellcheck disable=SC2034 # the variables are the scenarios'
ctl_bed() {
  topo_up
  topo_www
  topo_pyhttp b1 8000
  PY_PID=$TOPO_LAST_PID
  B1=$(topo_addr b1)
  CL=$(topo_addr cl)
  LGA=$(topo_addr lg)
  P1=$(topo_addr p1)
  KEY=$TOPO_DIR/ctl.key
  ctl_keys "$KEY"
}

ctl_keys() {
  local f
  for f in "$@"; do
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$f"
    chmod 600 "$f"
  done
}

# The probe asks the application (HEAD), not only the kernel: a frozen
# process's kernel still completes handshakes from its backlog.
ctl_detect_conf() {
  cat <<EOF2
[detect]
enabled = yes
k = 4
floor = 200ms
ceiling = ${1}ms
confirm = ${2}ms
min_samples = 8
idle_probe = ${4}ms
recover_probes = 2
tick = ${3}ms
[probe]
timeout = 500ms
send = "HEAD /1k HTTP/1.0\\\\r\\\\n\\\\r\\\\n"
EOF2
}

# Not topo_start_bg: stdout (the messages) and stderr (the counters at the
# end) go to separate files.
ctl_listen() {
  local role=$1 bind=$2 key=$3 out=$4
  shift 4
  ip netns exec "$(topo_ns "$role")" "$(craft_path ctl)" listen --key "$key" --bind "$bind" "$@" \
    >"$out" 2>"$out.err" </dev/null &
  CTL_LISTEN_PID=$!
  printf '%s %s craft-ctl\n' "$CTL_LISTEN_PID" "$role" >>"$TOPO_DIR/pids"
}

#!/usr/bin/env bash
# store_crash: the store survives SIGKILL of its process mid-write.
#
# craft-store-crash-writer inserts 100,000 rows (values 1..N) through the
# store in batches of exactly $BATCH rows and appends the highest committed
# row number to a progress file after every commit. Once that number passes a
# random point between 30% and 60% of N, the writer is killed with SIGKILL.
# The database must then be consistent (integrity_check ok, craft-db check
# passes), hold every row up to the last reported commit, and hold whole
# batches only: rows 1..K with K a multiple of $BATCH and nothing else.
# Repeated $ITER times. Prints one line "PASS store_crash: ..." or
# "FAIL store_crash: ..."; exit 0 / 1. Needs no privileges or namespaces.
set -u

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${CRAFT_BIN:-$ROOT/build/bin}
WRITER=$BIN/craft-store-crash-writer
DBTOOL=$BIN/craft-db
ROWS=${STORE_CRASH_ROWS:-100000}
BATCH=${STORE_CRASH_BATCH:-1000}
RATE=${STORE_CRASH_RATE:-40000} # rows/s: 100k rows take ~2.5 s
ITER=${STORE_CRASH_ITER:-3}

fail() {
	echo "FAIL store_crash: $*"
	exit 1
}

for tool in "$WRITER" "$DBTOOL"; do
	[ -x "$tool" ] || fail "$tool not built (run make)"
done
command -v sqlite3 >/dev/null || fail "sqlite3 CLI missing (make deps)"

tmp=$(mktemp -d /tmp/craft-store-crash.XXXXXX) || fail "mktemp"
writer_pid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	if [ -n "$writer_pid" ]; then
		kill -KILL "$writer_pid" 2>/dev/null
		wait "$writer_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Highest complete line of the progress file (0 when none yet).
last_commit() {
	local v
	v=$(grep -E '^[0-9]+$' "$1" 2>/dev/null | tail -n 1)
	echo "${v:-0}"
}

summary=()
for i in $(seq 1 "$ITER"); do
	db=$tmp/run$i.db
	prog=$tmp/run$i.progress
	: >"$prog"
	lo=$((ROWS * 30 / 100))
	span=$((ROWS * 30 / 100))
	target=$((lo + (RANDOM * 32768 + RANDOM) % span))

	"$WRITER" --db "$db" --progress "$prog" --rows "$ROWS" --batch "$BATCH" \
		--rate "$RATE" 2>"$tmp/run$i.err" &
	writer_pid=$!

	# Poll for up to 30 s (bounded even if the writer stalls).
	deadline=$((SECONDS + 30))
	killed=0
	while [ $SECONDS -lt $deadline ]; do
		if ! kill -0 "$writer_pid" 2>/dev/null; then
			break
		fi
		if [ "$(last_commit "$prog")" -ge "$target" ]; then
			kill -KILL "$writer_pid"
			killed=1
			break
		fi
		sleep 0.01
	done
	wait "$writer_pid" 2>/dev/null
	status=$?
	writer_pid=
	[ $killed = 1 ] || fail "run $i: writer ended (status $status) before reaching row $target: $(cat "$tmp/run$i.err")"
	[ $status = 137 ] || fail "run $i: writer exit status $status, expected 137 (SIGKILL)"
	reported=$(last_commit "$prog")

	# Read-only validation first (what an operator would run), then the
	# daemons' own open path (validation, WAL recovery, migration check)
	# through craft-db init, then the full integrity check and the row
	# checks through the sqlite3 CLI.
	check_out=$("$DBTOOL" check "$db" 2>&1) || fail "run $i: craft-db check refused the database: $check_out"
	seen_ro=$(awk '$1 == "counters" { print $2 }' <<<"$check_out")
	init_out=$("$DBTOOL" init "$db" 2>&1) || fail "run $i: store_open refused the crashed database: $init_out"
	integrity=$(sqlite3 "$db" "PRAGMA integrity_check;" 2>&1)
	[ "$integrity" = ok ] || fail "run $i: integrity_check: $integrity"
	read -r count lo_id hi_id distinct < <(sqlite3 -separator ' ' "$db" \
		"SELECT count(*), coalesce(min(value), 0), coalesce(max(value), 0),
		        count(DISTINCT value)
		 FROM counters WHERE daemon = 'crash-writer' AND name = 'row';")
	[ -n "${count:-}" ] || fail "run $i: could not query the database"
	[ "$count" = "${seen_ro:-}" ] || fail "run $i: read-only check saw ${seen_ro:-no} rows, reopened database has $count"
	[ "$count" -ge "$reported" ] || fail "run $i: $count rows but commit of row $reported was reported"
	[ "$count" -gt 0 ] || fail "run $i: no rows at all"
	if [ "$lo_id" != 1 ] || [ "$hi_id" != "$count" ] || [ "$distinct" != "$count" ]; then
		fail "run $i: rows not contiguous: count $count, min $lo_id, max $hi_id, distinct $distinct"
	fi
	[ $((count % BATCH)) = 0 ] || fail "run $i: $count rows is not a whole number of $BATCH-row batches (partial batch)"
	[ "$count" -lt "$ROWS" ] || fail "run $i: all $ROWS rows present: the kill came too late"
	others=$(sqlite3 "$db" "SELECT count(*) FROM counters WHERE daemon <> 'crash-writer';")
	[ "$others" = 0 ] || fail "run $i: $others unexpected rows"
	summary+=("killed at commit $reported, found $count")
done

runs=$(printf '%s; ' "${summary[@]}")
echo "PASS store_crash: $ITER runs of $ROWS rows in $BATCH-row batches, SIGKILL mid-write: ${runs%; }; integrity ok, no committed row lost, no partial batch"
exit 0

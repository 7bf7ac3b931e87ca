#!/usr/bin/env bash
# make fuzz: builds every tests/fuzz/fuzz_*.c as a libFuzzer binary with
# ASan+UBSan and runs each for a bounded time.
#
# Each fuzz file names the project sources it needs in comment lines:
#   // fuzz-sources: nfq/core/config.c nfq/core/config_value.c
#   // fuzz-libs: -lip4tc                      (optional)
# (also accepted inside a /* */ block as " * fuzz-sources: ...").
#
# Environment:
#   FUZZ_SECONDS   run time per target (default 60)
#   FUZZ_TARGETS   space-separated names (e.g. "config packet"); default all
#   CLANG          compiler (default clang)
# Corpora grow in build/fuzz/corpus/NAME (kept between runs); seeds, if any,
# are read from tests/fuzz/seeds/NAME/ and a dictionary from
# tests/fuzz/NAME.dict; crashes land in build/fuzz/artifacts/.
# Exit status: 0 all clean, 1 a target crashed or failed to build, 2 setup.
set -u
cd "$(dirname "$0")/../.." || exit 2

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
OUT=build/fuzz
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Infq/core -pthread)

if ! command -v "$CLANG" >/dev/null; then
	echo "fuzz: $CLANG not found (apt-get install clang)" >&2
	exit 2
fi
case $SECONDS_PER_TARGET in
'' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number" >&2; exit 2 ;;
esac

# Values of one "fuzz-KEY:" comment line in file $1 (empty if none).
directive() {
	sed -n -E "s@^[[:space:]]*(//|/?\*)[[:space:]]*fuzz-$2:[[:space:]]*@@p" "$1" | head -n 1 |
		sed -E 's@[[:space:]]*\*/[[:space:]]*$@@'
}

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
	for t in $FUZZ_TARGETS; do targets+=("tests/fuzz/fuzz_$t.c"); done
else
	for f in tests/fuzz/fuzz_*.c; do [ -e "$f" ] && targets+=("$f"); done
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets" >&2
	exit 2
fi

mkdir -p "$OUT/artifacts"
failed=()
for src in "${targets[@]}"; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	if [ ! -f "$src" ]; then
		echo "FAIL fuzz/$name: $src does not exist"
		failed+=("$name")
		continue
	fi
	read -r -a sources <<<"$(directive "$src" sources)"
	read -r -a libs <<<"$(directive "$src" libs)"
	bin="$OUT/fuzz_$name"
	echo "== fuzz/$name: building ($src ${sources[*]})"
	if ! "$CLANG" "${CFLAGS[@]}" -o "$bin" "$src" "${sources[@]}" "${libs[@]}"; then
		echo "FAIL fuzz/$name: build failed"
		failed+=("$name")
		continue
	fi
	corpus="$OUT/corpus/$name"
	mkdir -p "$corpus"
	dirs=("$corpus")
	[ -d "tests/fuzz/seeds/$name" ] && dirs+=("tests/fuzz/seeds/$name")
	opts=()
	[ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
	echo "== fuzz/$name: running ${SECONDS_PER_TARGET}s (corpus $corpus)"
	log="$OUT/fuzz_$name.log"
	"$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/${name}-" "${opts[@]}" "${dirs[@]}" \
		>"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz/$name: exit $rc; last lines of $log:"
		tail -n 30 "$log"
		for a in "$OUT/artifacts/${name}-"*; do
			[ -e "$a" ] && echo "  reproduce: $bin $a"
		done
		failed+=("$name")
	else
		execs=$(sed -n -E 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log")
		echo "PASS fuzz/$name: ${execs:-?} runs, corpus $(ls "$corpus" | wc -l) inputs"
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) clean"

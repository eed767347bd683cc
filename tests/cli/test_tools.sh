#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bpsend, bprecv, bpecho and bping against a real bpd in a temporary
# directory: payloads byte for byte (text, a 1 MiB file, stdin), bundles
# queued before their receiver, exit statuses and error lines, a bping/bpecho
# round trip, and at-least-once: a payload is consumed only once written,
# and two receivers get one queued bundle each.
#
# Usage: test_tools.sh PATH_TO_BPD TOOLS_DIR
# Prints "ok N - what" or "FAIL N - what (why)" per check, then
# "N passed, M failed"; exits 1 on any failure.

# The checks pass eval '...' on purpose: expanded when the check runs.
# shellcheck disable=SC2016

set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 PATH_TO_BPD TOOLS_DIR" >&2
	exit 2
fi
BPD=$1
BIN=$2
TMP=$(mktemp -d)
pids=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# forget PID: a background process that has been waited for.
forget() {
	local keep=() pid
	for pid in "${pids[@]}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	pids=("${keep[@]}")
}

export BPD_SOCKET=$TMP/bpd.sock
n=0
pass=0
fail=0

ok() {
	n=$((n + 1))
	pass=$((pass + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	fail=$((fail + 1))
	echo "FAIL $n - $1${2:+ ($2)}"
}

# check DESC WHY COMMAND...: ok when COMMAND succeeds, else FAIL with WHY.
check() {
	local desc=$1 why=$2
	shift 2
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc" "$why"
	fi
}

# run NAME ARGS...: run tool NAME; sets $rc, output in $TMP/out and $TMP/err.
run() {
	local tool=$1
	shift
	rc=0
	"$BIN/$tool" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}

err_line() {
	head -n 1 "$TMP/err"
}

# One line on stderr that starts with "TOOL: ".
one_error_line() {
	[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^$1: ." "$TMP/err"
}

for tool in bpsend bprecv bpecho bping; do
	if [ ! -x "$BIN/$tool" ]; then
		echo "FAIL - $BIN/$tool is not an executable"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

"$BPD" --state "$TMP/state" --node ipn:1 -q &
pids+=("$!")
for _ in $(seq 100); do
	[ -S "$BPD_SOCKET" ] && break
	sleep 0.1
done
if [ ! -S "$BPD_SOCKET" ]; then
	echo "FAIL - bpd did not create $BPD_SOCKET within 10 s"
	echo "0 passed, 1 failed"
	exit 1
fi

# ---- help and usage errors ----

for tool in bpsend bprecv bpecho bping; do
	run "$tool" --help
	check "$tool --help exits 0 and documents BPD_SOCKET" "exit $rc" \
		eval '[ $rc -eq 0 ] && grep -q BPD_SOCKET "$TMP/out" && grep -q "^Usage: $tool" "$TMP/out"'
done

run bprecv
check "bprecv without ENDPOINT: usage error" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 2 ] && one_error_line bprecv'
run bping -s 8 ipn:1.7
check "bping -s 8 (under 16 bytes): usage error" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 2 ] && one_error_line bping'
run bpsend -r received,bogus ipn:1.100 x
check "bpsend -r with an unknown report: usage error" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 2 ] && one_error_line bpsend'

# ---- text, file and stdin payloads arrive byte for byte, in order ----

head -c 1048576 /dev/urandom >"$TMP/big.bin"
head -c 3072 /dev/urandom >"$TMP/stdin.bin"
printf 'hello, bundle' >"$TMP/text.bin"
rm -f "$TMP/three.out"
"$BIN/bprecv" -c 3 -t 10 -o "$TMP/three.out" ipn:1.100 2>"$TMP/recv.err" &
recv=$!
pids+=("$recv")
sends=0
"$BIN/bpsend" ipn:1.100 'hello, bundle' || sends=$?
"$BIN/bpsend" -f "$TMP/big.bin" ipn:1.100 || sends=$?
"$BIN/bpsend" ipn:1.100 <"$TMP/stdin.bin" || sends=$?
check "bpsend TEXT, -f FILE (1 MiB) and stdin (3 KiB) exit 0" "an exit status $sends" \
	[ $sends -eq 0 ]
rc=0
wait $recv || rc=$?
forget $recv
check "bprecv -c 3 -o FILE exits 0 after three bundles" "exit $rc: $(head -n 1 "$TMP/recv.err")" \
	[ $rc -eq 0 ]
cat "$TMP/text.bin" "$TMP/big.bin" "$TMP/stdin.bin" >"$TMP/three.want"
check "bprecv's FILE is the three payloads, byte for byte" "cmp differs" \
	cmp -s "$TMP/three.out" "$TMP/three.want"

# ---- -v lines ----

run bpsend -v 105 abc
check "bpsend -v prints 'stored: SOURCE -> DEST, N bytes'" "exit $rc: $(cat "$TMP/out")" \
	eval '[ $rc -eq 0 ] && grep -Eqx "stored: ipn:1\.[0-9]+ -> ipn:1\.105, 3 bytes" "$TMP/out"'
run bprecv -v -c 1 -t 5 ipn:1.105
check "bprecv -v prints 'from SOURCE: N bytes' on stderr" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 0 ] && grep -Eqx "from ipn:1\.[0-9]+: 3 bytes" "$TMP/err" && [ "$(cat "$TMP/out")" = abc ]'

# ---- a bundle sent before its receiver exists ----

run bpsend ipn:1.102 'sent early'
early=$rc
run bprecv -c 1 -t 5 -o "$TMP/early.out" ipn:1.102
check "a bundle sent before bprecv binds is delivered when it starts" \
	"send exit $early, recv exit $rc: $(err_line)" \
	eval '[ $early -eq 0 ] && [ $rc -eq 0 ] && [ "$(cat "$TMP/early.out")" = "sent early" ]'

# ---- bprecv writing to standard output, and an empty payload ----

sends=0
"$BIN/bpsend" ipn:1.101 'to stdout' || sends=$?
"$BIN/bpsend" ipn:1.101 '' || sends=$?
rc=0
"$BIN/bprecv" -c 2 -t 5 ipn:1.101 >"$TMP/stdout.out" 2>"$TMP/err" || rc=$?
check "bprecv without -o writes the payloads (one empty) to standard output" \
	"send exit $sends, recv exit $rc: $(err_line)" \
	eval '[ $sends -eq 0 ] && [ $rc -eq 0 ] && [ "$(cat "$TMP/stdout.out")" = "to stdout" ]'

# ---- errors ----

rc=0
BPD_SOCKET=$TMP/no-such.sock "$BIN/bpsend" ipn:1.100 x >"$TMP/out" 2>"$TMP/err" || rc=$?
check "bpsend with no bpd: exit 1, one error line" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 1 ] && one_error_line bpsend && grep -qi refused "$TMP/err"'
run bpsend 'ipn:1.x' hi
check "bpsend with a malformed DEST: exit 2, one error line" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 2 ] && one_error_line bpsend'
run bpsend -f "$TMP/no-such-file" ipn:1.100
check "bpsend -f with a missing file: exit 1, one error line" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 1 ] && one_error_line bpsend'
run bprecv -t 1 ipn:1.103
check "bprecv -t 1 with nothing to receive: exit 1, timed out" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 1 ] && grep -q "timed out" "$TMP/err" && [ ! -s "$TMP/out" ]'
run bprecv -t 1 ipn:1.100 -o "$TMP/no-such-dir/out"
check "bprecv -o into a missing directory: exit 1" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 1 ] && one_error_line bprecv'

# ---- bping against bpecho ----

# Services under 64 need root or bpd's own user (bpd/access.h); 200 otherwise.
svc=7
[ "$(id -u)" -eq 0 ] || svc=200
"$BIN/bpecho" "ipn:1.$svc" 2>"$TMP/echo.err" &
echo_pid=$!
pids+=("$echo_pid")
run bping -c 5 -i 0.05 "ipn:1.$svc"
check "bping -c 5 -i 0.05 exits 0" "exit $rc: $(err_line)" [ $rc -eq 0 ]
replies=$(grep -Ec "^64 bytes from ipn:1\.$svc: seq=[1-5] time=[0-9]+\.[0-9]{3} ms$" "$TMP/out" || true)
check "bping prints 5 reply lines" "$replies of them" [ "$replies" -eq 5 ]
check "bping prints the statistics header" "$(tail -n 3 "$TMP/out" | head -n 1)" \
	grep -qx -- "--- ipn:1\.$svc bping statistics ---" "$TMP/out"
check "bping's summary says 0.0% loss" "$(tail -n 2 "$TMP/out" | head -n 1)" \
	grep -qx "5 bundles sent, 5 received, 0\.0% loss" "$TMP/out"
check "bping's rtt line has four numbers" "$(tail -n 1 "$TMP/out")" \
	grep -Eqx "rtt min/median/p99/max = ([0-9]+\.[0-9]{3}/){3}[0-9]+\.[0-9]{3} ms" "$TMP/out"
rc=0
kill -TERM $echo_pid 2>/dev/null || true
wait $echo_pid || rc=$?
forget $echo_pid
check "bpecho exits 0 on SIGTERM" "exit $rc: $(head -n 1 "$TMP/echo.err")" [ $rc -eq 0 ]

run bping -c 1 -W 0.3 ipn:1.106
check "bping with nobody echoing: exit 1, 100.0% loss" "exit $rc" \
	eval '[ $rc -eq 1 ] && grep -qx "1 bundles sent, 0 received, 100\.0% loss" "$TMP/out"'

# ---- one bundle per receiver: nothing lost, nothing duplicated ----

sends=0
"$BIN/bpsend" ipn:1.104 first || sends=$?
"$BIN/bpsend" ipn:1.104 second || sends=$?
run bprecv -c 1 -t 5 ipn:1.104
first=$(cat "$TMP/out")
first_rc=$rc
run bprecv -c 1 -t 5 ipn:1.104
second=$(cat "$TMP/out")
check "bprecv -c 1 twice on two queued bundles: one each, in order" \
	"exits $sends/$first_rc/$rc, got '$first' then '$second'" \
	eval '[ $sends -eq 0 ] && [ $first_rc -eq 0 ] && [ $rc -eq 0 ] && [ "$first" = first ] && [ "$second" = second ]'
run bprecv -t 0.5 ipn:1.104
check "and nothing is left for a third" "exit $rc, got '$(cat "$TMP/out")'" \
	eval '[ $rc -eq 1 ] && [ ! -s "$TMP/out" ]'

# ---- a payload that cannot be written out stays queued ----

# bprecv peeks, writes, then consumes: when the write fails (the pipe's
# reader leaves after one byte of 1 MiB), the bundle must still be there.
rc=0
"$BIN/bpsend" -f "$TMP/big.bin" ipn:1.107 || rc=$?
set +e
"$BIN/bprecv" -c 1 -t 5 ipn:1.107 2>"$TMP/err" | head -c 1 >/dev/null
status=("${PIPESTATUS[@]}")
set -e
check "bprecv whose output breaks exits 1" "send exit $rc, bprecv exit ${status[0]}: $(err_line)" \
	eval '[ $rc -eq 0 ] && [ ${status[0]} -eq 1 ] && one_error_line bprecv'
run bprecv -c 1 -t 5 -o "$TMP/again.out" ipn:1.107
check "and the next bprecv gets the whole bundle" "exit $rc: $(err_line)" \
	eval '[ $rc -eq 0 ] && cmp -s "$TMP/again.out" "$TMP/big.bin"'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

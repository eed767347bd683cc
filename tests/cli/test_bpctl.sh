#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Command-line behaviour of `bpctl decode` and `bpctl encode`: exit statuses,
# the JSON they print (checked with python3), the one-line errors, hex/binary
# auto-detection, and encode -> decode round trips.
#
# Usage: test_bpctl.sh PATH_TO_BPCTL VECTORS_DIR
# Prints one line per check and "N passed, M failed"; exits 1 on any failure.

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 PATH_TO_BPCTL VECTORS_DIR" >&2
	exit 2
fi
BPCTL=$1
VEC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0

ok() {
	echo "ok   - $1"
	pass=$((pass + 1))
}

not_ok() {
	echo "FAIL - $1${2:+ ($2)}"
	fail=$((fail + 1))
}

# run ARGS...: run bpctl with stdin from /dev/null unless redirected by the
# caller; sets $rc, output in $TMP/out and $TMP/err.
run() {
	"$BPCTL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# run_in FILE ARGS...: like run, with FILE on stdin.
run_in() {
	local in=$1
	shift
	"$BPCTL" "$@" <"$in" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# One line of stderr, the error line.
err_line() {
	head -n 1 "$TMP/err"
}

err_lines() {
	wc -l <"$TMP/err" | tr -d ' '
}

# json_ok FILE: python3's json parser accepts FILE.
json_ok() {
	python3 -m json.tool "$1" >/dev/null 2>&1
}

# json_check FILE EXPR...: every EXPR (Python) is true of the decoded JSON;
# prints the first that is not. In EXPR, b is d["bundle"], p the primary
# block, blk(NAME) the first block with that type_name, found(NAME) whether a
# finding of that name is listed. One python3 run checks them all.
json_check() {
	python3 - "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = d["bundle"]
p = b["primary"]
def blk(name):
    return next((x for x in b["blocks"] if x["type_name"] == name), None)
def found(name):
    return any(f["name"] == name for f in b["findings"])
for expr in sys.argv[2:]:
    try:
        result = eval(expr)
    except Exception as e:
        result = False
        expr += " -> %r" % e
    if not result:
        print(expr)
        sys.exit(1)
EOF
}

# expect_json DESC FILE EXPR...: every EXPR holds.
expect_json() {
	local desc=$1 file=$2 why
	shift 2
	if why=$(json_check "$file" "$@"); then
		ok "$desc"
	else
		not_ok "$desc" "false: ${why:-python3 failed}"
	fi
}

if ! command -v python3 >/dev/null; then
	echo "FAIL - python3 is needed to check the JSON"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -x "$BPCTL" ]; then
	echo "FAIL - $BPCTL is not an executable"
	echo "0 passed, 1 failed"
	exit 1
fi

# ---- every accepted vector decodes, as hex and as binary ----

for f in "$VEC"/bpv7/*.hex "$VEC"/ion/*.hex; do
	name=$(basename "$f" .hex)
	run decode "$f"
	if [ $rc -ne 0 ]; then
		not_ok "decode $name exits 0" "exit $rc: $(err_line)"
		continue
	fi
	if ! json_ok "$TMP/out"; then
		not_ok "decode $name prints valid JSON"
		continue
	fi
	if [ -s "$TMP/err" ]; then
		not_ok "decode $name is silent on stderr" "$(err_line)"
		continue
	fi
	ok "decode $name: exit 0, valid JSON"
	cp "$TMP/out" "$TMP/$name.json"

	xxd -r -p "$f" >"$TMP/$name.bin"
	run decode "$TMP/$name.bin"
	if [ $rc -eq 0 ] && cmp -s "$TMP/out" "$TMP/$name.json"; then
		ok "decode $name: binary input gives the same JSON as hex"
	else
		not_ok "decode $name: binary input gives the same JSON as hex" "exit $rc"
	fi
done

A1=$TMP/rfc9173_A1_original.json
expect_json "rfc9173_A1_original: fields" "$A1" \
	'p["dest"] == "ipn:1.2"' \
	'p["source"] == "ipn:2.1"' \
	'p["report_to"] == "ipn:2.1"' \
	'p["version"] == 7' \
	'p["creation_time"] == 0 and p["creation_time_utc"] is None' \
	'p["sequence"] == 40 and p["lifetime"] == 1000000' \
	'p["crc_type"] == 0 and p["crc"] is None' \
	'"fragment_offset" not in p' \
	'len(b["blocks"]) == 1 and b["blocks"][0]["index"] == 1' \
	'blk("payload")["data_text"] == "Ready to generate a 32-byte payload"' \
	'blk("payload")["data_length"] == 35 and "truncated" not in blk("payload")' \
	'found("no_age_block") and found("no_primary_crc")' \
	'b["size"] == 72' \
	'"admin_record" not in b'

expect_json "rfc9173_A3_final: BIB, BCB and bundle age" "$TMP/rfc9173_A3_final.json" \
	'blk("bib") is not None and blk("bcb") is not None' \
	'blk("bundle_age")["age_ms"] == 300' \
	'not found("no_age_block") and not found("no_primary_crc")'

expect_json "bsl_cose_draft_exA_nosec: dtn EIDs and CRC-32C" \
	"$TMP/bsl_cose_draft_exA_nosec.json" \
	'p["dest"].startswith("dtn://") and p["source"].startswith("dtn://")' \
	'p["crc_type"] == 2 and len(p["crc"]) == 8 and p["crc_ok"] is True' \
	'blk("payload")["crc_type"] == 2 and blk("payload")["crc_ok"] is True'

expect_json "ion_udp_bundle: ION's blocks" "$TMP/ion_udp_bundle.json" \
	'p["source"] == "dtn:none" and p["dest"] == "ipn:20.1"' \
	'p["crc_type"] == 1 and len(p["crc"]) == 4' \
	'blk("previous_node")["previous_node"] == "ipn:10.0"' \
	'blk("bundle_age") is not None' \
	'any(x["type"] == 193 and x["type_name"] == "unknown" for x in b["blocks"])' \
	'blk("payload")["data_text"] == "hello from ipn:10 over UDP"' \
	'p["creation_time_utc"].endswith("Z") and p["creation_time_utc"].startswith("20")'

expect_json "ion52_unknown_block_type8: unknown block kept" \
	"$TMP/ion52_unknown_block_type8.json" \
	'any(x["type"] == 8 and x["type_name"] == "unknown" for x in b["blocks"])'

# ---- every bad vector fails with its error name ----

declare -A bad_error=(
	[bad_crc16_primary]=primary_crc
	[bad_crc32_payload_data]=block_crc
	[bad_truncated_100]=truncated
	[bad_truncated_nobreak]=truncated
	[bad_version6]=version
	[bad_trailing_garbage]=trailing
	[bad_definite_outer_array]=not_indef_array
)

for f in "$VEC"/bpv7/bad/*.hex; do
	name=$(basename "$f" .hex)
	want=${bad_error[$name]:-}
	if [ -z "$want" ]; then
		not_ok "bad vector $name has an expected error in this test"
		continue
	fi
	run decode "$f"
	if [ $rc -eq 1 ] && [ "$(err_lines)" = 1 ] && [ ! -s "$TMP/out" ] &&
		err_line | grep -Eq "^bpctl: decode: $want at offset [0-9]+( \(block [0-9]+\))?: ."; then
		ok "decode $name fails: $want"
	else
		not_ok "decode $name fails: $want" "exit $rc: $(err_line)"
	fi
done

# ---- input handling ----

: >"$TMP/empty"
run decode "$TMP/empty"
if [ $rc -eq 1 ] && [ "$(err_lines)" = 1 ] && err_line | grep -q '^bpctl: decode: '; then
	ok "decode of empty input fails with one line"
else
	not_ok "decode of empty input fails with one line" "exit $rc: $(err_line)"
fi

printf '9f8\n' >"$TMP/odd.hex"
run decode "$TMP/odd.hex"
if [ $rc -eq 1 ] && [ "$(err_lines)" = 1 ]; then
	ok "decode of an odd number of hex digits fails"
else
	not_ok "decode of an odd number of hex digits fails" "exit $rc"
fi

# Hex with spaces, newlines and upper case is still hex.
tr 'a-f' 'A-F' <"$VEC/bpv7/rfc9173_A1_original.hex" | fold -w 7 | sed 's/^/ /' >"$TMP/spaced.hex"
run decode "$TMP/spaced.hex"
if [ $rc -eq 0 ] && cmp -s "$TMP/out" "$A1"; then
	ok "decode accepts hex split by whitespace, in upper case"
else
	not_ok "decode accepts hex split by whitespace, in upper case" "exit $rc"
fi

run_in "$VEC/bpv7/rfc9173_A1_original.hex" decode
if [ $rc -eq 0 ] && cmp -s "$TMP/out" "$A1"; then
	ok "decode reads standard input without FILE"
else
	not_ok "decode reads standard input without FILE" "exit $rc"
fi

run_in "$TMP/rfc9173_A1_original.bin" decode -
if [ $rc -eq 0 ] && cmp -s "$TMP/out" "$A1"; then
	ok "decode - reads binary from standard input"
else
	not_ok "decode - reads binary from standard input" "exit $rc"
fi

# ---- usage errors: exit 2, one line ----

usage_error() {
	local desc=$1
	shift
	run "$@" </dev/null
	if [ $rc -eq 2 ] && [ "$(err_lines)" = 1 ] && err_line | grep -q '^bpctl: '; then
		ok "usage error: $desc"
	else
		not_ok "usage error: $desc" "exit $rc: $(err_line)"
	fi
}

usage_error "unknown command" frobnicate
usage_error "help for an unknown command" help frobnicate
usage_error "decode: unknown option" decode --bogus
usage_error "decode: two inputs" decode a b
usage_error "decode: missing file" decode "$TMP/does-not-exist"
usage_error "decode: a directory" decode "$TMP"
usage_error "encode: unknown option" encode --bogus
usage_error "encode: option without its value" encode --dest
usage_error "encode: bad EID" encode --hex --dest foo:1
usage_error "encode: negative number" encode --hex --lifetime -1
usage_error "encode: number with junk" encode --hex --seq 12x
usage_error "encode: number overflow" encode --hex --time 18446744073709551616
usage_error "encode: hex number without digits" encode --hex --flags 0x
usage_error "encode: hop limit 0" encode --hex --hop-limit 0
usage_error "encode: hop limit 256" encode --hex --hop-limit 256
usage_error "encode: hop count without limit" encode --hex --hop-count 1
usage_error "encode: unknown CRC type" encode --hex --crc 64
usage_error "encode: two payloads" encode --hex --payload a --payload-hex 00
usage_error "encode: odd payload hex" encode --hex --payload-hex abc
usage_error "encode: block type 1" encode --hex --block 1:0:00
usage_error "encode: malformed block" encode --hex --block 200:0
usage_error "encode: unknown report kind" encode --hex --report received,eaten
usage_error "encode: malformed fragment" encode --hex --fragment 10
usage_error "encode: malformed status report" encode --hex --status-report received:0:ipn:1.1
usage_error "encode: unknown reason" encode --hex --status-report received:bored:ipn:1.1:0:0
usage_error "encode: stray argument" encode --hex stray
usage_error "encode: missing payload file" encode --hex --payload-file "$TMP/does-not-exist"
usage_error "encode: flag option with a value" encode --hex=yes

run
if [ $rc -eq 2 ] && grep -q decode "$TMP/err"; then
	ok "bpctl without a command: usage on stderr, exit 2"
else
	not_ok "bpctl without a command: usage on stderr, exit 2" "exit $rc"
fi

# ---- help ----

run --help
if [ $rc -eq 0 ] && grep -q '^  decode ' "$TMP/out" && grep -q '^  encode ' "$TMP/out"; then
	ok "bpctl --help lists the commands"
else
	not_ok "bpctl --help lists the commands" "exit $rc"
fi
for cmd in decode encode; do
	run help $cmd
	cp "$TMP/out" "$TMP/help1"
	run $cmd --help
	if [ $rc -eq 0 ] && grep -q "^usage: bpctl $cmd" "$TMP/out" && cmp -s "$TMP/out" "$TMP/help1"; then
		ok "bpctl help $cmd = bpctl $cmd --help"
	else
		not_ok "bpctl help $cmd = bpctl $cmd --help" "exit $rc"
	fi
done
run help decode
if grep -q 'hex digits' "$TMP/out" && grep -q '0x9f' "$TMP/out"; then
	ok "decode help states the hex/binary rule"
else
	not_ok "decode help states the hex/binary rule"
fi

# ---- encode -> decode round trips ----

# roundtrip DESC "ENCODE OPTIONS" EXPR...: encode with --hex, decode, check.
roundtrip() {
	local desc=$1 opts=$2
	shift 2
	# shellcheck disable=SC2086 # the options are split on purpose
	run encode --hex $opts
	if [ $rc -ne 0 ]; then
		not_ok "round trip: $desc" "encode exit $rc: $(err_line)"
		return
	fi
	if ! grep -Eqx '[0-9a-f]+' "$TMP/out" || [ "$(wc -l <"$TMP/out")" -ne 1 ]; then
		not_ok "round trip: $desc" "encode --hex is not one line of lowercase hex"
		return
	fi
	cp "$TMP/out" "$TMP/rt.hex"
	run decode "$TMP/rt.hex"
	if [ $rc -ne 0 ]; then
		not_ok "round trip: $desc" "decode exit $rc: $(err_line)"
		return
	fi
	cp "$TMP/out" "$TMP/rt.json"
	expect_json "round trip: $desc" "$TMP/rt.json" "$@"
}

roundtrip "defaults" "" \
	'p["source"] == "ipn:1.1" and p["dest"] == "ipn:2.1" and p["report_to"] == "ipn:1.1"' \
	'p["lifetime"] == 86400000 and p["sequence"] == 0 and p["flags"] == 0' \
	'p["creation_time"] > 700000000000 and p["creation_time_utc"].endswith("Z")' \
	'p["crc_type"] == 2 and p["crc_ok"] is True' \
	'len(b["blocks"]) == 1 and blk("payload")["data_length"] == 0' \
	'blk("payload")["number"] == 1 and blk("payload")["crc_type"] == 2' \
	'b["findings"] == []'

roundtrip "EIDs, times and sequence" \
	"--source dtn://src/app --dest ipn:977.4 --report-to dtn://reports/ --time 1000 --lifetime 0x10 --seq 99 --payload hi" \
	'p["source"] == "dtn://src/app" and p["dest"] == "ipn:977.4"' \
	'p["report_to"] == "dtn://reports/"' \
	'p["creation_time"] == 1000 and p["creation_time_utc"] == "2000-01-01T00:00:01.000Z"' \
	'p["lifetime"] == 16 and p["sequence"] == 99' \
	'blk("payload")["data_text"] == "hi"' \
	'blk("bundle_age") is None'

roundtrip "CRC-16" "--crc 16 --payload x" \
	'p["crc_type"] == 1 and len(p["crc"]) == 4' \
	'all(x["crc_type"] == 1 and x["crc_ok"] is True for x in b["blocks"])'

roundtrip "no CRC" "--crc none --payload x" \
	'p["crc_type"] == 0 and p["crc"] is None' \
	'found("no_primary_crc")'

roundtrip "flag shortcuts and --flags" \
	"--must-not-fragment --ack-requested --status-time --report received,forwarded,delivered,deleted --flags 0x100000" \
	'set(p["flags_decoded"]) == {"must_not_fragment", "ack_requested", "status_time", "report_received", "report_forwarded", "report_delivered", "report_deleted"}' \
	'p["flags"] == 0x100000 | 0x4 | 0x20 | 0x40 | 0x4000 | 0x10000 | 0x20000 | 0x40000'

roundtrip "creation time 0 adds a bundle age block" "--time 0" \
	'p["creation_time"] == 0 and p["creation_time_utc"] is None' \
	'blk("bundle_age")["age_ms"] == 0' \
	'not found("no_age_block")'

roundtrip "creation time 0 with --age" "--time 0 --age 4500" \
	'blk("bundle_age")["age_ms"] == 4500' \
	'sum(x["type_name"] == "bundle_age" for x in b["blocks"]) == 1'

roundtrip "extension blocks" \
	"--prev-node ipn:5.0 --age 7 --hop-limit 30 --hop-count 2 --block 200:0x11:cafe --block 201:0: --payload-hex 00ff" \
	'[x["type"] for x in b["blocks"]] == [6, 7, 10, 200, 201, 1]' \
	'[x["number"] for x in b["blocks"]] == [2, 3, 4, 5, 6, 1]' \
	'[x["index"] for x in b["blocks"]] == [1, 2, 3, 4, 5, 6]' \
	'blk("previous_node")["previous_node"] == "ipn:5.0"' \
	'blk("bundle_age")["age_ms"] == 7' \
	'blk("hop_count")["hop_limit"] == 30 and blk("hop_count")["hop_count"] == 2' \
	'b["blocks"][3]["data_hex"] == "cafe" and b["blocks"][3]["flags"] == 0x11' \
	'set(b["blocks"][3]["flags_decoded"]) == {"replicate", "discard_if_unprocessable"}' \
	'b["blocks"][4]["data_length"] == 0' \
	'blk("payload")["data_hex"] == "00ff" and "data_text" not in blk("payload")'

roundtrip "fragment" "--fragment 10:100 --payload-hex 0102030405" \
	'"is_fragment" in p["flags_decoded"]' \
	'p["fragment_offset"] == 10 and p["total_adu_length"] == 100'

roundtrip "status report" \
	"--dest ipn:7.0 --status-report received,deleted:no_route:ipn:7.3:12345:9" \
	'"admin_record" in p["flags_decoded"]' \
	'b["admin_record"]["valid"] and b["admin_record"]["type"] == 1' \
	'b["admin_record"]["type_name"] == "status_report"' \
	'[s["asserted"] for s in b["admin_record"]["status"]] == [True, False, False, True]' \
	'[s["name"] for s in b["admin_record"]["status"]] == ["received", "forwarded", "delivered", "deleted"]' \
	'all(s["time"] is None for s in b["admin_record"]["status"])' \
	'b["admin_record"]["reason"] == 6 and b["admin_record"]["reason_name"] == "no_route"' \
	'b["admin_record"]["source"] == "ipn:7.3"' \
	'b["admin_record"]["creation_time"] == 12345 and b["admin_record"]["sequence"] == 9'

roundtrip "status report with status time and a dtn subject" \
	"--status-time --status-report delivered:3:dtn://node/app:0:1" \
	'b["admin_record"]["reason"] == 3' \
	'b["admin_record"]["source"] == "dtn://node/app"' \
	'b["admin_record"]["status"][2]["time"] > 0' \
	'b["admin_record"]["status"][0]["time"] is None'

# JSON escaping of the payload text: quotes, backslashes, tab, newline.
run encode --hex --payload "$(printf 'say "hi"\\\tnow\nok')"
cp "$TMP/out" "$TMP/esc.hex"
run decode "$TMP/esc.hex"
cp "$TMP/out" "$TMP/esc.json"
expect_json "payload text with quotes, backslash and controls survives JSON" "$TMP/esc.json" \
	'blk("payload")["data_text"] == "say \"hi\"\\\tnow\nok"'

# A long payload: 64 bytes shown, the rest with --full; binary via -o.
head -c 1000 /dev/urandom >"$TMP/payload.bin"
run encode --payload-file "$TMP/payload.bin" -o "$TMP/big.bundle"
if [ $rc -eq 0 ] && [ ! -s "$TMP/out" ]; then
	ok "encode -o writes the file, nothing on stdout"
else
	not_ok "encode -o writes the file, nothing on stdout" "exit $rc: $(err_line)"
fi
payload_hex=$(xxd -p "$TMP/payload.bin" | tr -d '\n')
run decode "$TMP/big.bundle"
cp "$TMP/out" "$TMP/big.json"
expect_json "payload over 64 bytes is truncated" "$TMP/big.json" \
	'blk("payload")["data_length"] == 1000' \
	'blk("payload")["truncated"] is True' \
	"blk(\"payload\")[\"data_hex\"] == \"${payload_hex:0:128}\""
run decode --full "$TMP/big.bundle"
cp "$TMP/out" "$TMP/full.json"
expect_json "decode --full shows the whole payload" "$TMP/full.json" \
	"blk(\"payload\")[\"data_hex\"] == \"$payload_hex\"" \
	'"truncated" not in blk("payload")'

# Binary to a pipe decodes like the hex form.
if "$BPCTL" encode --time 5 --payload pipe | "$BPCTL" decode >"$TMP/pipe.json" 2>"$TMP/err" &&
	json_check "$TMP/pipe.json" 'blk("payload")["data_text"] == "pipe"' >/dev/null; then
	ok "encode | decode through a pipe in binary"
else
	not_ok "encode | decode through a pipe in binary" "$(err_line)"
fi

# Binary to a terminal is refused (needs script(1) for a pseudo-terminal).
if command -v script >/dev/null; then
	script -qec "$BPCTL encode" /dev/null >"$TMP/tty" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- '--hex' "$TMP/tty"; then
		ok "encode refuses to write binary to a terminal"
	else
		not_ok "encode refuses to write binary to a terminal" "exit $rc"
	fi
else
	echo "skip - encode refuses to write binary to a terminal (no script(1))"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

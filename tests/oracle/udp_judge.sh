#!/bin/bash
# udp_judge.sh - Wireshark's tshark judges bpd's UDP convergence layer on the wire.
#
# Usage: udp_judge.sh BUILD_DIR
#   Starts two bpd nodes on 127.0.0.1 that send each other bundles over UDP
#   (one bundle per datagram, as ION's udp CLA), captures their datagrams on
#   lo with a port filter (bounded in time), and sends from ipn:1 to an app on
#   ipn:2: 16 B, 200 kB (more than a datagram: fragmented by ipn:1, RFC 9171
#   5.8, and reassembled by ipn:2) and 3 B asking for a delivered report,
#   which ipn:2 sends back over UDP. Then tshark decodes every datagram as a
#   bundle and the script requires:
#   - no malformed packet and no expert item of Error severity, no Warning
#     from the BPv7 dissector but "Undecoded" (the test payload);
#   - every datagram one whole bundle, every CRC verified good;
#   - fragments (offsets and total length set), and the status report (an
#     administrative record with "delivered" asserted) decoded;
#   - the app received the bytes that were sent, and bpsend heard delivered.
#
# Exit: 0 all judged as expected, 1 something failed, 2 usage error,
#       77 tshark is missing or capturing is not allowed (ctest: skipped).
set -euo pipefail

[ $# -eq 1 ] && [ -x "$1/bpd" ] || { echo "usage: $0 BUILD_DIR (with bpd, bpsend, bprecv)"; exit 2; }
B=$(cd "$1" && pwd)
command -v tshark >/dev/null 2>&1 || { echo "skip: tshark is not installed"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: capturing on lo needs root"; exit 77; }

D=$(mktemp -d /tmp/udp_judge.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

read -r PA PB < <(python3 -c 'import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
printf 'node ipn:1\nstore memory\nlisten udp:127.0.0.1:%s\nneighbor add ipn:2 udp:127.0.0.1:%s\n' "$PA" "$PB" > "$D/a.conf"
printf 'node ipn:2\nstore memory\nlisten udp:127.0.0.1:%s\nneighbor add ipn:1 udp:127.0.0.1:%s\n' "$PB" "$PA" > "$D/b.conf"

timeout 60 tshark -q -i lo -f "udp port $PA or udp port $PB" -w "$D/cap.pcapng" > "$D/tshark.log" 2>&1 &
T=$!
for _ in $(seq 100); do grep -q "Capturing on" "$D/tshark.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Capturing on" "$D/tshark.log" || { cat "$D/tshark.log"; echo "skip: cannot capture on lo"; exit 77; }

"$B/bpd" -c "$D/b.conf" --state "$D/b" --socket "$D/b.sock" -q & pids+=($!); PIDB=$!
"$B/bpd" -c "$D/a.conf" --state "$D/a" --socket "$D/a.sock" -q & pids+=($!); PIDA=$!
head -c 200000 /dev/urandom > "$D/big"
printf 'hello over udp!!' > "$D/msg1"
printf 'bye' > "$D/msg3"
for _ in $(seq 100); do [ -S "$D/a.sock" ] && [ -S "$D/b.sock" ] && break; sleep 0.1; done
BPD_SOCKET=$D/b.sock timeout 30 "$B/bprecv" -c 3 -o "$D/out" ipn:2.7 & R=$!
sleep 0.5
for f in msg1 big; do BPD_SOCKET=$D/a.sock "$B/bpsend" -f "$D/$f" ipn:2.7 > /dev/null; done
BPD_SOCKET=$D/a.sock "$B/bpsend" -r delivered -w 20 -f "$D/msg3" ipn:2.7 > "$D/report" ||
	fail "bpsend heard no delivered report: $(cat "$D/report")"
wait $R || fail "bprecv on ipn:2 did not get the three bundles"
cat "$D/msg1" "$D/big" "$D/msg3" | cmp -s - "$D/out" || fail "ipn:2 received other bytes than ipn:1 sent"
kill "$PIDA"; wait "$PIDA" || fail "bpd ipn:1 did not stop cleanly"
kill "$PIDB"; wait "$PIDB" || fail "bpd ipn:2 did not stop cleanly"
pids=()
sleep 0.5
kill -INT $T; wait $T || true

F=(-2 -r "$D/cap.pcapng" -o bpv7.bp_compute_crc:TRUE -d "udp.port==$PA,bundle" -d "udp.port==$PB,bundle")
count() { tshark "${F[@]}" -Y "$1" 2>/dev/null | wc -l; }
datagrams=$(count udp)
[ "$datagrams" -ge 6 ] || fail "only $datagrams datagrams captured"
[ "$(count _ws.malformed)" -eq 0 ] || fail "tshark marks packets malformed"
[ "$(count '_ws.expert.severity == error')" -eq 0 ] ||
	fail "expert errors: $(tshark "${F[@]}" -q -z expert,error 2>/dev/null | grep -v '^$' | tail -n +3)"
bad_warn=$(tshark "${F[@]}" -q -z expert,warn 2>/dev/null | awk '
	/^ +[0-9]+ +[A-Za-z]+ +[A-Za-z0-9]+ +/ {
		group = $2; proto = $3
		if (proto == "BPv7" && group == "Undecoded") next
		print
	}')
[ -z "$bad_warn" ] || fail "expert warnings: $bad_warn"
[ "$(count bpv7.primary.version)" -eq "$datagrams" ] ||
	fail "tshark decoded $(count bpv7.primary.version) bundles in $datagrams datagrams"
frags=$(count 'bpv7.primary.bundle_flags.is_fragment == 1 && bpv7.primary.total_len == 200000')
[ "$frags" -ge 4 ] || fail "$frags fragments of the 200 kB bundle, expected at least 4"
[ "$(count 'bpv7.status_rep.delivered')" -ge 1 ] || fail "no delivered status report decoded"
crcs=$(tshark "${F[@]}" -Y bpv7 -T fields -e bpv7.crc_status 2>/dev/null | tr ',\n' '  ')
case " $crcs " in *" 0 "* | *" 2 "*) fail "CRC status not all good: $crcs" ;; esac
[ -n "${crcs// /}" ] || fail "no CRC verified"
echo "ok: UDP between two bpd nodes: $datagrams datagrams, $frags fragments, a delivered report; CRCs good"

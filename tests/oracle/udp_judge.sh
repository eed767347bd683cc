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
. "$(dirname "$0")/judge_lib.sh"
judge_init udp_judge "$@"

read -r PA PB < <(free_ports udp 2)
printf 'node ipn:1\nstore memory\nlisten udp:127.0.0.1:%s\nneighbor add ipn:2 udp:127.0.0.1:%s\n' "$PA" "$PB" > "$D/a.conf"
printf 'node ipn:2\nstore memory\nlisten udp:127.0.0.1:%s\nneighbor add ipn:1 udp:127.0.0.1:%s\n' "$PB" "$PA" > "$D/b.conf"

capture_start "udp port $PA or udp port $PB"

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
capture_stop

F=(-2 -r "$D/cap.pcapng" -o bpv7.bp_compute_crc:TRUE -d "udp.port==$PA,bundle" -d "udp.port==$PB,bundle")
datagrams=$(judge_count udp)
[ "$datagrams" -ge 6 ] || fail "only $datagrams datagrams captured"
judge_expert "BPv7 Undecoded"
[ "$(judge_count bpv7.primary.version)" -eq "$datagrams" ] ||
	fail "tshark decoded $(judge_count bpv7.primary.version) bundles in $datagrams datagrams"
frags=$(judge_count 'bpv7.primary.bundle_flags.is_fragment == 1 && bpv7.primary.total_len == 200000')
[ "$frags" -ge 4 ] || fail "$frags fragments of the 200 kB bundle, expected at least 4"
[ "$(judge_count 'bpv7.status_rep.delivered')" -ge 1 ] || fail "no delivered status report decoded"
crcs=$(tshark "${F[@]}" -Y bpv7 -T fields -e bpv7.crc_status 2>/dev/null | tr ',\n' '  ')
case " $crcs " in *" 0 "* | *" 2 "*) fail "CRC status not all good: $crcs" ;; esac
[ -n "${crcs// /}" ] || fail "no CRC verified"
echo "ok: UDP between two bpd nodes: $datagrams datagrams, $frags fragments, a delivered report; CRCs good"

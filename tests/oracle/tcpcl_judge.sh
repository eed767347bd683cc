#!/bin/bash
# tcpcl_judge.sh - Wireshark's tshark judges bpd's TCPCLv4 traffic on the wire.
#
# Usage: tcpcl_judge.sh BUILD_DIR
#   Starts two bpd nodes linked by TCPCLv4 on 127.0.0.1 (ports the kernel
#   picks), captures their traffic on lo with a port filter (bounded in
#   time), sends three bundles (16 B, 200 kB in several segments, 3 B) from
#   ipn:1 to an app on ipn:2, stops both nodes, then has tshark decode the
#   capture in two passes as TCPCL and requires:
#   - no malformed packet and no expert item of Error severity;
#   - no Warning from the TCPCL or BPv7 dissectors but "Undecoded" (tshark
#     has no dissector for the test payload), none from TCP but flow control;
#   - contact headers, SESS_INIT both ways, XFER_SEGMENTs and XFER_ACKs,
#     SESS_TERM both ways; three bundles decoded, every CRC verified good;
#   - the app received the bytes that were sent.
#
# Exit: 0 all judged as expected, 1 something failed, 2 usage error,
#       77 tshark is missing or capturing is not allowed (ctest: skipped).
set -euo pipefail
. "$(dirname "$0")/judge_lib.sh"
judge_init tcpcl_judge "$@"

read -r PA PB < <(free_ports tcp 2)
printf 'node ipn:1\nlisten tcpcl:127.0.0.1:%s\nneighbor add ipn:2 tcpcl:127.0.0.1:%s\n' "$PA" "$PB" > "$D/a.conf"
printf 'node ipn:2\nlisten tcpcl:127.0.0.1:%s\n' "$PB" > "$D/b.conf"

capture_start "tcp port $PA or tcp port $PB"

# ipn:2 first, listening before ipn:1 dials it (else the first try is a refused connect).
"$B/bpd" -c "$D/b.conf" --state "$D/b" --socket "$D/b.sock" -q & pids+=($!); PIDB=$!
for _ in $(seq 100); do [ -S "$D/b.sock" ] && break; sleep 0.1; done
"$B/bpd" -c "$D/a.conf" --state "$D/a" --socket "$D/a.sock" -q & pids+=($!); PIDA=$!
head -c 200000 /dev/urandom > "$D/big"
printf 'hello over tcpcl' > "$D/msg1"
printf 'bye' > "$D/msg3"
for _ in $(seq 100); do [ -S "$D/a.sock" ] && [ -S "$D/b.sock" ] && break; sleep 0.1; done
BPD_SOCKET=$D/b.sock timeout 30 "$B/bprecv" -c 3 -o "$D/out" ipn:2.7 & R=$!
sleep 0.5
for f in msg1 big msg3; do BPD_SOCKET=$D/a.sock "$B/bpsend" -f "$D/$f" ipn:2.7 > /dev/null; done
wait $R || fail "bprecv on ipn:2 did not get the three bundles"
cat "$D/msg1" "$D/big" "$D/msg3" | cmp -s - "$D/out" || fail "ipn:2 received other bytes than ipn:1 sent"
kill "$PIDA"; wait "$PIDA" || fail "bpd ipn:1 did not stop cleanly"
kill "$PIDB"; wait "$PIDB" || fail "bpd ipn:2 did not stop cleanly"
pids=()
capture_stop

F=(-2 -r "$D/cap.pcapng" -d "tcp.port==$PA,tcpcl" -d "tcp.port==$PB,tcpcl")
judge_expert "TCP window" "BPv7 Undecoded" "TCPCL Undecoded"
types=$(tshark "${F[@]}" -Y tcpcl.v4.mhdr.type -T fields -e tcpcl.v4.mhdr.type 2>/dev/null | tr ',\n' '  ')
for t in 0x07 0x01 0x02 0x05; do
	case " $types " in *" $t "*) ;; *) fail "no TCPCL message of type $t in: $types" ;; esac
done
[ "$(echo "$types" | tr ' ' '\n' | grep -c '^0x07$')" -eq 2 ] || fail "SESS_INIT not both ways: $types"
[ "$(echo "$types" | tr ' ' '\n' | grep -c '^0x05$')" -eq 2 ] || fail "SESS_TERM not both ways: $types"
[ "$(judge_count tcpcl.contact_hdr.magic)" -ge 2 ] || fail "fewer than two contact headers"
[ "$(judge_count bpv7.primary.version)" -eq 3 ] || fail "tshark decoded $(judge_count bpv7.primary.version) bundles, not 3"
crcs=$(tshark "${F[@]}" -Y bpv7 -T fields -e bpv7.crc_status 2>/dev/null | tr ',\n' '  ')
case " $crcs " in *" 0 "* | *" 2 "*) fail "CRC status not all good: $crcs" ;; esac
[ -n "${crcs// /}" ] || fail "no CRC verified"
echo "ok: TCPCLv4 between two bpd nodes: messages $types; 3 bundles, CRCs good"

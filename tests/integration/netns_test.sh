#!/bin/bash
# netns_test.sh - two bpd nodes in network namespaces of their own, joined
# by a veth pair, as two machines on a link.
#
# Usage: netns_test.sh BUILD_DIR
#   Makes namespaces bpsock-a-PID and bpsock-b-PID and a veth pair between
#   them (addresses 10.200.0.1/24 and 10.200.0.2/24 exist only inside them),
#   runs bpd ipn:1 in one and ipn:2 in the other, linked by TCPCLv4 and by
#   UDP, and checks:
#   - bundles from an app on ipn:1 reach an app on ipn:2 over TCPCLv4 and
#     over UDP (a 300 kB one fragmented into datagrams of the veth's MTU);
#   - with the link down (veth down), bundles wait in ipn:1's store; once
#     it is up again, they arrive;
#   - a delivered status report comes back.
#   Everything is removed at the end, even on failure.
#
# Exit: 0 passed, 1 failed, 2 usage, 77 not root or no ip netns (skipped).
set -euo pipefail

[ $# -eq 1 ] && [ -x "$1/bpd" ] || { echo "usage: $0 BUILD_DIR"; exit 2; }
B=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip: network namespaces need root"; exit 77; }
command -v ip >/dev/null 2>&1 || { echo "skip: no ip (iproute2)"; exit 77; }

NA=bpsock-a-$$ NB=bpsock-b-$$
D=$(mktemp -d /tmp/netns_test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$NA" 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$D"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

ip netns add "$NA" 2>/dev/null || { echo "skip: cannot make network namespaces"; exit 77; }
ip netns add "$NB"
ip link add va-$$ netns "$NA" type veth peer name vb-$$ netns "$NB"
ip -n "$NA" addr add 10.200.0.1/24 dev va-$$
ip -n "$NB" addr add 10.200.0.2/24 dev vb-$$
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set va-$$ up
ip -n "$NB" link set vb-$$ up

cat > "$D/a.conf" <<CONF
node ipn:1
listen tcpcl:10.200.0.1:4556
listen udp:10.200.0.1:4556
neighbor add ipn:2 tcpcl:10.200.0.2:4556
neighbor add ipn:20 udp:10.200.0.2:4557
route add ipn:20.* via ipn:20
CONF
cat > "$D/b.conf" <<CONF
node ipn:2
listen tcpcl:10.200.0.2:4556
listen udp:10.200.0.2:4557
neighbor add ipn:1 tcpcl:10.200.0.1:4556
CONF
ip netns exec "$NB" "$B/bpd" -c "$D/b.conf" --state "$D/b" --socket "$D/b.sock" > "$D/b.log" 2>&1 &
pids+=($!)
ip netns exec "$NA" "$B/bpd" -c "$D/a.conf" --state "$D/a" --socket "$D/a.sock" > "$D/a.log" 2>&1 &
pids+=($!); PIDA=$!
for _ in $(seq 100); do [ -S "$D/a.sock" ] && [ -S "$D/b.sock" ] && break; sleep 0.1; done
A=(env BPD_SOCKET="$D/a.sock") BE=(env BPD_SOCKET="$D/b.sock")

# Over TCPCLv4: the session comes up on the veth.
for _ in $(seq 100); do "${A[@]}" "$B/bpctl" links | grep -q "ipn:2.0 .* up" && break; sleep 0.1; done
"${BE[@]}" timeout 20 "$B/bprecv" -c 2 -o "$D/tcp.out" ipn:2.7 & R=$!
sleep 0.3
printf 'over the veth' > "$D/m1"
head -c 300000 /dev/urandom > "$D/big"
"${A[@]}" "$B/bpsend" -f "$D/m1" ipn:2.7
"${A[@]}" "$B/bpsend" -r delivered -w 15 -f "$D/big" ipn:2.7 > "$D/report" ||
	fail "no delivered report: $(cat "$D/report")"
wait $R || fail "ipn:2 did not receive the two bundles over TCPCLv4"
cat "$D/m1" "$D/big" | cmp -s - "$D/tcp.out" || fail "TCPCLv4: other bytes arrived"

# Over UDP (ipn:20 is ipn:2's second name here: a route to a UDP neighbour).
# ipn:2 does not own ipn:20, so it must not deliver it: check ipn:1 sent it,
# and that ipn:2 received the datagrams whole.
"${A[@]}" "$B/bpsend" -f "$D/big" ipn:20.1
for _ in $(seq 100); do
	"${BE[@]}" "$B/bpctl" stats --json | grep -q '"received":[1-9]' && break; sleep 0.1
done
udp_in=$("${BE[@]}" "$B/bpctl" links --json | python3 -c 'import json,sys
print(sum(l["bundles_in"] for l in json.load(sys.stdin) if l["address"].startswith("udp:")))')
[ "$udp_in" -ge 5 ] || fail "ipn:2 got $udp_in datagrams, expected the fragments of 300 kB"

# The link goes down: bundles wait in ipn:1's store, then go when it is back.
ip -n "$NA" link set va-$$ down
for i in 1 2 3; do printf 'wait %s' $i > "$D/w$i"; "${A[@]}" "$B/bpsend" -f "$D/w$i" ipn:2.8; done
sleep 1
waiting=$("${A[@]}" "$B/bpctl" stats --json | python3 -c 'import json,sys
q = json.load(sys.stdin)["queues"]; print(q["forward"] + q["in-transit"])')
[ "$waiting" -ge 3 ] || fail "with the link down, $waiting bundles wait at ipn:1, not 3"
ip -n "$NA" link set va-$$ up
"${BE[@]}" timeout 60 "$B/bprecv" -c 3 -o "$D/w.out" ipn:2.8 || fail "the waiting bundles did not arrive"
cat "$D/w1" "$D/w2" "$D/w3" | cmp -s - "$D/w.out" || fail "other bytes arrived after the link came back"
kill "$PIDA"; wait "$PIDA" || fail "bpd ipn:1 did not stop cleanly"
echo "ok: two namespaces on a veth: TCPCLv4, UDP fragments, a report, store-and-forward across a link down"

# judge_lib.sh - what the live-capture judges share; sourced, not run.
#
#   judge_init NAME "$@"   checks BUILD_DIR (sets B) and that tshark can
#                          capture (root), makes D and the cleanup trap
#   free_ports TYPE N      N free ports on 127.0.0.1 (TYPE tcp or udp)
#   capture_start FILTER   tshark captures lo with FILTER into $D/cap.pcapng
#   capture_stop           ends the capture
#   judge_expert ALLOW...  fails on malformed packets, expert errors, and
#                          warnings but those whose "PROTO GROUP" is listed
#                          (e.g. "BPv7 Undecoded"; "TCP window" for TCP's
#                          flow-control notes); tshark options in array F
#   fail MESSAGE           exit 1
# Exit codes: 2 usage, 77 skipped (no tshark, not root, no capture).

judge_init() {
	local name=$1
	shift
	[ $# -eq 1 ] && [ -x "$1/bpd" ] || { echo "usage: $0 BUILD_DIR (with bpd, bpsend, bprecv)"; exit 2; }
	B=$(cd "$1" && pwd)
	command -v tshark >/dev/null 2>&1 || { echo "skip: tshark is not installed"; exit 77; }
	[ "$(id -u)" -eq 0 ] || { echo "skip: capturing on lo needs root"; exit 77; }
	D=$(mktemp -d "/tmp/$name.XXXXXX")
	pids=()
	trap judge_cleanup EXIT
}

judge_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$D"
}

fail() { echo "FAIL: $*"; exit 1; }

free_ports() {
	python3 -c 'import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = [socket.socket(socket.AF_INET, kind) for _ in range(int(sys.argv[2]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1" "$2"
}

capture_start() {
	timeout 60 tshark -q -i lo -f "$1" -w "$D/cap.pcapng" > "$D/tshark.log" 2>&1 &
	CAPTURE=$!
	for _ in $(seq 100); do grep -q "Capturing on" "$D/tshark.log" 2>/dev/null && break; sleep 0.1; done
	grep -q "Capturing on" "$D/tshark.log" || { cat "$D/tshark.log"; echo "skip: cannot capture on lo"; exit 77; }
}

capture_stop() {
	sleep 0.5
	kill -INT "$CAPTURE"
	wait "$CAPTURE" || true
}

judge_count() { tshark "${F[@]}" -Y "$1" 2>/dev/null | wc -l; }

judge_expert() {
	local allow=" $* " bad_warn
	[ "$(judge_count _ws.malformed)" -eq 0 ] || fail "tshark marks packets malformed"
	[ "$(judge_count '_ws.expert.severity == error')" -eq 0 ] ||
		fail "expert errors: $(tshark "${F[@]}" -q -z expert,error 2>/dev/null | grep -v '^$' | tail -n +3)"
	bad_warn=$(tshark "${F[@]}" -q -z expert,warn 2>/dev/null | awk -v allow="$allow" '
		/^ +[0-9]+ +[A-Za-z]+ +[A-Za-z0-9]+ +/ {
			group = $2; proto = $3
			if (index(allow, " " proto " " group " ")) next
			if (proto == "TCP" && index(allow, " TCP window ") && ($0 ~ /window/ || $0 ~ /Zero Window/)) next
			print
		}')
	[ -z "$bad_warn" ] || fail "expert warnings: $bad_warn"
}

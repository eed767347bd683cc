#!/bin/bash
# tshark_judge.sh - Wireshark's tshark judges the bundles bpctl encodes.
#
# Usage: tshark_judge.sh [BPCTL] [tshark_judge.py options]
#   BPCTL   the bpctl binary: encode the test cases with it, then also judge
#           the accepted vectors in tests/vectors/bpv7 that carry CRCs and the
#           negative controls
#   options see `tshark_judge.py --help` (--hex-file FILE, --bad-hex-file FILE,
#           --vectors DIR, --keep DIR, -v)
#
# Exit: 0 all judged as expected, 1 something failed, 2 usage error,
#       77 tshark is not installed (ctest reports the test as skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v tshark >/dev/null 2>&1; then
	echo "skip: tshark is not installed (Debian: apt-get install tshark)"
	exit 77
fi
for tool in text2pcap python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL: tshark is installed but $tool is not"
		exit 1
	fi
done

args=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	if [ ! -x "$1" ]; then
		echo "FAIL: bpctl '$1' is not an executable file"
		exit 2
	fi
	args=(--bpctl "$1")
	shift
fi
exec python3 "$here/tshark_judge.py" "${args[@]}" "$@"

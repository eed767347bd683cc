# bpsock: a thin wrapper over CMake.
#
#   make run          install missing Debian packages (as root), build, run a node (bpd)
#   make test         the same, then the whole test suite under ASan+UBSan and a bounded
#                     libFuzzer run (what .ci/run does)
#   make build        release build in build/
#   make fuzz-smoke   build the decoder fuzz target with clang and run it for FUZZ_SECONDS
#   make bench        release build, then the codec and local delivery benchmarks
#   make format       clang-format every C source and header in place
#   make clean        remove the build trees

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Debian 12 (bookworm) packages the build, the tests and the fuzz run need.
# libclang-rt-14-dev holds clang's sanitizer and libFuzzer runtimes; tshark
# (with wireshark-common's text2pcap) is the tests' independent BPv7 judge.
DEB_PACKAGES := build-essential cmake pkg-config libcbor-dev libev-dev libcmocka-dev \
	clang libclang-rt-14-dev tshark python3 xxd iproute2

BUILD_DIR := build
ASAN_DIR := build-asan
FUZZ_DIR := build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_bpv7_decode fuzz_bpv7_fields fuzz_proto fuzz_config fuzz_store_log \
		fuzz_store_ops fuzz_tcpclv4 fuzz_tcpclv4_session fuzz_udp_recv
FORMAT_DIRS := $(wildcard bpd libbp convergence include tools tests bench)

# cmake --build runs its own make; keep our make's recursion state out of it.
CMAKE_BUILD := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build

export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: all deps build run codec-demo test fuzz-smoke bench format clean

all: build

# Install what is missing when root; otherwise say exactly what to run.
deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "deps: no dpkg-query (not Debian?); make sure these are installed: $(DEB_PACKAGES)"; \
		exit 0; \
	fi; \
	missing=""; \
	for p in $(DEB_PACKAGES); do \
		st=$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null || true); \
		[ "$$st" = "install ok installed" ] || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages:$$missing"; \
		echo "deps: install them with:"; \
		echo "  sudo apt-get install -y --no-install-recommends$$missing"; \
		exit 1; \
	fi; \
	echo "deps: installing:$$missing"; \
	echo 'wireshark-common wireshark-common/install-setuid boolean false' | \
		debconf-set-selections; \
	apt-get update; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	$(CMAKE_BUILD) $(BUILD_DIR) -j$(JOBS)

# The main job: a node on the embedded defaults (ipn:1, socket and state
# under a per-user directory), in the foreground until Ctrl-C.
run: build
	$(BUILD_DIR)/bpd

# The codec round trip that was the main job before bpd existed.
codec-demo: build
	$(BUILD_DIR)/bpctl encode --source ipn:1.1 --dest ipn:2.1 \
		--payload 'hello from bpsock' --crc 32c | $(BUILD_DIR)/bpctl decode -

test: deps
	cmake -S . -B $(ASAN_DIR) -DBPSOCK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	$(CMAKE_BUILD) $(ASAN_DIR) -j$(JOBS)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j2 --timeout 600
	$(MAKE) --no-print-directory fuzz-smoke

# Everything is compiled with -fsanitize=fuzzer-no-link (see BPSOCK_FUZZ in
# CMakeLists.txt); only the fuzz target links libFuzzer. libFuzzer exits
# non-zero on any crash, leak, timeout or sanitizer report and leaves the
# input in $(FUZZ_DIR)/artifacts/.
fuzz-smoke: deps
	CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 \
		-DBPSOCK_FUZZ=ON -DBPSOCK_TESTS=ON -DBPSOCK_BENCH=OFF
	$(CMAKE_BUILD) $(FUZZ_DIR) -j$(JOBS) --target $(FUZZ_TARGETS)
	@rm -rf $(FUZZ_DIR)/artifacts; mkdir -p $(FUZZ_DIR)/artifacts
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t; \
		if [ -d tests/fuzz/seeds/$$t ]; then cp tests/fuzz/seeds/$$t/* $(FUZZ_DIR)/corpus/$$t/; fi; \
	done
	@n=0; while IFS= read -r -d '' f; do \
		seed=$${f#tests/vectors/}; seed=$${seed//\//_}; \
		xxd -r -p "$$f" > "$(FUZZ_DIR)/corpus/fuzz_bpv7_decode/seed_$${seed%.hex}.bin"; \
		n=$$((n + 1)); \
	done < <(find tests/vectors -name '*.hex' -print0); \
	echo "fuzz-smoke: $$n decoder seeds from tests/vectors, $(FUZZ_SECONDS) s per target"
	@for t in $(FUZZ_TARGETS); do \
		bin=$$(find $(FUZZ_DIR) -type f -name $$t -perm -u+x | head -n 1); \
		if [ -z "$$bin" ]; then echo "fuzz-smoke: $$t was not built"; exit 1; fi; \
		rc=0; "$$bin" -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/ \
			$(FUZZ_DIR)/corpus/$$t > $(FUZZ_DIR)/$$t.log 2>&1 || rc=$$?; \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t.log); \
		files=$$(find $(FUZZ_DIR)/corpus/$$t -type f | wc -l); \
		if [ $$rc -ne 0 ]; then \
			tail -n 60 $(FUZZ_DIR)/$$t.log; \
			echo "fuzz-smoke: FAILED: $$t exited $$rc after $${runs:-?} runs;" \
				"log $(FUZZ_DIR)/$$t.log, input in $(FUZZ_DIR)/artifacts/"; \
			exit 1; \
		fi; \
		echo "fuzz-smoke: $$t passed: $${runs:-?} runs in $(FUZZ_SECONDS) s," \
			"0 crashes, leaks or sanitizer reports; corpus $$files inputs"; \
	done

# The codec, then local delivery through a bpd of its own (bench/README.md).
bench: build
	@for b in bench_bpv7 bench_local bench_store; do \
		if [ ! -x $(BUILD_DIR)/bench/$$b ]; then echo "bench: no $(BUILD_DIR)/bench/$$b"; exit 1; fi; \
		$(BUILD_DIR)/bench/$$b; \
	done

format:
	@command -v clang-format >/dev/null 2>&1 || \
		{ echo "format: clang-format missing: sudo apt-get install -y clang-format"; exit 1; }
	$(if $(FORMAT_DIRS),,@echo "format: no source directories"; exit 0)
	find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' \) -print0 | \
		xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)

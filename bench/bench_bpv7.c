/* SPDX-License-Identifier: MIT */
/*
 * Codec benchmark: encode, and decode+validate, of a minimal bundle (CRC-32C
 * primary, 64-byte payload) and of a 1 MiB-payload bundle; CRC-32C in
 * hardware and software, CRC-16. Each figure is printed beside a baseline
 * measured in the same run (memcpy of the same bytes), so the ratio means
 * something on a shared, noisy machine. A benchmark, never a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundle.h"
#include "crc.h"
#include "decode.h"
#include "encode.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps results alive so the compiler cannot drop the work. */
static volatile uint64_t sink;

static void build(struct bpv7_bundle *b, const uint8_t *payload, size_t len)
{
	struct bpv7_block pay = { .type = BPV7_BLOCK_PAYLOAD,
				  .number = 1,
				  .crc_type = BPV7_CRC_32C,
				  .data = payload,
				  .data_len = len };

	bpv7_bundle_init(b);
	b->primary.crc_type = BPV7_CRC_32C;
	bp_eid_set_ipn(&b->primary.dest, 2, 1);
	bp_eid_set_ipn(&b->primary.source, 1, 1);
	bp_eid_set_ipn(&b->primary.report_to, 1, 1);
	b->primary.creation_time = 800000000000ull;
	b->primary.sequence = 1;
	b->primary.lifetime = 3600000;
	(void)bpv7_bundle_add_block(b, &pay);
}

/* Run fn for about `secs` seconds; returns operations per second. */
#define MEASURE(secs, ops_out, body)                                                               \
	do {                                                                                       \
		double t0_ = now(), t_;                                                            \
		uint64_t n_ = 0;                                                                   \
		do {                                                                               \
			for (int i_ = 0; i_ < 64; i_++) {                                          \
				body;                                                              \
			}                                                                          \
			n_ += 64;                                                                  \
			t_ = now() - t0_;                                                          \
		} while (t_ < (secs));                                                             \
		(ops_out) = (double)n_ / t_;                                                       \
	} while (0)

static void bench_bundle(const char *name, size_t payload_len, double secs)
{
	uint8_t *payload = malloc(payload_len), *wire, *copy;
	struct bpv7_bundle b, out;
	struct bpv7_error err;
	long size;
	double enc, dec, cpy;

	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i * 7);
	build(&b, payload, payload_len);
	size = bpv7_encoded_size(&b);
	wire = malloc((size_t)size);
	copy = malloc((size_t)size);
	MEASURE(secs, enc, sink += (uint64_t)bpv7_encode(&b, wire, (size_t)size));
	MEASURE(secs, dec, sink += (uint64_t)bpv7_decode(wire, (size_t)size, 0, &out, &err));
	if (bpv7_decode(wire, (size_t)size, 0, &out, &err) != 0)
		fprintf(stderr, "bench: decode failed: %s\n", bpv7_error_name(err.code));
	MEASURE(secs, cpy, memcpy(copy, wire, (size_t)size); sink += copy[i_ % size]);
	printf("%-8s %8ld B  encode %12.0f bundles/s %7.2f GB/s   decode+validate %12.0f "
	       "bundles/s %7.2f GB/s   memcpy %7.2f GB/s  (encode %.2fx, decode %.2fx of memcpy "
	       "time)\n",
	       name, size, enc, enc * (double)size / 1e9, dec, dec * (double)size / 1e9,
	       cpy * (double)size / 1e9, cpy / enc, cpy / dec);
	free(copy);
	free(wire);
	free(payload);
}

static void bench_crc(double secs)
{
	size_t len = 1 << 20;
	uint8_t *buf = malloc(len), *copy = malloc(len);
	double hw, sw, c16, cpy;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13);
	MEASURE(secs, hw, sink += crc32c_update_hw(CRC32C_INIT, buf, len));
	MEASURE(secs, sw, sink += crc32c_update_sw(CRC32C_INIT, buf, len));
	MEASURE(secs, c16, sink += crc16_x25_update(CRC16_X25_INIT, buf, len));
	MEASURE(secs, cpy, memcpy(copy, buf, len); sink += copy[i_]);
	printf("crc 1 MiB: crc32c-hw %.2f GB/s (%s)  crc32c-sw %.2f GB/s  crc16 %.2f GB/s  memcpy "
	       "%.2f GB/s\n",
	       hw * (double)len / 1e9, crc32c_hw_available() ? "instruction" : "no instruction",
	       sw * (double)len / 1e9, c16 * (double)len / 1e9, cpy * (double)len / 1e9);
	free(copy);
	free(buf);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;

	if (secs <= 0)
		secs = 1.0;
	bench_bundle("minimal", 64, secs);
	bench_bundle("1MiB", 1 << 20, secs);
	bench_crc(secs);
	return 0;
}

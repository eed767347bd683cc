/* SPDX-License-Identifier: MIT */
/*
 * The client protocol's message codec (include/bp/proto.h,
 * docs/client-protocol.md), shared by libbp and bpd. Nothing here trusts a
 * length: every one is checked against what is left before it is used.
 */
#include "bp/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

enum field_kind {
	KIND_NONE = 0, /* not allowed in this message type */
	KIND_U64,
	KIND_BYTES,
};

/* How a field may appear in one message type. */
struct rule {
	uint8_t kind;	 /* enum field_kind */
	bool required;	 /* must appear */
	bool repeat;	 /* may appear more than once */
	uint32_t max;	 /* bytes fields: longest value */
	uint8_t payload; /* one of the "exactly one payload" pair */
};

#define U64(req)                                                                                   \
	{                                                                                          \
		.kind = KIND_U64, .required = (req)                                                \
	}
#define BYTES(req, n)                                                                              \
	{                                                                                          \
		.kind = KIND_BYTES, .required = (req), .max = (n)                                  \
	}
#define PAYLOAD_INLINE                                                                             \
	{                                                                                          \
		.kind = KIND_BYTES, .max = BP_PROTO_MAX_MSG, .payload = 1                          \
	}
#define PAYLOAD_FD                                                                                 \
	{                                                                                          \
		.kind = KIND_U64, .payload = 1                                                     \
	}

struct schema {
	const char *name;
	bool has_payload; /* exactly one of PAYLOAD and PAYLOAD_FD */
	struct rule rules[BP_F_COUNT];
};

static const struct schema socket_schema = { .name = "socket" };

static const struct schema bind_schema = {
	.name = "bind",
	.rules = {
		[BP_F_EID] = BYTES(true, BP_PROTO_MAX_EID),
		[BP_F_POLICY] = U64(false),
	},
};

static const struct schema send_schema = {
	.name = "send",
	.has_payload = true,
	.rules = {
		[BP_F_DEST] = BYTES(true, BP_PROTO_MAX_EID),
		[BP_F_REPORT_TO] = BYTES(false, BP_PROTO_MAX_EID),
		[BP_F_FLAGS] = U64(false),
		[BP_F_LIFETIME] = U64(false),
		[BP_F_CRC_TYPE] = U64(false),
		[BP_F_PAYLOAD] = PAYLOAD_INLINE,
		[BP_F_PAYLOAD_FD] = PAYLOAD_FD,
		[BP_F_BATCH] = U64(false),
		[BP_F_HOP_LIMIT] = U64(false),
	},
};

static const struct schema consumed_schema = {
	.name = "consumed",
	.rules = {
		[BP_F_DELIVERY_ID] = U64(true),
	},
};

static const struct schema admin_schema = {
	.name = "admin",
	.rules = {
		[BP_F_ARG] = { .kind = KIND_BYTES, .required = true, .repeat = true,
			       .max = BP_PROTO_MAX_TEXT },
	},
};

static const struct schema setopt_schema = {
	.name = "setopt",
	.rules = {
		[BP_F_OPTION] = U64(true),
		[BP_F_VALUE] = U64(true),
	},
};

static const struct schema reply_schema = {
	.name = "reply",
	.rules = {
		[BP_F_STATUS] = U64(true),
		[BP_F_EID] = BYTES(false, BP_PROTO_MAX_EID),
		[BP_F_SOURCE] = BYTES(false, BP_PROTO_MAX_EID),
		[BP_F_CREATION_TIME] = U64(false),
		[BP_F_SEQUENCE] = U64(false),
		[BP_F_VALUE] = U64(false),
		[BP_F_POLICY] = U64(false),
		[BP_F_OUTPUT_FD] = U64(false),
		[BP_F_OUTPUT] = { .kind = KIND_BYTES, .repeat = true, .max = BP_PROTO_MAX_TEXT },
	},
};

static const struct schema deliver_schema = {
	.name = "deliver",
	.has_payload = true,
	.rules = {
		[BP_F_DELIVERY_ID] = U64(true),
		[BP_F_KIND] = U64(true),
		[BP_F_SOURCE] = BYTES(true, BP_PROTO_MAX_EID),
		[BP_F_DEST] = BYTES(true, BP_PROTO_MAX_EID),
		[BP_F_CREATION_TIME] = U64(true),
		[BP_F_SEQUENCE] = U64(true),
		[BP_F_BUNDLE_FLAGS] = U64(false),
		[BP_F_PAYLOAD] = PAYLOAD_INLINE,
		[BP_F_PAYLOAD_FD] = PAYLOAD_FD,
	},
};

static const struct schema *schema_of(uint8_t type)
{
	switch (type) {
	case BP_MSG_SOCKET:
		return &socket_schema;
	case BP_MSG_BIND:
		return &bind_schema;
	case BP_MSG_SEND:
		return &send_schema;
	case BP_MSG_CONSUMED:
		return &consumed_schema;
	case BP_MSG_ADMIN:
		return &admin_schema;
	case BP_MSG_SETOPT:
		return &setopt_schema;
	case BP_MSG_REPLY:
		return &reply_schema;
	case BP_MSG_DELIVER:
		return &deliver_schema;
	default:
		return NULL;
	}
}

static const char *const field_names[BP_F_COUNT] = {
	[BP_F_STATUS] = "status",
	[BP_F_EID] = "eid",
	[BP_F_DEST] = "dest",
	[BP_F_SOURCE] = "source",
	[BP_F_REPORT_TO] = "report_to",
	[BP_F_FLAGS] = "flags",
	[BP_F_LIFETIME] = "lifetime",
	[BP_F_CRC_TYPE] = "crc_type",
	[BP_F_PAYLOAD] = "payload",
	[BP_F_PAYLOAD_FD] = "payload_fd",
	[BP_F_DELIVERY_ID] = "delivery_id",
	[BP_F_CREATION_TIME] = "creation_time",
	[BP_F_SEQUENCE] = "sequence",
	[BP_F_POLICY] = "policy",
	[BP_F_KIND] = "kind",
	[BP_F_ARG] = "arg",
	[BP_F_OUTPUT] = "output",
	[BP_F_OPTION] = "option",
	[BP_F_VALUE] = "value",
	[BP_F_BUNDLE_FLAGS] = "bundle_flags",
	[BP_F_OUTPUT_FD] = "output_fd",
	[BP_F_BATCH] = "batch",
	[BP_F_HOP_LIMIT] = "hop_limit",
};

const char *bp_msg_type_name(uint8_t type)
{
	const struct schema *s = schema_of(type);

	return s ? s->name : "unknown";
}

const char *bp_field_name(uint16_t tag)
{
	return tag > 0 && tag < BP_F_COUNT ? field_names[tag] : "unknown";
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static int bad(struct bp_msg_error *err, const char *why, size_t offset)
{
	err->why = why;
	err->offset = offset;
	return -EBADMSG;
}

static int decode_header(const uint8_t *buf, size_t len, struct bp_msg *m, struct bp_msg_error *err)
{
	if (len < BP_PROTO_HDR_LEN)
		return bad(err, "shorter than the header", 0);
	if (len > BP_PROTO_MAX_MSG)
		return bad(err, "longer than the protocol allows", 0);
	if (buf[0] != BP_PROTO_VERSION)
		return bad(err, "unknown protocol version", 0);
	if (!schema_of(buf[1]))
		return bad(err, "unknown message type", 1);
	if (get_u16(buf + 2) != 0)
		return bad(err, "reserved header bits set", 2);
	if (get_u32(buf + 4) != len)
		return bad(err, "header length disagrees with the datagram", 4);
	m->type = buf[1];
	m->request = get_u32(buf + 8);
	m->nfields = 0;
	return 0;
}

/* One field at buf[off..len): check it against the rule for its tag. */
static int decode_field(const struct schema *s, const uint8_t *buf, size_t len, size_t *off,
			struct bp_msg *m, struct bp_msg_error *err)
{
	size_t at = *off;
	struct bp_msg_field *f;
	const struct rule *r;
	uint16_t tag;
	uint32_t flen;

	if (len - at < BP_PROTO_FIELD_HDR_LEN)
		return bad(err, "field header cut short", at);
	tag = get_u16(buf + at);
	flen = get_u32(buf + at + 2);
	if (flen > len - at - BP_PROTO_FIELD_HDR_LEN)
		return bad(err, "field longer than the message", at);
	r = tag < BP_F_COUNT ? &s->rules[tag] : NULL;
	if (!r || r->kind == KIND_NONE)
		return bad(err, "field not allowed in this message type", at);
	if (r->kind == KIND_U64 && flen != 8)
		return bad(err, "integer field is not 8 bytes", at);
	if (r->kind == KIND_BYTES && flen > r->max)
		return bad(err, "field value too long", at);
	if (!r->repeat && bp_msg_find(m, tag))
		return bad(err, "field repeated", at);
	if (m->nfields == BP_PROTO_MAX_FIELDS)
		return bad(err, "too many fields", at);
	f = &m->fields[m->nfields++];
	f->tag = tag;
	f->ptr = buf + at + BP_PROTO_FIELD_HDR_LEN;
	f->len = flen;
	f->u64 = r->kind == KIND_U64 ? get_u64(f->ptr) : 0;
	*off = at + BP_PROTO_FIELD_HDR_LEN + flen;
	return 0;
}

/* Required fields present, and exactly one payload where one is due. */
static int check_complete(const struct schema *s, const struct bp_msg *m, struct bp_msg_error *err,
			  size_t len)
{
	unsigned payloads = 0;

	for (unsigned tag = 1; tag < BP_F_COUNT; tag++)
		if (s->rules[tag].required && !bp_msg_find(m, tag))
			return bad(err, "required field missing", len);
	for (unsigned i = 0; i < m->nfields; i++)
		payloads += s->rules[m->fields[i].tag].payload;
	if (s->has_payload && payloads != 1)
		return bad(err, "needs exactly one of payload and payload_fd", len);
	return 0;
}

int bp_msg_decode(const uint8_t *buf, size_t len, struct bp_msg *ret, struct bp_msg_error *ret_err)
{
	const struct schema *s;
	size_t off = BP_PROTO_HDR_LEN;
	int r;

	r = decode_header(buf, len, ret, ret_err);
	if (r < 0)
		return r;
	s = schema_of(ret->type);
	while (off < len) {
		r = decode_field(s, buf, len, &off, ret, ret_err);
		if (r < 0)
			return r;
	}
	return check_complete(s, ret, ret_err, len);
}

const struct bp_msg_field *bp_msg_find(const struct bp_msg *m, enum bp_field tag)
{
	for (unsigned i = 0; i < m->nfields; i++)
		if (m->fields[i].tag == tag)
			return &m->fields[i];
	return NULL;
}

uint64_t bp_msg_u64(const struct bp_msg *m, enum bp_field tag, uint64_t def)
{
	const struct bp_msg_field *f = bp_msg_find(m, tag);

	return f ? f->u64 : def;
}

/* Writer */

static void put_be(struct bp_msg_wr *w, uint64_t v, unsigned n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	for (unsigned i = n; i-- > 0; v >>= 8)
		w->buf[w->len + i] = (uint8_t)v;
	w->len += n;
}

void bp_msg_begin(struct bp_msg_wr *w, uint8_t *buf, size_t cap, enum bp_msg_type type,
		  uint32_t request)
{
	*w = (struct bp_msg_wr){ .buf = buf,
				 .cap = cap < BP_PROTO_MAX_MSG ? cap : BP_PROTO_MAX_MSG };
	put_be(w, BP_PROTO_VERSION, 1);
	put_be(w, type, 1);
	put_be(w, 0, 2);
	put_be(w, 0, 4); /* length, filled in by bp_msg_end() */
	put_be(w, request, 4);
}

void bp_msg_put_u64(struct bp_msg_wr *w, enum bp_field tag, uint64_t v)
{
	put_be(w, tag, 2);
	put_be(w, 8, 4);
	put_be(w, v, 8);
}

void bp_msg_put_bytes(struct bp_msg_wr *w, enum bp_field tag, const void *p, size_t len)
{
	if (len > UINT32_MAX || w->overflow || w->cap - w->len < BP_PROTO_FIELD_HDR_LEN + len) {
		w->overflow = true;
		return;
	}
	put_be(w, tag, 2);
	put_be(w, len, 4);
	if (len)
		memcpy(w->buf + w->len, p, len);
	w->len += len;
}

long bp_msg_end(struct bp_msg_wr *w)
{
	size_t len = w->len;

	if (w->overflow)
		return -EMSGSIZE;
	w->len = 4;
	put_be(w, len, 4);
	w->len = len;
	return (long)len;
}

int bp_proto_socket_path(char *buf, size_t cap)
{
	const char *env = getenv("BPD_SOCKET"), *run = getenv("XDG_RUNTIME_DIR");
	struct sockaddr_un sun;
	int n;

	if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (run && *run)
		n = snprintf(buf, cap, "%s/bpsock/bpd.sock", run);
	else
		n = snprintf(buf, cap, "/tmp/bpsock-%u/bpd.sock", (unsigned)getuid());
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return n;
}

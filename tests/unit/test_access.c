/* SPDX-License-Identifier: MIT */
/* Access rules: parsing "access" config lines and the decisions they make. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"

#define OWNER 1000
#define ALICE 1001
#define BOB 1002
#define SENSORS 3000

static struct access ac;

static int setup(void **state)
{
	access_init(&ac, OWNER);
	return 0;
}

static int teardown(void **state)
{
	access_free(&ac);
	return 0;
}

/* Apply one config line (words split at spaces). */
static int line(const char *text, const char **why)
{
	char buf[256], *argv[8];
	int argc = 0;

	strcpy(buf, text);
	for (char *w = strtok(buf, " "); w && argc < 8; w = strtok(NULL, " "))
		argv[argc++] = w;
	return access_config(&ac, argc, argv, why);
}

static void ok_line(const char *text)
{
	const char *why = NULL;

	if (line(text, &why) != 0)
		fail_msg("'%s': %s", text, why);
}

static struct bp_eid eid(const char *text)
{
	struct bp_eid e;
	const char *why;

	assert_int_equal(bp_eid_parse(text, strlen(text), &e, &why), 0);
	return e;
}

static struct access_peer user(uid_t uid, gid_t gid, gid_t extra)
{
	struct access_peer p = { .uid = uid, .gid = gid };

	if (extra) {
		p.groups[0] = extra;
		p.ngroups = 1;
	}
	return p;
}

static int may(const struct access_peer *p, const char *text)
{
	struct bp_eid e = eid(text);

	return access_may_bind(&ac, p, &e);
}

static void defaults_open_high_services_only(void **state)
{
	struct access_peer alice = user(ALICE, ALICE, 0), root = user(0, 0, 0);
	struct access_peer owner = user(OWNER, OWNER, 0);

	assert_int_equal(may(&alice, "ipn:1.64"), 0);
	assert_int_equal(may(&alice, "ipn:1.63"), -EACCES);
	assert_int_equal(may(&alice, "ipn:1.1"), -EACCES);
	assert_int_equal(may(&alice, "dtn://n/app"), 0);
	assert_int_equal(may(&root, "ipn:1.1"), 0);
	/* The user bpd runs as owns the node. */
	assert_int_equal(may(&owner, "ipn:1.1"), 0);
	assert_false(access_is_admin(&ac, &alice));
	assert_true(access_is_admin(&ac, &root));
	assert_true(access_is_admin(&ac, &owner));
}

static void a_rule_grants_and_reserves(void **state)
{
	struct access_peer alice = user(ALICE, ALICE, 0), bob = user(BOB, BOB, 0);
	struct access_peer sensor = user(BOB, BOB, SENSORS);

	ok_line("access bind ipn:1.7 user 1001");
	ok_line("access bind ipn:1.300-399 user 1001");
	ok_line("access bind ipn:*.500 group 3000");
	ok_line("access bind dtn://n/sensors/* group 3000");
	/* Granted below 64, to alice only. */
	assert_int_equal(may(&alice, "ipn:1.7"), 0);
	assert_int_equal(may(&bob, "ipn:1.7"), -EACCES);
	/* Reserved above 64: the range, its ends included. */
	assert_int_equal(may(&alice, "ipn:1.300"), 0);
	assert_int_equal(may(&alice, "ipn:1.399"), 0);
	assert_int_equal(may(&bob, "ipn:1.350"), -EACCES);
	assert_int_equal(may(&bob, "ipn:1.400"), 0);
	/* Any node; a supplementary group counts. */
	assert_int_equal(may(&sensor, "ipn:9.500"), 0);
	assert_int_equal(may(&alice, "ipn:9.500"), -EACCES);
	assert_true(access_reserved(&ac, &(struct bp_eid){ 0 }) == false);
	/* dtn prefixes. */
	assert_int_equal(may(&sensor, "dtn://n/sensors/t1"), 0);
	assert_int_equal(may(&alice, "dtn://n/sensors/t1"), -EACCES);
	assert_int_equal(may(&alice, "dtn://n/sensor"), 0);
	/* Two rules on one endpoint: either principal may bind it. */
	ok_line("access bind ipn:1.7 user 1002");
	assert_int_equal(may(&bob, "ipn:1.7"), 0);
}

static void admins_by_group_or_user(void **state)
{
	struct access_peer alice = user(ALICE, ALICE, 0), bob = user(BOB, 50, 0);
	struct access_peer carol = user(1003, 1003, 50);

	ok_line("access admin group 50");
	ok_line("access admin user 1001");
	assert_true(access_is_admin(&ac, &alice));
	assert_true(access_is_admin(&ac, &bob));   /* primary group */
	assert_true(access_is_admin(&ac, &carol)); /* supplementary group */
	assert_int_equal(may(&carol, "ipn:1.2"), 0);
	ok_line("access admin user root");
	ok_line("access admin group root");
}

/* bpd running as nobody does not make every unmapped user an admin. */
static void nobody_as_owner_is_not_admin(void **state)
{
	struct access_peer nobody = user(ACCESS_OVERFLOW_UID, ACCESS_OVERFLOW_UID, 0);
	struct access acn;

	access_init(&acn, ACCESS_OVERFLOW_UID);
	assert_false(access_is_admin(&acn, &nobody));
	access_free(&acn);
}

static void bad_lines_say_why(void **state)
{
	static const char *const bad[] = {
		"access",
		"access admin",
		"access admin group",
		"access admin people 5",
		"access admin user no-such-user-here",
		"access admin group no-such-group-here",
		"access admin user 4294967295",
		"access bind ipn:1.7",
		"access bind ipn:1.7 user",
		"access bind ipn:1.7 someone 5",
		"access bind ipn:1 user 5",
		"access bind ipn:0.5 user 5",
		"access bind ipn:!.5 user 5",
		"access bind ipn:.7 user 5",
		"access bind ipn:x.7 user 5",
		"access bind ipn:1.x user 5",
		"access bind ipn:1.9-5 user 5",
		"access bind ipn:1.5- user 5",
		"access bind ipn:1.-5 user 5",
		"access bind ipn:1.99999999999999999999 user 5",
		"access bind dtn: user 5",
		"access bind dtn:// user 5",
		"access bind http://x user 5",
		"access grant ipn:1.7 user 5",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		if (line(bad[i], &why) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(ac.nrules, 0);
	assert_int_equal(ac.nadmins, 0);
}

static void rules_are_bounded(void **state)
{
	const char *why;

	for (int i = 0; i < ACCESS_MAX_RULES; i++)
		ok_line("access bind ipn:1.1000 user 5");
	assert_int_equal(line("access bind ipn:1.1000 user 5", &why), -EINVAL);
	assert_string_equal(why, "too many bind rules");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(defaults_open_high_services_only, setup, teardown),
		cmocka_unit_test_setup_teardown(a_rule_grants_and_reserves, setup, teardown),
		cmocka_unit_test_setup_teardown(admins_by_group_or_user, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_lines_say_why, setup, teardown),
		cmocka_unit_test(nobody_as_owner_is_not_admin),
		cmocka_unit_test_setup_teardown(rules_are_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

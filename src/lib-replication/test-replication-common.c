/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "replication-common.h"

static void test_replication_priority(void)
{
	static const struct {
		const char *str;
		int ret;
		enum replication_priority priority;
	} tests[] = {
		{ "none", 0, REPLICATION_PRIORITY_NONE },
		{ "low", 0, REPLICATION_PRIORITY_LOW },
		{ "high", 0, REPLICATION_PRIORITY_HIGH },
		{ "sync", 0, REPLICATION_PRIORITY_SYNC },
		{ "", -1, 0 },
		{ "LOW", -1, 0 },
		{ "lo", -1, 0 },
		{ "lowx", -1, 0 },
		{ " low", -1, 0 },
		{ "1", -1, 0 },
	};
	enum replication_priority priority;
	unsigned int i;

	test_begin("replication priority parse");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		int ret = replication_priority_parse(tests[i].str, &priority);
		test_assert_cmp_idx(ret, ==, tests[i].ret, i);
		if (ret == 0 && tests[i].ret == 0) {
			test_assert_idx(priority == tests[i].priority, i);
			test_assert_strcmp_idx(
				replication_priority_to_str(priority),
				tests[i].str, i);
		}
	}
	test_end();
}

static const char *t_fill(size_t len, char c)
{
	char *str = t_malloc0(len + 1);

	memset(str, c, len);
	return str;
}

static void test_replication_username_verify(void)
{
	const char *error, *long_name;

	test_begin("replication username verify");
	test_assert(replication_username_verify("user@example.com",
						&error) == 0);
	test_assert(replication_username_verify("tab\tand\nlf",
						&error) == 0);
	test_assert(replication_username_verify("", &error) == -1);
	test_assert_strcmp(error, "Empty username");
	long_name = t_fill(REPLICATION_USERNAME_MAX_LENGTH, 'x');
	test_assert(replication_username_verify(long_name, &error) == 0);
	long_name = t_strconcat(long_name, "x", NULL);
	test_assert(replication_username_verify(long_name, &error) == -1);
	test_end();
}

static void test_replication_timestamp_parse(void)
{
	static const struct {
		const char *str;
		int ret;
		time_t value;
	} tests[] = {
		{ "0", 0, 0 },
		{ "1700000000", 0, 1700000000 },
		{ "", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ "1x", -1, 0 },
		{ " 1", -1, 0 },
		{ "99999999999999999999999", -1, 0 },
	};
	const char *error;
	time_t value;
	unsigned int i;

	test_begin("replication timestamp parse");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		int ret = replication_timestamp_parse(tests[i].str, "time",
						      &value, &error);
		test_assert_cmp_idx(ret, ==, tests[i].ret, i);
		if (ret == 0)
			test_assert_idx(value == tests[i].value, i);
	}
	test_end();
}

static void test_replication_interval_parse(void)
{
	static const struct {
		const char *str;
		int ret;
		unsigned int secs;
	} tests[] = {
		{ "0", 0, 0 },
		{ "30", 0, 30 },
		{ "30s", 0, 30 },
		{ "2 mins", 0, 120 },
		{ "1d", 0, 86400 },
		{ "", -1, 0 },
		{ "-1", -1, 0 },
		{ "soon", -1, 0 },
	};
	const char *error;
	unsigned int secs, i;

	test_begin("replication interval parse");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		int ret = replication_interval_parse(tests[i].str, &secs,
						     &error);
		test_assert_cmp_idx(ret, ==, tests[i].ret, i);
		if (ret == 0)
			test_assert_ucmp_idx(secs, ==, tests[i].secs, i);
	}
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replication_priority,
		test_replication_username_verify,
		test_replication_timestamp_parse,
		test_replication_interval_parse,
		NULL
	};
	return test_run(test_functions);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "test-common.h"
#include "replication-notify-protocol.h"

/* lines as they arrive, without LF */
static const struct {
	const char *line;
	const char *username;
	enum replication_priority priority;
} valid_requests[] = {
	{ "user\tlow", "user", REPLICATION_PRIORITY_LOW },
	{ "user@example.com\thigh", "user@example.com",
	  REPLICATION_PRIORITY_HIGH },
	{ "u\tsync", "u", REPLICATION_PRIORITY_SYNC },
	/* escaped TAB, LF and the escape character itself */
	{ "a\001tb\001nc\0011d\thigh", "a\tb\nc\001d",
	  REPLICATION_PRIORITY_HIGH },
};

static const struct {
	const char *line;
	const char *error;
} invalid_requests[] = {
	{ "", "Expected 2 fields" },
	{ "user", "Expected 2 fields" },
	{ "user\thigh\textra", "Expected 2 fields" },
	/* unescaped TAB in the username */
	{ "us\ter\thigh", "Expected 2 fields" },
	{ "\thigh", "Empty username" },
	{ "user\tnone", "not a request" },
	{ "user\tHIGH", "Unknown priority" },
	{ "user\t", "Unknown priority" },
	{ "user\t3", "Unknown priority" },
};

static void test_replication_notify_request_parse(void)
{
	struct replication_notify_request req;
	const char *error;
	unsigned int i;

	test_begin("replication notify request parse valid");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		const char *const *args =
			t_strsplit_tabescaped(valid_requests[i].line);

		test_assert_idx(replication_notify_request_parse(
				args, &req, &error) == 0, i);
		test_assert_strcmp_idx(req.username,
				       valid_requests[i].username, i);
		test_assert_idx(req.priority == valid_requests[i].priority, i);
	}
	test_end();

	test_begin("replication notify request parse invalid");
	for (i = 0; i < N_ELEMENTS(invalid_requests); i++) {
		const char *const *args =
			t_strsplit_tabescaped(invalid_requests[i].line);

		error = NULL;
		test_assert_idx(replication_notify_request_parse(
				args, &req, &error) == -1, i);
		test_assert_idx(error != NULL &&
				strstr(error, invalid_requests[i].error) != NULL,
				i);
	}
	test_end();
}

static void test_replication_notify_request_roundtrip(void)
{
	struct replication_notify_request req;
	const char *error;
	string_t *str = t_str_new(128);
	unsigned int i;

	test_begin("replication notify request round trip");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		str_truncate(str, 0);
		replication_notify_request_append(
			str, valid_requests[i].username,
			valid_requests[i].priority);
		/* exactly one LF, at the end */
		test_assert_idx(str_c(str)[str_len(str) - 1] == '\n', i);
		test_assert_idx(strchr(str_c(str), '\n') ==
				str_c(str) + str_len(str) - 1, i);
		test_assert_strcmp_idx(t_strcut(str_c(str), '\n'),
				       valid_requests[i].line, i);
		str_truncate(str, str_len(str) - 1);
		test_assert_idx(replication_notify_request_parse(
			t_strsplit_tabescaped(str_c(str)), &req, &error) == 0,
			i);
		test_assert_strcmp_idx(req.username,
				       valid_requests[i].username, i);
		test_assert_idx(req.priority == valid_requests[i].priority, i);
	}
	test_end();
}

static void test_replication_notify_reply(void)
{
	string_t *str = t_str_new(16);
	const char *error;
	bool success;

	test_begin("replication notify reply");
	replication_notify_reply_append(str, TRUE);
	replication_notify_reply_append(str, FALSE);
	test_assert_strcmp(str_c(str), "+\n-\n");
	test_assert(replication_notify_reply_parse("+", &success, &error) == 0);
	test_assert(success);
	test_assert(replication_notify_reply_parse("-", &success, &error) == 0);
	test_assert(!success);
	test_assert(replication_notify_reply_parse("", &success, &error) < 0);
	test_assert(replication_notify_reply_parse("+1", &success,
						   &error) < 0);
	test_assert(replication_notify_reply_parse("OK", &success,
						   &error) < 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replication_notify_request_parse,
		test_replication_notify_request_roundtrip,
		test_replication_notify_reply,
		NULL
	};
	return test_run(test_functions);
}

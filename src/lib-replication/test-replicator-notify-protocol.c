/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "test-common.h"
#include "replicator-notify-protocol.h"

static const struct {
	const char *line;
	const char *username;
	enum replication_priority priority;
	uint32_t id;
} valid_requests[] = {
	{ "U\tuser\tlow", "user", REPLICATION_PRIORITY_LOW, 0 },
	{ "U\tuser@example.com\thigh", "user@example.com",
	  REPLICATION_PRIORITY_HIGH, 0 },
	{ "U\tu\tsync\t1", "u", REPLICATION_PRIORITY_SYNC, 1 },
	{ "U\tu\tsync\t4294967295", "u", REPLICATION_PRIORITY_SYNC,
	  4294967295U },
	{ "U\ta\001tb\001nc\tlow", "a\tb\nc", REPLICATION_PRIORITY_LOW, 0 },
};

static const struct {
	const char *line;
	const char *error;
} invalid_requests[] = {
	{ "", "Unknown command" },
	{ "X\tuser\thigh", "Unknown command" },
	{ "UU\tuser\thigh", "Unknown command" },
	/* 2.3's replicator crashed on this one */
	{ "U\tuser", "Expected 2 or 3 arguments" },
	{ "U", "Expected 2 or 3 arguments" },
	{ "U\tuser\tsync\t1\textra", "Expected 2 or 3 arguments" },
	/* unescaped TAB in the username */
	{ "U\tus\ter\thigh", "Unknown priority" },
	{ "U\t\thigh", "Empty username" },
	{ "U\tuser\tnone", "not a request" },
	{ "U\tuser\turgent", "Unknown priority" },
	{ "U\tuser\thigh\t5", "Only sync requests have an id" },
	{ "U\tuser\tsync", "without an id" },
	{ "U\tuser\tsync\t0", "Invalid request id" },
	{ "U\tuser\tsync\t-1", "Invalid request id" },
	{ "U\tuser\tsync\t4294967296", "Invalid request id" },
	{ "U\tuser\tsync\tabc", "Invalid request id" },
};

static void test_replicator_notify_request_parse(void)
{
	struct replicator_notify_request req;
	const char *error;
	unsigned int i;

	test_begin("replicator notify request parse valid");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		test_assert_idx(replicator_notify_request_parse(
			t_strsplit_tabescaped(valid_requests[i].line),
			&req, &error) == 0, i);
		test_assert_strcmp_idx(req.username,
				       valid_requests[i].username, i);
		test_assert_idx(req.priority == valid_requests[i].priority, i);
		test_assert_cmp_idx(req.id, ==, valid_requests[i].id, i);
	}
	test_end();

	test_begin("replicator notify request parse invalid");
	for (i = 0; i < N_ELEMENTS(invalid_requests); i++) {
		error = NULL;
		test_assert_idx(replicator_notify_request_parse(
			t_strsplit_tabescaped(invalid_requests[i].line),
			&req, &error) == -1, i);
		test_assert_idx(error != NULL &&
				strstr(error, invalid_requests[i].error) != NULL,
				i);
	}
	test_end();
}

static void test_replicator_notify_request_roundtrip(void)
{
	struct replicator_notify_request req;
	string_t *str = t_str_new(128);
	const char *error;
	unsigned int i;

	test_begin("replicator notify request round trip");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		str_truncate(str, 0);
		replicator_notify_request_append(str,
						 valid_requests[i].username,
						 valid_requests[i].priority,
						 valid_requests[i].id);
		test_assert_idx(strchr(str_c(str), '\n') ==
				str_c(str) + str_len(str) - 1, i);
		str_truncate(str, str_len(str) - 1);
		test_assert_strcmp_idx(str_c(str), valid_requests[i].line, i);
		test_assert_idx(replicator_notify_request_parse(
			t_strsplit_tabescaped(str_c(str)), &req, &error) == 0,
			i);
		test_assert_strcmp_idx(req.username,
				       valid_requests[i].username, i);
		test_assert_cmp_idx(req.id, ==, valid_requests[i].id, i);
	}
	test_end();
}

static void test_replicator_notify_reply(void)
{
	static const struct {
		const char *line;
		int ret;
		enum replicator_notify_reply_type type;
		uint32_t id;
		bool success;
		uint64_t count;
	} tests[] = {
		{ "+\t1", 0, REPLICATOR_NOTIFY_REPLY_SYNC, 1, TRUE, 0 },
		{ "-\t42", 0, REPLICATOR_NOTIFY_REPLY_SYNC, 42, FALSE, 0 },
		{ "A\t0", 0, REPLICATOR_NOTIFY_REPLY_ACK, 0, FALSE, 0 },
		{ "A\t18446744073709551615", 0, REPLICATOR_NOTIFY_REPLY_ACK,
		  0, FALSE, 18446744073709551615ULL },
		{ "A\t18446744073709551616", -1, 0, 0, FALSE, 0 },
		{ "A\t-1", -1, 0, 0, FALSE, 0 },
		{ "A", -1, 0, 0, FALSE, 0 },
		{ "A\t1\t2", -1, 0, 0, FALSE, 0 },
		{ "+", -1, 0, 0, FALSE, 0 },
		{ "+\t0", -1, 0, 0, FALSE, 0 },
		{ "+\t1\t2", -1, 0, 0, FALSE, 0 },
		{ "OK\t1", -1, 0, 0, FALSE, 0 },
		{ "", -1, 0, 0, FALSE, 0 },
	};
	struct replicator_notify_reply reply;
	string_t *str = t_str_new(32);
	const char *error;
	unsigned int i;

	test_begin("replicator notify reply");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		int ret = replicator_notify_reply_parse(
			t_strsplit_tabescaped(tests[i].line), &reply, &error);
		test_assert_cmp_idx(ret, ==, tests[i].ret, i);
		if (ret != 0)
			continue;
		test_assert_idx(reply.type == tests[i].type, i);
		str_truncate(str, 0);
		if (reply.type == REPLICATOR_NOTIFY_REPLY_ACK) {
			test_assert_idx(reply.count == tests[i].count, i);
			replicator_notify_ack_append(str, reply.count);
		} else {
			test_assert_cmp_idx(reply.id, ==, tests[i].id, i);
			test_assert_idx(reply.success == tests[i].success, i);
			replicator_notify_reply_append(str, reply.id,
						       reply.success);
		}
		test_assert_strcmp_idx(str_c(str),
			t_strconcat(tests[i].line, "\n", NULL), i);
	}
	test_end();
}

static void test_replicator_notify_handshake(void)
{
	string_t *str = t_str_new(64);

	test_begin("replicator notify handshake");
	replicator_notify_handshake_append(str);
	/* Dovecot 2.3's aggregator sent 1.0: the same major version */
	test_assert_strcmp(str_c(str), "VERSION\treplicator-notify\t1\t1\n");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_notify_handshake,
		test_replicator_notify_request_parse,
		test_replicator_notify_request_roundtrip,
		test_replicator_notify_reply,
		NULL
	};
	return test_run(test_functions);
}

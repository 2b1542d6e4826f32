/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "test-common.h"
#include "replicator-admin-protocol.h"

static const struct {
	const char *line;
	struct replicator_admin_request req;
} valid_requests[] = {
	{ "STATUS", { .cmd = REPLICATOR_ADMIN_CMD_STATUS } },
	{ "STATUS\tuser*", { .cmd = REPLICATOR_ADMIN_CMD_STATUS,
			     .mask = "user*" } },
	{ "STATUS-DSYNC", { .cmd = REPLICATOR_ADMIN_CMD_STATUS_DSYNC } },
	{ "REPLICATE\tlow\t\tu?", { .cmd = REPLICATOR_ADMIN_CMD_REPLICATE,
				   .priority = REPLICATION_PRIORITY_LOW,
				   .mask = "u?" } },
	{ "REPLICATE\tsync\tf\tuser", {
		.cmd = REPLICATOR_ADMIN_CMD_REPLICATE,
		.priority = REPLICATION_PRIORITY_SYNC,
		.full_sync = TRUE, .mask = "user" } },
	{ "ADD\t*", { .cmd = REPLICATOR_ADMIN_CMD_ADD, .mask = "*" } },
	{ "REMOVE\ta\001tb", { .cmd = REPLICATOR_ADMIN_CMD_REMOVE,
			      .username = "a\tb" } },
	{ "NOTIFY\tuser\t\t", { .cmd = REPLICATOR_ADMIN_CMD_NOTIFY,
			       .username = "user", .state = "" } },
	{ "NOTIFY\tuser\tf\tAQAAAA==", {
		.cmd = REPLICATOR_ADMIN_CMD_NOTIFY, .username = "user",
		.full_sync = TRUE, .state = "AQAAAA==" } },
	{ "NOTIFY\tuser\t\tAQAAAA==\ta.example\001t", {
		.cmd = REPLICATOR_ADMIN_CMD_NOTIFY, .username = "user",
		.state = "AQAAAA==", .sender = "a.example\t" } },
	{ "INCOMING\tuser", { .cmd = REPLICATOR_ADMIN_CMD_INCOMING,
			     .username = "user" } },
};

static const struct {
	const char *line;
	const char *error;
} invalid_requests[] = {
	{ "", "Empty request" },
	{ "status", "Unknown command" },
	{ "DSYNC-STATUS", "Unknown command" },
	{ "STATUS\ta\tb", "Expected 0..1 arguments, got 2" },
	{ "STATUS\t", "Empty user mask" },
	{ "STATUS-DSYNC\tx", "Expected 0 arguments" },
	{ "REPLICATE\tlow\tuser", "Expected 3 arguments, got 2" },
	{ "REPLICATE\turgent\t\tuser", "Invalid priority" },
	{ "REPLICATE\thigh\t\t", "Empty user mask" },
	{ "ADD", "Expected 1 arguments, got 0" },
	{ "ADD\ta\tb", "Expected 1 arguments, got 2" },
	{ "REMOVE\t", "Empty username" },
	/* unescaped TAB in the username */
	{ "REMOVE\ta\tb", "Expected 1 arguments, got 2" },
	{ "NOTIFY\tuser\tf", "Expected 3..4 arguments, got 2" },
	{ "NOTIFY\tuser\tf\ts\tx\ty", "Expected 3..4 arguments, got 5" },
	{ "NOTIFY\t\t\t", "Empty username" },
	{ "INCOMING", "Expected 1 arguments, got 0" },
	{ "INCOMING\tuser\tx", "Expected 1 arguments, got 2" },
	{ "INCOMING\t", "Empty username" },
};

static void test_replicator_admin_request_parse(void)
{
	struct replicator_admin_request req;
	const char *error;
	unsigned int i;

	test_begin("replicator admin request parse valid");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		const struct replicator_admin_request *exp =
			&valid_requests[i].req;

		test_assert_idx(replicator_admin_request_parse(
			t_strsplit_tabescaped(valid_requests[i].line),
			&req, &error) == 0, i);
		test_assert_idx(req.cmd == exp->cmd, i);
		test_assert_strcmp_idx(req.mask, exp->mask, i);
		test_assert_strcmp_idx(req.username, exp->username, i);
		test_assert_idx(req.priority == exp->priority, i);
		test_assert_idx(req.full_sync == exp->full_sync, i);
		test_assert_strcmp_idx(req.state, exp->state, i);
		test_assert_strcmp_idx(req.sender, exp->sender, i);
	}
	test_end();

	test_begin("replicator admin request parse invalid");
	for (i = 0; i < N_ELEMENTS(invalid_requests); i++) {
		error = NULL;
		test_assert_idx(replicator_admin_request_parse(
			t_strsplit_tabescaped(invalid_requests[i].line),
			&req, &error) == -1, i);
		test_assert_idx(error != NULL &&
				strstr(error, invalid_requests[i].error) != NULL,
				i);
	}
	test_end();
}

static void test_replicator_admin_request_roundtrip(void)
{
	string_t *str = t_str_new(128);
	unsigned int i;

	test_begin("replicator admin request round trip");
	for (i = 0; i < N_ELEMENTS(valid_requests); i++) {
		str_truncate(str, 0);
		replicator_admin_request_append(str, &valid_requests[i].req);
		test_assert_strcmp_idx(str_c(str),
			t_strconcat(valid_requests[i].line, "\n", NULL), i);
	}
	test_end();
}

static int test_result_parse(const char *line, bool *success_r,
			     const char **text_r)
{
	const char *error;

	return replicator_admin_result_parse(t_strsplit_tabescaped(line),
					     success_r, text_r, &error);
}

static void test_replicator_admin_result(void)
{
	string_t *str = t_str_new(64);
	const char *text;
	bool success;

	test_begin("replicator admin result");
	replicator_admin_result_append(str, TRUE, "3");
	replicator_admin_result_append(str, FALSE, "User not found");
	replicator_admin_result_append(str, TRUE, NULL);
	replicator_admin_result_append(str, FALSE, "multi\nline");
	test_assert_strcmp(str_c(str),
		"+3\n-User not found\n+\n-multi\001nline\n");

	test_assert(test_result_parse("+3", &success, &text) == 0);
	test_assert(success);
	test_assert_strcmp(text, "3");
	test_assert(test_result_parse("-User not found", &success, &text) == 0);
	test_assert(!success);
	test_assert_strcmp(text, "User not found");
	test_assert(test_result_parse("-multi\001nline", &success, &text) == 0);
	test_assert_strcmp(text, "multi\nline");
	test_assert(test_result_parse("", &success, &text) == -1);
	test_assert(test_result_parse("OK", &success, &text) == -1);
	test_assert(test_result_parse("+1\t2", &success, &text) == -1);
	test_end();
}

static void test_replicator_admin_status_count(void)
{
	string_t *str = t_str_new(64);
	const char *label, *error;
	unsigned int count;

	test_begin("replicator admin status count");
	replicator_admin_status_count_append(
		str, REPLICATOR_ADMIN_STATUS_QUEUED_SYNC, 5);
	replicator_admin_status_count_append(
		str, REPLICATOR_ADMIN_STATUS_TOTAL_USERS, 1000);
	test_assert_strcmp(str_c(str), "Queued 'sync' requests\t5\n"
			   "Total number of known users\t1000\n");
	test_assert(replicator_admin_status_count_parse(
		t_strsplit_tabescaped("Queued 'low' requests\t7"),
		&label, &count, &error) == 0);
	test_assert_strcmp(label, "Queued 'low' requests");
	test_assert_ucmp(count, ==, 7);
	test_assert(replicator_admin_status_count_parse(
		t_strsplit_tabescaped("x\t-1"), &label, &count, &error) < 0);
	test_assert(replicator_admin_status_count_parse(
		t_strsplit_tabescaped("x"), &label, &count, &error) < 0);
	test_assert(replicator_admin_status_count_parse(
		t_strsplit_tabescaped("\t1"), &label, &count, &error) < 0);
	test_end();
}

static void test_replicator_admin_user_status(void)
{
	static const struct replicator_admin_user_status status = {
		.username = "us\ter",
		.priority = REPLICATION_PRIORITY_HIGH,
		.last_fast_sync = 1700000001,
		.last_full_sync = 1700000000,
		.last_sync_failed = TRUE,
		.last_successful_sync = 1690000000,
		.next_sync_secs = 300,
		.oldest_change = 1700000100,
		.last_error = "peer\tdown",
	};
	static const char *const invalid[] = {
		"user\thigh\t1\t2\t0\t3",
		"\thigh\t1\t2\t0\t3\t4",
		"user\thi\t1\t2\t0\t3\t4",
		"user\thigh\tx\t2\t0\t3\t4",
		"user\thigh\t1\t2\t2\t3\t4",
		"user\thigh\t1\t2\t0\t3\t-4",
	};
	struct replicator_admin_user_status parsed;
	string_t *str = t_str_new(128);
	const char *error;
	unsigned int i;

	test_begin("replicator admin user status");
	replicator_admin_user_status_append(str, &status);
	test_assert_strcmp(str_c(str), "us\001ter\thigh\t1700000001\t"
			   "1700000000\t1\t1690000000\t300\t1700000100\t"
			   "peer\001tdown\n");
	str_truncate(str, str_len(str) - 1);
	test_assert(replicator_admin_user_status_parse(
		t_strsplit_tabescaped(str_c(str)), &parsed, &error) == 0);
	test_assert_strcmp(parsed.username, status.username);
	test_assert(parsed.priority == status.priority);
	test_assert(parsed.last_fast_sync == status.last_fast_sync);
	test_assert(parsed.last_full_sync == status.last_full_sync);
	test_assert(parsed.last_sync_failed == status.last_sync_failed);
	test_assert(parsed.last_successful_sync ==
		    status.last_successful_sync);
	test_assert_ucmp(parsed.next_sync_secs, ==, status.next_sync_secs);
	test_assert(parsed.oldest_change == status.oldest_change);
	test_assert_strcmp(parsed.last_error, status.last_error);

	/* a 2.3 server's row */
	test_assert(replicator_admin_user_status_parse(t_strsplit_tabescaped(
		"user\tnone\t0\t0\t0\t0\t0"), &parsed, &error) == 0);
	test_assert(parsed.oldest_change == 0);
	test_assert_strcmp(parsed.last_error, "");
	/* fields added by a later version are ignored */
	test_assert(replicator_admin_user_status_parse(t_strsplit_tabescaped(
		"user\tnone\t0\t0\t0\t0\t0\t0\t\tnew"), &parsed,
		&error) == 0);
	test_assert(replicator_admin_user_status_parse(t_strsplit_tabescaped(
		"user\tnone\t0\t0\t0\t0\t0\tbad"), &parsed,
		&error) == -1);
	for (i = 0; i < N_ELEMENTS(invalid); i++) {
		test_assert_idx(replicator_admin_user_status_parse(
			t_strsplit_tabescaped(invalid[i]), &parsed,
			&error) == -1, i);
	}
	test_end();
}

static void test_replicator_admin_dsync_status(void)
{
	static const struct replicator_admin_dsync_status busy = {
		.username = "user", .sync_type = "incremental",
		.status = "Waiting for dsync to finish",
	}, idle = {
		.username = NULL, .sync_type = "-", .status = "Idle",
	};
	struct replicator_admin_dsync_status parsed;
	string_t *str = t_str_new(128);
	const char *error;

	test_begin("replicator admin dsync status");
	replicator_admin_dsync_status_append(str, &busy);
	replicator_admin_dsync_status_append(str, &idle);
	replicator_admin_list_end_append(str);
	test_assert_strcmp(str_c(str),
		"user\tincremental\tWaiting for dsync to finish\n"
		"\t-\tIdle\n\n");
	test_assert(replicator_admin_dsync_status_parse(
		t_strsplit_tabescaped("\t-\tIdle"), &parsed, &error) == 0);
	test_assert_strcmp(parsed.username, "");
	test_assert_strcmp(parsed.status, "Idle");
	test_assert(replicator_admin_dsync_status_parse(
		t_strsplit_tabescaped("user\tfull"), &parsed, &error) < 0);
	test_assert(replicator_admin_is_list_end(t_strsplit_tabescaped("")));
	test_assert(!replicator_admin_is_list_end(
		t_strsplit_tabescaped("\t-\tIdle")));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_admin_request_parse,
		test_replicator_admin_request_roundtrip,
		test_replicator_admin_result,
		test_replicator_admin_status_count,
		test_replicator_admin_user_status,
		test_replicator_admin_dsync_status,
		NULL
	};
	return test_run(test_functions);
}

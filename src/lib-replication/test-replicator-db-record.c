/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "test-common.h"
#include "replicator-db-record.h"

static void test_replicator_db_record_valid(void)
{
	struct replicator_db_record rec;
	const char *error;

	test_begin("replicator db record parse valid");
	/* a line as Dovecot 2.3 writes it */
	test_assert(replicator_db_record_parse(t_strsplit_tabescaped(
		"user@example.com\t2\t1700000100\t1700000050\t1699990000\t0\t"
		"AQAAAGJhc2U2NA==\t1700000060"), &rec, &error) == 0);
	test_assert_strcmp(rec.username, "user@example.com");
	test_assert(rec.priority == REPLICATION_PRIORITY_HIGH);
	test_assert(rec.last_update == 1700000100);
	test_assert(rec.last_fast_sync == 1700000050);
	test_assert(rec.last_full_sync == 1699990000);
	test_assert(!rec.last_sync_failed);
	test_assert_strcmp(rec.state, "AQAAAGJhc2U2NA==");
	test_assert(rec.last_successful_sync == 1700000060);
	test_assert_strcmp(rec.replica, "");

	/* our own line, with the replica */
	test_assert(replicator_db_record_parse(t_strsplit_tabescaped(
		"u\t0\t1\t2\t3\t0\tst\t4\ttcp:replica:12345"),
		&rec, &error) == 0);
	test_assert_strcmp(rec.replica, "tcp:replica:12345");
	test_assert(!rec.state_stale);
	test_assert(replicator_db_record_parse(t_strsplit_tabescaped(
		"u\t0\t1\t2\t3\t0\tst\t4\ttcp:replica:12345\t1"),
		&rec, &error) == 0);
	test_assert(rec.state_stale);

	/* older 2.3 files have no last successful sync */
	test_assert(replicator_db_record_parse(t_strsplit_tabescaped(
		"a\001tb\t0\t1\t2\t3\t1\t"), &rec, &error) == 0);
	test_assert_strcmp(rec.username, "a\tb");
	test_assert(rec.last_sync_failed);
	test_assert_strcmp(rec.state, "");
	test_assert(rec.last_successful_sync == 0);
	test_end();
}

static void test_replicator_db_record_invalid(void)
{
	static const struct {
		const char *line;
		const char *error;
	} tests[] = {
		{ "", "Expected 7 to 10 fields, got 0" },
		{ "user\t0\t1\t2\t3\t0", "got 6" },
		{ "user\t0\t1\t2\t3\t0\tstate\t4\tr\t0\textra", "got 11" },
		{ "user\t0\t1\t2\t3\t0\tstate\t4\tr\tx", "Invalid state stale" },
		{ "\t0\t1\t2\t3\t0\tstate", "Empty username" },
		{ "user\t4\t1\t2\t3\t0\tstate", "Invalid priority" },
		{ "user\tlow\t1\t2\t3\t0\tstate", "Invalid priority" },
		{ "user\t0\tx\t2\t3\t0\tstate", "Invalid last update" },
		{ "user\t0\t1\t-2\t3\t0\tstate", "Invalid last fast sync" },
		{ "user\t0\t1\t2\t\t0\tstate", "Invalid last full sync" },
		{ "user\t0\t1\t2\t3\tyes\tstate", "Invalid failed flag" },
		{ "user\t0\t1\t2\t3\t0\tstate\tz", "Invalid last successful" },
	};
	struct replicator_db_record rec;
	const char *error;
	unsigned int i;

	test_begin("replicator db record parse invalid");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		error = NULL;
		test_assert_idx(replicator_db_record_parse(
			t_strsplit_tabescaped(tests[i].line), &rec,
			&error) == -1, i);
		test_assert_idx(error != NULL &&
				strstr(error, tests[i].error) != NULL, i);
	}
	test_end();
}

static void test_replicator_db_record_roundtrip(void)
{
	static const struct replicator_db_record recs[] = {
		{ .username = "user", .priority = REPLICATION_PRIORITY_SYNC,
		  .last_update = 10, .last_fast_sync = 9,
		  .last_full_sync = 8, .last_successful_sync = 7,
		  .last_sync_failed = TRUE, .state = "c3RhdGU=",
		  .replica = "tcp:10.0.0.1:12345", .state_stale = TRUE },
		{ .username = "tab\there\nlf\001esc",
		  .priority = REPLICATION_PRIORITY_NONE, .state = "",
		  .replica = "" },
	};
	struct replicator_db_record rec;
	string_t *str = t_str_new(128);
	const char *error;
	unsigned int i;

	test_begin("replicator db record round trip");
	for (i = 0; i < N_ELEMENTS(recs); i++) {
		str_truncate(str, 0);
		replicator_db_record_append(str, &recs[i]);
		test_assert_idx(strchr(str_c(str), '\n') ==
				str_c(str) + str_len(str) - 1, i);
		/* the stale flag only when set */
		test_assert_idx(str_array_length(t_strsplit(str_c(str), "\t")) ==
				(recs[i].state_stale ? 10U : 9U), i);
		str_truncate(str, str_len(str) - 1);
		test_assert_idx(replicator_db_record_parse(
			t_strsplit_tabescaped(str_c(str)), &rec,
			&error) == 0, i);
		test_assert_strcmp_idx(rec.username, recs[i].username, i);
		test_assert_idx(rec.priority == recs[i].priority, i);
		test_assert_idx(rec.last_update == recs[i].last_update, i);
		test_assert_idx(rec.last_fast_sync == recs[i].last_fast_sync, i);
		test_assert_idx(rec.last_full_sync == recs[i].last_full_sync, i);
		test_assert_idx(rec.last_successful_sync ==
				recs[i].last_successful_sync, i);
		test_assert_idx(rec.last_sync_failed ==
				recs[i].last_sync_failed, i);
		test_assert_strcmp_idx(rec.state, recs[i].state, i);
		test_assert_strcmp_idx(rec.replica, recs[i].replica, i);
		test_assert_idx(rec.state_stale == recs[i].state_stale, i);
	}
	test_end();
}

static void test_replicator_journal_line(void)
{
	const struct replicator_db_record rec = {
		.username = "a\tb", .priority = REPLICATION_PRIORITY_HIGH,
		.last_update = 5, .last_fast_sync = 6, .last_full_sync = 7,
		.last_successful_sync = 8, .state = "c3Q=",
		.replica = "tcp:r",
	};
	struct replicator_db_record rec2;
	string_t *str = t_str_new(128);
	const char *error;
	bool removed;

	test_begin("replicator journal line");
	replicator_journal_user_append(str, &rec);
	test_assert(str_c(str)[0] == '+');
	str_truncate(str, str_len(str) - 1);
	test_assert(replicator_journal_line_parse(str_c(str), &removed, &rec2,
						  &error) == 0);
	test_assert(!removed);
	test_assert_strcmp(rec2.username, "a\tb");
	test_assert(rec2.priority == REPLICATION_PRIORITY_HIGH);
	test_assert(rec2.last_successful_sync == 8);
	test_assert_strcmp(rec2.state, "c3Q=");
	test_assert_strcmp(rec2.replica, "tcp:r");

	str_truncate(str, 0);
	replicator_journal_remove_append(str, "a\tb");
	test_assert_strcmp(str_c(str), "-a\001tb\n");
	str_truncate(str, str_len(str) - 1);
	test_assert(replicator_journal_line_parse(str_c(str), &removed, &rec2,
						  &error) == 0);
	test_assert(removed);
	test_assert_strcmp(rec2.username, "a\tb");

	test_assert(replicator_journal_line_parse("", &removed, &rec2,
						  &error) < 0);
	test_assert(replicator_journal_line_parse("*user", &removed, &rec2,
						  &error) < 0);
	test_assert(replicator_journal_line_parse("-", &removed, &rec2,
						  &error) < 0);
	test_assert(replicator_journal_line_parse("-a\tb", &removed, &rec2,
						  &error) < 0);
	test_assert(replicator_journal_line_parse("+user\t1", &removed,
						  &rec2, &error) < 0);
	test_end();
}

static void test_replicator_peer_record(void)
{
	string_t *str = t_str_new(64);
	const char *replica, *server_id, *error;

	test_begin("replicator peer record");
	replicator_peer_record_append(str, "tcp:b\t1:12345", "b.example");
	test_assert_strcmp(str_c(str), "tcp:b\001t1:12345\tb.example\n");
	str_truncate(str, str_len(str) - 1);
	test_assert(replicator_peer_record_parse(
		t_strsplit_tabescaped(str_c(str)), &replica, &server_id,
		&error) == 0);
	test_assert_strcmp(replica, "tcp:b\t1:12345");
	test_assert_strcmp(server_id, "b.example");
	test_assert(replicator_peer_record_parse(
		t_strsplit_tabescaped("tcp:b"), &replica, &server_id,
		&error) < 0);
	test_assert(replicator_peer_record_parse(
		t_strsplit_tabescaped("tcp:b\t"), &replica, &server_id,
		&error) < 0);
	test_assert(replicator_peer_record_parse(
		t_strsplit_tabescaped("a\tb\tc"), &replica, &server_id,
		&error) < 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_db_record_valid,
		test_replicator_db_record_invalid,
		test_replicator_db_record_roundtrip,
		test_replicator_journal_line,
		test_replicator_peer_record,
		NULL
	};
	return test_run(test_functions);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-admin-protocol.h"

/* Replies of the replicator-doveadm protocol, as doveadm reads them:
   results, STATUS summary and user rows, STATUS-DSYNC rows and the end of
   a list. Whatever parses is encoded again and must parse to the same. */

static void fuzz_result(const char *const *args)
{
	string_t *encoded = t_str_new(128);
	const char *text, *text2, *error;
	bool success, success2;

	if (replicator_admin_result_parse(args, &success, &text, &error) < 0)
		return;
	replicator_admin_result_append(encoded, success, text);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_admin_result_parse(args, &success2, &text2,
					  &error) < 0)
		i_panic("Encoded result doesn't parse: %s", error);
	i_assert(success == success2);
	i_assert(strcmp(text, text2) == 0);
}

static void fuzz_status_count(const char *const *args)
{
	string_t *encoded = t_str_new(128);
	const char *label, *label2, *error;
	unsigned int i, count, count2;

	if (replicator_admin_status_count_parse(args, &label, &count,
						&error) < 0)
		return;
	i_assert(label[0] != '\0');
	/* a known counter is written by the server's encoder, an unknown
	   one (a newer server's) as it came */
	for (i = 0; i < REPLICATOR_ADMIN_STATUS_COUNTER_COUNT; i++) {
		if (strcmp(label, replicator_admin_status_counter_label(i)) == 0)
			break;
	}
	if (i < REPLICATOR_ADMIN_STATUS_COUNTER_COUNT)
		replicator_admin_status_count_append(encoded, i, count);
	else {
		str_append_tabescaped(encoded, label);
		str_printfa(encoded, "\t%u\n", count);
	}
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_admin_status_count_parse(args, &label2, &count2,
						&error) < 0)
		i_panic("Encoded status row doesn't parse: %s", error);
	i_assert(strcmp(label, label2) == 0);
	i_assert(count == count2);
}

static void fuzz_user_status(const char *const *args)
{
	struct replicator_admin_user_status st, st2;
	string_t *encoded = t_str_new(256), *encoded2 = t_str_new(256);
	const char *error;

	if (replicator_admin_user_status_parse(args, &st, &error) < 0)
		return;
	i_assert(st.last_error != NULL);
	replicator_admin_user_status_append(encoded, &st);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_admin_user_status_parse(args, &st2, &error) < 0)
		i_panic("Encoded user status doesn't parse: %s", error);
	i_assert(strcmp(st.username, st2.username) == 0);
	i_assert(st.priority == st2.priority);
	i_assert(st.last_fast_sync == st2.last_fast_sync);
	i_assert(st.last_full_sync == st2.last_full_sync);
	i_assert(st.last_sync_failed == st2.last_sync_failed);
	i_assert(st.last_successful_sync == st2.last_successful_sync);
	i_assert(st.next_sync_secs == st2.next_sync_secs);
	i_assert(st.oldest_change == st2.oldest_change);
	i_assert(strcmp(st.last_error, st2.last_error) == 0);
	replicator_admin_user_status_append(encoded2, &st2);
	i_assert(str_equals(encoded, encoded2));
}

static void fuzz_dsync_status(const char *const *args)
{
	struct replicator_admin_dsync_status st, st2;
	string_t *encoded = t_str_new(256);
	const char *error;

	if (replicator_admin_dsync_status_parse(args, &st, &error) < 0)
		return;
	replicator_admin_dsync_status_append(encoded, &st);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_admin_dsync_status_parse(args, &st2, &error) < 0)
		i_panic("Encoded dsync status doesn't parse: %s", error);
	i_assert(strcmp(st.username, st2.username) == 0);
	i_assert(strcmp(st.sync_type, st2.sync_type) == 0);
	i_assert(strcmp(st.status, st2.status) == 0);
}

static void fuzz_list_end(const char *const *args)
{
	string_t *encoded = t_str_new(4);

	if (!replicator_admin_is_list_end(args))
		return;
	replicator_admin_list_end_append(encoded);
	i_assert(replicator_admin_is_list_end(
		fuzz_replication_encoded_args(encoded)));
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);
	const char *const *args;

	for (; *lines != NULL; lines++) {
		args = fuzz_replication_args(*lines);
		fuzz_result(args);
		fuzz_status_count(args);
		fuzz_user_status(args);
		fuzz_dsync_status(args);
		fuzz_list_end(args);
	}
}
FUZZ_END

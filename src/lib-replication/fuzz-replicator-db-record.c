/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-db-record.h"

/* Lines of the replicator state file, of its journal and of the peers
   file. Whatever parses is written again and must read back the same. */

static void
record_assert_equal(const struct replicator_db_record *a,
		    const struct replicator_db_record *b)
{
	i_assert(strcmp(a->username, b->username) == 0);
	i_assert(a->priority == b->priority);
	i_assert(a->last_update == b->last_update);
	i_assert(a->last_fast_sync == b->last_fast_sync);
	i_assert(a->last_full_sync == b->last_full_sync);
	i_assert(a->last_successful_sync == b->last_successful_sync);
	i_assert(a->last_sync_failed == b->last_sync_failed);
	i_assert(strcmp(a->state, b->state) == 0);
	i_assert(strcmp(a->replica, b->replica) == 0);
}

static void fuzz_record(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replicator_db_record rec, rec2;
	string_t *encoded = t_str_new(256), *encoded2 = t_str_new(256);
	const char *error;

	if (replicator_db_record_parse(args, &rec, &error) < 0)
		return;
	i_assert(rec.priority < REPLICATION_PRIORITY_COUNT);
	i_assert(rec.state != NULL && rec.replica != NULL);
	replicator_db_record_append(encoded, &rec);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_db_record_parse(args, &rec2, &error) < 0)
		i_panic("Written record doesn't parse: %s", error);
	record_assert_equal(&rec, &rec2);
	replicator_db_record_append(encoded2, &rec2);
	i_assert(str_equals(encoded, encoded2));
}

static void fuzz_journal_line(const char *line)
{
	struct replicator_db_record rec, rec2;
	string_t *encoded = t_str_new(256), *encoded2 = t_str_new(256);
	const char *error;
	bool removed, removed2;

	if (replicator_journal_line_parse(line, &removed, &rec, &error) < 0)
		return;
	if (removed)
		replicator_journal_remove_append(encoded, rec.username);
	else
		replicator_journal_user_append(encoded, &rec);
	(void)fuzz_replication_encoded_args(encoded);
	if (replicator_journal_line_parse(t_strndup(str_data(encoded),
						    str_len(encoded) - 1),
					  &removed2, &rec2, &error) < 0)
		i_panic("Written journal line doesn't parse: %s", error);
	i_assert(removed == removed2);
	if (removed) {
		i_assert(strcmp(rec.username, rec2.username) == 0);
		replicator_journal_remove_append(encoded2, rec2.username);
	} else {
		record_assert_equal(&rec, &rec2);
		replicator_journal_user_append(encoded2, &rec2);
	}
	i_assert(str_equals(encoded, encoded2));
}

static void fuzz_peer_record(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	const char *replica, *server_id, *replica2, *server_id2, *error;
	string_t *encoded = t_str_new(128);

	if (replicator_peer_record_parse(args, &replica, &server_id,
					 &error) < 0)
		return;
	replicator_peer_record_append(encoded, replica, server_id);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_peer_record_parse(args, &replica2, &server_id2,
					 &error) < 0)
		i_panic("Written peer record doesn't parse: %s", error);
	i_assert(strcmp(replica, replica2) == 0);
	i_assert(strcmp(server_id, server_id2) == 0);
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++) {
		fuzz_record(*lines);
		fuzz_journal_line(*lines);
		fuzz_peer_record(*lines);
	}
}
FUZZ_END

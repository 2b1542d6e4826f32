/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-db-record.h"

/* Lines of the replicator state file. Whatever parses is written again and
   must read back the same. */

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

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++)
		fuzz_record(*lines);
}
FUZZ_END

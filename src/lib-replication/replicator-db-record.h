#ifndef REPLICATOR_DB_RECORD_H
#define REPLICATOR_DB_RECORD_H

#include "replication-common.h"

/* One user's line in the replicator state file: Dovecot 2.3's
   replicator.db format (fields tab-escaped) plus the replica:
   <username> <priority 0-3> <last update> <last fast sync> <last full sync>
   <last sync failed: 0|1> <dsync state> [<last successful sync> [<replica>]]
   Times are UNIX timestamps, 0 for never. Older 2.3 files lack the last
   two fields, 2.3 files the replica; they are read as 0 and "". 2.3 reads
   our lines too: it ignores the fields it doesn't know. */
struct replicator_db_record {
	const char *username;
	enum replication_priority priority;
	time_t last_update;
	time_t last_fast_sync;
	time_t last_full_sync;
	time_t last_successful_sync;
	bool last_sync_failed;
	/* dsync state, "" if none */
	const char *state;
	/* the replica the state belongs to, "" if unknown */
	const char *replica;
};

/* Append the record as one line (with LF). */
void replicator_db_record_append(string_t *dest,
				 const struct replicator_db_record *rec);
/* Parse the tab-split fields of one line. Returns 0 on success, -1 with
   error_r set. The record points into args. */
int replicator_db_record_parse(const char *const *args,
			       struct replicator_db_record *rec_r,
			       const char **error_r);

#endif

#ifndef REPLICATOR_DB_RECORD_H
#define REPLICATOR_DB_RECORD_H

#include "replication-common.h"

/* One user's line in the replicator state file: Dovecot 2.3's
   replicator.db format (fields tab-escaped) plus the replica and whether
   the state is stale:
   <username> <priority 0-3> <last update> <last fast sync> <last full sync>
   <last sync failed: 0|1> <dsync state> [<last successful sync> [<replica>
   [<state stale: 0|1>]]]
   Times are UNIX timestamps, 0 for never. Older 2.3 files lack the last
   two fields, 2.3 files the last two; they are read as 0, "" and 0. The
   last field is written only when it is 1. 2.3 reads our lines too: it
   ignores the fields it doesn't know. */
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
	/* the replica may have synced the user since the state was made:
	   the replica's is newer */
	bool state_stale;
};

/* Append the record as one line (with LF). */
void replicator_db_record_append(string_t *dest,
				 const struct replicator_db_record *rec);
/* Parse the tab-split fields of one line. Returns 0 on success, -1 with
   error_r set. The record points into args. */
int replicator_db_record_parse(const char *const *args,
			       struct replicator_db_record *rec_r,
			       const char **error_r);

/* One line of the state journal (REPLICATOR_JOURNAL_FILE_NAME in
   state_dir), which records the users changed since replicator.db was last
   written, oldest first:
     "+" <replicator_db_record line>   the user's saved fields now
     "-" <username>                    the user was removed
   A line without its LF at the end of the file is a write cut short. */
#define REPLICATOR_JOURNAL_FILE_NAME "replicator.db.log"

/* Append a user's journal line (with LF). */
void replicator_journal_user_append(string_t *dest,
				    const struct replicator_db_record *rec);
/* Append a removal's journal line (with LF). */
void replicator_journal_remove_append(string_t *dest, const char *username);
/* Parse one journal line (without LF). Returns 0 with removed_r FALSE and
   the record, or removed_r TRUE and only rec_r->username set; -1 with
   error_r set. The record points into the line's data stack copy. */
int replicator_journal_line_parse(const char *line, bool *removed_r,
				  struct replicator_db_record *rec_r,
				  const char **error_r);

/* One line of the replicator's peers file (REPLICATOR_PEERS_FILE_NAME in
   state_dir): <replica> <server id>
   the server id (REPLICATION_SERVER_ID) that a replica string was found to
   reach, so that states handed over by it are adopted after a restart
   too. */
#define REPLICATOR_PEERS_FILE_NAME "replicator-peers"

/* Append a peers file line (with LF). */
void replicator_peer_record_append(string_t *dest, const char *replica,
				   const char *server_id);
/* Parse the tab-split fields of a peers file line. Returns 0 on success,
   -1 with error_r set. */
int replicator_peer_record_parse(const char *const *args,
				 const char **replica_r,
				 const char **server_id_r,
				 const char **error_r);

#endif

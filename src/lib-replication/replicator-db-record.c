/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "replicator-db-record.h"

void replicator_db_record_append(string_t *dest,
				 const struct replicator_db_record *rec)
{
	str_append_tabescaped(dest, rec->username);
	str_printfa(dest, "\t%d\t%lld\t%lld\t%lld\t%c\t", (int)rec->priority,
		    (long long)rec->last_update,
		    (long long)rec->last_fast_sync,
		    (long long)rec->last_full_sync,
		    rec->last_sync_failed ? '1' : '0');
	str_append_tabescaped(dest, rec->state == NULL ? "" : rec->state);
	str_printfa(dest, "\t%lld\t", (long long)rec->last_successful_sync);
	str_append_tabescaped(dest, rec->replica == NULL ? "" : rec->replica);
	/* only when set: a file without stale users stays readable by
	   versions that don't know the field */
	if (rec->state_stale)
		str_append(dest, "\t1");
	str_append_c(dest, '\n');
}

int replicator_db_record_parse(const char *const *args,
			       struct replicator_db_record *rec_r,
			       const char **error_r)
{
	unsigned int count = str_array_length(args), prio;

	i_zero(rec_r);
	if (count < 7 || count > 10) {
		*error_r = t_strdup_printf("Expected 7 to 10 fields, got %u",
					   count);
		return -1;
	}
	if (replication_username_verify(args[0], error_r) < 0)
		return -1;
	rec_r->username = args[0];
	if (str_to_uint(args[1], &prio) < 0 ||
	    prio >= REPLICATION_PRIORITY_COUNT) {
		*error_r = t_strdup_printf("Invalid priority '%s'",
					   str_sanitize(args[1], 32));
		return -1;
	}
	rec_r->priority = prio;
	if (replication_timestamp_parse(args[2], "last update",
					&rec_r->last_update, error_r) < 0 ||
	    replication_timestamp_parse(args[3], "last fast sync",
					&rec_r->last_fast_sync, error_r) < 0 ||
	    replication_timestamp_parse(args[4], "last full sync",
					&rec_r->last_full_sync, error_r) < 0 ||
	    replication_bool_parse(args[5], "failed flag",
				   &rec_r->last_sync_failed, error_r) < 0)
		return -1;
	rec_r->state = args[6];
	rec_r->replica = count >= 9 ? args[8] : "";
	if (count >= 8 &&
	    replication_timestamp_parse(args[7], "last successful sync",
					&rec_r->last_successful_sync,
					error_r) < 0)
		return -1;
	if (count >= 10 &&
	    replication_bool_parse(args[9], "state stale flag",
				   &rec_r->state_stale, error_r) < 0)
		return -1;
	return 0;
}

#define REPLICATOR_JOURNAL_OP_USER '+'
#define REPLICATOR_JOURNAL_OP_REMOVE '-'

void replicator_journal_user_append(string_t *dest,
				    const struct replicator_db_record *rec)
{
	str_append_c(dest, REPLICATOR_JOURNAL_OP_USER);
	replicator_db_record_append(dest, rec);
}

void replicator_journal_remove_append(string_t *dest, const char *username)
{
	str_append_c(dest, REPLICATOR_JOURNAL_OP_REMOVE);
	str_append_tabescaped(dest, username);
	str_append_c(dest, '\n');
}

int replicator_journal_line_parse(const char *line, bool *removed_r,
				  struct replicator_db_record *rec_r,
				  const char **error_r)
{
	const char *const *args;

	i_zero(rec_r);
	*removed_r = FALSE;
	switch (line[0]) {
	case REPLICATOR_JOURNAL_OP_USER:
		return replicator_db_record_parse(
			t_strsplit_tabescaped(line + 1), rec_r, error_r);
	case REPLICATOR_JOURNAL_OP_REMOVE:
		args = t_strsplit_tabescaped(line + 1);
		if (str_array_length(args) != 1) {
			*error_r = "Removal: Expected 1 field";
			return -1;
		}
		if (replication_username_verify(args[0], error_r) < 0)
			return -1;
		rec_r->username = args[0];
		*removed_r = TRUE;
		return 0;
	default:
		*error_r = t_strdup_printf("Unknown record type '%s'",
					   str_sanitize(t_strcut(line, '\t'),
							8));
		return -1;
	}
}

void replicator_peer_record_append(string_t *dest, const char *replica,
				   const char *server_id)
{
	str_append_tabescaped(dest, replica);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, server_id);
	str_append_c(dest, '\n');
}

int replicator_peer_record_parse(const char *const *args,
				 const char **replica_r,
				 const char **server_id_r,
				 const char **error_r)
{
	if (str_array_length(args) != 2) {
		*error_r = "Expected 2 fields";
		return -1;
	}
	if (args[0][0] == '\0' || args[1][0] == '\0') {
		*error_r = "Empty field";
		return -1;
	}
	*replica_r = args[0];
	*server_id_r = args[1];
	return 0;
}

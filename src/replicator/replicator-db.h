#ifndef REPLICATOR_DB_H
#define REPLICATOR_DB_H

/* The replicator's state file: a replicator_db_record line per user
   (replicator-db-record.h), readable from Dovecot 2.3's replicator.db. */

struct replicator_queue;

#define REPLICATOR_DB_FILE_NAME "replicator.db"

/* Add the users in the file to the queue. A record replaces a user already
   in the queue unless that one was updated later. A missing file is fine.
   Corrupt lines are logged to event and skipped. Returns 0 on success, -1
   with error_r set if the file couldn't be read. */
int replicator_db_import(struct replicator_queue *queue, const char *path,
			 struct event *event, const char **error_r);
/* Write every user to the file, atomically: a crash leaves either the old
   or the new file (temp file, fsync, rename). Returns 0 on success, -1
   with error_r set. */
int replicator_db_export(struct replicator_queue *queue, const char *path,
			 const char **error_r);

#endif

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

/* Replace the file at path with data, atomically and durably (temp file,
   fdatasync, rename, directory fsync). Returns 0, or -1 with error_r
   set. */
int replicator_db_file_replace(const char *path, const void *data,
			       size_t size, const char **error_r);

/* Read the peers file (REPLICATOR_PEERS_FILE_NAME): the callback gets each
   replica and the server id it answered with. Corrupt lines are logged to
   event and skipped. Returns 0 (also for a missing file), or -1 if the file
   couldn't be read (logged). */
typedef void replicator_db_peer_callback_t(const char *replica,
					   const char *server_id,
					   void *context);
int replicator_db_peers_read(const char *path, struct event *event,
			     replicator_db_peer_callback_t *callback,
			     void *context);

/* The state in state_dir: replicator.db, plus a journal
   (REPLICATOR_JOURNAL_FILE_NAME) of the users changed since it was written,
   so that a change costs one appended line, not a rewrite of every user.
   The journal is compacted into replicator.db at start-up, at shutdown and
   when it has grown larger than replicator.db (1 MiB at least). */
struct replicator_db *
replicator_db_init(struct replicator_queue *queue, const char *dir,
		   struct event *event);
/* Compacts nothing: call replicator_db_compact() first to do that. */
void replicator_db_deinit(struct replicator_db **db);

/* Import replicator.db, apply the journal (corrupt lines and an incomplete
   last line are skipped with a warning) and compact. Returns 0, or -1 with
   error_r set if replicator.db couldn't be read. */
int replicator_db_load(struct replicator_db *db, const char **error_r);
/* Append the users changed since the last write to the journal with one
   write(), without waiting for the disk: enough for a crash of the
   process. Returns 0, or -1 with error_r set: they stay changed, to be
   written by the next call. */
int replicator_db_write(struct replicator_db *db, const char **error_r);
/* Write as above, and fdatasync the journal. Returns 0 once everything
   is on disk, -1 with error_r set. */
int replicator_db_flush(struct replicator_db *db, const char **error_r);
/* Write every user to replicator.db and empty the journal. Returns 0, or
   -1 with error_r set. */
int replicator_db_compact(struct replicator_db *db, const char **error_r);

#endif

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "strescape.h"
#include "istream.h"
#include "ostream.h"
#include "write-full.h"
#include "replicator-db-record.h"
#include "replicator-queue.h"
#include "replicator-db.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* state lines can be long: ~60 bytes per mailbox */
#define REPLICATOR_DB_MAX_LINE_LENGTH (16 * 1024 * 1024)

static void
replicator_db_import_record(struct replicator_queue *queue,
			    const struct replicator_db_record *rec)
{
	struct replicator_user *user;

	user = replicator_queue_lookup(queue, rec->username);
	if (user != NULL &&
	    (user->last_update > rec->last_update ||
	     (user->last_update == rec->last_update &&
	      user->priority > rec->priority)))
		return;
	if (user == NULL)
		user = replicator_queue_get(queue, rec->username);
	if (user->popped)
		return;
	replicator_queue_import(queue, user, rec);
}

int replicator_db_import(struct replicator_queue *queue, const char *path,
			 struct event *event, const char **error_r)
{
	struct istream *input;
	struct replicator_db_record rec;
	const char *line, *error;
	unsigned int line_num = 0, count = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	input = i_stream_create_fd_autoclose(&fd, REPLICATOR_DB_MAX_LINE_LENGTH);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		line_num++;
		T_BEGIN {
			if (replicator_db_record_parse(
				t_strsplit_tabescaped(line), &rec, &error) < 0) {
				e_error(event, "%s line %u: Corrupted record "
					"skipped: %s", path, line_num, error);
			} else {
				replicator_db_import_record(queue, &rec);
				count++;
			}
		} T_END;
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s", path,
					   i_stream_get_error(input));
		ret = -1;
	}
	i_stream_destroy(&input);
	e_debug(event, "Imported %u users from %s", count, path);
	return ret;
}

static void
replicator_db_user_record(const struct replicator_user *user,
			  struct replicator_db_record *rec_r)
{
	i_zero(rec_r);
	rec_r->username = user->username;
	rec_r->priority = replicator_user_saved_priority(user);
	rec_r->last_update = user->last_update;
	rec_r->last_fast_sync = user->last_fast_sync;
	rec_r->last_full_sync = user->last_full_sync;
	rec_r->last_successful_sync = user->last_successful_sync;
	rec_r->last_sync_failed = user->last_sync_failed;
	rec_r->state = user->state;
	rec_r->replica = user->replica;
	rec_r->state_stale = user->state_stale || user->awaiting_handover;
}

static int replicator_db_fsync_dir(const char *path, const char **error_r)
{
	const char *p = strrchr(path, '/');
	const char *dir = p == NULL ? "." : t_strdup_until(path, p);
	int fd;

	fd = open(dir, O_RDONLY);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", dir);
		return -1;
	}
	if (fsync(fd) < 0) {
		*error_r = t_strdup_printf("fsync(%s) failed: %m", dir);
		i_close_fd(&fd);
		return -1;
	}
	i_close_fd(&fd);
	return 0;
}

/* Make the written temp file path's content: fdatasync, close, rename,
   and fsync the directory, so that the rename itself is on disk (before,
   say, the journal is emptied). The temp file is gone on failure. */
static int
replicator_db_file_commit(int *fd, const char *temp_path, const char *path,
			  const char **error_r)
{
	if (fdatasync(*fd) < 0) {
		*error_r = t_strdup_printf("fdatasync(%s) failed: %m",
					   temp_path);
		i_close_fd(fd);
		i_unlink(temp_path);
		return -1;
	}
	if (close(*fd) < 0) {
		*fd = -1;
		*error_r = t_strdup_printf("close(%s) failed: %m", temp_path);
		i_unlink(temp_path);
		return -1;
	}
	*fd = -1;
	if (rename(temp_path, path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   temp_path, path);
		i_unlink(temp_path);
		return -1;
	}
	return replicator_db_fsync_dir(path, error_r);
}

int replicator_db_export(struct replicator_queue *queue, const char *path,
			 const char **error_r)
{
	struct replicator_queue_iter *iter;
	struct replicator_user *user;
	struct ostream *output;
	const char *temp_path = t_strconcat(path, ".tmp", NULL);
	string_t *str = t_str_new(256);
	int fd;

	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	output = o_stream_create_fd_file(fd, 0, FALSE);
	o_stream_cork(output);
	iter = replicator_queue_iter_init(queue);
	while ((user = replicator_queue_iter_next(iter)) != NULL) {
		struct replicator_db_record rec;

		replicator_db_user_record(user, &rec);
		str_truncate(str, 0);
		replicator_db_record_append(str, &rec);
		o_stream_nsend(output, str_data(str), str_len(str));
	}
	replicator_queue_iter_deinit(&iter);
	if (o_stream_finish(output) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %s", temp_path,
					   o_stream_get_error(output));
		o_stream_destroy(&output);
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	o_stream_destroy(&output);
	return replicator_db_file_commit(&fd, temp_path, path, error_r);
}

int replicator_db_file_replace(const char *path, const void *data,
			       size_t size, const char **error_r)
{
	const char *temp_path = t_strconcat(path, ".tmp", NULL);
	int fd;

	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	if (write_full(fd, data, size) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", temp_path);
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	return replicator_db_file_commit(&fd, temp_path, path, error_r);
}

/* The journal grows to at least this before it is compacted. */
#define REPLICATOR_JOURNAL_COMPACT_MIN_SIZE (1024 * 1024)
/* A compaction that failed (disk full) is tried again after this. */
#define REPLICATOR_JOURNAL_COMPACT_RETRY_SECS 60

struct replicator_db {
	struct replicator_queue *queue;
	struct event *event;
	char *path, *journal_path;
	int journal_fd;
	/* what the journal holds: complete lines only */
	off_t journal_size;
	/* size of replicator.db when it was last written */
	off_t db_size;
	/* the journal may end with garbage: compact before appending */
	bool journal_broken;
	/* not before this time after a failed compaction */
	time_t compact_retry_time;
	/* written but not yet fdatasync()ed */
	bool journal_unsynced;
};

struct replicator_db *
replicator_db_init(struct replicator_queue *queue, const char *dir,
		   struct event *event)
{
	struct replicator_db *db;

	db = i_new(struct replicator_db, 1);
	db->queue = queue;
	db->event = event;
	db->path = i_strconcat(dir, "/", REPLICATOR_DB_FILE_NAME, NULL);
	db->journal_path = i_strconcat(dir, "/", REPLICATOR_JOURNAL_FILE_NAME,
				       NULL);
	db->journal_fd = -1;
	return db;
}

void replicator_db_deinit(struct replicator_db **_db)
{
	struct replicator_db *db = *_db;

	*_db = NULL;
	i_close_fd_path(&db->journal_fd, db->journal_path);
	i_free(db->path);
	i_free(db->journal_path);
	i_free(db);
}

static void
replicator_db_replay_line(struct replicator_db *db, const char *line,
			  unsigned int line_num)
{
	struct replicator_db_record rec;
	struct replicator_user *user;
	const char *error;
	bool removed;

	if (replicator_journal_line_parse(line, &removed, &rec, &error) < 0) {
		e_warning(db->event, "%s line %u: Corrupted record skipped: %s",
			  db->journal_path, line_num, error);
		return;
	}
	user = replicator_queue_lookup(db->queue, rec.username);
	if (removed) {
		if (user != NULL)
			replicator_queue_remove(db->queue, &user);
		return;
	}
	/* later lines are newer: a journal kept by a crash during its
	   compaction repeats what replicator.db has (it was flushed first) */
	if (user == NULL)
		user = replicator_queue_get(db->queue, rec.username);
	replicator_queue_import(db->queue, user, &rec);
}

/* Apply the journal's records to the queue. Returns the size of its
   complete lines, -1 if it couldn't be read. */
static off_t replicator_db_replay(struct replicator_db *db)
{
	struct istream *input;
	const char *line;
	unsigned int line_num = 0;
	off_t size = 0;
	int fd;

	fd = open(db->journal_path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		e_error(db->event, "open(%s) failed: %m", db->journal_path);
		return -1;
	}
	input = i_stream_create_fd_autoclose(&fd,
					     REPLICATOR_DB_MAX_LINE_LENGTH);
	i_stream_set_return_partial_line(input, FALSE);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		line_num++;
		size = input->v_offset;
		T_BEGIN {
			replicator_db_replay_line(db, line, line_num);
		} T_END;
	}
	if (input->stream_errno != 0) {
		e_error(db->event, "read(%s) failed: %s", db->journal_path,
			i_stream_get_error(input));
		size = -1;
	} else if (i_stream_get_data_size(input) > 0) {
		/* a write cut short by a crash or a full disk */
		e_warning(db->event, "%s: Skipped an incomplete last record "
			  "(%zu bytes)", db->journal_path,
			  i_stream_get_data_size(input));
	}
	i_stream_destroy(&input);
	if (line_num > 0) {
		e_debug(db->event, "Replayed %u records from %s", line_num,
			db->journal_path);
	}
	return size;
}

static int
replicator_db_flush_journal(struct replicator_db *db, const char **error_r);

/* Write replicator.db and empty the journal. Unless the journal holds
   everything in memory already (just replayed), it is flushed first: if a
   crash (or a failed truncate()) keeps it, its last line of each user then
   says what replicator.db says, and replaying it changes nothing. */
static int
replicator_db_compact_full(struct replicator_db *db, bool flush_first,
			   const char **error_r)
{
	const char *error;
	struct stat st;

	if (flush_first && !db->journal_broken &&
	    replicator_db_flush_journal(db, &error) < 0) {
		/* replicator.db is written anyway */
		e_error(db->event, "Couldn't save the state before its "
			"compaction: %s", error);
	}
	if (replicator_db_export(db->queue, db->path, error_r) < 0) {
		db->compact_retry_time = ioloop_time +
			REPLICATOR_JOURNAL_COMPACT_RETRY_SECS;
		return -1;
	}
	/* everything is in replicator.db now */
	replicator_queue_dirty_clear(db->queue);
	if (stat(db->path, &st) == 0)
		db->db_size = st.st_size;
	if (truncate(db->journal_path, 0) < 0 && errno != ENOENT) {
		/* don't append to it: the next write compacts again */
		*error_r = t_strdup_printf("truncate(%s) failed: %m",
					   db->journal_path);
		db->journal_broken = TRUE;
		return -1;
	}
	db->journal_size = 0;
	db->journal_broken = FALSE;
	db->journal_unsynced = FALSE;
	return 0;
}

int replicator_db_compact(struct replicator_db *db, const char **error_r)
{
	return replicator_db_compact_full(db, TRUE, error_r);
}

int replicator_db_load(struct replicator_db *db, const char **error_r)
{
	const char *error;
	off_t size;
	int ret;

	ret = replicator_db_import(db->queue, db->path, db->event, error_r);
	size = replicator_db_replay(db);
	if (replicator_db_compact_full(db, FALSE, &error) < 0) {
		e_error(db->event, "Couldn't save the state: %s", error);
		/* append after the last complete line */
		if (size >= 0 && truncate(db->journal_path, size) == 0) {
			db->journal_size = size;
			db->journal_broken = FALSE;
		} else {
			db->journal_broken = TRUE;
		}
	}
	return ret;
}

static void
replicator_db_append_user(const char *username, bool removed,
			  struct replicator_user *user, void *context)
{
	string_t *str = context;
	struct replicator_db_record rec;

	if (removed || user == NULL)
		replicator_journal_remove_append(str, username);
	if (user != NULL) {
		/* removed and added again: nothing of the old one stays */
		replicator_db_user_record(user, &rec);
		replicator_journal_user_append(str, &rec);
	}
}

static int replicator_db_journal_open(struct replicator_db *db,
				      const char **error_r)
{
	struct stat st;

	if (db->journal_fd != -1)
		return 0;
	db->journal_fd = open(db->journal_path,
			      O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (db->journal_fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m",
					   db->journal_path);
		return -1;
	}
	if (fstat(db->journal_fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m",
					   db->journal_path);
		i_close_fd_path(&db->journal_fd, db->journal_path);
		return -1;
	}
	db->journal_size = st.st_size;
	return 0;
}

int replicator_db_write(struct replicator_db *db, const char **error_r)
{
	string_t *str;
	ssize_t ret;

	if (!replicator_queue_have_dirty(db->queue))
		return 0;
	if (db->journal_broken) {
		i_close_fd_path(&db->journal_fd, db->journal_path);
		return replicator_db_compact_full(db, FALSE, error_r);
	}
	if (replicator_db_journal_open(db, error_r) < 0)
		return -1;

	str = t_str_new(1024);
	replicator_queue_dirty_iter(db->queue, replicator_db_append_user, str);
	ret = write(db->journal_fd, str_data(str), str_len(str));
	if (ret == (ssize_t)str_len(str)) {
		db->journal_size += str_len(str);
		db->journal_unsynced = TRUE;
		replicator_queue_dirty_clear(db->queue);
		return 0;
	}
	if (ret < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m",
					   db->journal_path);
	} else {
		*error_r = t_strdup_printf("write(%s) failed: only %zd of "
					   "%zu bytes written (disk full?)",
					   db->journal_path, ret,
					   str_len(str));
	}
	/* no partial record stays in the way of the next one */
	if (ftruncate(db->journal_fd, db->journal_size) < 0) {
		e_error(db->event, "ftruncate(%s) failed: %m",
			db->journal_path);
		db->journal_broken = TRUE;
	}
	return -1;
}

static int
replicator_db_flush_journal(struct replicator_db *db, const char **error_r)
{
	if (replicator_db_write(db, error_r) < 0)
		return -1;
	if (db->journal_unsynced) {
		if (fdatasync(db->journal_fd) < 0) {
			*error_r = t_strdup_printf("fdatasync(%s) failed: %m",
						   db->journal_path);
			return -1;
		}
		db->journal_unsynced = FALSE;
	}
	return 0;
}

int replicator_db_flush(struct replicator_db *db, const char **error_r)
{
	const char *error;

	if (replicator_db_flush_journal(db, error_r) < 0)
		return -1;
	if (db->journal_size >= REPLICATOR_JOURNAL_COMPACT_MIN_SIZE &&
	    db->journal_size > db->db_size &&
	    db->compact_retry_time <= ioloop_time &&
	    replicator_db_compact_full(db, FALSE, &error) < 0) {
		/* the journal still holds everything */
		e_error(db->event, "Couldn't compact the state (retrying in "
			"%u s): %s", REPLICATOR_JOURNAL_COMPACT_RETRY_SECS,
			error);
	}
	return 0;
}

int replicator_db_peers_read(const char *path, struct event *event,
			     replicator_db_peer_callback_t *callback,
			     void *context)
{
	struct istream *input;
	const char *line, *replica, *server_id, *error;
	unsigned int line_num = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		e_error(event, "open(%s) failed: %m", path);
		return -1;
	}
	input = i_stream_create_fd_autoclose(&fd, 64 * 1024);
	while ((line = i_stream_read_next_line(input)) != NULL) T_BEGIN {
		line_num++;
		if (replicator_peer_record_parse(t_strsplit_tabescaped(line),
						 &replica, &server_id,
						 &error) < 0) {
			e_error(event, "%s line %u: Corrupted record "
				"skipped: %s", path, line_num, error);
		} else {
			callback(replica, server_id, context);
		}
	} T_END;
	if (input->stream_errno != 0) {
		e_error(event, "read(%s) failed: %s", path,
			i_stream_get_error(input));
		ret = -1;
	}
	i_stream_destroy(&input);
	return ret;
}

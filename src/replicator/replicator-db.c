/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "istream.h"
#include "ostream.h"
#include "replicator-db-record.h"
#include "replicator-queue.h"
#include "replicator-db.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

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
		const struct replicator_db_record rec = {
			.username = user->username,
			.priority = replicator_user_saved_priority(user),
			.last_update = user->last_update,
			.last_fast_sync = user->last_fast_sync,
			.last_full_sync = user->last_full_sync,
			.last_successful_sync = user->last_successful_sync,
			.last_sync_failed = user->last_sync_failed,
			.state = user->state,
			.replica = user->replica,
		};
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
	if (fdatasync(fd) < 0) {
		*error_r = t_strdup_printf("fdatasync(%s) failed: %m",
					   temp_path);
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	if (close(fd) < 0) {
		*error_r = t_strdup_printf("close(%s) failed: %m", temp_path);
		i_unlink(temp_path);
		return -1;
	}
	if (rename(temp_path, path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   temp_path, path);
		i_unlink(temp_path);
		return -1;
	}
	return 0;
}

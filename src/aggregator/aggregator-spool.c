/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "strescape.h"
#include "istream.h"
#include "write-full.h"
#include "restrict-access.h"
#include "replicator-notify-protocol.h"
#include "aggregator-spool.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* Compact when the file holds this many lines more than twice the live
   requests. */
#define AGGREGATOR_SPOOL_COMPACT_SLACK_LINES 1024

struct aggregator_spool {
	struct event *event;
	int dir_fd, fd;
	/* username -> highest priority the file holds for it */
	HASH_TABLE(char *, void *) spooled;
	unsigned int line_count;
	/* lost: not before this time unless a write succeeds again */
	time_t rewrite_retry_time;
	/* size of the complete lines in the file */
	off_t size;
	bool write_failed_logged:1;
	/* a request wasn't written: rewrite the file when it can be */
	bool lost:1;
	/* the file may end with a partial line */
	bool partial:1;
};

struct aggregator_spool *aggregator_spool_preinit(struct event *event)
{
	struct restrict_access_settings rset;
	struct aggregator_spool *spool;
	int dir_fd;

	if (mkdir(AGGREGATOR_SPOOL_DIR_NAME, 0700) < 0 && errno != EEXIST) {
		e_error(event, "mkdir(%s) failed: %m - requests are kept in "
			"memory only", AGGREGATOR_SPOOL_DIR_NAME);
		return NULL;
	}
	dir_fd = open(AGGREGATOR_SPOOL_DIR_NAME, O_RDONLY | O_DIRECTORY);
	if (dir_fd == -1) {
		e_error(event, "open(%s) failed: %m - requests are kept in "
			"memory only", AGGREGATOR_SPOOL_DIR_NAME);
		return NULL;
	}
	restrict_access_get_env(&rset);
	if (geteuid() == 0 &&
	    (rset.uid != (uid_t)-1 || rset.gid != (gid_t)-1) &&
	    fchown(dir_fd, rset.uid, rset.gid) < 0) {
		e_error(event, "fchown(%s) failed: %m - requests are kept in "
			"memory only", AGGREGATOR_SPOOL_DIR_NAME);
		i_close_fd(&dir_fd);
		return NULL;
	}
	spool = i_new(struct aggregator_spool, 1);
	spool->event = event;
	spool->dir_fd = dir_fd;
	spool->fd = -1;
	hash_table_create(&spool->spooled, default_pool, 0, str_hash, strcmp);
	return spool;
}

static void aggregator_spool_remember(struct aggregator_spool *spool,
				      const char *username,
				      enum replication_priority priority)
{
	char *key;
	void *value;

	if (!hash_table_lookup_full(spool->spooled, username, &key, &value)) {
		hash_table_insert(spool->spooled, i_strdup(username),
				  POINTER_CAST(priority));
	} else if (POINTER_CAST_TO(value, unsigned int) < priority) {
		hash_table_update(spool->spooled, key, POINTER_CAST(priority));
	}
}

static void aggregator_spool_forget_all(struct aggregator_spool *spool)
{
	struct hash_iterate_context *iter;
	char *username;
	void *value;

	iter = hash_table_iterate_init(spool->spooled);
	while (hash_table_iterate(iter, spool->spooled, &username, &value))
		i_free(username);
	hash_table_iterate_deinit(&iter);
	hash_table_clear(spool->spooled, TRUE);
	spool->line_count = 0;
}

static void aggregator_spool_read(struct aggregator_spool *spool, pool_t pool,
				  ARRAY_TYPE(aggregator_spool_request) *requests)
{
	struct replicator_notify_request req;
	struct aggregator_spool_request *spooled;
	struct istream *input;
	const char *line, *error;
	unsigned int line_num = 0;

	input = i_stream_create_fd(spool->fd, SIZE_MAX);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		line_num++;
		if (replicator_notify_request_parse(
				t_strsplit_tabescaped(line), &req,
				&error) < 0) {
			e_warning(spool->event, "%s/%s line %u: %s - skipped",
				  AGGREGATOR_SPOOL_DIR_NAME,
				  AGGREGATOR_SPOOL_FILE_NAME, line_num, error);
			continue;
		}
		spooled = array_append_space(requests);
		spooled->username = p_strdup(pool, req.username);
		spooled->priority = req.priority;
		aggregator_spool_remember(spool, req.username, req.priority);
		spool->line_count++;
	}
	spool->size = input->v_offset;
	if (input->stream_errno != 0) {
		e_error(spool->event, "read(%s/%s) failed: %s",
			AGGREGATOR_SPOOL_DIR_NAME, AGGREGATOR_SPOOL_FILE_NAME,
			i_stream_get_error(input));
	} else if (i_stream_get_data_size(input) > 0) {
		/* a line cut short: written while the file was rewritten
		   or the disk filled up */
		e_warning(spool->event, "%s/%s ends with a partial line - "
			  "skipped", AGGREGATOR_SPOOL_DIR_NAME,
			  AGGREGATOR_SPOOL_FILE_NAME);
	}
	i_stream_destroy(&input);
}

int aggregator_spool_open(struct aggregator_spool *spool, pool_t pool,
			  ARRAY_TYPE(aggregator_spool_request) *requests_r)
{
	spool->fd = openat(spool->dir_fd, AGGREGATOR_SPOOL_FILE_NAME,
			   O_RDWR | O_CREAT | O_APPEND, 0600);
	if (spool->fd == -1) {
		e_error(spool->event, "open(%s/%s) failed: %m - requests are "
			"kept in memory only", AGGREGATOR_SPOOL_DIR_NAME,
			AGGREGATOR_SPOOL_FILE_NAME);
		return -1;
	}
	aggregator_spool_read(spool, pool, requests_r);
	if (ftruncate(spool->fd, spool->size) < 0) {
		/* appending after a partial line would damage the next */
		e_error(spool->event, "ftruncate(%s/%s) failed: %m - requests "
			"are kept in memory only", AGGREGATOR_SPOOL_DIR_NAME,
			AGGREGATOR_SPOOL_FILE_NAME);
		i_close_fd(&spool->fd);
		return -1;
	}
	if (array_count(requests_r) > 0) {
		e_info(spool->event, "Sending %u requests left unsaved by the "
		       "previous aggregator", array_count(requests_r));
	}
	return 0;
}

void aggregator_spool_deinit(struct aggregator_spool **_spool)
{
	struct aggregator_spool *spool = *_spool;

	*_spool = NULL;
	if (spool == NULL)
		return;
	aggregator_spool_forget_all(spool);
	hash_table_destroy(&spool->spooled);
	i_close_fd(&spool->fd);
	i_close_fd(&spool->dir_fd);
	i_free(spool);
}

static void aggregator_spool_write_failed(struct aggregator_spool *spool,
					  const char *error)
{
	if (spool->write_failed_logged)
		return;
	e_error(spool->event, "%s - requests are kept in memory only until "
		"the spool can be written again", error);
	spool->write_failed_logged = TRUE;
}

void aggregator_spool_append(struct aggregator_spool *spool,
			     const char *username,
			     enum replication_priority priority)
{
	string_t *line;
	void *value;

	if (spool == NULL || spool->fd == -1)
		return;
	if (priority == REPLICATION_PRIORITY_SYNC)
		priority = REPLICATION_PRIORITY_HIGH;
	value = hash_table_lookup(spool->spooled, username);
	if (value != NULL && POINTER_CAST_TO(value, unsigned int) >= priority)
		return;

	line = t_str_new(128);
	if (spool->partial) {
		/* end the partial line: it is skipped when read */
		str_append_c(line, '\n');
	}
	replicator_notify_request_append(line, username, priority, 0);
	if (write_full(spool->fd, str_data(line), str_len(line)) < 0) {
		aggregator_spool_write_failed(spool, t_strdup_printf(
			"write(%s/%s) failed: %m", AGGREGATOR_SPOOL_DIR_NAME,
			AGGREGATOR_SPOOL_FILE_NAME));
		spool->lost = TRUE;
		/* drop what was written of the line: the next one is
		   appended after it */
		if (ftruncate(spool->fd, spool->size) < 0) {
			e_error(spool->event, "ftruncate(%s/%s) failed: %m",
				AGGREGATOR_SPOOL_DIR_NAME,
				AGGREGATOR_SPOOL_FILE_NAME);
			spool->partial = TRUE;
		}
		return;
	}
	spool->write_failed_logged = FALSE;
	if (!spool->partial)
		spool->size += str_len(line);
	else {
		/* appended after the partial line */
		struct stat st;

		if (fstat(spool->fd, &st) < 0) {
			e_error(spool->event, "fstat(%s/%s) failed: %m",
				AGGREGATOR_SPOOL_DIR_NAME,
				AGGREGATOR_SPOOL_FILE_NAME);
			spool->lost = TRUE;
		} else {
			spool->size = st.st_size;
			spool->partial = FALSE;
		}
	}
	aggregator_spool_remember(spool, username, priority);
	spool->line_count++;
}

bool aggregator_spool_want_compact(struct aggregator_spool *spool,
				   unsigned int live_count)
{
	if (spool == NULL || spool->fd == -1)
		return FALSE;
	if (spool->lost &&
	    (!spool->write_failed_logged ||
	     ioloop_time >= spool->rewrite_retry_time)) {
		/* the disk may have room again for what wasn't written */
		return TRUE;
	}
	if (live_count == 0)
		return spool->line_count > 0;
	return spool->line_count >
		live_count * 2 + AGGREGATOR_SPOOL_COMPACT_SLACK_LINES;
}

static int
aggregator_spool_write_new(struct aggregator_spool *spool,
			   const ARRAY_TYPE(aggregator_spool_request) *requests,
			   int *fd_r, off_t *size_r, const char **error_r)
{
	const char *temp_name = AGGREGATOR_SPOOL_FILE_NAME".tmp";
	const struct aggregator_spool_request *req;
	string_t *data = t_str_new(256);
	int fd;

	array_foreach(requests, req) {
		replicator_notify_request_append(data, req->username,
						 req->priority, 0);
	}
	fd = openat(spool->dir_fd, temp_name,
		    O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s/%s) failed: %m",
					   AGGREGATOR_SPOOL_DIR_NAME,
					   temp_name);
		return -1;
	}
	if (write_full(fd, str_data(data), str_len(data)) < 0 ||
	    renameat(spool->dir_fd, temp_name, spool->dir_fd,
		     AGGREGATOR_SPOOL_FILE_NAME) < 0) {
		*error_r = t_strdup_printf("Rewriting %s/%s failed: %m",
					   AGGREGATOR_SPOOL_DIR_NAME,
					   AGGREGATOR_SPOOL_FILE_NAME);
		i_close_fd(&fd);
		(void)unlinkat(spool->dir_fd, temp_name, 0);
		return -1;
	}
	*fd_r = fd;
	*size_r = str_len(data);
	return 0;
}

void aggregator_spool_replace(
	struct aggregator_spool *spool,
	const ARRAY_TYPE(aggregator_spool_request) *requests)
{
	const struct aggregator_spool_request *req;
	const char *error;
	off_t size;
	int fd;

	if (spool == NULL || spool->fd == -1)
		return;
	if (array_count(requests) == 0) {
		/* nothing unsaved: emptying the file in place is atomic
		   enough */
		if (ftruncate(spool->fd, 0) < 0) {
			aggregator_spool_write_failed(spool, t_strdup_printf(
				"ftruncate(%s/%s) failed: %m",
				AGGREGATOR_SPOOL_DIR_NAME,
				AGGREGATOR_SPOOL_FILE_NAME));
			return;
		}
		aggregator_spool_forget_all(spool);
		spool->size = 0;
		spool->lost = FALSE;
		spool->partial = FALSE;
		return;
	}
	if (aggregator_spool_write_new(spool, requests, &fd, &size,
				       &error) < 0) {
		/* the old file still holds what it held */
		aggregator_spool_write_failed(spool, error);
		spool->rewrite_retry_time = ioloop_time + 1;
		return;
	}
	i_close_fd(&spool->fd);
	spool->fd = fd;
	spool->size = size;
	spool->write_failed_logged = FALSE;
	spool->lost = FALSE;
	spool->partial = FALSE;
	aggregator_spool_forget_all(spool);
	array_foreach(requests, req) {
		aggregator_spool_remember(spool, req->username, req->priority);
		spool->line_count++;
	}
}

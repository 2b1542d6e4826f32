/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "unlink-directory.h"
#include "str.h"
#include "test-common.h"
#include "replicator-queue.h"
#include "replicator-db.h"

#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

static char *test_dir;
static struct event *db_test_event;

static void test_write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	i_assert(f != NULL);
	fputs(data, f);
	i_assert(fclose(f) == 0);
}

static void test_replicator_db_roundtrip(void)
{
	struct replicator_queue *queue, *queue2;
	struct replicator_user *user, *user2;
	const char *path = t_strconcat(test_dir, "/replicator.db", NULL);
	const char *error;

	test_begin("replicator db export + import");
	ioloop_time = 1700000000;
	queue = replicator_queue_init(3600);
	user = replicator_queue_get(queue, "tab\tuser");
	user->state = i_strdup("c3RhdGU=");
	user->replica = i_strdup("tcp:replica:12345");
	user->last_fast_sync = 1700000001;
	user->last_full_sync = 1700000002;
	user->last_successful_sync = 1700000003;
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	user = replicator_queue_get(queue, "failed");
	user->last_sync_failed = TRUE;
	/* an incoming dsync's hand-over is awaited: saved as stale */
	replicator_queue_incoming(queue, user);
	test_assert(replicator_db_export(queue, path, &error) == 0);
	test_assert(access(t_strconcat(path, ".tmp", NULL), F_OK) < 0);

	queue2 = replicator_queue_init(3600);
	test_assert(replicator_db_import(queue2, path, db_test_event, &error) == 0);
	test_assert_ucmp(replicator_queue_count(queue2), ==, 2);
	user = replicator_queue_lookup(queue, "tab\tuser");
	user2 = replicator_queue_lookup(queue2, "tab\tuser");
	test_assert(user2 != NULL);
	if (user2 != NULL) {
		test_assert_strcmp(user2->state, user->state);
		test_assert_strcmp(user2->replica, user->replica);
		test_assert(user2->priority == REPLICATION_PRIORITY_HIGH);
		test_assert(user2->last_update == user->last_update);
		test_assert(user2->last_fast_sync == user->last_fast_sync);
		test_assert(user2->last_full_sync == user->last_full_sync);
		test_assert(user2->last_successful_sync ==
			    user->last_successful_sync);
		test_assert(!user2->last_sync_failed);
		test_assert(!user2->state_stale);
	}
	user2 = replicator_queue_lookup(queue2, "failed");
	test_assert(user2 != NULL && user2->last_sync_failed &&
		    user2->state == NULL && user2->replica == NULL &&
		    user2->state_stale && !user2->awaiting_handover);
	replicator_queue_deinit(&queue2);

	/* a user being synced is saved with the priority its sync started
	   with: after a crash it is synced again */
	{
		struct replicator_queue *queue3;
		unsigned int next_secs;

		struct replicator_user *other;

		/* both are due; the failed one (never synced) first */
		other = replicator_queue_pop(queue, &next_secs);
		user = replicator_queue_pop(queue, &next_secs);
		test_assert(other != NULL && user != NULL &&
			    user->priority == REPLICATION_PRIORITY_HIGH);
		if (user == NULL || other == NULL)
			return;
		replicator_queue_push(queue, other);
		(void)replicator_queue_sync_started(queue, user);
		test_assert(replicator_db_export(queue, path, &error) == 0);
		queue3 = replicator_queue_init(3600);
		test_assert(replicator_db_import(queue3, path, db_test_event,
						 &error) == 0);
		user2 = replicator_queue_lookup(queue3, user->username);
		test_assert(user2 != NULL && user2->priority ==
			    REPLICATION_PRIORITY_HIGH);
		replicator_queue_sync_aborted(queue, user);
		replicator_queue_push(queue, user);
		replicator_queue_deinit(&queue3);
	}
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_db_import_2_3(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	const char *path = t_strconcat(test_dir, "/old.db", NULL);
	const char *error;

	test_begin("replicator db import 2.3 file with a corrupt line");
	/* 2.3 stopped at the first corrupt line; we skip just that one */
	test_write_file(path,
		"user1\t0\t1700000000\t1700000000\t1699990000\t0\tc3Q=\t1700000000\n"
		"broken\tx\n"
		"user2\t2\t1700000100\t0\t0\t1\t\n");
	ioloop_time = 1700000200;
	queue = replicator_queue_init(3600);
	/* a user already known with a newer update keeps its data */
	user = replicator_queue_get(queue, "user2");
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_LOW);
	test_expect_error_string("Corrupted record skipped");
	test_assert(replicator_db_import(queue, path, db_test_event, &error) == 0);
	test_expect_no_more_errors();
	test_assert_ucmp(replicator_queue_count(queue), ==, 2);
	user = replicator_queue_lookup(queue, "user1");
	test_assert(user != NULL && user->replica == NULL &&
		    strcmp(user->state, "c3Q=") == 0);
	user = replicator_queue_lookup(queue, "user2");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_LOW &&
		    !user->last_sync_failed);
	replicator_queue_deinit(&queue);

	/* missing file: nothing to import, no error */
	queue = replicator_queue_init(3600);
	test_assert(replicator_db_import(queue, t_strconcat(test_dir,
		"/missing.db", NULL), db_test_event, &error) == 0);
	test_assert_ucmp(replicator_queue_count(queue), ==, 0);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_db_export_error(void)
{
	struct replicator_queue *queue;
	const char *error = NULL;

	test_begin("replicator db export error");
	queue = replicator_queue_init(3600);
	(void)replicator_queue_get(queue, "user");
	test_assert(replicator_db_export(queue, t_strconcat(test_dir,
		"/no/such/dir/replicator.db", NULL), &error) == -1);
	test_assert(error != NULL && strstr(error, "open(") != NULL);
	replicator_queue_deinit(&queue);
	test_end();
}

static const char *test_read_file(const char *path)
{
	string_t *str = t_str_new(256);
	char buf[1024];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return "";
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append_data(str, buf, n);
	i_assert(fclose(f) == 0);
	return str_c(str);
}

static void test_replicator_db_journal(void)
{
	struct replicator_queue *queue, *queue2;
	struct replicator_user *user;
	struct replicator_db *db, *db2;
	const char *dir = t_strconcat(test_dir, "/journal", NULL);
	const char *journal = t_strconcat(dir, "/replicator.db.log", NULL);
	const char *error;

	test_begin("replicator db journal");
	if (mkdir(dir, 0700) < 0)
		i_fatal("mkdir(%s) failed: %m", dir);
	ioloop_time = 1700000000;
	queue = replicator_queue_init(3600);
	db = replicator_db_init(queue, dir, db_test_event);
	test_assert(replicator_db_load(db, &error) == 0);
	user = replicator_queue_get(queue, "kept");
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	test_assert(replicator_db_flush(db, &error) == 0);
	user = replicator_queue_get(queue, "gone");
	test_assert(replicator_db_flush(db, &error) == 0);
	/* only what changed is written */
	user = replicator_queue_lookup(queue, "gone");
	replicator_queue_remove(queue, &user);
	test_assert(replicator_db_flush(db, &error) == 0);
	test_assert(replicator_db_flush(db, &error) == 0);
	test_assert_strcmp(test_read_file(journal),
		"+kept\t2\t1700000000\t0\t0\t0\t\t0\t\n"
		"+gone\t0\t1700000000\t0\t0\t0\t\t0\t\n"
		"-gone\n");
	/* the process dies here: the next one replays the journal */

	queue2 = replicator_queue_init(3600);
	db2 = replicator_db_init(queue2, dir, db_test_event);
	test_assert(replicator_db_load(db2, &error) == 0);
	test_assert_ucmp(replicator_queue_count(queue2), ==, 1);
	user = replicator_queue_lookup(queue2, "kept");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_HIGH);
	/* loading compacted it into replicator.db */
	test_assert_strcmp(test_read_file(journal), "");
	test_assert(strstr(test_read_file(t_strconcat(dir, "/replicator.db",
		NULL)), "kept\t2\t") != NULL);
	replicator_db_deinit(&db2);
	replicator_queue_deinit(&queue2);
	replicator_db_deinit(&db);
	replicator_queue_deinit(&queue);

	/* a corrupt line is skipped, an incomplete last one too */
	test_write_file(journal,
		"?what\n"
		"+new\t1\t1700000100\t0\t0\t0\t\t0\t\n"
		"+cut\t1\t17000");
	queue = replicator_queue_init(3600);
	db = replicator_db_init(queue, dir, db_test_event);
	test_expect_errors(2);
	test_assert(replicator_db_load(db, &error) == 0);
	test_expect_no_more_errors();
	test_assert_ucmp(replicator_queue_count(queue), ==, 2);
	user = replicator_queue_lookup(queue, "kept");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_HIGH);
	user = replicator_queue_lookup(queue, "new");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_LOW);
	test_assert(replicator_queue_lookup(queue, "cut") == NULL);
	test_assert_strcmp(test_read_file(journal), "");
	replicator_db_deinit(&db);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_db_journal_remove_readd(void)
{
	struct replicator_queue *queue, *queue2;
	struct replicator_user *user;
	struct replicator_db *db, *db2;
	const char *dir = t_strconcat(test_dir, "/readd", NULL);
	const char *error;

	test_begin("replicator db journal: removed and added again");
	if (mkdir(dir, 0700) < 0)
		i_fatal("mkdir(%s) failed: %m", dir);
	ioloop_time = 1700000000;
	queue = replicator_queue_init(3600);
	db = replicator_db_init(queue, dir, db_test_event);
	test_assert(replicator_db_load(db, &error) == 0);
	user = replicator_queue_get(queue, "u");
	user->last_fast_sync = user->last_full_sync =
		user->last_successful_sync = 1700000000;
	user->state = i_strdup("b2xkc3RhdGU=");
	user->replica = i_strdup("tcp:old:1");
	test_assert(replicator_db_compact(db, &error) == 0);

	/* removed, then a notification adds it again, in one batch */
	ioloop_time = 1700000100;
	user = replicator_queue_lookup(queue, "u");
	replicator_queue_remove(queue, &user);
	user = replicator_queue_get(queue, "u");
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	test_assert(replicator_db_flush(db, &error) == 0);
	/* the process dies here */

	queue2 = replicator_queue_init(3600);
	db2 = replicator_db_init(queue2, dir, db_test_event);
	test_assert(replicator_db_load(db2, &error) == 0);
	user = replicator_queue_lookup(queue2, "u");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_HIGH &&
		    user->state == NULL && user->replica == NULL);
	replicator_db_deinit(&db2);
	replicator_queue_deinit(&queue2);
	replicator_db_deinit(&db);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_db_journal_compaction_crash(void)
{
	struct replicator_queue *queue, *queue2;
	struct replicator_user *user;
	struct replicator_db *db, *db2;
	const char *dir = t_strconcat(test_dir, "/crash", NULL);
	const char *journal = t_strconcat(dir, "/replicator.db.log", NULL);
	const char *error;
	char *kept;

	test_begin("replicator db journal kept by a crash in compaction");
	if (mkdir(dir, 0700) < 0)
		i_fatal("mkdir(%s) failed: %m", dir);
	ioloop_time = 1700000000;
	queue = replicator_queue_init(3600);
	db = replicator_db_init(queue, dir, db_test_event);
	test_assert(replicator_db_load(db, &error) == 0);
	user = replicator_queue_get(queue, "u");
	test_assert(replicator_db_flush(db, &error) == 0);
	replicator_queue_remove(queue, &user);
	test_assert(replicator_db_flush(db, &error) == 0);
	user = replicator_queue_get(queue, "u");
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	(void)replicator_queue_get(queue, "v");
	/* compaction journals what changed first; a crash between the
	   rename of replicator.db and the truncation of the journal keeps
	   the journal as it was then */
	test_assert(replicator_db_flush(db, &error) == 0);
	kept = i_strdup(test_read_file(journal));
	test_assert(replicator_db_compact(db, &error) == 0);
	test_write_file(journal, kept);
	i_free(kept);

	queue2 = replicator_queue_init(3600);
	db2 = replicator_db_init(queue2, dir, db_test_event);
	test_assert(replicator_db_load(db2, &error) == 0);
	test_assert_ucmp(replicator_queue_count(queue2), ==, 2);
	user = replicator_queue_lookup(queue2, "u");
	test_assert(user != NULL && user->priority == REPLICATION_PRIORITY_HIGH);
	test_assert(replicator_queue_lookup(queue2, "v") != NULL);
	replicator_db_deinit(&db2);
	replicator_queue_deinit(&queue2);
	replicator_db_deinit(&db);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_init_dir(void)
{
	char template[] = "/tmp/test-replicator-db.XXXXXX";

	if (mkdtemp(template) == NULL)
		i_fatal("mkdtemp() failed: %m");
	test_dir = i_strdup(template);
	db_test_event = event_create(NULL);
}

static void test_cleanup_dir(void)
{
	const char *error;

	if (unlink_directory(test_dir, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("%s", error);
	i_free(test_dir);
	event_unref(&db_test_event);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_init_dir,
		test_replicator_db_roundtrip,
		test_replicator_db_import_2_3,
		test_replicator_db_export_error,
		test_replicator_db_journal,
		test_replicator_db_journal_remove_readd,
		test_replicator_db_journal_compaction_crash,
		test_cleanup_dir,
		NULL
	};
	return test_run(test_functions);
}

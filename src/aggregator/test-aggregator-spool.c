/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "unlink-directory.h"
#include "test-common.h"
#include "aggregator-spool.h"

#include <stdio.h>
#include <unistd.h>

static char *test_dir;
static struct event *spool_test_event;

static const char *test_spool_path(void)
{
	return t_strconcat(test_dir, "/"AGGREGATOR_SPOOL_DIR_NAME"/"
			   AGGREGATOR_SPOOL_FILE_NAME, NULL);
}

static const char *test_read_file(const char *path)
{
	string_t *str = t_str_new(256);
	char buf[256];
	size_t n;
	FILE *f = fopen(path, "r");

	i_assert(f != NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append_data(str, buf, n);
	i_assert(fclose(f) == 0);
	return str_c(str);
}

static void test_append_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "a");

	i_assert(f != NULL);
	fputs(data, f);
	i_assert(fclose(f) == 0);
}

static struct aggregator_spool *
test_spool_open(ARRAY_TYPE(aggregator_spool_request) *requests)
{
	struct aggregator_spool *spool;

	spool = aggregator_spool_preinit(spool_test_event);
	test_assert(spool != NULL);
	t_array_init(requests, 8);
	test_assert(aggregator_spool_open(spool, pool_datastack_create(),
					  requests) == 0);
	return spool;
}

static void test_aggregator_spool_replay(void)
{
	ARRAY_TYPE(aggregator_spool_request) requests;
	const struct aggregator_spool_request *req;
	struct aggregator_spool *spool;

	test_begin("aggregator spool: written once per user, read back");
	spool = test_spool_open(&requests);
	test_assert(array_count(&requests) == 0);
	aggregator_spool_append(spool, "u1", REPLICATION_PRIORITY_LOW);
	aggregator_spool_append(spool, "u1", REPLICATION_PRIORITY_LOW);
	aggregator_spool_append(spool, "u1", REPLICATION_PRIORITY_HIGH);
	aggregator_spool_append(spool, "u1", REPLICATION_PRIORITY_LOW);
	aggregator_spool_append(spool, "tab\tuser", REPLICATION_PRIORITY_SYNC);
	test_assert_strcmp(test_read_file(test_spool_path()),
			   "U\tu1\tlow\nU\tu1\thigh\nU\ttab\001tuser\thigh\n");
	aggregator_spool_deinit(&spool);

	/* killed in the middle of a line, and a damaged one before it */
	test_append_file(test_spool_path(), "X\tgarbage\nU\tu3\thi");
	test_expect_errors(2);
	spool = test_spool_open(&requests);
	test_expect_no_more_errors();
	test_assert(array_count(&requests) == 3);
	req = array_idx(&requests, 2);
	test_assert_strcmp(req->username, "tab\tuser");
	test_assert(req->priority == REPLICATION_PRIORITY_HIGH);
	/* the partial line is gone: the next line isn't glued to it */
	aggregator_spool_append(spool, "u4", REPLICATION_PRIORITY_LOW);
	test_assert_strcmp(test_read_file(test_spool_path()),
			   "U\tu1\tlow\nU\tu1\thigh\nU\ttab\001tuser\thigh\n"
			   "X\tgarbage\nU\tu4\tlow\n");
	aggregator_spool_deinit(&spool);
	test_end();
}

static void test_aggregator_spool_compact(void)
{
	ARRAY_TYPE(aggregator_spool_request) requests, live;
	struct aggregator_spool_request *req;
	struct aggregator_spool *spool;
	unsigned int i;

	test_begin("aggregator spool: compaction");
	i_unlink(test_spool_path());
	spool = test_spool_open(&requests);
	test_assert(!aggregator_spool_want_compact(spool, 0));
	for (i = 0; i < 2000; i++) {
		aggregator_spool_append(spool, t_strdup_printf("u%u", i),
					REPLICATION_PRIORITY_LOW);
	}
	test_assert(!aggregator_spool_want_compact(spool, 1000));
	test_assert(aggregator_spool_want_compact(spool, 10));

	t_array_init(&live, 2);
	req = array_append_space(&live);
	req->username = "u7";
	req->priority = REPLICATION_PRIORITY_HIGH;
	aggregator_spool_replace(spool, &live);
	test_assert_strcmp(test_read_file(test_spool_path()),
			   "U\tu7\thigh\n");
	/* the file holds u7 high: nothing to write */
	aggregator_spool_append(spool, "u7", REPLICATION_PRIORITY_LOW);
	/* forgotten by the rewrite: written again */
	aggregator_spool_append(spool, "u8", REPLICATION_PRIORITY_LOW);
	test_assert_strcmp(test_read_file(test_spool_path()),
			   "U\tu7\thigh\nU\tu8\tlow\n");

	/* everything saved: emptied, and written again afterwards */
	array_clear(&live);
	test_assert(aggregator_spool_want_compact(spool, 0));
	aggregator_spool_replace(spool, &live);
	test_assert_strcmp(test_read_file(test_spool_path()), "");
	aggregator_spool_append(spool, "u7", REPLICATION_PRIORITY_LOW);
	test_assert_strcmp(test_read_file(test_spool_path()),
			   "U\tu7\tlow\n");
	aggregator_spool_deinit(&spool);
	test_end();
}

static void test_init_dir(void)
{
	char template[] = "/tmp/test-aggregator-spool.XXXXXX";

	if (mkdtemp(template) == NULL)
		i_fatal("mkdtemp() failed: %m");
	test_dir = i_strdup(template);
	/* the spool is made in the current directory, as in base_dir */
	if (chdir(test_dir) < 0)
		i_fatal("chdir(%s) failed: %m", test_dir);
	spool_test_event = event_create(NULL);
}

static void test_cleanup_dir(void)
{
	const char *error;

	if (chdir("/") < 0)
		i_fatal("chdir(/) failed: %m");
	if (unlink_directory(test_dir, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("%s", error);
	i_free(test_dir);
	event_unref(&spool_test_event);
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_init_dir,
		test_aggregator_spool_replay,
		test_aggregator_spool_compact,
		test_cleanup_dir,
		NULL
	};
	return test_run(test_functions);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "test-common.h"
#include "replicator-auth-protocol.h"

static void test_replicator_auth_requests(void)
{
	string_t *str = t_str_new(128);

	test_begin("replicator auth requests");
	replicator_auth_handshake_append(str);
	replicator_auth_user_request_append(str, 7, "us\ter");
	replicator_auth_list_request_append(str, 8, "*");
	test_assert_strcmp(str_c(str), "VERSION\t1\t0\n"
		"USER\t7\tus\001ter\tprotocol=replicator\n"
		"LIST\t8\tuser=*\tprotocol=replicator\n");
	test_end();
}

static void test_replicator_auth_replies(void)
{
	struct replicator_auth_reply reply;
	const char *error;

	test_begin("replicator auth replies");
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"VERSION\t1\t3"), &reply, &error) == 0);
	test_assert(reply.type == REPLICATOR_AUTH_REPLY_HANDSHAKE &&
		    !reply.handshake_done);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"VERSION\t2\t0"), &reply, &error) < 0);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"SPID\t123"), &reply, &error) == 0);
	test_assert(reply.handshake_done);

	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"USER\t7\tuser\tuid=1000\tmail_replica=tcp:h:1\tnoreplicate"),
		&reply, &error) == 0);
	test_assert(reply.type == REPLICATOR_AUTH_REPLY_USER);
	test_assert_ucmp(reply.id, ==, 7);
	test_assert_strcmp(reply.username, "user");
	test_assert_strcmp(replicator_auth_field_find(reply.fields,
		"mail_replica"), "tcp:h:1");
	test_assert_strcmp(replicator_auth_field_find(reply.fields,
		"noreplicate"), "");
	test_assert(replicator_auth_field_find(reply.fields, "mail") == NULL);

	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"NOTFOUND\t8"), &reply, &error) == 0);
	test_assert(reply.type == REPLICATOR_AUTH_REPLY_NOTFOUND);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"FAIL\t9\treason=oops"), &reply, &error) == 0);
	test_assert(reply.type == REPLICATOR_AUTH_REPLY_FAIL);
	test_assert_strcmp(reply.reason, "oops");
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"LIST\t10\ta\001tb"), &reply, &error) == 0);
	test_assert_strcmp(reply.username, "a\tb");
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"DONE\t10\t"), &reply, &error) == 0);
	test_assert(reply.type == REPLICATOR_AUTH_REPLY_DONE && !reply.failed);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"DONE\t10\tfail"), &reply, &error) == 0);
	test_assert(reply.failed);

	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"USER\tx\tuser"), &reply, &error) < 0);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"USER\t1"), &reply, &error) < 0);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"LIST\t1"), &reply, &error) < 0);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		"WHAT\t1"), &reply, &error) < 0);
	test_assert(replicator_auth_reply_parse(t_strsplit_tabescaped(
		""), &reply, &error) < 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_auth_requests,
		test_replicator_auth_replies,
		NULL
	};
	return test_run(test_functions);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "replicator-dsync-protocol.h"

static void test_replicator_dsync_parameters(void)
{
	const char *const *params;
	const char *removed;

	test_begin("replicator dsync parameters");
	/* Dovecot 2.3's default */
	params = replicator_dsync_parameters_parse("-d -N -l 30 -U", &removed);
	test_assert_strcmp(t_strarray_join(params, ","), "-N,-l,30");
	test_assert_strcmp(removed, "-d -U");
	params = replicator_dsync_parameters_parse("  -N  -l 60 ", &removed);
	test_assert_strcmp(t_strarray_join(params, ","), "-N,-l,60");
	test_assert(removed == NULL);
	params = replicator_dsync_parameters_parse("", &removed);
	test_assert(params[0] == NULL && removed == NULL);
	test_end();
}

static void test_replicator_dsync_cmd(void)
{
	static const char *const params[] = { "-N", "-l", "30", NULL };
	struct replicator_dsync_cmd cmd = {
		.username = "us\ter",
		.parameters = params,
		.state = "",
		.replica = "tcp:127.0.0.1:24502",
	};
	string_t *str = t_str_new(128);

	test_begin("replicator dsync command");
	replicator_dsync_cmd_append(str, &cmd);
	test_assert_strcmp(str_c(str), "\tus\001ter\tsync\t-N\t-l\t30\t-s\t\t"
			   "tcp:127.0.0.1:24502\n");
	str_truncate(str, 0);
	cmd.full_sync = TRUE;
	cmd.state = "AQAA";
	replicator_dsync_cmd_append(str, &cmd);
	test_assert_strcmp(str_c(str), "\tus\001ter\tsync\t-N\t-l\t30\t-f\t-s\t"
			   "AQAA\ttcp:127.0.0.1:24502\n");
	str_truncate(str, 0);
	cmd.timeout_secs = 600;
	replicator_dsync_cmd_append(str, &cmd);
	test_assert_strcmp(str_c(str), "\tus\001ter\tsync\t-N\t-l\t30\t-f\t"
			   "-T\t600\t-s\tAQAA\ttcp:127.0.0.1:24502\n");
	test_end();
}

static void test_replicator_dsync_state_output(void)
{
	string_t *state = t_str_new(64);

	test_begin("replicator dsync state output");
	replicator_dsync_state_output_append(state,
		(const unsigned char *)"AQ\001t", 4);
	replicator_dsync_state_output_append(state,
		(const unsigned char *)"==", 2);
	test_assert_strcmp(str_c(state), "AQ\t==");
	test_end();
}

static void test_replicator_replica_addr_parse(void)
{
	static const struct {
		const char *replica;
		int ret;
		const char *host;
		in_port_t port;
		bool ssl;
	} tests[] = {
		{ "tcp:replica.example.com", 1, "replica.example.com", 0, FALSE },
		{ "tcp:127.0.0.1:24502", 1, "127.0.0.1", 24502, FALSE },
		{ "tcps:host:993", 1, "host", 993, TRUE },
		{ "tcp:[::1]:12345", 1, "::1", 12345, FALSE },
		/* dsync can't use these: the port follows the last colon */
		{ "tcp:[::1]", -1, NULL, 0, FALSE },
		{ "tcp:[::1]x", -1, NULL, 0, FALSE },
		{ "tcp:::1:12345", 1, "::1", 12345, FALSE },
		/* a doveadm-server unix socket */
		{ "tcp:/var/run/dovecot/doveadm-server", 0, NULL, 0, FALSE },
		{ "remote:vmail@host", 0, NULL, 0, FALSE },
		{ "sdbox:/var/mail", 0, NULL, 0, FALSE },
		{ "tcp:", -1, NULL, 0, FALSE },
		{ "tcp:host:", -1, NULL, 0, FALSE },
		{ "tcp:host:0", -1, NULL, 0, FALSE },
		{ "tcp:host:99999", -1, NULL, 0, FALSE },
		{ "tcp:[::1", -1, NULL, 0, FALSE },
	};
	struct replicator_replica_addr addr;
	const char *error;
	unsigned int i;

	test_begin("replicator replica address parse");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		int ret = replicator_replica_addr_parse(tests[i].replica,
							&addr, &error);
		test_assert_cmp_idx(ret, ==, tests[i].ret, i);
		if (ret > 0) {
			test_assert_strcmp_idx(addr.host, tests[i].host, i);
			test_assert_ucmp_idx(addr.port, ==, tests[i].port, i);
			test_assert_idx(addr.ssl == tests[i].ssl, i);
		}
	}
	test_end();
}

static void test_replicator_notify_cmds(void)
{
	string_t *str = t_str_new(128);

	test_begin("replicator notify commands");
	replicator_notify_peer_cmd_append(str, "tcp:h:1", "u\tx", TRUE, "ST",
					  "a.ex");
	replicator_notify_cmd_append(str, "u", FALSE, "", "a.ex");
	test_assert_strcmp(str_c(str),
		"\t\treplicator\tnotify-peer\t-f\t-i\ta.ex\ttcp:h:1\t"
		"u\001tx\tST\n"
		"\t\treplicator\tnotify\t-i\ta.ex\tu\t\n");
	str_truncate(str, 0);
	replicator_request_peer_cmd_append(str, "tcp:h:1", "u\tx");
	replicator_replicate_cmd_append(str, "u\tx");
	test_assert_strcmp(str_c(str),
		"\t\treplicator\tnotify-peer\t-r\ttcp:h:1\tu\001tx\t\n"
		"\t\treplicator\treplicate\t-p\thigh\tu\001tx\n");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_dsync_parameters,
		test_replicator_dsync_cmd,
		test_replicator_dsync_state_output,
		test_replicator_replica_addr_parse,
		test_replicator_notify_cmds,
		NULL
	};
	return test_run(test_functions);
}

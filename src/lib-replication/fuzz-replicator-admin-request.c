/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-admin-protocol.h"

/* Requests of the replicator-doveadm protocol (doveadm replicator, NOTIFY
   from the peer). Whatever parses is encoded again and must parse to the
   same. */

static void
request_assert_equal(const struct replicator_admin_request *a,
		     const struct replicator_admin_request *b)
{
	i_assert(a->cmd == b->cmd);
	i_assert(fuzz_replication_str_equals(a->mask, b->mask));
	i_assert(fuzz_replication_str_equals(a->username, b->username));
	i_assert(a->priority == b->priority);
	i_assert(a->full_sync == b->full_sync);
	i_assert(fuzz_replication_str_equals(a->state, b->state));
	i_assert(fuzz_replication_str_equals(a->sender, b->sender));
}

static void fuzz_request(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replicator_admin_request req, req2;
	string_t *encoded = t_str_new(256), *encoded2 = t_str_new(256);
	const char *error;

	if (replicator_admin_request_parse(args, &req, &error) < 0)
		return;
	i_assert(req.cmd < REPLICATOR_ADMIN_CMD_COUNT);
	replicator_admin_request_append(encoded, &req);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_admin_request_parse(args, &req2, &error) < 0)
		i_panic("Encoded request doesn't parse: %s", error);
	request_assert_equal(&req, &req2);
	replicator_admin_request_append(encoded2, &req2);
	i_assert(str_equals(encoded, encoded2));
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++)
		fuzz_request(*lines);
}
FUZZ_END

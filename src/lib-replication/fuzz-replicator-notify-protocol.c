/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-notify-protocol.h"

/* Aggregator -> replicator requests, and the replicator's replies and
   acknowledgements. Whatever parses is encoded again and must parse to the
   same. */

static void fuzz_request(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replicator_notify_request req, req2;
	string_t *encoded = t_str_new(128), *encoded2 = t_str_new(128);
	const char *error;

	if (replicator_notify_request_parse(args, &req, &error) < 0)
		return;
	i_assert(req.priority != REPLICATION_PRIORITY_NONE);
	i_assert((req.priority == REPLICATION_PRIORITY_SYNC) == (req.id != 0));
	replicator_notify_request_append(encoded, req.username, req.priority,
					 req.id);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_notify_request_parse(args, &req2, &error) < 0)
		i_panic("Encoded request doesn't parse: %s", error);
	i_assert(strcmp(req.username, req2.username) == 0);
	i_assert(req.priority == req2.priority);
	i_assert(req.id == req2.id);
	replicator_notify_request_append(encoded2, req2.username,
					 req2.priority, req2.id);
	i_assert(str_equals(encoded, encoded2));
}

static void
reply_append(string_t *dest, const struct replicator_notify_reply *reply)
{
	switch (reply->type) {
	case REPLICATOR_NOTIFY_REPLY_SYNC:
		replicator_notify_reply_append(dest, reply->id,
					       reply->success);
		return;
	case REPLICATOR_NOTIFY_REPLY_ACK:
		replicator_notify_ack_append(dest, reply->count);
		return;
	}
	i_unreached();
}

static void fuzz_reply(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replicator_notify_reply reply, reply2;
	string_t *encoded = t_str_new(32);
	const char *error;

	if (replicator_notify_reply_parse(args, &reply, &error) < 0)
		return;
	if (reply.type == REPLICATOR_NOTIFY_REPLY_SYNC)
		i_assert(reply.id != 0);
	reply_append(encoded, &reply);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_notify_reply_parse(args, &reply2, &error) < 0)
		i_panic("Encoded reply doesn't parse: %s", error);
	i_assert(reply.type == reply2.type);
	i_assert(reply.id == reply2.id);
	i_assert(reply.success == reply2.success);
	i_assert(reply.count == reply2.count);
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++) {
		fuzz_request(*lines);
		fuzz_reply(*lines);
	}
}
FUZZ_END

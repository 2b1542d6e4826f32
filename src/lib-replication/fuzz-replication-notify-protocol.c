/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replication-notify-protocol.h"

/* Mail process -> aggregator: request lines, and the +/- reply to a sync
   request. Whatever parses is encoded again and must parse to the same. */

static void fuzz_request(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replication_notify_request req, req2;
	string_t *encoded = t_str_new(128), *encoded2 = t_str_new(128);
	const char *error;

	if (replication_notify_request_parse(args, &req, &error) < 0)
		return;
	i_assert(req.priority != REPLICATION_PRIORITY_NONE);
	i_assert(replication_username_verify(req.username, &error) == 0);
	replication_notify_request_append(encoded, req.username, req.priority);
	args = fuzz_replication_encoded_args(encoded);
	if (replication_notify_request_parse(args, &req2, &error) < 0)
		i_panic("Encoded request doesn't parse: %s", error);
	i_assert(strcmp(req.username, req2.username) == 0);
	i_assert(req.priority == req2.priority);
	replication_notify_request_append(encoded2, req2.username,
					  req2.priority);
	i_assert(str_equals(encoded, encoded2));
}

static void fuzz_reply(const char *line)
{
	string_t *encoded = t_str_new(8);
	const char *error;
	bool success, success2;

	if (replication_notify_reply_parse(line, &success, &error) < 0)
		return;
	replication_notify_reply_append(encoded, success);
	(void)fuzz_replication_encoded_args(encoded);
	str_truncate(encoded, str_len(encoded) - 1);
	if (replication_notify_reply_parse(str_c(encoded), &success2,
					   &error) < 0)
		i_panic("Encoded reply doesn't parse: %s", error);
	i_assert(success == success2);
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

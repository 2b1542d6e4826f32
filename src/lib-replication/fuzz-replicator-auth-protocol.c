/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-auth-protocol.h"

/* Replies of Dovecot's auth-master protocol as the replicator reads them.
   The package has no encoder for them (the auth server writes them), so
   this one writes a parsed reply back in the documented wire format
   (replicator-auth-protocol.h); it must parse to the same. */

static void reply_append(string_t *dest,
			 const struct replicator_auth_reply *reply)
{
	const char *const *field;

	switch (reply->type) {
	case REPLICATOR_AUTH_REPLY_HANDSHAKE:
		if (reply->handshake_done)
			str_append(dest, "SPID\t1\n");
		else {
			str_printfa(dest, "VERSION\t%u\t%u\n",
				    REPLICATOR_AUTH_MAJOR_VERSION,
				    REPLICATOR_AUTH_MINOR_VERSION);
		}
		return;
	case REPLICATOR_AUTH_REPLY_USER:
		str_printfa(dest, "USER\t%u\t", reply->id);
		str_append_tabescaped(dest, reply->username);
		for (field = reply->fields; *field != NULL; field++) {
			str_append_c(dest, '\t');
			str_append_tabescaped(dest, *field);
		}
		break;
	case REPLICATOR_AUTH_REPLY_NOTFOUND:
		str_printfa(dest, "NOTFOUND\t%u", reply->id);
		break;
	case REPLICATOR_AUTH_REPLY_FAIL:
		str_printfa(dest, "FAIL\t%u", reply->id);
		if (reply->reason[0] != '\0') {
			str_append(dest, "\treason=");
			str_append_tabescaped(dest, reply->reason);
		}
		break;
	case REPLICATOR_AUTH_REPLY_LIST:
		str_printfa(dest, "LIST\t%u\t", reply->id);
		str_append_tabescaped(dest, reply->username);
		break;
	case REPLICATOR_AUTH_REPLY_DONE:
		str_printfa(dest, "DONE\t%u", reply->id);
		if (reply->failed)
			str_append(dest, "\tfail");
		break;
	}
	str_append_c(dest, '\n');
}

static void
reply_assert_equal(const struct replicator_auth_reply *a,
		   const struct replicator_auth_reply *b)
{
	unsigned int i;

	i_assert(a->type == b->type);
	i_assert(a->id == b->id);
	i_assert(fuzz_replication_str_equals(a->username, b->username));
	i_assert(fuzz_replication_str_equals(a->reason, b->reason));
	i_assert(a->failed == b->failed);
	i_assert(a->handshake_done == b->handshake_done);
	i_assert((a->fields == NULL) == (b->fields == NULL));
	if (a->fields == NULL)
		return;
	for (i = 0; a->fields[i] != NULL; i++) {
		i_assert(b->fields[i] != NULL);
		i_assert(strcmp(a->fields[i], b->fields[i]) == 0);
	}
	i_assert(b->fields[i] == NULL);
}

static void fuzz_fields(const char *const *fields)
{
	const char *value, *key;

	for (; *fields != NULL; fields++) {
		/* the first field of a key is the one found */
		value = strchr(*fields, '=');
		key = value == NULL ? *fields : t_strdup_until(*fields, value);
		if (strchr(key, '=') != NULL)
			continue;
		value = replicator_auth_field_find(fields, key);
		i_assert(value != NULL);
	}
}

static void fuzz_reply(const char *line)
{
	const char *const *args = fuzz_replication_args(line);
	struct replicator_auth_reply reply, reply2;
	string_t *encoded = t_str_new(256);
	const char *error;

	if (replicator_auth_reply_parse(args, &reply, &error) < 0)
		return;
	if (reply.type == REPLICATOR_AUTH_REPLY_USER)
		fuzz_fields(reply.fields);
	reply_append(encoded, &reply);
	args = fuzz_replication_encoded_args(encoded);
	if (replicator_auth_reply_parse(args, &reply2, &error) < 0)
		i_panic("Encoded reply doesn't parse: %s", error);
	reply_assert_equal(&reply, &reply2);
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++)
		fuzz_reply(*lines);
}
FUZZ_END

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "replicator-auth-protocol.h"

void replicator_auth_handshake_append(string_t *dest)
{
	str_printfa(dest, "VERSION\t%u\t%u\n", REPLICATOR_AUTH_MAJOR_VERSION,
		    REPLICATOR_AUTH_MINOR_VERSION);
}

void replicator_auth_user_request_append(string_t *dest, unsigned int id,
					 const char *username)
{
	str_printfa(dest, "USER\t%u\t", id);
	str_append_tabescaped(dest, username);
	str_append(dest, "\tprotocol="REPLICATOR_AUTH_PROTOCOL"\n");
}

void replicator_auth_list_request_append(string_t *dest, unsigned int id,
					 const char *mask)
{
	str_printfa(dest, "LIST\t%u\tuser=", id);
	str_append_tabescaped(dest, mask);
	str_append(dest, "\tprotocol="REPLICATOR_AUTH_PROTOCOL"\n");
}

static int parse_id(const char *const *args, unsigned int *id_r,
		    const char **error_r)
{
	if (args[1] == NULL || str_to_uint(args[1], id_r) < 0) {
		*error_r = t_strdup_printf("%s: Invalid id", args[0]);
		return -1;
	}
	return 0;
}

int replicator_auth_reply_parse(const char *const *args,
				struct replicator_auth_reply *reply_r,
				const char **error_r)
{
	unsigned int count = str_array_length(args);
	unsigned int major;
	const char *reason;

	i_zero(reply_r);
	if (count == 0) {
		*error_r = "Empty reply";
		return -1;
	}
	if (strcmp(args[0], "VERSION") == 0) {
		reply_r->type = REPLICATOR_AUTH_REPLY_HANDSHAKE;
		if (count != 3 || str_to_uint(args[1], &major) < 0 ||
		    major != REPLICATOR_AUTH_MAJOR_VERSION) {
			*error_r = "Incompatible auth-master version";
			return -1;
		}
		return 0;
	}
	if (strcmp(args[0], "SPID") == 0) {
		reply_r->type = REPLICATOR_AUTH_REPLY_HANDSHAKE;
		reply_r->handshake_done = TRUE;
		return 0;
	}
	if (parse_id(args, &reply_r->id, error_r) < 0)
		return -1;
	if (strcmp(args[0], "USER") == 0) {
		if (count < 3) {
			*error_r = "USER: Missing username";
			return -1;
		}
		reply_r->type = REPLICATOR_AUTH_REPLY_USER;
		reply_r->username = args[2];
		reply_r->fields = args + 3;
	} else if (strcmp(args[0], "NOTFOUND") == 0) {
		reply_r->type = REPLICATOR_AUTH_REPLY_NOTFOUND;
	} else if (strcmp(args[0], "FAIL") == 0) {
		reply_r->type = REPLICATOR_AUTH_REPLY_FAIL;
		reply_r->reason = "";
		if (count >= 3 && str_begins(args[2], "reason=", &reason))
			reply_r->reason = reason;
	} else if (strcmp(args[0], "LIST") == 0) {
		if (count != 3) {
			*error_r = "LIST: Expected a username";
			return -1;
		}
		reply_r->type = REPLICATOR_AUTH_REPLY_LIST;
		reply_r->username = args[2];
	} else if (strcmp(args[0], "DONE") == 0) {
		reply_r->type = REPLICATOR_AUTH_REPLY_DONE;
		reply_r->failed = count >= 3 && strcmp(args[2], "fail") == 0;
	} else {
		*error_r = t_strdup_printf("Unknown reply '%s'",
					   str_sanitize(args[0], 32));
		return -1;
	}
	return 0;
}

const char *replicator_auth_field_find(const char *const *fields,
				       const char *key)
{
	const char *value;

	for (; *fields != NULL; fields++) {
		if (str_begins(*fields, key, &value)) {
			if (*value == '=')
				return value + 1;
			if (*value == '\0')
				return "";
		}
	}
	return NULL;
}

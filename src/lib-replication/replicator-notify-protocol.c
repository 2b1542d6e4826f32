/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "replicator-notify-protocol.h"

void replicator_notify_handshake_append(string_t *dest)
{
	str_printfa(dest, "VERSION\t%s\t%u\t%u\n",
		    REPLICATOR_NOTIFY_SERVICE_NAME,
		    REPLICATOR_NOTIFY_MAJOR_VERSION,
		    REPLICATOR_NOTIFY_MINOR_VERSION);
}

void replicator_notify_request_append(string_t *dest, const char *username,
				      enum replication_priority priority,
				      uint32_t id)
{
	i_assert(priority != REPLICATION_PRIORITY_NONE);
	i_assert((priority == REPLICATION_PRIORITY_SYNC) == (id != 0));

	str_append_c(dest, REPLICATOR_NOTIFY_CMD_UPDATE);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, username);
	str_append_c(dest, '\t');
	str_append(dest, replication_priority_to_str(priority));
	if (id != 0)
		str_printfa(dest, "\t%u", id);
	str_append_c(dest, '\n');
}

static int parse_id(const char *str, uint32_t *id_r, const char **error_r)
{
	if (str_to_uint32(str, id_r) < 0 || *id_r == 0) {
		*error_r = t_strdup_printf("Invalid request id '%s'",
					   str_sanitize(str, 32));
		return -1;
	}
	return 0;
}

int replicator_notify_request_parse(const char *const *args,
				    struct replicator_notify_request *req_r,
				    const char **error_r)
{
	unsigned int count = str_array_length(args);

	i_zero(req_r);
	if (count == 0 || args[0][0] != REPLICATOR_NOTIFY_CMD_UPDATE ||
	    args[0][1] != '\0') {
		*error_r = t_strdup_printf("Unknown command '%s'",
			count == 0 ? "" : str_sanitize(args[0], 32));
		return -1;
	}
	/* U <username> <priority> [<id>] */
	if (count != 3 && count != 4) {
		*error_r = t_strdup_printf(
			"U: Expected 2 or 3 arguments, got %u", count - 1);
		return -1;
	}
	if (replication_username_verify(args[1], error_r) < 0)
		return -1;
	if (replication_priority_parse(args[2], &req_r->priority) < 0) {
		*error_r = t_strdup_printf("U: Unknown priority '%s'",
					   str_sanitize(args[2], 32));
		return -1;
	}
	switch (req_r->priority) {
	case REPLICATION_PRIORITY_NONE:
		*error_r = "U: Priority 'none' is not a request";
		return -1;
	case REPLICATION_PRIORITY_LOW:
	case REPLICATION_PRIORITY_HIGH:
		if (count != 3) {
			*error_r = "U: Only sync requests have an id";
			return -1;
		}
		break;
	case REPLICATION_PRIORITY_SYNC:
		if (count != 4) {
			*error_r = "U: Sync request without an id";
			return -1;
		}
		if (parse_id(args[3], &req_r->id, error_r) < 0)
			return -1;
		break;
	}
	req_r->username = args[1];
	return 0;
}

void replicator_notify_reply_append(string_t *dest, uint32_t id, bool success)
{
	i_assert(id != 0);
	str_printfa(dest, "%c\t%u\n", success ? '+' : '-', id);
}

void replicator_notify_ack_append(string_t *dest, uint64_t count)
{
	str_printfa(dest, "A\t%"PRIu64"\n", count);
}

int replicator_notify_reply_parse(const char *const *args,
				  struct replicator_notify_reply *reply_r,
				  const char **error_r)
{
	i_zero(reply_r);
	/* +|- <id>, or A <count> */
	if (str_array_length(args) != 2) {
		*error_r = t_strdup_printf("Expected 2 reply fields, got %u",
					   str_array_length(args));
		return -1;
	}
	if (strcmp(args[0], "A") == 0) {
		reply_r->type = REPLICATOR_NOTIFY_REPLY_ACK;
		if (str_to_uint64(args[1], &reply_r->count) < 0) {
			*error_r = t_strdup_printf("Invalid count '%s'",
				str_sanitize(args[1], 32));
			return -1;
		}
		return 0;
	}
	reply_r->type = REPLICATOR_NOTIFY_REPLY_SYNC;
	if (strcmp(args[0], "+") == 0)
		reply_r->success = TRUE;
	else if (strcmp(args[0], "-") == 0)
		reply_r->success = FALSE;
	else {
		*error_r = t_strdup_printf("Invalid reply status '%s'",
					   str_sanitize(args[0], 32));
		return -1;
	}
	return parse_id(args[1], &reply_r->id, error_r);
}

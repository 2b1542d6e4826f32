/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "str-sanitize.h"
#include "replication-notify-protocol.h"

void replication_notify_request_append(string_t *dest, const char *username,
				       enum replication_priority priority)
{
	i_assert(priority != REPLICATION_PRIORITY_NONE);

	str_append_tabescaped(dest, username);
	str_append_c(dest, '\t');
	str_append(dest, replication_priority_to_str(priority));
	str_append_c(dest, '\n');
}

int replication_notify_request_parse(const char *const *args,
				     struct replication_notify_request *req_r,
				     const char **error_r)
{
	/* <username> <priority> */
	if (str_array_length(args) != 2) {
		*error_r = t_strdup_printf(
			"Expected 2 fields (user, priority), got %u",
			str_array_length(args));
		return -1;
	}
	if (replication_username_verify(args[0], error_r) < 0)
		return -1;
	if (replication_priority_parse(args[1], &req_r->priority) < 0) {
		*error_r = t_strdup_printf("Unknown priority '%s'",
					   str_sanitize(args[1], 32));
		return -1;
	}
	if (req_r->priority == REPLICATION_PRIORITY_NONE) {
		*error_r = "Priority 'none' is not a request";
		return -1;
	}
	req_r->username = args[0];
	return 0;
}

void replication_notify_reply_append(string_t *dest, bool success)
{
	str_append(dest, success ? "+\n" : "-\n");
}

int replication_notify_reply_parse(const char *line, bool *success_r,
				   const char **error_r)
{
	if (strcmp(line, "+") == 0)
		*success_r = TRUE;
	else if (strcmp(line, "-") == 0)
		*success_r = FALSE;
	else {
		*error_r = t_strdup_printf("Invalid reply '%s'",
					   str_sanitize(line, 64));
		return -1;
	}
	return 0;
}

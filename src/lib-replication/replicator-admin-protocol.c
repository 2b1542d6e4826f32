/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "replicator-admin-protocol.h"

struct replicator_admin_cmd_def {
	const char *name;
	/* number of arguments after the command word */
	unsigned int min_args, max_args;
};

static const struct replicator_admin_cmd_def replicator_admin_cmds[] = {
	[REPLICATOR_ADMIN_CMD_STATUS] = { "STATUS", 0, 1 },
	[REPLICATOR_ADMIN_CMD_STATUS_DSYNC] = { "STATUS-DSYNC", 0, 0 },
	[REPLICATOR_ADMIN_CMD_REPLICATE] = { "REPLICATE", 3, 3 },
	[REPLICATOR_ADMIN_CMD_ADD] = { "ADD", 1, 1 },
	[REPLICATOR_ADMIN_CMD_REMOVE] = { "REMOVE", 1, 1 },
	[REPLICATOR_ADMIN_CMD_NOTIFY] = { "NOTIFY", 3, 4 },
	[REPLICATOR_ADMIN_CMD_INCOMING] = { "INCOMING", 1, 1 },
};
static_assert(N_ELEMENTS(replicator_admin_cmds) == REPLICATOR_ADMIN_CMD_COUNT,
	      "command table out of sync");

static const char *const replicator_admin_status_labels[] = {
	[REPLICATOR_ADMIN_STATUS_QUEUED_SYNC] = "Queued 'sync' requests",
	[REPLICATOR_ADMIN_STATUS_QUEUED_HIGH] = "Queued 'high' requests",
	[REPLICATOR_ADMIN_STATUS_QUEUED_LOW] = "Queued 'low' requests",
	[REPLICATOR_ADMIN_STATUS_QUEUED_FAILED] = "Queued 'failed' requests",
	[REPLICATOR_ADMIN_STATUS_QUEUED_FULL_RESYNC] =
		"Queued 'full resync' requests",
	[REPLICATOR_ADMIN_STATUS_WAITING_FAILED] = "Waiting 'failed' requests",
	[REPLICATOR_ADMIN_STATUS_TOTAL_USERS] = "Total number of known users",
};
static_assert(N_ELEMENTS(replicator_admin_status_labels) ==
	      REPLICATOR_ADMIN_STATUS_COUNTER_COUNT, "labels out of sync");

static void append_flags(string_t *dest, bool full_sync)
{
	if (full_sync)
		str_append_c(dest, REPLICATOR_ADMIN_FLAG_FULL_SYNC);
}

static bool parse_flags(const char *flags)
{
	return strchr(flags, REPLICATOR_ADMIN_FLAG_FULL_SYNC) != NULL;
}

void replicator_admin_request_append(string_t *dest,
				     const struct replicator_admin_request *req)
{
	i_assert(req->cmd < REPLICATOR_ADMIN_CMD_COUNT);

	str_append(dest, replicator_admin_cmds[req->cmd].name);
	switch (req->cmd) {
	case REPLICATOR_ADMIN_CMD_STATUS:
		if (req->mask != NULL) {
			str_append_c(dest, '\t');
			str_append_tabescaped(dest, req->mask);
		}
		break;
	case REPLICATOR_ADMIN_CMD_STATUS_DSYNC:
		break;
	case REPLICATOR_ADMIN_CMD_REPLICATE:
		str_append_c(dest, '\t');
		str_append(dest, replication_priority_to_str(req->priority));
		str_append_c(dest, '\t');
		append_flags(dest, req->full_sync);
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, req->mask);
		break;
	case REPLICATOR_ADMIN_CMD_ADD:
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, req->mask);
		break;
	case REPLICATOR_ADMIN_CMD_REMOVE:
	case REPLICATOR_ADMIN_CMD_INCOMING:
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, req->username);
		break;
	case REPLICATOR_ADMIN_CMD_NOTIFY:
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, req->username);
		str_append_c(dest, '\t');
		append_flags(dest, req->full_sync);
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, req->state == NULL ? "" :
				      req->state);
		if (req->sender != NULL) {
			str_append_c(dest, '\t');
			str_append_tabescaped(dest, req->sender);
		}
		break;
	}
	str_append_c(dest, '\n');
}

static int parse_mask(const char *mask, const char **mask_r,
		      const char **error_r)
{
	if (mask[0] == '\0') {
		*error_r = "Empty user mask";
		return -1;
	}
	if (strlen(mask) > REPLICATION_USERNAME_MAX_LENGTH) {
		*error_r = "User mask too long";
		return -1;
	}
	*mask_r = mask;
	return 0;
}

int replicator_admin_request_parse(const char *const *args,
				   struct replicator_admin_request *req_r,
				   const char **error_r)
{
	const struct replicator_admin_cmd_def *def = NULL;
	unsigned int i, count = str_array_length(args);

	i_zero(req_r);
	if (count == 0) {
		*error_r = "Empty request";
		return -1;
	}
	for (i = 0; i < N_ELEMENTS(replicator_admin_cmds); i++) {
		if (strcmp(args[0], replicator_admin_cmds[i].name) == 0) {
			def = &replicator_admin_cmds[i];
			req_r->cmd = i;
			break;
		}
	}
	if (def == NULL) {
		*error_r = t_strdup_printf("Unknown command '%s'",
					   str_sanitize(args[0], 32));
		return -1;
	}
	args++; count--;
	if (count < def->min_args || count > def->max_args) {
		*error_r = def->min_args == def->max_args ?
			t_strdup_printf("%s: Expected %u arguments, got %u",
					def->name, def->min_args, count) :
			t_strdup_printf("%s: Expected %u..%u arguments, got %u",
					def->name, def->min_args,
					def->max_args, count);
		return -1;
	}

	switch (req_r->cmd) {
	case REPLICATOR_ADMIN_CMD_STATUS:
		if (count == 1 && parse_mask(args[0], &req_r->mask,
					     error_r) < 0)
			return -1;
		break;
	case REPLICATOR_ADMIN_CMD_STATUS_DSYNC:
		break;
	case REPLICATOR_ADMIN_CMD_REPLICATE:
		if (replication_priority_parse(args[0],
					       &req_r->priority) < 0) {
			*error_r = t_strdup_printf(
				"REPLICATE: Invalid priority '%s'",
				str_sanitize(args[0], 32));
			return -1;
		}
		req_r->full_sync = parse_flags(args[1]);
		if (parse_mask(args[2], &req_r->mask, error_r) < 0)
			return -1;
		break;
	case REPLICATOR_ADMIN_CMD_ADD:
		if (parse_mask(args[0], &req_r->mask, error_r) < 0)
			return -1;
		break;
	case REPLICATOR_ADMIN_CMD_REMOVE:
	case REPLICATOR_ADMIN_CMD_INCOMING:
		if (replication_username_verify(args[0], error_r) < 0)
			return -1;
		req_r->username = args[0];
		break;
	case REPLICATOR_ADMIN_CMD_NOTIFY:
		if (replication_username_verify(args[0], error_r) < 0)
			return -1;
		req_r->username = args[0];
		req_r->full_sync = parse_flags(args[1]);
		req_r->state = args[2];
		req_r->sender = args[3];
		break;
	}
	return 0;
}

void replicator_admin_result_append(string_t *dest, bool success,
				    const char *text)
{
	str_append_c(dest, success ? '+' : '-');
	if (text != NULL)
		str_append_tabescaped(dest, text);
	str_append_c(dest, '\n');
}

int replicator_admin_result_parse(const char *const *args, bool *success_r,
				  const char **text_r, const char **error_r)
{
	const char *line = args[0];

	if (line == NULL || args[1] != NULL) {
		*error_r = t_strdup_printf("Expected a result line, got %u "
					   "fields", str_array_length(args));
		return -1;
	}
	if (line[0] == '+')
		*success_r = TRUE;
	else if (line[0] == '-')
		*success_r = FALSE;
	else {
		*error_r = t_strdup_printf("Invalid result line '%s'",
					   str_sanitize(line, 64));
		return -1;
	}
	*text_r = line + 1;
	return 0;
}

void replicator_admin_list_end_append(string_t *dest)
{
	str_append_c(dest, '\n');
}

bool replicator_admin_is_list_end(const char *const *args)
{
	/* an empty line splits into no fields, or one empty field */
	return args[0] == NULL || (args[0][0] == '\0' && args[1] == NULL);
}

const char *
replicator_admin_status_counter_label(enum replicator_admin_status_counter c)
{
	i_assert(c < REPLICATOR_ADMIN_STATUS_COUNTER_COUNT);
	return replicator_admin_status_labels[c];
}

void replicator_admin_status_count_append(
	string_t *dest, enum replicator_admin_status_counter counter,
	unsigned int count)
{
	str_append_tabescaped(dest,
			      replicator_admin_status_counter_label(counter));
	str_printfa(dest, "\t%u\n", count);
}

int replicator_admin_status_count_parse(const char *const *args,
					const char **label_r,
					unsigned int *count_r,
					const char **error_r)
{
	/* <label> <count> */
	if (str_array_length(args) != 2) {
		*error_r = t_strdup_printf(
			"Status: Expected 2 fields, got %u",
			str_array_length(args));
		return -1;
	}
	if (args[0][0] == '\0') {
		*error_r = "Status: Empty label";
		return -1;
	}
	if (str_to_uint(args[1], count_r) < 0) {
		*error_r = t_strdup_printf("Status: Invalid count '%s'",
					   str_sanitize(args[1], 32));
		return -1;
	}
	*label_r = args[0];
	return 0;
}

void replicator_admin_user_status_append(
	string_t *dest, const struct replicator_admin_user_status *status)
{
	str_append_tabescaped(dest, status->username);
	str_printfa(dest, "\t%s\t%lld\t%lld\t%c\t%lld\t%u\t%lld\t",
		    replication_priority_to_str(status->priority),
		    (long long)status->last_fast_sync,
		    (long long)status->last_full_sync,
		    status->last_sync_failed ? '1' : '0',
		    (long long)status->last_successful_sync,
		    status->next_sync_secs,
		    (long long)status->oldest_change);
	str_append_tabescaped(dest, status->last_error == NULL ? "" :
			      status->last_error);
	str_append_c(dest, '\n');
}


int replicator_admin_user_status_parse(
	const char *const *args, struct replicator_admin_user_status *status_r,
	const char **error_r)
{
	i_zero(status_r);
	if (str_array_length(args) < 7) {
		*error_r = t_strdup_printf(
			"User status: Expected 7 fields, got %u",
			str_array_length(args));
		return -1;
	}
	if (replication_username_verify(args[0], error_r) < 0)
		return -1;
	status_r->username = args[0];
	if (replication_priority_parse(args[1], &status_r->priority) < 0) {
		*error_r = t_strdup_printf("Invalid priority '%s'",
					   str_sanitize(args[1], 32));
		return -1;
	}
	if (replication_timestamp_parse(args[2], "last fast sync",
					&status_r->last_fast_sync,
					error_r) < 0 ||
	    replication_timestamp_parse(args[3], "last full sync",
					&status_r->last_full_sync,
					error_r) < 0 ||
	    replication_bool_parse(args[4], "failed flag",
				   &status_r->last_sync_failed, error_r) < 0 ||
	    replication_timestamp_parse(args[5], "last successful sync",
					&status_r->last_successful_sync,
					error_r) < 0)
		return -1;
	if (str_to_uint(args[6], &status_r->next_sync_secs) < 0) {
		*error_r = t_strdup_printf("Invalid next sync secs '%s'",
					   str_sanitize(args[6], 32));
		return -1;
	}
	status_r->last_error = "";
	if (args[7] == NULL)
		return 0;
	if (replication_timestamp_parse(args[7], "oldest change",
					&status_r->oldest_change,
					error_r) < 0)
		return -1;
	if (args[8] != NULL)
		status_r->last_error = args[8];
	return 0;
}

void replicator_admin_dsync_status_append(
	string_t *dest, const struct replicator_admin_dsync_status *status)
{
	str_append_tabescaped(dest, status->username == NULL ? "" :
			      status->username);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, status->sync_type);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, status->status);
	str_append_c(dest, '\n');
}

int replicator_admin_dsync_status_parse(
	const char *const *args, struct replicator_admin_dsync_status *status_r,
	const char **error_r)
{
	/* <username> <sync type> <status> */
	if (str_array_length(args) != 3) {
		*error_r = t_strdup_printf(
			"Dsync status: Expected 3 fields, got %u",
			str_array_length(args));
		return -1;
	}
	status_r->username = args[0];
	status_r->sync_type = args[1];
	status_r->status = args[2];
	return 0;
}

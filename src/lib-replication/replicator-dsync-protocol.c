/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "net.h"
#include "replicator-dsync-protocol.h"

const char *const *
replicator_dsync_parameters_parse(const char *parameters,
				  const char **removed_r)
{
	static const char *const removed_params[] =
		REPLICATOR_DSYNC_REMOVED_PARAMETERS;
	ARRAY_TYPE(const_string) params;
	const char *const *args;
	string_t *removed = NULL;

	t_array_init(&params, 8);
	for (args = t_strsplit_spaces(parameters, " "); *args != NULL; args++) {
		if (str_array_find(removed_params, *args)) {
			if (removed == NULL)
				removed = t_str_new(16);
			else
				str_append_c(removed, ' ');
			str_append(removed, *args);
			continue;
		}
		array_push_back(&params, args);
	}
	array_append_zero(&params);
	*removed_r = removed == NULL ? NULL : str_c(removed);
	return array_front(&params);
}

void replicator_dsync_state_output_append(string_t *state,
					  const unsigned char *data,
					  size_t size)
{
	str_append_tabunescaped(state, data, size);
}

void replicator_dsync_cmd_append(string_t *dest,
				 const struct replicator_dsync_cmd *cmd)
{
	const char *const *param;

	/* no flags */
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, cmd->username);
	str_append(dest, "\tsync");
	for (param = cmd->parameters; *param != NULL; param++) {
		str_append_c(dest, '\t');
		str_append_tabescaped(dest, *param);
	}
	if (cmd->full_sync)
		str_append(dest, "\t-f");
	if (cmd->timeout_secs > 0)
		str_printfa(dest, "\t-T\t%u", cmd->timeout_secs);
	/* options before the destination: sync takes no unordered ones */
	str_append(dest, "\t-s\t");
	str_append_tabescaped(dest, cmd->state);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, cmd->replica);
	str_append_c(dest, '\n');
}

int replicator_replica_addr_parse(const char *replica,
				  struct replicator_replica_addr *addr_r,
				  const char **error_r)
{
	const char *rest, *host, *port_str = NULL;

	i_zero(addr_r);
	if (str_begins(replica, "tcps:", &rest))
		addr_r->ssl = TRUE;
	else if (!str_begins(replica, "tcp:", &rest))
		return 0;
	if (strchr(rest, '/') != NULL) {
		/* dsync takes it as a doveadm-server unix socket */
		return 0;
	}
	if (rest[0] == '[') {
		/* [ipv6]:port */
		const char *end = strchr(rest, ']');
		if (end == NULL || end[1] != ':') {
			*error_r = t_strdup_printf("Invalid replica %s: "
				"an IPv6 address needs [brackets] and a port",
				replica);
			return -1;
		}
		host = t_strdup_until(rest + 1, end);
		port_str = end + 2;
	} else {
		/* as dsync does: the port follows the last colon */
		const char *p = strrchr(rest, ':');
		if (p == NULL)
			host = rest;
		else {
			host = t_strdup_until(rest, p);
			port_str = p + 1;
		}
	}
	if (host[0] == '\0') {
		*error_r = t_strdup_printf("Invalid replica %s: no host",
					   replica);
		return -1;
	}
	if (port_str != NULL &&
	    (net_str2port(port_str, &addr_r->port) < 0 ||
	     addr_r->port == 0)) {
		*error_r = t_strdup_printf("Invalid replica %s: bad port",
					   replica);
		return -1;
	}
	addr_r->host = host;
	return 1;
}

static void append_notify_args(string_t *dest, bool full_sync,
			       const char *sender, const char *username,
			       const char *state)
{
	if (full_sync)
		str_append(dest, "\t-f");
	str_append(dest, "\t-i\t");
	str_append_tabescaped(dest, sender);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, username);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, state);
	str_append_c(dest, '\n');
}

void replicator_notify_peer_cmd_append(string_t *dest, const char *replica,
				       const char *username, bool full_sync,
				       const char *state, const char *sender)
{
	/* no flags, no user: not a mail command; the words of a command
	   name are separate fields; options before the positional ones */
	str_append(dest, "\t\treplicator\tnotify-peer");
	if (full_sync)
		str_append(dest, "\t-f");
	str_append(dest, "\t-i\t");
	str_append_tabescaped(dest, sender);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, replica);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, username);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, state);
	str_append_c(dest, '\n');
}

void replicator_request_peer_cmd_append(string_t *dest, const char *replica,
					const char *username)
{
	str_append(dest, "\t\treplicator\tnotify-peer\t-r\t");
	str_append_tabescaped(dest, replica);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, username);
	/* no state */
	str_append(dest, "\t\n");
}

void replicator_replicate_cmd_append(string_t *dest, const char *username)
{
	str_append(dest, "\t\treplicator\treplicate\t-p\thigh\t");
	str_append_tabescaped(dest, username);
	str_append_c(dest, '\n');
}

void replicator_notify_cmd_append(string_t *dest, const char *username,
				  bool full_sync, const char *state,
				  const char *sender)
{
	str_append(dest, "\t\treplicator\tnotify");
	append_notify_args(dest, full_sync, sender, username, state);
}

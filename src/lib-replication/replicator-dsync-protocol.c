/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
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
	/* options before the destination: sync takes no unordered ones */
	str_append(dest, "\t-s\t");
	str_append_tabescaped(dest, cmd->state);
	str_append_c(dest, '\t');
	str_append_tabescaped(dest, cmd->replica);
	str_append_c(dest, '\n');
}

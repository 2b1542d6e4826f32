/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "str-parse.h"
#include "replication-common.h"

static const char *const replication_priority_names[] = {
	[REPLICATION_PRIORITY_NONE] = "none",
	[REPLICATION_PRIORITY_LOW] = "low",
	[REPLICATION_PRIORITY_HIGH] = "high",
	[REPLICATION_PRIORITY_SYNC] = "sync",
};
static_assert(N_ELEMENTS(replication_priority_names) ==
	      REPLICATION_PRIORITY_COUNT, "priority names out of sync");

const char *replication_priority_to_str(enum replication_priority priority)
{
	i_assert(priority < REPLICATION_PRIORITY_COUNT);
	return replication_priority_names[priority];
}

int replication_priority_parse(const char *str,
			       enum replication_priority *priority_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(replication_priority_names); i++) {
		if (strcmp(str, replication_priority_names[i]) == 0) {
			*priority_r = i;
			return 0;
		}
	}
	return -1;
}

int replication_timestamp_parse(const char *str, const char *field_name,
				time_t *time_r, const char **error_r)
{
	uint64_t num;

	if (str_to_uint64(str, &num) < 0 || num > (uint64_t)INT32_MAX * 4) {
		*error_r = t_strdup_printf("Invalid %s '%s'", field_name,
					   str_sanitize(str, 32));
		return -1;
	}
	*time_r = (time_t)num;
	return 0;
}

int replication_bool_parse(const char *str, const char *field_name,
			   bool *value_r, const char **error_r)
{
	if (strcmp(str, "0") == 0)
		*value_r = FALSE;
	else if (strcmp(str, "1") == 0)
		*value_r = TRUE;
	else {
		*error_r = t_strdup_printf("Invalid %s '%s'", field_name,
					   str_sanitize(str, 32));
		return -1;
	}
	return 0;
}

int replication_interval_parse(const char *str, unsigned int *secs_r,
			       const char **error_r)
{
	if (str_to_uint(str, secs_r) == 0)
		return 0;
	return str_parse_get_interval(str, secs_r, error_r);
}

bool replication_noreplicate_value(const char *value)
{
	if (value == NULL)
		return FALSE;
	switch (value[0]) {
	case 'n':
	case 'N':
	case '0':
	case 'f':
	case 'F':
		return FALSE;
	default:
		return TRUE;
	}
}

int replication_username_verify(const char *username, const char **error_r)
{
	size_t len = strlen(username);

	if (len == 0) {
		*error_r = "Empty username";
		return -1;
	}
	if (len > REPLICATION_USERNAME_MAX_LENGTH) {
		*error_r = t_strdup_printf("Username too long (%zu > %u bytes)",
					   len, REPLICATION_USERNAME_MAX_LENGTH);
		return -1;
	}
	return 0;
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "settings-parser.h"
#include "replication-common.h"
#include "replication-settings.h"

/* The default marks "not set": it is the only value that neither the
   config file nor a 2.3-style userdb flag (empty value) produces by
   accident. */
#define REPLICATION_NOREPLICATE_UNSET "no"

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct replication_settings)

static const struct setting_define replication_setting_defines[] = {
	DEF(STR, mail_replica),
	DEF(STR, noreplicate),
	DEF(STR, replication_sync_timeout),
	SETTING_DEFINE_LIST_END
};

static const struct replication_settings replication_default_settings = {
	.mail_replica = "",
	.noreplicate = REPLICATION_NOREPLICATE_UNSET,
	.replication_sync_timeout = "0",
};

static bool replication_settings_check(void *_set, pool_t pool ATTR_UNUSED,
				       const char **error_r)
{
	struct replication_settings *set = _set;
	const char *error;

	if (replication_interval_parse(set->replication_sync_timeout,
				       &set->parsed_sync_timeout_secs,
				       &error) < 0) {
		*error_r = t_strdup_printf(
			"Invalid replication_sync_timeout: %s", error);
		return FALSE;
	}
	return TRUE;
}

const struct setting_parser_info replication_setting_parser_info = {
	.name = "replication",
	.defines = replication_setting_defines,
	.defaults = &replication_default_settings,
	.struct_size = sizeof(struct replication_settings),
	.pool_offset1 = 1 + offsetof(struct replication_settings, pool),
	.check_func = replication_settings_check,
};

bool replication_settings_noreplicate(const struct replication_settings *set)
{
	return replication_noreplicate_value(set->noreplicate);
}

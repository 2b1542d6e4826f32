/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "settings-parser.h"
#include "service-settings.h"
#include "replication-common.h"
#include "replicator-settings.h"
#include "replication-settings-module.h"

struct service_settings replicator_service_settings = {
	.name = "replicator",
	.protocol = "",
	.type = "",
	.executable = "replicator",
	/* root: it needs the 0600 doveadm-server socket and userdb listing */
	.user = "",
	.group = "",
	.privileged_group = "",
	.extra_groups = ARRAY_INIT,
	.chroot = "",

	.drop_priv_before_exec = FALSE,

	/* always running: idle users are due for full syncs */
	.process_min_avail = 1,
	.process_limit = 1,
	.idle_kill_interval = SET_TIME_INFINITE,

	.unix_listeners = ARRAY_INIT,
	.fifo_listeners = ARRAY_INIT,
	.inet_listeners = ARRAY_INIT,

	.process_limit_1 = TRUE,
};

const struct setting_keyvalue replicator_service_settings_defaults[] = {
	{ "unix_listener", REPLICATOR_NOTIFY_SOCKET_NAME" "
			   REPLICATOR_ADMIN_SOCKET_NAME },

	/* the aggregator runs as default_internal_user */
	{ "unix_listener/"REPLICATOR_NOTIFY_SOCKET_NAME"/path",
	  REPLICATOR_NOTIFY_SOCKET_NAME },
	{ "unix_listener/"REPLICATOR_NOTIFY_SOCKET_NAME"/type",
	  REPLICATOR_LISTENER_TYPE_NOTIFY },
	{ "unix_listener/"REPLICATOR_NOTIFY_SOCKET_NAME"/mode", "0600" },
	{ "unix_listener/"REPLICATOR_NOTIFY_SOCKET_NAME"/user",
	  "$SET:default_internal_user" },

	/* admin commands: root only */
	{ "unix_listener/"REPLICATOR_ADMIN_SOCKET_NAME"/path",
	  REPLICATOR_ADMIN_SOCKET_NAME },
	{ "unix_listener/"REPLICATOR_ADMIN_SOCKET_NAME"/type",
	  REPLICATOR_LISTENER_TYPE_ADMIN },
	{ "unix_listener/"REPLICATOR_ADMIN_SOCKET_NAME"/mode", "0600" },

	{ NULL, NULL }
};

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct replicator_settings)

static const struct setting_define replicator_setting_defines[] = {
	DEF(STR, replication_full_sync_interval),
	DEF(UINT, replication_max_conns),
	DEF(STR, replication_dsync_parameters),
	DEF(TIME, replication_dsync_timeout),
	SETTING_DEFINE_LIST_END
};

static const struct replicator_settings replicator_default_settings = {
	.replication_full_sync_interval = "1d",
	.replication_max_conns = 10,
	/* 2.3 had "-d -N -l 30 -U": 2.4 removed -d and -U, so the replicator
	   passes the destination itself */
	.replication_dsync_parameters = "-N -l 30",
	.replication_dsync_timeout = 30 * 60,
};

static bool replicator_settings_check(void *_set, pool_t pool ATTR_UNUSED,
				      const char **error_r)
{
	struct replicator_settings *set = _set;
	const char *error;

	if (replication_interval_parse(set->replication_full_sync_interval,
				       &set->parsed_full_sync_interval_secs,
				       &error) < 0) {
		*error_r = t_strdup_printf(
			"Invalid replication_full_sync_interval: %s", error);
		return FALSE;
	}
	if (set->parsed_full_sync_interval_secs == 0) {
		/* every user would always be due: endless full syncs */
		*error_r = "replication_full_sync_interval must not be 0";
		return FALSE;
	}
	return TRUE;
}

const struct setting_parser_info replicator_setting_parser_info = {
	.name = "replicator",
	.defines = replicator_setting_defines,
	.defaults = &replicator_default_settings,
	.struct_size = sizeof(struct replicator_settings),
	.pool_offset1 = 1 + offsetof(struct replicator_settings, pool),
	.check_func = replicator_settings_check,
};

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "settings-parser.h"
#include "service-settings.h"
#include "replication-common.h"
#include "aggregator-settings.h"
#include "replication-settings-module.h"

struct service_settings aggregator_service_settings = {
	.name = "aggregator",
	.protocol = "",
	.type = "",
	.executable = "aggregator",
	.user = "$SET:default_internal_user",
	.group = "",
	.privileged_group = "",
	.extra_groups = ARRAY_INIT,
	.chroot = ".",

	/* one process owns the spool; the master starts a new one at once
	   if it dies, which sends what the spool holds */
	.process_min_avail = 1,
	.process_limit = 1,
	.idle_kill_interval = SET_TIME_INFINITE,

	.drop_priv_before_exec = FALSE,

	.unix_listeners = ARRAY_INIT,
	.fifo_listeners = ARRAY_INIT,
	.inet_listeners = ARRAY_INIT,

	.process_limit_1 = TRUE,
};

/* Both listeners are root-owned 0600 as in 2.3: give them to the mail
   user (user = vmail) or widen the mode to let mail processes notify. */
const struct setting_keyvalue aggregator_service_settings_defaults[] = {
	{ "fifo_listener", REPLICATION_NOTIFY_FIFO_NAME },
	{ "fifo_listener/"REPLICATION_NOTIFY_FIFO_NAME"/path",
	  REPLICATION_NOTIFY_FIFO_NAME },
	{ "fifo_listener/"REPLICATION_NOTIFY_FIFO_NAME"/mode", "0600" },

	{ "unix_listener", REPLICATION_NOTIFY_SOCKET_NAME },
	{ "unix_listener/"REPLICATION_NOTIFY_SOCKET_NAME"/path",
	  REPLICATION_NOTIFY_SOCKET_NAME },
	{ "unix_listener/"REPLICATION_NOTIFY_SOCKET_NAME"/mode", "0600" },

	{ NULL, NULL }
};

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct aggregator_settings)

static const struct setting_define aggregator_setting_defines[] = {
	DEF(STR, replicator_host),
	DEF(IN_PORT, replicator_port),
	SETTING_DEFINE_LIST_END
};

static const struct aggregator_settings aggregator_default_settings = {
	.replicator_host = REPLICATOR_NOTIFY_SOCKET_NAME,
	.replicator_port = 0,
};

const struct setting_parser_info aggregator_setting_parser_info = {
	.name = "aggregator",
	.defines = aggregator_setting_defines,
	.defaults = &aggregator_default_settings,
	.struct_size = sizeof(struct aggregator_settings),
	.pool_offset1 = 1 + offsetof(struct aggregator_settings, pool),
};

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "restrict-access.h"
#include "settings.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "replication-common.h"
#include "replication-settings.h"
#include "replicator-settings.h"
#include "replicator-common.h"
#include "replicator-notify-conn.h"
#include "replicator-admin-conn.h"

struct event *replicator_event;

static struct event_category event_category_replicator = {
	.name = REPLICATION_EVENT_CATEGORY_REPLICATOR,
};

static const struct replicator_settings *replicator_set;
static const struct replication_settings *replication_set;

static void client_connected(struct master_service_connection *conn)
{
	master_service_client_connection_accept(conn);
	if (strcmp(master_service_connection_get_type(conn),
		   REPLICATOR_LISTENER_TYPE_ADMIN) == 0)
		replicator_admin_conn_create(conn->fd, conn->name);
	else
		replicator_notify_conn_create(conn->fd, conn->name);
}

int main(int argc, char *argv[])
{
	const char *error;

	master_service = master_service_init("replicator",
					     MASTER_SERVICE_FLAG_NO_IDLE_DIE,
					     &argc, &argv, "");
	if (master_getopt(master_service) > 0)
		return FATAL_DEFAULT;

	if (master_service_settings_read_simple(master_service, &error) < 0)
		i_fatal("%s", error);
	master_service_init_log(master_service);
	restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, NULL);
	restrict_access_allow_coredumps(TRUE);

	replicator_event = event_create(master_service_get_event(master_service));
	event_add_category(replicator_event, &event_category_replicator);
	replicator_set = settings_get_or_fatal(replicator_event,
					       &replicator_setting_parser_info);
	replication_set = settings_get_or_fatal(replicator_event,
						&replication_setting_parser_info);
	e_debug(replicator_event, "Default replica: %s, max %u dsyncs",
		replication_set->mail_replica[0] == '\0' ? "(none)" :
		replication_set->mail_replica,
		replicator_set->replication_max_conns);

	replicator_notify_conns_init();
	replicator_admin_conns_init();
	master_service_init_finish(master_service);

	master_service_run(master_service, client_connected);

	replicator_admin_conns_deinit();
	replicator_notify_conns_deinit();
	settings_free(replication_set);
	settings_free(replicator_set);
	event_unref(&replicator_event);
	master_service_deinit(&master_service);
	return 0;
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "restrict-access.h"
#include "settings.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "replication-common.h"
#include "aggregator-settings.h"
#include "aggregator-common.h"
#include "aggregator-notify-conn.h"
#include "aggregator-spool.h"
#include "aggregator-replicator-client.h"

struct event *aggregator_event;
struct aggregator_replicator_client *aggregator_replicator;

static struct event_category event_category_aggregator = {
	.name = REPLICATION_EVENT_CATEGORY_AGGREGATOR,
};

static const struct aggregator_settings *aggregator_set;

static bool aggregator_idle_die(void)
{
	if (aggregator_replicator_client_is_idle(aggregator_replicator))
		return TRUE;
	/* requests only we hold would be lost */
	e_debug(aggregator_event, "Not stopping while the replicator hasn't "
		"saved every request");
	return FALSE;
}

static void client_connected(struct master_service_connection *conn)
{
	master_service_client_connection_accept(conn);
	aggregator_notify_conn_create(conn->fd, conn->fifo);
}

int main(int argc, char *argv[])
{
	struct aggregator_spool *spool;
	const char *error;

	master_service = master_service_init("aggregator", 0,
					     &argc, &argv, "");
	if (master_getopt(master_service) > 0)
		return FATAL_DEFAULT;

	if (master_service_settings_read_simple(master_service, &error) < 0)
		i_fatal("%s", error);
	master_service_init_log(master_service);

	aggregator_event = event_create(master_service_get_event(master_service));
	event_add_category(aggregator_event, &event_category_aggregator);
	/* still root and in base_dir */
	spool = aggregator_spool_preinit(aggregator_event);
	restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, NULL);
	restrict_access_allow_coredumps(TRUE);

	aggregator_set = settings_get_or_fatal(aggregator_event,
					       &aggregator_setting_parser_info);
	e_debug(aggregator_event, "Replicator at %s%s",
		aggregator_set->replicator_host,
		aggregator_set->replicator_port == 0 ? "" :
		t_strdup_printf(":%u", aggregator_set->replicator_port));

	master_service_init_finish(master_service);
	aggregator_replicator = aggregator_replicator_client_create(
		aggregator_set, spool, aggregator_event);
	aggregator_notify_conns_init();
	master_service_set_idle_die_callback(master_service,
					     aggregator_idle_die);

	master_service_run(master_service, client_connected);

	aggregator_notify_conns_deinit();
	aggregator_replicator_client_destroy(&aggregator_replicator);
	settings_free(aggregator_set);
	event_unref(&aggregator_event);
	master_service_deinit(&master_service);
	return 0;
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "restrict-access.h"
#include "settings.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "replication-common.h"
#include "replication-settings.h"
#include "replicator-settings.h"
#include "replicator-common.h"
#include "replicator-queue.h"
#include "replicator-db-record.h"
#include "replicator-db.h"
#include "replicator-auth.h"
#include "replicator-brain.h"
#include "replicator-notify-conn.h"
#include "replicator-admin-conn.h"

/* Changes are journaled together this long after the first of them, so
   that a busy replicator doesn't fsync for each one. */
#define REPLICATOR_DB_FLUSH_DELAY_MSECS 100
/* A failed save is retried this often. */
#define REPLICATOR_DB_RETRY_INTERVAL_MSECS (5 * 1000)
/* New users appear in the userdb: list it again this often. */
#define REPLICATOR_USERDB_RELIST_INTERVAL_MSECS (60 * 60 * 1000)

struct event *replicator_event;

static struct event_category event_category_replicator = {
	.name = REPLICATION_EVENT_CATEGORY_REPLICATOR,
};

static const struct replicator_settings *replicator_set;
static const struct replication_settings *replication_set;
static struct replicator_queue *queue;
static struct replicator_auth *auth;
static struct replicator_brain *brain;
static struct replicator_db *db;
static char *doveadm_socket_path;
static struct timeout *to_save, *to_relist;
static unsigned int listed_users;
static bool save_failing;

static void client_connected(struct master_service_connection *conn)
{
	master_service_client_connection_accept(conn);
	if (strcmp(master_service_connection_get_type(conn),
		   REPLICATOR_LISTENER_TYPE_ADMIN) == 0)
		replicator_admin_conn_create(conn->fd, conn->name);
	else
		replicator_notify_conn_create(conn->fd, conn->name);
}

static void replicator_state_dirty(void *context);

static void replicator_save_state(void *context ATTR_UNUSED)
{
	const char *error;

	timeout_remove(&to_save);
	if (!replicator_brain_state_dirty(brain))
		return;
	if (replicator_db_flush(db, &error) < 0) {
		/* replication goes on from memory; the aggregators keep
		   what isn't acknowledged */
		if (!save_failing) {
			e_error(replicator_event, "Couldn't save the state "
				"(retrying every %u s): %s",
				REPLICATOR_DB_RETRY_INTERVAL_MSECS / 1000,
				error);
			save_failing = TRUE;
		}
		to_save = timeout_add(REPLICATOR_DB_RETRY_INTERVAL_MSECS,
				      replicator_save_state, NULL);
		return;
	}
	if (save_failing) {
		e_info(replicator_event, "The state is saved again");
		save_failing = FALSE;
	}
	replicator_brain_state_saved(brain);
	replicator_notify_conns_state_saved();
}

static void replicator_state_write(void *context ATTR_UNUSED)
{
	const char *error;

	/* the flush that follows reports errors */
	if (replicator_db_write(db, &error) < 0)
		e_debug(replicator_event, "Couldn't write the state: %s", error);
	replicator_state_dirty(NULL);
}

static void replicator_state_dirty(void *context ATTR_UNUSED)
{
	if (to_save == NULL) {
		to_save = timeout_add_short(REPLICATOR_DB_FLUSH_DELAY_MSECS,
					    replicator_save_state, NULL);
	}
}

static void replicator_list_user(const char *username,
				 void *context ATTR_UNUSED)
{
	(void)replicator_queue_get(queue, username);
	listed_users++;
}

static void replicator_list_done(const char *error, void *context ATTR_UNUSED)
{
	if (error != NULL) {
		e_error(replicator_event, "Listing users failed, "
			"can't replicate existing users: %s", error);
	} else {
		e_debug(replicator_event, "Listed %u users from userdb",
			listed_users);
	}
}

static void replicator_list_users(void *context ATTR_UNUSED)
{
	listed_users = 0;
	/* users already known keep their state; new ones are synced */
	if (!replicator_auth_list(auth, "*", replicator_list_user,
				  replicator_list_done, NULL))
		e_debug(replicator_event, "Userdb listing still running");
}

static void main_init(void)
{
	const struct master_service_settings *master_set =
		master_service_get_service_settings(master_service);
	struct replicator_brain_settings brain_set;
	const char *error;

	queue = replicator_queue_init(
		replicator_set->parsed_full_sync_interval_secs);
	db = replicator_db_init(queue, master_set->state_dir,
				replicator_event);
	if (replicator_db_load(db, &error) < 0)
		e_error(replicator_event, "%s", error);

	auth = replicator_auth_init(t_strconcat(master_set->base_dir,
						"/auth-userdb", NULL),
				    replicator_event);
	i_zero(&brain_set);
	brain_set.set = replicator_set;
	brain_set.default_replica = replication_set->mail_replica;
	brain_set.noreplicate =
		replication_settings_noreplicate(replication_set);
	doveadm_socket_path = i_strconcat(master_set->base_dir,
					  "/doveadm-server", NULL);
	brain_set.doveadm_socket_path = doveadm_socket_path;
	brain_set.peers_path = t_strconcat(master_set->state_dir, "/",
					   REPLICATOR_PEERS_FILE_NAME, NULL);
	brain_set.state_dirty_callback = replicator_state_dirty;
	brain_set.state_write_callback = replicator_state_write;
	brain = replicator_brain_init(queue, auth, &brain_set,
				      replicator_event);
	replicator_notify_conns_init(queue, brain);
	replicator_admin_conns_init(queue, brain, auth);

	replicator_list_users(NULL);
	to_relist = timeout_add(REPLICATOR_USERDB_RELIST_INTERVAL_MSECS,
				replicator_list_users, NULL);
}

static void main_deinit(void)
{
	const char *error;

	timeout_remove(&to_save);
	timeout_remove(&to_relist);
	replicator_admin_conns_deinit();
	/* fails the waiting sync requests */
	replicator_brain_deinit(&brain);
	replicator_notify_conns_deinit();
	replicator_auth_deinit(&auth);
	timeout_remove(&to_save);
	if (replicator_db_compact(db, &error) < 0)
		e_error(replicator_event, "Couldn't save the state: %s", error);
	replicator_db_deinit(&db);
	replicator_queue_deinit(&queue);
	i_free(doveadm_socket_path);
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
	master_service_init_finish(master_service);

	main_init();
	master_service_run(master_service, client_connected);
	main_deinit();

	settings_free(replication_set);
	settings_free(replicator_set);
	event_unref(&replicator_event);
	master_service_deinit(&master_service);
	return 0;
}

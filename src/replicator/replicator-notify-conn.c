/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "connection.h"
#include "llist.h"
#include "str.h"
#include "ostream.h"
#include "master-service.h"
#include "replicator-notify-protocol.h"
#include "replicator-queue.h"
#include "replicator-brain.h"
#include "replicator-common.h"
#include "replicator-notify-conn.h"

struct replicator_notify_sync {
	struct replicator_notify_sync *prev, *next;
	struct replicator_notify_conn *conn;
	struct replicator_sync_waiter *waiter;
	uint32_t id;
};

struct replicator_notify_conn {
	struct replicator_notify_conn *prev, *next;
	struct connection conn;
	struct replicator_notify_sync *syncs;
	/* requests received, and whether some are waiting for the state to
	   be saved before they are acknowledged */
	uint64_t requests;
	bool ack_pending:1;
};

static struct connection_list *replicator_notify_conns;
static struct replicator_queue *replicator_notify_queue;
static struct replicator_brain *replicator_notify_brain;
/* connections whose peer wants acknowledgements */
static struct replicator_notify_conn *replicator_notify_ack_conns;

static void replicator_notify_sync_callback(bool success, void *context)
{
	struct replicator_notify_sync *sync = context;
	struct replicator_notify_conn *conn = sync->conn;
	string_t *reply = t_str_new(32);

	replicator_notify_reply_append(reply, sync->id, success);
	o_stream_nsend(conn->conn.output, str_data(reply), str_len(reply));
	DLLIST_REMOVE(&conn->syncs, sync);
	i_free(sync);
}

static int
replicator_notify_conn_input_args(struct connection *_conn,
				  const char *const *args)
{
	struct replicator_notify_conn *conn =
		container_of(_conn, struct replicator_notify_conn, conn);
	struct replicator_notify_request req;
	struct replicator_notify_sync *sync;
	struct replicator_user *user;
	const char *error;

	if (replicator_notify_request_parse(args, &req, &error) < 0) {
		e_error(conn->conn.event, "Invalid request: %s", error);
		return -1;
	}
	user = replicator_queue_get(replicator_notify_queue, req.username);
	replicator_queue_update(replicator_notify_queue, user, req.priority);
	if (conn->conn.minor_version >= REPLICATOR_NOTIFY_MINOR_VERSION_ACK) {
		/* acknowledged once the state with it is saved */
		conn->requests++;
		if (!conn->ack_pending) {
			conn->ack_pending = TRUE;
			DLLIST_PREPEND(&replicator_notify_ack_conns, conn);
		}
		replicator_brain_state_changed(replicator_notify_brain);
	}
	if (req.priority == REPLICATION_PRIORITY_SYNC) {
		sync = i_new(struct replicator_notify_sync, 1);
		sync->conn = conn;
		sync->id = req.id;
		DLLIST_PREPEND(&conn->syncs, sync);
		sync->waiter = replicator_brain_wait_sync(
			replicator_notify_brain, req.username,
			replicator_notify_sync_callback, sync);
	}
	return 1;
}

static void replicator_notify_conn_destroy(struct connection *_conn)
{
	struct replicator_notify_conn *conn =
		container_of(_conn, struct replicator_notify_conn, conn);
	struct replicator_notify_sync *sync;

	if (conn->conn.disconnect_reason ==
	    CONNECTION_DISCONNECT_BUFFER_FULL) {
		e_error(conn->conn.event, "Invalid request: line longer "
			"than %u bytes", REPLICATOR_NOTIFY_MAX_LINE_LENGTH);
	}
	while ((sync = conn->syncs) != NULL) {
		DLLIST_REMOVE(&conn->syncs, sync);
		replicator_brain_wait_sync_cancel(&sync->waiter);
		i_free(sync);
	}
	if (conn->ack_pending)
		DLLIST_REMOVE(&replicator_notify_ack_conns, conn);
	connection_deinit(&conn->conn);
	i_free(conn);
	master_service_client_connection_destroyed(master_service);
}

static const struct connection_vfuncs replicator_notify_conn_vfuncs = {
	.destroy = replicator_notify_conn_destroy,
	.input_args = replicator_notify_conn_input_args,
};

static const struct connection_settings replicator_notify_conn_set = {
	.service_name_in = REPLICATOR_NOTIFY_SERVICE_NAME,
	.service_name_out = REPLICATOR_NOTIFY_SERVICE_NAME,
	.major_version = REPLICATOR_NOTIFY_MAJOR_VERSION,
	.minor_version = REPLICATOR_NOTIFY_MINOR_VERSION,
	/* the aggregator expects no version line back */
	.dont_send_version = TRUE,
	.input_max_size = REPLICATOR_NOTIFY_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
};

void replicator_notify_conn_create(int fd, const char *name)
{
	struct replicator_notify_conn *conn;

	conn = i_new(struct replicator_notify_conn, 1);
	conn->conn.event_parent = replicator_event;
	connection_init_server(replicator_notify_conns, &conn->conn, name,
			       fd, fd);
}

void replicator_notify_conns_init(struct replicator_queue *queue,
				  struct replicator_brain *brain)
{
	replicator_notify_queue = queue;
	replicator_notify_brain = brain;
	replicator_notify_conns = connection_list_init(
		&replicator_notify_conn_set, &replicator_notify_conn_vfuncs);
}

void replicator_notify_conns_state_saved(void)
{
	struct replicator_notify_conn *conn;
	string_t *str = t_str_new(32);

	while ((conn = replicator_notify_ack_conns) != NULL) {
		DLLIST_REMOVE(&replicator_notify_ack_conns, conn);
		conn->ack_pending = FALSE;
		str_truncate(str, 0);
		replicator_notify_ack_append(str, conn->requests);
		o_stream_nsend(conn->conn.output, str_data(str), str_len(str));
	}
}

void replicator_notify_conns_deinit(void)
{
	connection_list_deinit(&replicator_notify_conns);
}

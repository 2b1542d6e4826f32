/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "connection.h"
#include "str.h"
#include "ostream.h"
#include "master-service.h"
#include "replicator-admin-protocol.h"
#include "replicator-queue.h"
#include "replicator-common.h"
#include "replicator-admin-conn.h"

#define REPLICATOR_ADMIN_IDLE_TIMEOUT_SECS (5 * 60)

struct replicator_admin_conn {
	struct connection conn;
};

static struct connection_list *replicator_admin_conns;
static struct replicator_queue *replicator_admin_queue;

static void
replicator_admin_notify(struct connection *conn,
			const struct replicator_admin_request *req,
			string_t *reply)
{
	struct replicator_user *user;

	user = replicator_queue_get(replicator_admin_queue, req->username);
	replicator_queue_peer_synced(replicator_admin_queue, user,
				     req->full_sync, req->state);
	e_debug(conn->event, "%s: synced by the replica%s", req->username,
		req->full_sync ? " (full sync)" : "");
	replicator_admin_result_append(reply, TRUE, NULL);
}

static int
replicator_admin_conn_input_args(struct connection *conn,
				 const char *const *args)
{
	struct replicator_admin_request req;
	string_t *reply = t_str_new(128);
	const char *error;

	if (replicator_admin_request_parse(args, &req, &error) < 0) {
		e_error(conn->event, "Invalid request: %s", error);
		replicator_admin_result_append(reply, FALSE, error);
		o_stream_nsend(conn->output, str_data(reply), str_len(reply));
		return -1;
	}
	switch (req.cmd) {
	case REPLICATOR_ADMIN_CMD_NOTIFY:
		replicator_admin_notify(conn, &req, reply);
		break;
	case REPLICATOR_ADMIN_CMD_STATUS:
	case REPLICATOR_ADMIN_CMD_STATUS_DSYNC:
	case REPLICATOR_ADMIN_CMD_REPLICATE:
	case REPLICATOR_ADMIN_CMD_ADD:
	case REPLICATOR_ADMIN_CMD_REMOVE:
		/* FIXME: arrive with the admin surface */
		replicator_admin_result_append(reply, FALSE,
					       "Command not supported yet");
		break;
	}
	o_stream_nsend(conn->output, str_data(reply), str_len(reply));
	return 1;
}

static void replicator_admin_conn_destroy(struct connection *_conn)
{
	struct replicator_admin_conn *conn =
		container_of(_conn, struct replicator_admin_conn, conn);

	connection_deinit(&conn->conn);
	i_free(conn);
	master_service_client_connection_destroyed(master_service);
}

static const struct connection_vfuncs replicator_admin_conn_vfuncs = {
	.destroy = replicator_admin_conn_destroy,
	.input_args = replicator_admin_conn_input_args,
};

static const struct connection_settings replicator_admin_conn_set = {
	.service_name_in = REPLICATOR_ADMIN_SERVICE_NAME_CLIENT,
	.service_name_out = REPLICATOR_ADMIN_SERVICE_NAME_SERVER,
	.major_version = REPLICATOR_ADMIN_MAJOR_VERSION,
	.minor_version = REPLICATOR_ADMIN_MINOR_VERSION,
	.input_max_size = REPLICATOR_ADMIN_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
	.input_idle_timeout_secs = REPLICATOR_ADMIN_IDLE_TIMEOUT_SECS,
};

void replicator_admin_conn_create(int fd, const char *name)
{
	struct replicator_admin_conn *conn;

	conn = i_new(struct replicator_admin_conn, 1);
	conn->conn.event_parent = replicator_event;
	connection_init_server(replicator_admin_conns, &conn->conn, name,
			       fd, fd);
}

void replicator_admin_conns_init(struct replicator_queue *queue)
{
	replicator_admin_queue = queue;
	replicator_admin_conns = connection_list_init(
		&replicator_admin_conn_set, &replicator_admin_conn_vfuncs);
}

void replicator_admin_conns_deinit(void)
{
	connection_list_deinit(&replicator_admin_conns);
}

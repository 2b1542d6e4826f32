/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "connection.h"
#include "str.h"
#include "ostream.h"
#include "master-service.h"
#include "replication-notify-protocol.h"
#include "aggregator-common.h"
#include "aggregator-notify-conn.h"

#define AGGREGATOR_NOTIFY_IDLE_TIMEOUT_SECS (10 * 60)

struct aggregator_notify_conn {
	struct connection conn;
	bool fifo:1;
};

static struct connection_list *aggregator_fifo_conns;
static struct connection_list *aggregator_socket_conns;

static int
aggregator_notify_conn_input_args(struct connection *_conn,
				  const char *const *args)
{
	struct aggregator_notify_conn *conn =
		container_of(_conn, struct aggregator_notify_conn, conn);
	struct replication_notify_request req;
	const char *error;

	if (replication_notify_request_parse(args, &req, &error) < 0) {
		e_error(conn->conn.event, "Invalid notification: %s", error);
		/* a fifo is shared by all mail processes: skip the line */
		return conn->fifo ? 1 : -1;
	}
	e_debug(conn->conn.event, "Notification: user=%s priority=%s",
		req.username, replication_priority_to_str(req.priority));

	if (req.priority == REPLICATION_PRIORITY_SYNC) {
		if (conn->fifo) {
			e_error(conn->conn.event,
				"Sync request on the fifo (only the socket "
				"can answer it)");
			return 1;
		}
		/* FIXME: wait for the replicator. Until then the waiter is
		   answered at once, so it never hangs. */
		string_t *reply = t_str_new(4);
		replication_notify_reply_append(reply, FALSE);
		o_stream_nsend(conn->conn.output, str_data(reply),
			       str_len(reply));
	}
	return 1;
}

static void aggregator_notify_conn_destroy(struct connection *_conn)
{
	struct aggregator_notify_conn *conn =
		container_of(_conn, struct aggregator_notify_conn, conn);

	connection_deinit(&conn->conn);
	i_free(conn);
	master_service_client_connection_destroyed(master_service);
}

static const struct connection_vfuncs aggregator_notify_conn_vfuncs = {
	.destroy = aggregator_notify_conn_destroy,
	.input_args = aggregator_notify_conn_input_args,
};

static const struct connection_settings aggregator_fifo_conn_set = {
	.input_max_size = REPLICATION_NOTIFY_MAX_LINE_LENGTH,
	/* a fifo can't be written to */
	.output_max_size = 0,
};

static const struct connection_settings aggregator_socket_conn_set = {
	.input_max_size = REPLICATION_NOTIFY_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
	.input_idle_timeout_secs = AGGREGATOR_NOTIFY_IDLE_TIMEOUT_SECS,
};

void aggregator_notify_conn_create(int fd, bool fifo)
{
	struct aggregator_notify_conn *conn;

	conn = i_new(struct aggregator_notify_conn, 1);
	conn->fifo = fifo;
	conn->conn.event_parent = aggregator_event;
	connection_init_server(fifo ? aggregator_fifo_conns :
			       aggregator_socket_conns, &conn->conn,
			       fifo ? REPLICATION_NOTIFY_FIFO_NAME :
			       REPLICATION_NOTIFY_SOCKET_NAME, fd, fd);
}

void aggregator_notify_conns_init(void)
{
	aggregator_fifo_conns = connection_list_init(
		&aggregator_fifo_conn_set, &aggregator_notify_conn_vfuncs);
	aggregator_socket_conns = connection_list_init(
		&aggregator_socket_conn_set, &aggregator_notify_conn_vfuncs);
}

void aggregator_notify_conns_deinit(void)
{
	connection_list_deinit(&aggregator_fifo_conns);
	connection_list_deinit(&aggregator_socket_conns);
}

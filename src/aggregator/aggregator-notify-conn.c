/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "connection.h"
#include "istream.h"
#include "ostream.h"
#include "str.h"
#include "strescape.h"
#include "master-service.h"
#include "replication-notify-protocol.h"
#include "aggregator-replicator-client.h"
#include "aggregator-common.h"
#include "aggregator-notify-conn.h"

#define AGGREGATOR_NOTIFY_IDLE_TIMEOUT_SECS (10 * 60)

struct aggregator_notify_conn {
	struct connection conn;
	/* sync request this socket waits for */
	struct aggregator_sync_request *sync_req;
	bool fifo:1;
	/* fifo: the rest of an overlong line is being thrown away */
	bool skipping_line:1;
};

static struct connection_list *aggregator_fifo_conns;
static struct connection_list *aggregator_socket_conns;

static void aggregator_notify_sync_callback(bool success, void *context)
{
	struct aggregator_notify_conn *conn = context;
	string_t *reply = t_str_new(4);

	conn->sync_req = NULL;
	replication_notify_reply_append(reply, success);
	o_stream_nsend(conn->conn.output, str_data(reply), str_len(reply));
	connection_input_resume(&conn->conn);
}

/* Returns FALSE if the line is invalid. */
static bool
aggregator_notify_conn_request(struct aggregator_notify_conn *conn,
			       const char *const *args)
{
	struct replication_notify_request req;
	const char *error;

	if (replication_notify_request_parse(args, &req, &error) < 0) {
		e_error(conn->conn.event, "Invalid notification: %s", error);
		return FALSE;
	}
	if (req.priority != REPLICATION_PRIORITY_SYNC) {
		aggregator_replicator_notify(aggregator_replicator,
					     req.username, req.priority);
		return TRUE;
	}
	if (conn->fifo) {
		e_error(conn->conn.event, "Invalid notification: "
			"sync request on the fifo (only the socket can "
			"answer it)");
		aggregator_replicator_notify(aggregator_replicator,
					     req.username,
					     REPLICATION_PRIORITY_HIGH);
		return FALSE;
	}
	/* one request at a time: read more only after the answer */
	connection_input_halt(&conn->conn);
	conn->sync_req = aggregator_replicator_sync(aggregator_replicator,
		req.username, aggregator_notify_sync_callback, conn);
	return TRUE;
}

static int
aggregator_notify_conn_input_args(struct connection *_conn,
				  const char *const *args)
{
	struct aggregator_notify_conn *conn =
		container_of(_conn, struct aggregator_notify_conn, conn);

	if (!aggregator_notify_conn_request(conn, args))
		return -1;
	/* stop parsing further lines while a sync request waits */
	return conn->sync_req == NULL ? 1 : 0;
}

/* The fifo is shared by every mail process and is the master's listener:
   never close it. Bad lines are logged and skipped, overlong ones too. */
static void aggregator_fifo_input(struct connection *_conn)
{
	struct aggregator_notify_conn *conn =
		container_of(_conn, struct aggregator_notify_conn, conn);
	const char *line;
	size_t size;

	switch (i_stream_read(conn->conn.input)) {
	case -2:
		if (!conn->skipping_line) {
			e_error(conn->conn.event, "Invalid notification: "
				"line longer than %u bytes - skipped",
				REPLICATION_NOTIFY_MAX_LINE_LENGTH);
			conn->skipping_line = TRUE;
		}
		(void)i_stream_get_data(conn->conn.input, &size);
		i_stream_skip(conn->conn.input, size);
		return;
	case -1:
		/* the master keeps the fifo open for writing, so this
		   doesn't normally happen: let the master start a new
		   aggregator with a fresh fifo fd */
		e_error(conn->conn.event, "read(%s) failed: %s - restarting",
			conn->conn.name,
			i_stream_get_error(conn->conn.input));
		connection_input_halt(&conn->conn);
		master_service_stop(master_service);
		return;
	default:
		break;
	}
	while ((line = i_stream_next_line(conn->conn.input)) != NULL) {
		if (conn->skipping_line) {
			/* the end of the overlong line */
			conn->skipping_line = FALSE;
			continue;
		}
		T_BEGIN {
			(void)aggregator_notify_conn_request(conn,
				t_strsplit_tabescaped(line));
		} T_END;
	}
}

static void aggregator_notify_conn_destroy(struct connection *_conn)
{
	struct aggregator_notify_conn *conn =
		container_of(_conn, struct aggregator_notify_conn, conn);

	if (conn->conn.disconnect_reason ==
	    CONNECTION_DISCONNECT_BUFFER_FULL) {
		e_error(conn->conn.event, "Invalid notification: "
			"line longer than %u bytes",
			REPLICATION_NOTIFY_MAX_LINE_LENGTH);
	}
	aggregator_replicator_sync_cancel(&conn->sync_req);
	connection_deinit(&conn->conn);
	/* master-service doesn't count a fifo as a client */
	if (!conn->fifo)
		master_service_client_connection_destroyed(master_service);
	i_free(conn);
}

static const struct connection_vfuncs aggregator_socket_conn_vfuncs = {
	.destroy = aggregator_notify_conn_destroy,
	.input_args = aggregator_notify_conn_input_args,
};

static const struct connection_vfuncs aggregator_fifo_conn_vfuncs = {
	.destroy = aggregator_notify_conn_destroy,
	.input = aggregator_fifo_input,
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
		&aggregator_fifo_conn_set, &aggregator_fifo_conn_vfuncs);
	aggregator_socket_conns = connection_list_init(
		&aggregator_socket_conn_set, &aggregator_socket_conn_vfuncs);
}

void aggregator_notify_conns_deinit(void)
{
	connection_list_deinit(&aggregator_fifo_conns);
	connection_list_deinit(&aggregator_socket_conns);
}

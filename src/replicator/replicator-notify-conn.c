/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "connection.h"
#include "str.h"
#include "ostream.h"
#include "master-service.h"
#include "replicator-notify-protocol.h"
#include "replicator-common.h"
#include "replicator-notify-conn.h"

struct replicator_notify_conn {
	struct connection conn;
};

static struct connection_list *replicator_notify_conns;

static int
replicator_notify_conn_input_args(struct connection *conn,
				  const char *const *args)
{
	struct replicator_notify_request req;
	const char *error;

	if (replicator_notify_request_parse(args, &req, &error) < 0) {
		e_error(conn->event, "Invalid request: %s", error);
		return -1;
	}
	e_debug(conn->event, "Notification: user=%s priority=%s",
		req.username, replication_priority_to_str(req.priority));
	if (req.id != 0) {
		/* FIXME: answer once the user has been synced. Until the
		   queue exists the request fails at once. */
		string_t *reply = t_str_new(32);
		replicator_notify_reply_append(reply, req.id, FALSE);
		o_stream_nsend(conn->output, str_data(reply), str_len(reply));
	}
	return 1;
}

static void replicator_notify_conn_destroy(struct connection *_conn)
{
	struct replicator_notify_conn *conn =
		container_of(_conn, struct replicator_notify_conn, conn);

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

void replicator_notify_conns_init(void)
{
	replicator_notify_conns = connection_list_init(
		&replicator_notify_conn_set, &replicator_notify_conn_vfuncs);
}

void replicator_notify_conns_deinit(void)
{
	connection_list_deinit(&replicator_notify_conns);
}

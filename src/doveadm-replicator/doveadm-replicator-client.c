/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "ostream.h"
#include "connection.h"
#include "replicator-admin-protocol.h"
#include "doveadm-replicator-client.h"

#define DOVEADM_REPLICATOR_TIMEOUT_MSECS (30 * 1000)
/* an incoming dsync waits this long for its replicator's answer (then it
   runs uncoordinated) */
#define DOVEADM_REPLICATOR_HOLD_TIMEOUT_MSECS (5 * 1000)

struct doveadm_replicator_conn {
	struct connection conn;
	struct ioloop *ioloop;
	struct connection_list *list;
	/* stop the ioloop when the server's version has come */
	bool wait_handshake;
	/* error and text outlive the input handlers' data stack frames */
	pool_t pool;
	const char *error;
	const char *text;
	/* list replies: rows go here */
	doveadm_replicator_row_callback_t *row_callback;
	void *context;
	bool replied:1;
	bool success:1;
};

static int doveadm_replicator_list_input(struct doveadm_replicator_conn *conn,
					 const char *const *args)
{
	const char *text, *error;
	bool success;

	if (replicator_admin_is_list_end(args)) {
		conn->replied = TRUE;
		io_loop_stop(conn->ioloop);
		return 0;
	}
	if (args[1] == NULL &&
	    replicator_admin_result_parse(args, &success, &text, &error) == 0 &&
	    !success) {
		/* the request was refused */
		conn->error = p_strdup_printf(conn->pool,
					      "Replicator failed: %s", text);
	} else if (conn->row_callback(args, conn->context, &error) == 0) {
		return 1;
	} else {
		conn->error = p_strdup_printf(conn->pool,
			"Replicator sent invalid row: %s", error);
	}
	io_loop_stop(conn->ioloop);
	return -1;
}

static int doveadm_replicator_input_args(struct connection *_conn,
					 const char *const *args)
{
	struct doveadm_replicator_conn *conn =
		container_of(_conn, struct doveadm_replicator_conn, conn);
	const char *text, *error;
	bool success;

	if (conn->row_callback != NULL)
		return doveadm_replicator_list_input(conn, args);
	if (replicator_admin_result_parse(args, &success, &text, &error) < 0) {
		conn->error = p_strdup_printf(conn->pool,
			"Replicator sent invalid reply: %s", error);
	} else {
		conn->replied = TRUE;
		conn->success = success;
		conn->text = p_strdup(conn->pool, text);
	}
	io_loop_stop(conn->ioloop);
	return 0;
}

static void doveadm_replicator_destroy(struct connection *_conn)
{
	struct doveadm_replicator_conn *conn =
		container_of(_conn, struct doveadm_replicator_conn, conn);

	if (conn->error == NULL) {
		conn->error = p_strdup_printf(conn->pool,
			"Replicator disconnected: %s",
			connection_disconnect_reason(_conn));
	}
	io_loop_stop(conn->ioloop);
}

static void doveadm_replicator_handshake_ready(struct connection *_conn)
{
	struct doveadm_replicator_conn *conn =
		container_of(_conn, struct doveadm_replicator_conn, conn);

	if (conn->wait_handshake)
		io_loop_stop(conn->ioloop);
}

static const struct connection_vfuncs doveadm_replicator_vfuncs = {
	.destroy = doveadm_replicator_destroy,
	.handshake_ready = doveadm_replicator_handshake_ready,
	.input_args = doveadm_replicator_input_args,
};

static const struct connection_settings doveadm_replicator_set = {
	.client = TRUE,
	/* an empty line ends a list */
	.allow_empty_args_input = TRUE,
	.service_name_in = REPLICATOR_ADMIN_SERVICE_NAME_SERVER,
	.service_name_out = REPLICATOR_ADMIN_SERVICE_NAME_CLIENT,
	.major_version = REPLICATOR_ADMIN_MAJOR_VERSION,
	.minor_version = REPLICATOR_ADMIN_MINOR_VERSION,
	.input_max_size = REPLICATOR_ADMIN_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
};

/* Connect in a private ioloop, which becomes the current one. */
static int
doveadm_replicator_connect(struct doveadm_replicator_conn *conn,
			   const char *socket_path, struct event *event,
			   const char **error_r)
{
	conn->ioloop = io_loop_create();
	conn->pool = pool_alloconly_create("doveadm replicator client", 256);
	conn->list = connection_list_init(&doveadm_replicator_set,
					  &doveadm_replicator_vfuncs);
	conn->conn.event_parent = event;
	connection_init_client_unix(conn->list, &conn->conn, socket_path);
	if (connection_client_connect(&conn->conn) < 0) {
		*error_r = t_strdup_printf("net_connect_unix(%s) failed: %m",
					   socket_path);
		return -1;
	}
	return 0;
}

/* Close the connection and destroy its ioloop (made current for that). */
static void doveadm_replicator_disconnect(struct doveadm_replicator_conn *conn)
{
	struct ioloop *prev_ioloop = current_ioloop;
	bool was_current = prev_ioloop == conn->ioloop;

	io_loop_set_current(conn->ioloop);
	connection_deinit(&conn->conn);
	connection_list_deinit(&conn->list);
	/* the ioloop that was current when it was created is again */
	io_loop_destroy(&conn->ioloop);
	if (!was_current)
		io_loop_set_current(prev_ioloop);
	pool_unref(&conn->pool);
}

static int
doveadm_replicator_run(struct doveadm_replicator_conn *_conn,
		       const char *socket_path, struct event *event,
		       const struct replicator_admin_request *req,
		       const char **error_r)
{
	struct doveadm_replicator_conn conn = *_conn;
	struct timeout *to;
	string_t *str;
	int ret = 0;

	if (doveadm_replicator_connect(&conn, socket_path, event,
				       error_r) < 0)
		ret = -1;
	else {
		str = t_str_new(256);
		replicator_admin_request_append(str, req);
		o_stream_nsend(conn.conn.output, str_data(str), str_len(str));
		to = timeout_add(DOVEADM_REPLICATOR_TIMEOUT_MSECS,
				 io_loop_stop, conn.ioloop);
		io_loop_run(conn.ioloop);
		timeout_remove(&to);
		if (!conn.replied || conn.error != NULL) {
			*error_r = conn.error != NULL ? t_strdup(conn.error) :
				t_strdup_printf("Timed out waiting for %s",
						socket_path);
			ret = -1;
		}
	}
	_conn->success = conn.success;
	_conn->text = t_strdup(conn.text);
	doveadm_replicator_disconnect(&conn);
	return ret;
}

int doveadm_replicator_client_request(const char *socket_path,
				      struct event *event,
				      const struct replicator_admin_request *req,
				      bool *success_r, const char **text_r,
				      const char **error_r)
{
	struct doveadm_replicator_conn conn;

	i_zero(&conn);
	if (doveadm_replicator_run(&conn, socket_path, event, req,
				   error_r) < 0)
		return -1;
	*success_r = conn.success;
	*text_r = conn.text;
	return 0;
}

int doveadm_replicator_client_list(const char *socket_path,
				   struct event *event,
				   const struct replicator_admin_request *req,
				   doveadm_replicator_row_callback_t *callback,
				   void *context, const char **error_r)
{
	struct doveadm_replicator_conn conn;

	i_zero(&conn);
	conn.row_callback = callback;
	conn.context = context;
	return doveadm_replicator_run(&conn, socket_path, event, req,
				      error_r);
}

struct doveadm_replicator_hold {
	struct doveadm_replicator_conn conn;
};

static void doveadm_replicator_hold_free(struct doveadm_replicator_hold *hold)
{
	doveadm_replicator_disconnect(&hold->conn);
	i_free(hold);
}

/* Returns 1 if the replicator holds the user, 0 if it refused, -1 on
   error. */
static int doveadm_replicator_hold_run(struct doveadm_replicator_conn *conn,
				       const char *socket_path,
				       const char *username,
				       const char **error_r)
{
	const struct replicator_admin_request req = {
		.cmd = REPLICATOR_ADMIN_CMD_INCOMING,
		.username = username,
	};
	string_t *str;

	/* only a server of minor version 1 knows the request: wait for its
	   version line first */
	conn->wait_handshake = TRUE;
	io_loop_run(conn->ioloop);
	conn->wait_handshake = FALSE;
	if (conn->error != NULL) {
		*error_r = t_strdup(conn->error);
		return -1;
	}
	if (!conn->conn.version_received) {
		*error_r = t_strdup_printf("Timed out waiting for %s",
					   socket_path);
		return -1;
	}
	if (conn->conn.minor_version < REPLICATOR_ADMIN_MINOR_VERSION_INCOMING) {
		*error_r = "The replicator is too old to hold users";
		return -1;
	}
	str = t_str_new(128);
	replicator_admin_request_append(str, &req);
	o_stream_nsend(conn->conn.output, str_data(str), str_len(str));
	io_loop_run(conn->ioloop);
	if (!conn->replied || conn->error != NULL) {
		*error_r = conn->error != NULL ? t_strdup(conn->error) :
			t_strdup_printf("Timed out waiting for %s",
					socket_path);
		return -1;
	}
	if (!conn->success) {
		*error_r = t_strdup(conn->text);
		return 0;
	}
	return 1;
}

int doveadm_replicator_client_hold(const char *socket_path,
				   struct event *event, const char *username,
				   struct doveadm_replicator_hold **hold_r,
				   const char **error_r)
{
	struct doveadm_replicator_hold *hold;
	struct doveadm_replicator_conn *conn;
	struct ioloop *prev_ioloop = current_ioloop;
	struct timeout *to;
	int ret;

	*hold_r = NULL;
	hold = i_new(struct doveadm_replicator_hold, 1);
	conn = &hold->conn;
	if (doveadm_replicator_connect(conn, socket_path, event, error_r) < 0)
		ret = -1;
	else {
		to = timeout_add(DOVEADM_REPLICATOR_HOLD_TIMEOUT_MSECS,
				 io_loop_stop, conn->ioloop);
		ret = doveadm_replicator_hold_run(conn, socket_path, username,
						  error_r);
		timeout_remove(&to);
	}
	/* the connection stays in its own ioloop, which doesn't run while
	   the dsync does: nothing is read from it until it is closed */
	io_loop_set_current(prev_ioloop);
	if (ret <= 0)
		doveadm_replicator_hold_free(hold);
	else
		*hold_r = hold;
	return ret;
}

void doveadm_replicator_client_hold_release(
	struct doveadm_replicator_hold **_hold)
{
	struct doveadm_replicator_hold *hold = *_hold;

	*_hold = NULL;
	if (hold != NULL)
		doveadm_replicator_hold_free(hold);
}

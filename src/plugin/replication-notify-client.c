/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "ostream.h"
#include "connection.h"
#include "replication-notify-protocol.h"
#include "replication-notify-client.h"

#include <fcntl.h>
#include <unistd.h>

struct replication_notify_client {
	struct event *event;
	char *fifo_path;
	char *socket_path;
	int fifo_fd;
	/* the last fifo problem was logged; quiet until it works again */
	bool fifo_failure_logged:1;
};

struct replication_sync_conn {
	struct connection conn;
	struct ioloop *ioloop;
	bool replied:1;
	bool success:1;
};

static int replication_sync_conn_input_line(struct connection *_conn,
					    const char *line)
{
	struct replication_sync_conn *conn =
		container_of(_conn, struct replication_sync_conn, conn);
	const char *error;
	bool success;

	if (replication_notify_reply_parse(line, &success, &error) < 0) {
		e_error(conn->conn.event, "Aggregator sent invalid reply: %s",
			error);
		success = FALSE;
	}
	conn->replied = TRUE;
	conn->success = success;
	io_loop_stop(conn->ioloop);
	return 0;
}

static void replication_sync_conn_destroy(struct connection *_conn)
{
	struct replication_sync_conn *conn =
		container_of(_conn, struct replication_sync_conn, conn);

	io_loop_stop(conn->ioloop);
}

static const struct connection_vfuncs replication_sync_conn_vfuncs = {
	.destroy = replication_sync_conn_destroy,
	.input_line = replication_sync_conn_input_line,
};

static const struct connection_settings replication_sync_conn_set = {
	.client = TRUE,
	.input_max_size = REPLICATION_NOTIFY_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
};

struct replication_notify_client *
replication_notify_client_create(struct event *event, const char *base_dir)
{
	struct replication_notify_client *client;

	client = i_new(struct replication_notify_client, 1);
	client->event = event;
	event_ref(event);
	client->fifo_path = i_strconcat(base_dir, "/",
					REPLICATION_NOTIFY_FIFO_NAME, NULL);
	client->socket_path = i_strconcat(base_dir, "/",
					  REPLICATION_NOTIFY_SOCKET_NAME, NULL);
	client->fifo_fd = -1;
	return client;
}

void replication_notify_client_destroy(struct replication_notify_client **_client)
{
	struct replication_notify_client *client = *_client;

	*_client = NULL;
	i_close_fd_path(&client->fifo_fd, client->fifo_path);
	event_unref(&client->event);
	i_free(client->fifo_path);
	i_free(client->socket_path);
	i_free(client);
}

static void
replication_notify_client_fifo_failed(struct replication_notify_client *client,
				      const char *error)
{
	if (!client->fifo_failure_logged) {
		e_warning(client->event, "%s - will retry on the next change",
			  error);
		client->fifo_failure_logged = TRUE;
	}
}

int replication_notify_client_send(struct replication_notify_client *client,
				   const char *username,
				   enum replication_priority priority)
{
	string_t *line = t_str_new(128);
	ssize_t ret;

	if (client->fifo_fd == -1) {
		client->fifo_fd = open(client->fifo_path,
				       O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (client->fifo_fd == -1) {
			/* ENXIO: nobody reads the fifo (Dovecot not running) */
			replication_notify_client_fifo_failed(client,
				t_strdup_printf("open(%s) failed: %m",
						client->fifo_path));
			return -1;
		}
	}
	replication_notify_request_append(line, username, priority);
	/* lines are far below PIPE_BUF, so the write is atomic */
	ret = write(client->fifo_fd, str_data(line), str_len(line));
	if (ret == (ssize_t)str_len(line)) {
		if (client->fifo_failure_logged) {
			e_info(client->event, "%s works again",
			       client->fifo_path);
			client->fifo_failure_logged = FALSE;
		}
		return 1;
	}
	if (ret < 0 && errno == EAGAIN) {
		replication_notify_client_fifo_failed(client,
			t_strdup_printf("%s is full", client->fifo_path));
		return 0;
	}
	replication_notify_client_fifo_failed(client, ret < 0 ?
		t_strdup_printf("write(%s) failed: %m", client->fifo_path) :
		t_strdup_printf("write(%s) was partial", client->fifo_path));
	/* reopen next time: the reader may have been restarted */
	i_close_fd_path(&client->fifo_fd, client->fifo_path);
	return -1;
}

bool replication_notify_client_sync(struct replication_notify_client *client,
				    const char *username,
				    unsigned int timeout_msecs)
{
	struct connection_list *list;
	struct replication_sync_conn conn;
	struct timeout *to;
	string_t *line;
	bool success = FALSE;

	i_zero(&conn);
	conn.ioloop = io_loop_create();
	list = connection_list_init(&replication_sync_conn_set,
				    &replication_sync_conn_vfuncs);
	conn.conn.event_parent = client->event;
	connection_init_client_unix(list, &conn.conn, client->socket_path);
	if (connection_client_connect(&conn.conn) < 0) {
		e_warning(client->event, "Sync failed: "
			  "net_connect_unix(%s) failed: %m",
			  client->socket_path);
	} else {
		line = t_str_new(128);
		replication_notify_request_append(line, username,
						  REPLICATION_PRIORITY_SYNC);
		o_stream_nsend(conn.conn.output, str_data(line),
			       str_len(line));
		to = timeout_add(timeout_msecs, io_loop_stop, conn.ioloop);
		io_loop_run(conn.ioloop);
		timeout_remove(&to);
		if (!conn.replied) {
			e_warning(client->event, "Sync failed: %s",
				  conn.conn.disconnected ?
				  "Aggregator disconnected" :
				  t_strdup_printf("Timeout in %u ms",
						  timeout_msecs));
		} else if (!conn.success) {
			e_warning(client->event,
				  "Sync failed: replication failed");
		} else {
			success = TRUE;
		}
	}
	connection_deinit(&conn.conn);
	connection_list_deinit(&list);
	/* makes the previous ioloop current again */
	io_loop_destroy(&conn.ioloop);
	return success;
}

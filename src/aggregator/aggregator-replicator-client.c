/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "net.h"
#include "ostream.h"
#include "connection.h"
#include "replicator-notify-protocol.h"
#include "aggregator-settings.h"
#include "aggregator-spool.h"
#include "aggregator-replicator-client.h"

/* Above this much unsent output, requests wait in the pending table. */
#define AGGREGATOR_OUTPUT_THROTTLE_BYTES (256 * 1024)
#define AGGREGATOR_RECONNECT_MIN_MSECS 100
#define AGGREGATOR_RECONNECT_MAX_MSECS (10 * 1000)

struct aggregator_sync_request {
	uint32_t id;
	char *username;
	aggregator_sync_callback_t *callback;
	void *context;
};

struct aggregator_unacked {
	enum replication_priority priority;
	/* the number of the last request sent for the user */
	uint64_t seq;
};

struct aggregator_replicator_client {
	struct connection conn;
	struct connection_list *list;
	struct event *event;
	/* NULL if requests are kept in memory only */
	struct aggregator_spool *spool;

	/* username -> highest pending priority */
	HASH_TABLE(char *, void *) pending;
	/* username -> request sent but not yet acknowledged as saved by the
	   replicator: sent again if the connection is lost */
	HASH_TABLE(char *, struct aggregator_unacked *) unacked;
	/* requests sent on this connection */
	uint64_t sent_count;
	/* id -> request sent and waiting for its reply */
	HASH_TABLE(void *, struct aggregator_sync_request *) sync_requests;
	uint32_t last_sync_id;

	struct timeout *to_reconnect;
	unsigned int reconnect_msecs;
	bool connected:1;
	bool unreachable_logged:1;
};

static void
aggregator_replicator_reconnect_later(struct aggregator_replicator_client *client);

static void
aggregator_replicator_add_pending(struct aggregator_replicator_client *client,
				  const char *username,
				  enum replication_priority priority)
{
	char *key;
	void *value;

	if (hash_table_lookup_full(client->pending, username, &key, &value)) {
		if (POINTER_CAST_TO(value, unsigned int) < priority) {
			hash_table_update(client->pending, key,
					  POINTER_CAST(priority));
		}
	} else {
		hash_table_insert(client->pending, i_strdup(username),
				  POINTER_CAST(priority));
	}
}

static bool
aggregator_replicator_can_send(struct aggregator_replicator_client *client)
{
	return client->connected &&
		o_stream_get_buffer_used_size(client->conn.output) <
		AGGREGATOR_OUTPUT_THROTTLE_BYTES;
}

static void
aggregator_replicator_send(struct aggregator_replicator_client *client,
			   const char *username,
			   enum replication_priority priority, uint32_t id)
{
	struct aggregator_unacked *unacked;
	string_t *line = t_str_new(128);
	char *key;

	replicator_notify_request_append(line, username, priority, id);
	o_stream_nsend(client->conn.output, str_data(line), str_len(line));

	/* a lost sync request is sent again as high */
	if (priority == REPLICATION_PRIORITY_SYNC)
		priority = REPLICATION_PRIORITY_HIGH;
	if (!hash_table_lookup_full(client->unacked, username,
				    &key, &unacked)) {
		unacked = i_new(struct aggregator_unacked, 1);
		hash_table_insert(client->unacked, i_strdup(username),
				  unacked);
	}
	unacked->priority = I_MAX(unacked->priority, priority);
	unacked->seq = ++client->sent_count;
}

/* The replicator saved the first count requests. */
static void
aggregator_replicator_acked(struct aggregator_replicator_client *client,
			    uint64_t count)
{
	struct hash_iterate_context *iter;
	struct aggregator_unacked *unacked;
	ARRAY(char *) acked;
	char *username;

	t_array_init(&acked, 64);
	iter = hash_table_iterate_init(client->unacked);
	while (hash_table_iterate(iter, client->unacked, &username, &unacked)) {
		if (unacked->seq <= count)
			array_push_back(&acked, &username);
	}
	hash_table_iterate_deinit(&iter);
	array_foreach_elem(&acked, username) {
		unacked = hash_table_lookup(client->unacked, username);
		hash_table_remove(client->unacked, username);
		i_free(unacked);
		i_free(username);
	}
}

/* The connection is lost: what the replicator may not have saved is sent
   again after the reconnect. */
static void
aggregator_replicator_requeue_unacked(struct aggregator_replicator_client *client)
{
	struct hash_iterate_context *iter;
	struct aggregator_unacked *unacked;
	char *username;

	iter = hash_table_iterate_init(client->unacked);
	while (hash_table_iterate(iter, client->unacked, &username, &unacked)) {
		aggregator_replicator_add_pending(client, username,
						  unacked->priority);
		i_free(unacked);
		i_free(username);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_clear(client->unacked, TRUE);
	client->sent_count = 0;
}

static void
aggregator_replicator_flush_pending(struct aggregator_replicator_client *client)
{
	struct hash_iterate_context *iter;
	ARRAY(char *) sent;
	char *username;
	void *value;

	if (hash_table_count(client->pending) == 0)
		return;

	t_array_init(&sent, 64);
	iter = hash_table_iterate_init(client->pending);
	while (aggregator_replicator_can_send(client) &&
	       hash_table_iterate(iter, client->pending, &username, &value)) {
		aggregator_replicator_send(client, username,
			POINTER_CAST_TO(value, unsigned int), 0);
		array_push_back(&sent, &username);
	}
	hash_table_iterate_deinit(&iter);
	array_foreach_elem(&sent, username) {
		hash_table_remove(client->pending, username);
		i_free(username);
	}
	if (hash_table_count(client->pending) > 0) {
		/* continue when the replicator has read what we sent */
		o_stream_set_flush_pending(client->conn.output, TRUE);
	}
}

static int aggregator_replicator_output(struct aggregator_replicator_client *client)
{
	int ret;

	if ((ret = o_stream_flush(client->conn.output)) <= 0)
		return ret;
	T_BEGIN {
		aggregator_replicator_flush_pending(client);
	} T_END;
	return 1;
}

static void
aggregator_replicator_live_add(ARRAY_TYPE(aggregator_spool_request) *live,
			       const char *username,
			       enum replication_priority priority)
{
	struct aggregator_spool_request *req;

	req = array_append_space(live);
	req->username = username;
	req->priority = priority;
}

/* Requests were saved by the replicator: drop them from the spool when it
   has grown past what is still unsaved. */
static void
aggregator_replicator_spool_compact_real(struct aggregator_replicator_client *client)
{
	ARRAY_TYPE(aggregator_spool_request) live;
	struct hash_iterate_context *iter;
	struct aggregator_unacked *unacked;
	struct aggregator_sync_request *req;
	char *username;
	void *key, *value;
	unsigned int count;

	count = hash_table_count(client->pending) +
		hash_table_count(client->unacked) +
		hash_table_count(client->sync_requests);
	if (!aggregator_spool_want_compact(client->spool, count))
		return;

	t_array_init(&live, count);
	iter = hash_table_iterate_init(client->pending);
	while (hash_table_iterate(iter, client->pending, &username, &value)) {
		aggregator_replicator_live_add(&live, username,
			POINTER_CAST_TO(value, unsigned int));
	}
	hash_table_iterate_deinit(&iter);
	iter = hash_table_iterate_init(client->unacked);
	while (hash_table_iterate(iter, client->unacked, &username, &unacked))
		aggregator_replicator_live_add(&live, username,
					       unacked->priority);
	hash_table_iterate_deinit(&iter);
	iter = hash_table_iterate_init(client->sync_requests);
	while (hash_table_iterate(iter, client->sync_requests, &key, &req)) {
		aggregator_replicator_live_add(&live, req->username,
					       REPLICATION_PRIORITY_HIGH);
	}
	hash_table_iterate_deinit(&iter);
	aggregator_spool_replace(client->spool, &live);
}

static void
aggregator_replicator_spool_compact(struct aggregator_replicator_client *client)
{
	T_BEGIN {
		aggregator_replicator_spool_compact_real(client);
	} T_END;
}

static void
aggregator_sync_request_finish(struct aggregator_sync_request **_req,
			       bool success)
{
	struct aggregator_sync_request *req = *_req;

	*_req = NULL;
	if (req->callback != NULL)
		req->callback(success, req->context);
	i_free(req->username);
	i_free(req);
}

static void
aggregator_replicator_fail_syncs(struct aggregator_replicator_client *client)
{
	struct hash_iterate_context *iter;
	struct aggregator_sync_request *req;
	void *key;

	iter = hash_table_iterate_init(client->sync_requests);
	while (hash_table_iterate(iter, client->sync_requests, &key, &req)) {
		/* not lost: replicate the user as soon as possible */
		aggregator_replicator_add_pending(client, req->username,
						  REPLICATION_PRIORITY_HIGH);
		aggregator_sync_request_finish(&req, FALSE);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_clear(client->sync_requests, TRUE);
}

static void
aggregator_replicator_connected(struct aggregator_replicator_client *client)
{
	string_t *handshake = t_str_new(64);

	if (client->unreachable_logged) {
		e_info(client->event, "Connected to the replicator again");
		client->unreachable_logged = FALSE;
	}
	client->connected = TRUE;
	client->reconnect_msecs = 0;
	o_stream_set_flush_callback(client->conn.output,
				    aggregator_replicator_output, client);
	replicator_notify_handshake_append(handshake);
	o_stream_nsend(client->conn.output, str_data(handshake),
		       str_len(handshake));
	aggregator_replicator_flush_pending(client);
}

static void
aggregator_replicator_unreachable(struct aggregator_replicator_client *client,
				  const char *error)
{
	client->connected = FALSE;
	aggregator_replicator_fail_syncs(client);
	aggregator_replicator_requeue_unacked(client);
	if (!client->unreachable_logged) {
		e_warning(client->event, "%s - keeping requests until the "
			  "replicator is back", error);
		client->unreachable_logged = TRUE;
	}
	connection_disconnect(&client->conn);
	aggregator_replicator_reconnect_later(client);
}

static void aggregator_replicator_connect(struct aggregator_replicator_client *client)
{
	timeout_remove(&client->to_reconnect);
	if (connection_client_connect(&client->conn) < 0) {
		aggregator_replicator_unreachable(client, t_strdup_printf(
			"connect(%s) failed: %m", client->conn.name));
	}
}

static void
aggregator_replicator_reconnect_later(struct aggregator_replicator_client *client)
{
	client->reconnect_msecs = client->reconnect_msecs == 0 ?
		AGGREGATOR_RECONNECT_MIN_MSECS :
		I_MIN(client->reconnect_msecs * 2,
		      AGGREGATOR_RECONNECT_MAX_MSECS);
	timeout_remove(&client->to_reconnect);
	client->to_reconnect = timeout_add(client->reconnect_msecs,
					   aggregator_replicator_connect, client);
}

static void
aggregator_replicator_client_connected(struct connection *conn, bool success)
{
	struct aggregator_replicator_client *client =
		container_of(conn, struct aggregator_replicator_client, conn);

	if (success)
		aggregator_replicator_connected(client);
	else {
		aggregator_replicator_unreachable(client, t_strdup_printf(
			"connect(%s) failed: %m", conn->name));
	}
}

static void aggregator_replicator_destroy(struct connection *conn)
{
	struct aggregator_replicator_client *client =
		container_of(conn, struct aggregator_replicator_client, conn);

	aggregator_replicator_unreachable(client, t_strdup_printf(
		"Replicator disconnected: %s",
		connection_disconnect_reason(conn)));
}

static int
aggregator_replicator_input_args(struct connection *conn,
				 const char *const *args)
{
	struct aggregator_replicator_client *client =
		container_of(conn, struct aggregator_replicator_client, conn);
	struct aggregator_sync_request *req;
	struct replicator_notify_reply reply;
	const char *error;

	if (replicator_notify_reply_parse(args, &reply, &error) < 0) {
		e_error(client->event, "Replicator sent invalid reply: %s",
			error);
		return -1;
	}
	if (reply.type == REPLICATOR_NOTIFY_REPLY_ACK) {
		if (reply.count > client->sent_count) {
			e_error(client->event, "Replicator acknowledged %"PRIu64
				" requests, but only %"PRIu64" were sent",
				reply.count, client->sent_count);
			return -1;
		}
		aggregator_replicator_acked(client, reply.count);
		aggregator_replicator_spool_compact(client);
		return 1;
	}
	req = hash_table_lookup(client->sync_requests,
				POINTER_CAST(reply.id));
	if (req == NULL) {
		e_error(client->event, "Replicator replied to unknown sync "
			"request %u", reply.id);
		return 1;
	}
	hash_table_remove(client->sync_requests, POINTER_CAST(reply.id));
	aggregator_sync_request_finish(&req, reply.success);
	aggregator_replicator_spool_compact(client);
	return 1;
}

static const struct connection_vfuncs aggregator_replicator_vfuncs = {
	.destroy = aggregator_replicator_destroy,
	.client_connected = aggregator_replicator_client_connected,
	.input_args = aggregator_replicator_input_args,
};

static const struct connection_settings aggregator_replicator_conn_set = {
	.client = TRUE,
	/* the version line is ours to send: the replicator sends none */
	.input_max_size = REPLICATOR_NOTIFY_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
	.client_connect_timeout_msecs = 10 * 1000,
};

struct aggregator_replicator_client *
aggregator_replicator_client_create(const struct aggregator_settings *set,
				    struct aggregator_spool *spool,
				    struct event *event_parent)
{
	struct aggregator_replicator_client *client;
	struct ip_addr ip;

	client = i_new(struct aggregator_replicator_client, 1);
	client->list = connection_list_init(&aggregator_replicator_conn_set,
					    &aggregator_replicator_vfuncs);
	client->conn.event_parent = event_parent;
	if (set->replicator_port == 0) {
		connection_init_client_unix(client->list, &client->conn,
					    set->replicator_host);
	} else {
		if (net_addr2ip(set->replicator_host, &ip) < 0) {
			/* resolved once: the aggregator is chrooted */
			struct ip_addr *ips;
			unsigned int count;
			int ret = net_gethostbyname(set->replicator_host,
						    &ips, &count);
			if (ret != 0) {
				i_fatal("replicator_host: "
					"gethostbyname(%s) failed: %s",
					set->replicator_host,
					net_gethosterror(ret));
			}
			ip = ips[0];
		}
		connection_init_client_ip(client->list, &client->conn,
					  set->replicator_host, &ip,
					  set->replicator_port);
	}
	client->event = client->conn.event;
	hash_table_create(&client->pending, default_pool, 0, str_hash, strcmp);
	hash_table_create(&client->unacked, default_pool, 0, str_hash, strcmp);
	hash_table_create_direct(&client->sync_requests, default_pool, 0);

	client->spool = spool;
	if (spool != NULL) T_BEGIN {
		ARRAY_TYPE(aggregator_spool_request) requests;
		const struct aggregator_spool_request *req;

		t_array_init(&requests, 64);
		if (aggregator_spool_open(spool, unsafe_data_stack_pool,
					  &requests) < 0)
			aggregator_spool_deinit(&client->spool);
		array_foreach(&requests, req) {
			aggregator_replicator_add_pending(client,
				req->username, req->priority);
		}
	} T_END;
	aggregator_replicator_connect(client);
	return client;
}

void aggregator_replicator_client_destroy(
	struct aggregator_replicator_client **_client)
{
	struct aggregator_replicator_client *client = *_client;
	struct hash_iterate_context *iter;
	char *username;
	void *value;

	*_client = NULL;
	timeout_remove(&client->to_reconnect);
	aggregator_replicator_fail_syncs(client);
	aggregator_replicator_requeue_unacked(client);
	if (hash_table_count(client->pending) > 0 && client->spool != NULL) {
		e_info(client->event, "Shutting down with %u users not yet "
		       "saved by the replicator: the next aggregator sends "
		       "them", hash_table_count(client->pending));
	} else if (hash_table_count(client->pending) > 0) {
		e_warning(client->event, "Shutting down with %u users not "
			  "yet saved by the replicator: they are replicated "
			  "at their next change or full sync",
			  hash_table_count(client->pending));
	}
	aggregator_spool_deinit(&client->spool);
	iter = hash_table_iterate_init(client->pending);
	while (hash_table_iterate(iter, client->pending, &username, &value))
		i_free(username);
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&client->pending);
	hash_table_destroy(&client->unacked);
	hash_table_destroy(&client->sync_requests);
	connection_deinit(&client->conn);
	connection_list_deinit(&client->list);
	i_free(client);
}

bool aggregator_replicator_client_is_idle(
	struct aggregator_replicator_client *client)
{
	return hash_table_count(client->pending) == 0 &&
		hash_table_count(client->unacked) == 0 &&
		hash_table_count(client->sync_requests) == 0;
}

void aggregator_replicator_notify(struct aggregator_replicator_client *client,
				  const char *username,
				  enum replication_priority priority)
{
	i_assert(priority == REPLICATION_PRIORITY_LOW ||
		 priority == REPLICATION_PRIORITY_HIGH);

	aggregator_spool_append(client->spool, username, priority);
	if (aggregator_replicator_can_send(client) &&
	    hash_table_count(client->pending) == 0)
		aggregator_replicator_send(client, username, priority, 0);
	else
		aggregator_replicator_add_pending(client, username, priority);
	aggregator_replicator_spool_compact(client);
}

struct aggregator_sync_request *
aggregator_replicator_sync(struct aggregator_replicator_client *client,
			   const char *username,
			   aggregator_sync_callback_t *callback, void *context)
{
	struct aggregator_sync_request *req;

	aggregator_spool_append(client->spool, username,
				REPLICATION_PRIORITY_SYNC);
	if (!client->connected) {
		/* don't make the mail process wait: it falls back to high */
		aggregator_replicator_add_pending(client, username,
						  REPLICATION_PRIORITY_HIGH);
		aggregator_replicator_spool_compact(client);
		callback(FALSE, context);
		return NULL;
	}
	req = i_new(struct aggregator_sync_request, 1);
	if (++client->last_sync_id == 0)
		client->last_sync_id = 1;
	req->id = client->last_sync_id;
	req->username = i_strdup(username);
	req->callback = callback;
	req->context = context;
	hash_table_insert(client->sync_requests, POINTER_CAST(req->id), req);
	aggregator_replicator_send(client, username,
				   REPLICATION_PRIORITY_SYNC, req->id);
	aggregator_replicator_spool_compact(client);
	return req;
}

void aggregator_replicator_sync_cancel(struct aggregator_sync_request **_req)
{
	struct aggregator_sync_request *req = *_req;

	*_req = NULL;
	if (req == NULL)
		return;
	/* the reply still comes; just don't call anyone */
	req->callback = NULL;
}

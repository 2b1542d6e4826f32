/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "ostream.h"
#include "connection.h"
#include "replicator-auth-protocol.h"
#include "replicator-auth.h"

/* no reply for this long while requests are pending fails them */
#define REPLICATOR_AUTH_TIMEOUT_SECS 60

struct replicator_auth_request {
	unsigned int id;
	char *username;
	/* set for a request in failed_requests */
	char *error;
	replicator_auth_lookup_callback_t *lookup_callback;
	replicator_auth_list_user_callback_t *list_user_callback;
	replicator_auth_list_done_callback_t *list_done_callback;
	void *context;
};

struct replicator_auth_conn {
	struct connection conn;
	struct replicator_auth *auth;
	HASH_TABLE(void *, struct replicator_auth_request *) requests;
	bool connected:1;
};

struct replicator_auth {
	struct connection_list *list;
	struct event *event;
	char *socket_path;
	struct replicator_auth_conn lookup_conn, list_conn;
	unsigned int last_id;

	/* requests that failed at once (no connection): their callbacks
	   are called from the ioloop, never from within the request */
	ARRAY(struct replicator_auth_request *) failed_requests;
	struct timeout *to_failed;
};

static void
replicator_auth_request_fail(struct replicator_auth_request *req,
			     const char *error)
{
	if (req->lookup_callback != NULL) {
		req->lookup_callback(REPLICATOR_AUTH_RESULT_ERROR, NULL, error,
				     req->context);
	} else {
		req->list_done_callback(error, req->context);
	}
}

static void replicator_auth_request_free(struct replicator_auth_request *req)
{
	i_free(req->username);
	i_free(req->error);
	i_free(req);
}

static void replicator_auth_failed_requests(struct replicator_auth *auth)
{
	ARRAY(struct replicator_auth_request *) reqs;
	struct replicator_auth_request *req;

	timeout_remove(&auth->to_failed);
	/* callbacks may fail new requests */
	t_array_init(&reqs, array_count(&auth->failed_requests));
	array_append_array(&reqs, &auth->failed_requests);
	array_clear(&auth->failed_requests);
	array_foreach_elem(&reqs, req) {
		replicator_auth_request_fail(req, req->error);
		replicator_auth_request_free(req);
	}
}

/* Fail the request from the ioloop. */
static void
replicator_auth_request_fail_later(struct replicator_auth *auth,
				   struct replicator_auth_request *req,
				   const char *error)
{
	req->error = i_strdup(error);
	array_push_back(&auth->failed_requests, &req);
	if (auth->to_failed == NULL) {
		auth->to_failed = timeout_add_short(0,
			replicator_auth_failed_requests, auth);
	}
}

static void
replicator_auth_conn_fail_all(struct replicator_auth_conn *aconn,
			      const char *error, bool call_callbacks)
{
	struct hash_iterate_context *iter;
	struct replicator_auth_request *req;
	ARRAY(struct replicator_auth_request *) reqs;
	void *key;

	/* callbacks may add new requests: detach the current ones first */
	t_array_init(&reqs, 8);
	iter = hash_table_iterate_init(aconn->requests);
	while (hash_table_iterate(iter, aconn->requests, &key, &req))
		array_push_back(&reqs, &req);
	hash_table_iterate_deinit(&iter);
	hash_table_clear(aconn->requests, TRUE);

	array_foreach_elem(&reqs, req) {
		if (call_callbacks)
			replicator_auth_request_fail(req, error);
		replicator_auth_request_free(req);
	}
}

static void replicator_auth_conn_destroy(struct connection *conn)
{
	struct replicator_auth_conn *aconn =
		container_of(conn, struct replicator_auth_conn, conn);
	const char *error = t_strdup_printf("auth-master %s: %s",
		conn->name, connection_disconnect_reason(conn));

	/* reconnect on the next request */
	connection_disconnect(conn);
	aconn->connected = FALSE;
	if (hash_table_count(aconn->requests) > 0) {
		e_error(aconn->auth->event, "%s", error);
		replicator_auth_conn_fail_all(aconn, error, TRUE);
	}
}

static int
replicator_auth_conn_input_args(struct connection *conn,
				const char *const *args)
{
	struct replicator_auth_conn *aconn =
		container_of(conn, struct replicator_auth_conn, conn);
	struct replicator_auth_reply reply;
	struct replicator_auth_request *req;
	const char *error;

	if (replicator_auth_reply_parse(args, &reply, &error) < 0) {
		e_error(aconn->auth->event, "auth-master sent invalid reply: %s",
			error);
		return -1;
	}
	if (reply.type == REPLICATOR_AUTH_REPLY_HANDSHAKE)
		return 1;
	req = hash_table_lookup(aconn->requests, POINTER_CAST(reply.id));
	if (req == NULL) {
		e_error(aconn->auth->event,
			"auth-master replied to unknown request %u", reply.id);
		return -1;
	}
	switch (reply.type) {
	case REPLICATOR_AUTH_REPLY_HANDSHAKE:
		i_unreached();
	case REPLICATOR_AUTH_REPLY_LIST:
		if (req->list_user_callback == NULL)
			break;
		req->list_user_callback(reply.username, req->context);
		return 1;
	case REPLICATOR_AUTH_REPLY_DONE:
		if (req->list_done_callback == NULL)
			break;
		hash_table_remove(aconn->requests, POINTER_CAST(reply.id));
		req->list_done_callback(reply.failed ?
					"userdb listing failed" : NULL,
					req->context);
		replicator_auth_request_free(req);
		return 1;
	case REPLICATOR_AUTH_REPLY_USER:
	case REPLICATOR_AUTH_REPLY_NOTFOUND:
	case REPLICATOR_AUTH_REPLY_FAIL:
		if (req->lookup_callback == NULL)
			break;
		hash_table_remove(aconn->requests, POINTER_CAST(reply.id));
		if (reply.type == REPLICATOR_AUTH_REPLY_USER) {
			req->lookup_callback(REPLICATOR_AUTH_RESULT_FOUND,
					     reply.fields, NULL, req->context);
		} else if (reply.type == REPLICATOR_AUTH_REPLY_NOTFOUND) {
			req->lookup_callback(REPLICATOR_AUTH_RESULT_NOTFOUND,
					     NULL, NULL, req->context);
		} else {
			req->lookup_callback(REPLICATOR_AUTH_RESULT_ERROR, NULL,
				t_strdup_printf("userdb lookup failed: %s",
				reply.reason[0] == '\0' ? "unknown error" :
				reply.reason), req->context);
		}
		replicator_auth_request_free(req);
		return 1;
	}
	e_error(aconn->auth->event, "auth-master sent unexpected reply to "
		"request %u", reply.id);
	return -1;
}

static const struct connection_vfuncs replicator_auth_conn_vfuncs = {
	.destroy = replicator_auth_conn_destroy,
	.input_args = replicator_auth_conn_input_args,
};

static const struct connection_settings replicator_auth_conn_set = {
	.client = TRUE,
	/* the handshake is ours: auth-master's version line has 3 fields */
	.input_max_size = REPLICATOR_AUTH_MAX_LINE_LENGTH,
	.output_max_size = SIZE_MAX,
	.input_idle_timeout_secs = REPLICATOR_AUTH_TIMEOUT_SECS,
};

static void
replicator_auth_conn_init(struct replicator_auth *auth,
			  struct replicator_auth_conn *aconn)
{
	aconn->auth = auth;
	aconn->conn.event_parent = auth->event;
	connection_init_client_unix(auth->list, &aconn->conn,
				    auth->socket_path);
	hash_table_create_direct(&aconn->requests, default_pool, 0);
}

static int
replicator_auth_conn_connect(struct replicator_auth_conn *aconn,
			     const char **error_r)
{
	string_t *str;

	if (aconn->connected)
		return 0;
	if (connection_client_connect(&aconn->conn) < 0) {
		*error_r = t_strdup_printf("net_connect_unix(%s) failed: %m",
					   aconn->conn.name);
		return -1;
	}
	aconn->connected = TRUE;
	str = t_str_new(32);
	replicator_auth_handshake_append(str);
	o_stream_nsend(aconn->conn.output, str_data(str), str_len(str));
	return 0;
}

static struct replicator_auth_request *
replicator_auth_request_add(struct replicator_auth *auth,
			    struct replicator_auth_conn *aconn)
{
	struct replicator_auth_request *req;

	req = i_new(struct replicator_auth_request, 1);
	if (++auth->last_id == 0)
		auth->last_id = 1;
	req->id = auth->last_id;
	hash_table_insert(aconn->requests, POINTER_CAST(req->id), req);
	return req;
}

struct replicator_auth *
replicator_auth_init(const char *socket_path, struct event *event_parent)
{
	struct replicator_auth *auth;

	auth = i_new(struct replicator_auth, 1);
	auth->event = event_parent;
	auth->socket_path = i_strdup(socket_path);
	auth->list = connection_list_init(&replicator_auth_conn_set,
					  &replicator_auth_conn_vfuncs);
	replicator_auth_conn_init(auth, &auth->lookup_conn);
	replicator_auth_conn_init(auth, &auth->list_conn);
	i_array_init(&auth->failed_requests, 8);
	return auth;
}

static void replicator_auth_conn_deinit(struct replicator_auth_conn *aconn)
{
	replicator_auth_conn_fail_all(aconn, NULL, FALSE);
	hash_table_destroy(&aconn->requests);
	connection_deinit(&aconn->conn);
}

void replicator_auth_abort(struct replicator_auth *auth)
{
	T_BEGIN {
		replicator_auth_failed_requests(auth);
	} T_END;
	replicator_auth_conn_fail_all(&auth->lookup_conn, "Shutting down",
				      TRUE);
	replicator_auth_conn_fail_all(&auth->list_conn, "Shutting down",
				      TRUE);
}

void replicator_auth_deinit(struct replicator_auth **_auth)
{
	struct replicator_auth *auth = *_auth;
	struct replicator_auth_request *req;

	*_auth = NULL;
	timeout_remove(&auth->to_failed);
	array_foreach_elem(&auth->failed_requests, req)
		replicator_auth_request_free(req);
	array_free(&auth->failed_requests);
	replicator_auth_conn_deinit(&auth->lookup_conn);
	replicator_auth_conn_deinit(&auth->list_conn);
	connection_list_deinit(&auth->list);
	i_free(auth->socket_path);
	i_free(auth);
}

void replicator_auth_lookup(struct replicator_auth *auth,
			    const char *username,
			    replicator_auth_lookup_callback_t *callback,
			    void *context)
{
	struct replicator_auth_conn *aconn = &auth->lookup_conn;
	struct replicator_auth_request *req;
	const char *error;
	string_t *str;

	if (replicator_auth_conn_connect(aconn, &error) < 0) {
		req = i_new(struct replicator_auth_request, 1);
		req->username = i_strdup(username);
		req->lookup_callback = callback;
		req->context = context;
		replicator_auth_request_fail_later(auth, req, error);
		return;
	}
	req = replicator_auth_request_add(auth, aconn);
	req->username = i_strdup(username);
	req->lookup_callback = callback;
	req->context = context;
	str = t_str_new(128);
	replicator_auth_user_request_append(str, req->id, username);
	o_stream_nsend(aconn->conn.output, str_data(str), str_len(str));
}

bool replicator_auth_list(struct replicator_auth *auth, const char *mask,
			  replicator_auth_list_user_callback_t *user_callback,
			  replicator_auth_list_done_callback_t *done_callback,
			  void *context)
{
	struct replicator_auth_conn *aconn = &auth->list_conn;
	struct replicator_auth_request *req;
	const char *error;
	string_t *str;

	if (hash_table_count(aconn->requests) > 0)
		return FALSE;
	if (replicator_auth_conn_connect(aconn, &error) < 0) {
		req = i_new(struct replicator_auth_request, 1);
		req->list_user_callback = user_callback;
		req->list_done_callback = done_callback;
		req->context = context;
		replicator_auth_request_fail_later(auth, req, error);
		return TRUE;
	}
	req = replicator_auth_request_add(auth, aconn);
	req->list_user_callback = user_callback;
	req->list_done_callback = done_callback;
	req->context = context;
	str = t_str_new(128);
	replicator_auth_list_request_append(str, req->id, mask);
	o_stream_nsend(aconn->conn.output, str_data(str), str_len(str));
	return TRUE;
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "connection.h"
#include "str.h"
#include "ostream.h"
#include "wildcard-match.h"
#include "master-service.h"
#include "hostpid.h"
#include "replicator-admin-protocol.h"
#include "replicator-queue.h"
#include "replicator-brain.h"
#include "replicator-auth.h"
#include "replicator-common.h"
#include "replicator-admin-conn.h"

#define REPLICATOR_ADMIN_IDLE_TIMEOUT_SECS (5 * 60)

struct replicator_admin_conn {
	struct connection conn;
	int refcount;
	/* ADD <mask>: the userdb listing runs */
	unsigned int added_users;
	/* INCOMING: the user held while the connection lasts */
	char *incoming_username;
	bool listing:1;
	bool destroyed:1;
};

static struct connection_list *replicator_admin_conns;
static struct replicator_queue *admin_queue;
static struct replicator_brain *admin_brain;
static struct replicator_auth *admin_auth;

static bool mask_is_wildcard(const char *mask)
{
	return strpbrk(mask, "*?") != NULL;
}

static void
replicator_admin_send(struct replicator_admin_conn *conn, string_t *reply)
{
	o_stream_nsend(conn->conn.output, str_data(reply), str_len(reply));
}

static void replicator_admin_unref(struct replicator_admin_conn **_conn)
{
	struct replicator_admin_conn *conn = *_conn;

	*_conn = NULL;
	i_assert(conn->refcount > 0);
	if (--conn->refcount > 0)
		return;
	i_free(conn);
}

static void replicator_admin_status(string_t *reply)
{
	unsigned int counts[REPLICATOR_ADMIN_STATUS_COUNTER_COUNT];
	struct replicator_queue_iter *iter;
	struct replicator_user *user;
	unsigned int i;

	i_zero(&counts);
	iter = replicator_queue_iter_init(admin_queue);
	while ((user = replicator_queue_iter_next(iter)) != NULL) {
		switch (user->priority) {
		case REPLICATION_PRIORITY_SYNC:
			counts[REPLICATOR_ADMIN_STATUS_QUEUED_SYNC]++;
			break;
		case REPLICATION_PRIORITY_HIGH:
			counts[REPLICATOR_ADMIN_STATUS_QUEUED_HIGH]++;
			break;
		case REPLICATION_PRIORITY_LOW:
			counts[REPLICATOR_ADMIN_STATUS_QUEUED_LOW]++;
			break;
		case REPLICATION_PRIORITY_NONE:
			if (replicator_queue_user_next_secs(admin_queue,
							    user) == 0) {
				counts[user->last_sync_failed ?
				       REPLICATOR_ADMIN_STATUS_QUEUED_FAILED :
				       REPLICATOR_ADMIN_STATUS_QUEUED_FULL_RESYNC]++;
			} else if (user->last_sync_failed) {
				counts[REPLICATOR_ADMIN_STATUS_WAITING_FAILED]++;
			}
			break;
		}
	}
	replicator_queue_iter_deinit(&iter);
	counts[REPLICATOR_ADMIN_STATUS_TOTAL_USERS] =
		replicator_queue_count(admin_queue);
	for (i = 0; i < N_ELEMENTS(counts); i++)
		replicator_admin_status_count_append(reply, i, counts[i]);
	replicator_admin_list_end_append(reply);
}

static void replicator_admin_status_mask(const char *mask, string_t *reply)
{
	struct replicator_queue_iter *iter;
	struct replicator_user *user;

	iter = replicator_queue_iter_init(admin_queue);
	while ((user = replicator_queue_iter_next(iter)) != NULL) {
		if (!wildcard_match(user->username, mask))
			continue;
		const struct replicator_admin_user_status status = {
			.username = user->username,
			.priority = user->priority,
			.last_fast_sync = user->last_fast_sync,
			.last_full_sync = user->last_full_sync,
			.last_sync_failed = user->last_sync_failed,
			.last_successful_sync = user->last_successful_sync,
			.next_sync_secs = replicator_queue_user_next_secs(
				admin_queue, user),
			.oldest_change = user->oldest_change,
			.last_error = user->last_error,
		};
		replicator_admin_user_status_append(reply, &status);
	}
	replicator_queue_iter_deinit(&iter);
	replicator_admin_list_end_append(reply);
}

static void replicator_admin_status_dsync(string_t *reply)
{
	const struct replicator_admin_dsync_status *rows;
	unsigned int i, count;

	rows = replicator_brain_get_dsync_status(admin_brain, &count);
	for (i = 0; i < count; i++)
		replicator_admin_dsync_status_append(reply, &rows[i]);
	replicator_admin_list_end_append(reply);
}

static void replicator_admin_replicate_user(struct replicator_user *user,
					    const struct replicator_admin_request *req)
{
	if (req->full_sync)
		replicator_queue_force_full_sync(admin_queue, user);
	replicator_queue_update(admin_queue, user, req->priority);
}

static void
replicator_admin_replicate(const struct replicator_admin_request *req,
			   string_t *reply)
{
	ARRAY(struct replicator_user *) users;
	struct replicator_queue_iter *iter;
	struct replicator_user *user;

	if (!mask_is_wildcard(req->mask)) {
		/* also a user the userdb hasn't listed yet */
		user = replicator_queue_get(admin_queue, req->mask);
		replicator_admin_replicate_user(user, req);
		replicator_admin_result_append(reply, TRUE, "1");
		return;
	}
	t_array_init(&users, 64);
	iter = replicator_queue_iter_init(admin_queue);
	while ((user = replicator_queue_iter_next(iter)) != NULL) {
		if (wildcard_match(user->username, req->mask))
			array_push_back(&users, &user);
	}
	replicator_queue_iter_deinit(&iter);
	array_foreach_elem(&users, user)
		replicator_admin_replicate_user(user, req);
	replicator_admin_result_append(reply, TRUE,
				       dec2str(array_count(&users)));
}

static void replicator_admin_add_user(const char *username, void *context)
{
	struct replicator_admin_conn *conn = context;
	struct replicator_user *user;

	user = replicator_queue_get(admin_queue, username);
	replicator_queue_update(admin_queue, user, REPLICATION_PRIORITY_LOW);
	conn->added_users++;
}

static void replicator_admin_add_done(const char *error, void *context)
{
	struct replicator_admin_conn *conn = context;
	string_t *reply = t_str_new(128);

	conn->listing = FALSE;
	/* a destroyed connection has no event any more */
	if (!conn->destroyed) {
		e_debug(conn->conn.event, "ADD: %u users", conn->added_users);
		if (error != NULL)
			replicator_admin_result_append(reply, FALSE, error);
		else
			replicator_admin_result_append(reply, TRUE, NULL);
		replicator_admin_send(conn, reply);
		connection_input_resume(&conn->conn);
	}
	replicator_admin_unref(&conn);
}

/* Returns FALSE if the reply comes later. */
static bool
replicator_admin_add(struct replicator_admin_conn *conn,
		     const struct replicator_admin_request *req,
		     string_t *reply)
{
	struct replicator_user *user;

	if (!mask_is_wildcard(req->mask)) {
		user = replicator_queue_get(admin_queue, req->mask);
		replicator_queue_update(admin_queue, user,
					REPLICATION_PRIORITY_LOW);
		replicator_admin_result_append(reply, TRUE, NULL);
		return TRUE;
	}
	conn->refcount++;
	conn->listing = TRUE;
	conn->added_users = 0;
	if (!replicator_auth_list(admin_auth, req->mask,
				  replicator_admin_add_user,
				  replicator_admin_add_done, conn)) {
		conn->refcount--;
		conn->listing = FALSE;
		replicator_admin_result_append(reply, FALSE,
			"A userdb listing is already running, try again later");
		return TRUE;
	}
	connection_input_halt(&conn->conn);
	return FALSE;
}

static void
replicator_admin_remove(const struct replicator_admin_request *req,
			string_t *reply)
{
	struct replicator_user *user;

	user = replicator_queue_lookup(admin_queue, req->username);
	if (user == NULL) {
		replicator_admin_result_append(reply, FALSE, "User not found");
		return;
	}
	replicator_brain_remove_user(admin_brain, &user);
	replicator_admin_result_append(reply, TRUE, NULL);
}

static void
replicator_admin_notify(struct replicator_admin_conn *conn,
			const struct replicator_admin_request *req,
			string_t *reply)
{
	struct replicator_user *user;
	const char *replica;

	user = replicator_queue_get(admin_queue, req->username);
	replica = req->sender == NULL ? NULL :
		replicator_brain_users_replica(admin_brain, user, req->sender);
	if (replica != NULL) {
		if (replicator_queue_peer_synced(admin_queue, user, replica,
						 req->full_sync, req->state)) {
			e_debug(conn->conn.event, "%s: synced by the "
				"replica%s", req->username,
				req->full_sync ? " (full sync)" : "");
		} else {
			/* the hold ended before the hand-over came */
			e_debug(conn->conn.event, "%s: synced by the "
				"replica, but a sync of the user runs here "
				"now: state not adopted", req->username);
		}
	} else {
		/* its state belongs to another pair (a chain, a changed
		   mail_replica), or we don't know yet whom our replica
		   string reaches */
		e_debug(conn->conn.event, "%s: synced by %s, not this user's "
			"replica (as far as known): state not adopted",
			req->username, req->sender == NULL ? "an unnamed "
			"server" : req->sender);
	}
	replicator_brain_handed_over(admin_brain, req->username);
	/* our id: the sender learns whom its replica string reaches */
	replicator_admin_result_append(reply, TRUE, REPLICATION_SERVER_ID);
}

static void
replicator_admin_incoming(struct replicator_admin_conn *conn,
			  const struct replicator_admin_request *req,
			  string_t *reply)
{
	const char *error;

	if (conn->incoming_username != NULL) {
		replicator_admin_result_append(reply, FALSE,
			"This connection already holds a user");
	} else if (replicator_brain_incoming_begin(admin_brain, req->username,
						   &error) < 0) {
		e_debug(conn->conn.event, "%s: Refusing incoming dsync: %s",
			req->username, error);
		replicator_admin_result_append(reply, FALSE, error);
	} else {
		conn->incoming_username = i_strdup(req->username);
		replicator_admin_result_append(reply, TRUE, NULL);
	}
}

static int
replicator_admin_conn_input_args(struct connection *_conn,
				 const char *const *args)
{
	struct replicator_admin_conn *conn =
		container_of(_conn, struct replicator_admin_conn, conn);
	struct replicator_admin_request req;
	string_t *reply = t_str_new(256);
	const char *error;

	if (replicator_admin_request_parse(args, &req, &error) < 0) {
		e_error(conn->conn.event, "Invalid request: %s", error);
		replicator_admin_result_append(reply, FALSE, error);
		replicator_admin_send(conn, reply);
		return -1;
	}
	switch (req.cmd) {
	case REPLICATOR_ADMIN_CMD_STATUS:
		if (req.mask == NULL)
			replicator_admin_status(reply);
		else
			replicator_admin_status_mask(req.mask, reply);
		break;
	case REPLICATOR_ADMIN_CMD_STATUS_DSYNC:
		replicator_admin_status_dsync(reply);
		break;
	case REPLICATOR_ADMIN_CMD_REPLICATE:
		replicator_admin_replicate(&req, reply);
		break;
	case REPLICATOR_ADMIN_CMD_ADD:
		if (!replicator_admin_add(conn, &req, reply))
			return 0;
		break;
	case REPLICATOR_ADMIN_CMD_REMOVE:
		replicator_admin_remove(&req, reply);
		break;
	case REPLICATOR_ADMIN_CMD_NOTIFY:
		replicator_admin_notify(conn, &req, reply);
		break;
	case REPLICATOR_ADMIN_CMD_INCOMING:
		replicator_admin_incoming(conn, &req, reply);
		break;
	}
	replicator_admin_send(conn, reply);
	return 1;
}

static void replicator_admin_conn_destroy(struct connection *_conn)
{
	struct replicator_admin_conn *conn =
		container_of(_conn, struct replicator_admin_conn, conn);

	if (conn->conn.disconnect_reason ==
	    CONNECTION_DISCONNECT_BUFFER_FULL) {
		e_error(conn->conn.event, "Invalid request: line longer "
			"than %u bytes", REPLICATOR_ADMIN_MAX_LINE_LENGTH);
	}
	if (conn->incoming_username != NULL) {
		/* the incoming dsync ended (or its process died) */
		replicator_brain_incoming_end(admin_brain,
					      conn->incoming_username);
		i_free(conn->incoming_username);
	}
	/* a running ADD listing may still hold a reference */
	conn->destroyed = TRUE;
	connection_deinit(&conn->conn);
	master_service_client_connection_destroyed(master_service);
	replicator_admin_unref(&conn);
}

static void replicator_admin_conn_idle_timeout(struct connection *_conn)
{
	struct replicator_admin_conn *conn =
		container_of(_conn, struct replicator_admin_conn, conn);

	if (conn->incoming_username != NULL) {
		/* silent while the dsync runs: the brain bounds the hold */
		return;
	}
	_conn->disconnect_reason = CONNECTION_DISCONNECT_IDLE_TIMEOUT;
	_conn->v.destroy(_conn);
}

static const struct connection_vfuncs replicator_admin_conn_vfuncs = {
	.destroy = replicator_admin_conn_destroy,
	.idle_timeout = replicator_admin_conn_idle_timeout,
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
	conn->refcount = 1;
	conn->conn.event_parent = replicator_event;
	connection_init_server(replicator_admin_conns, &conn->conn, name,
			       fd, fd);
}

void replicator_admin_conns_init(struct replicator_queue *queue,
				 struct replicator_brain *brain,
				 struct replicator_auth *auth)
{
	admin_queue = queue;
	admin_brain = brain;
	admin_auth = auth;
	replicator_admin_conns = connection_list_init(
		&replicator_admin_conn_set, &replicator_admin_conn_vfuncs);
}

void replicator_admin_conns_deinit(void)
{
	connection_list_deinit(&replicator_admin_conns);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "hash.h"
#include "doveadm-protocol.h"
#include "doveadm-client.h"
#include "hostpid.h"
#include "replication-common.h"
#include "replicator-dsync.h"

#include <sysexits.h>

struct replicator_dsync {
	string_t *state;
	replicator_dsync_callback_t *callback;
	void *context;
	struct timeout *to;
	unsigned int timeout_secs;
	char *replica;
	/* timed out: the callback was called, the reply is ignored */
	bool timed_out;
	/* doveadm printed the whole state field */
	bool state_printed;
};

/* A replica with timed-out dsyncs still hanging: until when it counts as
   hung (a dsync hanging in the doveadm handshake never ends by itself, so
   it may not hold the replica up forever). */
struct replicator_dsync_hung {
	unsigned int count;
	time_t until;
};

/* replica -> its hanging dsyncs */
static HASH_TABLE(char *, struct replicator_dsync_hung *) replicator_dsync_hung;

static void
replicator_dsync_hung_update(const char *replica, int diff, time_t until)
{
	struct replicator_dsync_hung *hung;
	char *key;

	if (!hash_table_is_created(replicator_dsync_hung)) {
		hash_table_create(&replicator_dsync_hung, default_pool, 0,
				  str_hash, strcmp);
	}
	if (!hash_table_lookup_full(replicator_dsync_hung, replica,
				    &key, &hung)) {
		i_assert(diff > 0);
		key = i_strdup(replica);
		hung = i_new(struct replicator_dsync_hung, 1);
		hash_table_insert(replicator_dsync_hung, key, hung);
	}
	i_assert(diff > 0 || hung->count > 0);
	hung->count += diff;
	hung->until = I_MAX(hung->until, until);
	if (hung->count == 0) {
		hash_table_remove(replicator_dsync_hung, key);
		i_free(hung);
		i_free(key);
	}
}

bool replicator_dsync_replica_hung(const char *replica)
{
	struct replicator_dsync_hung *hung;

	if (!hash_table_is_created(replicator_dsync_hung))
		return FALSE;
	hung = hash_table_lookup(replicator_dsync_hung, replica);
	return hung != NULL && hung->until > ioloop_time;
}

static void replicator_dsync_print(const unsigned char *data, size_t size,
				   bool finished, struct replicator_dsync *dsync)
{
	/* the only printed field is the state (may come in pieces) */
	if (dsync->timed_out)
		return;
	replicator_dsync_state_output_append(dsync->state, data, size);
	if (finished)
		dsync->state_printed = TRUE;
}

static void replicator_dsync_free(struct replicator_dsync *dsync)
{
	if (dsync->timed_out)
		replicator_dsync_hung_update(dsync->replica, -1, 0);
	i_free(dsync->replica);
	timeout_remove(&dsync->to);
	str_free(&dsync->state);
	i_free(dsync);
}

static void
replicator_dsync_callback(const struct doveadm_server_reply *reply,
			  void *context)
{
	struct replicator_dsync *dsync = context;
	enum replicator_dsync_result result;
	const char *error = NULL;

	if (dsync->timed_out) {
		replicator_dsync_free(dsync);
		return;
	}
	switch (reply->exit_code) {
	case 0:
		result = REPLICATOR_DSYNC_RESULT_OK;
		break;
	case DOVEADM_EX_CHANGED:
		/* changes during the sync, or the replica found our state
		   stale and skipped mailboxes (then the state is empty) */
		result = REPLICATOR_DSYNC_RESULT_INCOMPLETE;
		error = str_len(dsync->state) == 0 ?
			"dsync state was stale, a full sync follows" :
			"mailboxes changed during the sync";
		break;
	case REPLICATOR_DSYNC_EX_REFUSED:
		/* the replica's doveadm plugin refused the incoming dsync */
		result = REPLICATOR_DSYNC_RESULT_REFUSED;
		error = "The replica refuses the user (noreplicate)";
		break;
	case REPLICATOR_DSYNC_EX_BUSY:
		result = REPLICATOR_DSYNC_RESULT_BUSY;
		error = "The replica is syncing the user itself now";
		break;
	case EX_NOUSER:
		/* the userdb lookup found the user here: the replica doesn't
		   know it (yet) */
		result = REPLICATOR_DSYNC_RESULT_FAILED;
		error = "Unknown user on the replica";
		break;
	case DOVEADM_CLIENT_EXIT_CODE_DISCONNECTED:
		result = REPLICATOR_DSYNC_RESULT_LOCAL_FAILED;
		error = t_strdup_printf("doveadm server disconnected: %s",
					reply->error == NULL ? "" :
					reply->error);
		break;
	default:
		result = REPLICATOR_DSYNC_RESULT_FAILED;
		error = t_strdup_printf("doveadm sync failed: %s (exit code %d)",
					reply->error == NULL ? "" :
					reply->error, reply->exit_code);
		break;
	}
	dsync->callback(result, dsync->state_printed ? str_c(dsync->state) :
			NULL, error, dsync->context);
	replicator_dsync_free(dsync);
}

static void replicator_dsync_timeout(struct replicator_dsync *dsync)
{
	/* the doveadm-client API can't abort one command: let the
	   connection end by itself (dsync's own -T ends it) */
	timeout_remove(&dsync->to);
	dsync->timed_out = TRUE;
	/* hold the replica up for another timeout at most */
	replicator_dsync_hung_update(dsync->replica, 1,
				     ioloop_time + dsync->timeout_secs);
	dsync->callback(REPLICATOR_DSYNC_RESULT_TIMEOUT, NULL, t_strdup_printf(
		"dsync timed out after %u s (replication_dsync_timeout)",
		dsync->timeout_secs), dsync->context);
}

static int
replicator_doveadm_connect(const char *socket_path,
			   struct doveadm_client **client_r,
			   const char **error_r)
{
	const struct doveadm_client_settings client_set = {
		.socket_path = socket_path,
		/* the 0600 socket is pre-authenticated */
		.username = "",
		.password = "",
	};

	return doveadm_client_create(&client_set, client_r, error_r);
}

/* Run the command line; the callback gets the reply. One command per
   connection: the server runs one process per connection. */
static void
replicator_doveadm_cmd(struct doveadm_client **client, string_t *line,
		       doveadm_client_cmd_callback_t *callback, void *context)
{
	const struct doveadm_client_cmd_settings cmd_set = {
		.proxy_ttl = DOVEADM_PROXY_TTL,
	};

	doveadm_client_cmd(*client, &cmd_set, str_c(line), NULL,
			   callback, context);
	doveadm_client_unref(client);
}

struct replicator_dsync *
replicator_dsync_run(const char *socket_path,
		     const struct replicator_dsync_cmd *cmd,
		     replicator_dsync_callback_t *callback, void *context,
		     const char **error_r)
{
	struct doveadm_client *client;
	struct replicator_dsync *dsync;
	string_t *line;

	if (replicator_doveadm_connect(socket_path, &client, error_r) < 0)
		return NULL;
	dsync = i_new(struct replicator_dsync, 1);
	dsync->state = str_new(default_pool, 256);
	dsync->callback = callback;
	dsync->context = context;
	dsync->timeout_secs = cmd->timeout_secs;
	dsync->replica = i_strdup(cmd->replica);
	if (cmd->timeout_secs > 0) {
		dsync->to = timeout_add(cmd->timeout_secs * 1000,
					replicator_dsync_timeout, dsync);
	}

	line = t_str_new(256);
	replicator_dsync_cmd_append(line, cmd);
	doveadm_client_set_print(client, replicator_dsync_print, dsync);
	replicator_doveadm_cmd(&client, line, replicator_dsync_callback, dsync);
	return dsync;
}

struct replicator_notify_peer {
	struct event *event;
	char *replica;
	string_t *peer_id;
	struct timeout *to;
	/* a hand-over calls callback, a request request_callback */
	replicator_dsync_peer_id_callback_t *callback;
	replicator_dsync_request_callback_t *request_callback;
	void *context;
	/* the callback was called: the reply is ignored */
	bool timed_out;
};

static void replicator_notify_peer_done(struct replicator_notify_peer *np,
					bool success)
{
	if (np->request_callback != NULL)
		np->request_callback(success, np->context);
	else {
		np->callback(np->replica, !success || str_len(np->peer_id) == 0 ?
			     NULL : str_c(np->peer_id), np->context);
	}
}

static const char *replicator_notify_peer_what(struct replicator_notify_peer *np)
{
	return t_strdup_printf(np->request_callback != NULL ?
			       "ask %s to sync the user" :
			       "hand the new state to %s", np->replica);
}

static void replicator_notify_peer_print(const unsigned char *data,
					 size_t size,
					 bool finished ATTR_UNUSED,
					 struct replicator_notify_peer *np)
{
	if (!np->timed_out)
		replicator_dsync_state_output_append(np->peer_id, data, size);
}

static void replicator_notify_peer_free(struct replicator_notify_peer *np)
{
	timeout_remove(&np->to);
	event_unref(&np->event);
	str_free(&np->peer_id);
	i_free(np->replica);
	i_free(np);
}

static void
replicator_notify_peer_callback(const struct doveadm_server_reply *reply,
				void *context)
{
	struct replicator_notify_peer *np = context;

	if (np->timed_out) {
		replicator_notify_peer_free(np);
		return;
	}
	if (reply->exit_code != 0) {
		e_warning(np->event, "Couldn't %s: %s",
			  replicator_notify_peer_what(np),
			  reply->error == NULL ? "" : reply->error);
	}
	replicator_notify_peer_done(np, reply->exit_code == 0);
	replicator_notify_peer_free(np);
}

static void replicator_notify_peer_timeout(struct replicator_notify_peer *np)
{
	/* the connection ends by itself; its reply is ignored */
	timeout_remove(&np->to);
	np->timed_out = TRUE;
	e_warning(np->event, "Couldn't %s in %u s: not waiting for it",
		  replicator_notify_peer_what(np),
		  REPLICATOR_DSYNC_HANDOVER_TIMEOUT_SECS);
	replicator_notify_peer_done(np, FALSE);
}

static void
replicator_notify_peer_start(struct replicator_notify_peer *np,
			     const char *socket_path, string_t *line)
{
	struct doveadm_client *client;
	const char *error;

	if (replicator_doveadm_connect(socket_path, &client, &error) < 0) {
		e_warning(np->event, "Couldn't %s: %s",
			  replicator_notify_peer_what(np), error);
		replicator_notify_peer_done(np, FALSE);
		replicator_notify_peer_free(np);
		return;
	}
	np->to = timeout_add(REPLICATOR_DSYNC_HANDOVER_TIMEOUT_SECS * 1000,
			     replicator_notify_peer_timeout, np);
	doveadm_client_set_print(client, replicator_notify_peer_print, np);
	replicator_doveadm_cmd(&client, line, replicator_notify_peer_callback,
			       np);
}

static struct replicator_notify_peer *
replicator_notify_peer_alloc(const char *replica, struct event *event,
			     void *context)
{
	struct replicator_notify_peer *np;

	np = i_new(struct replicator_notify_peer, 1);
	np->event = event;
	event_ref(event);
	np->replica = i_strdup(replica);
	np->peer_id = str_new(default_pool, 64);
	np->context = context;
	return np;
}

void replicator_dsync_notify_peer(const char *socket_path,
				  const char *replica, const char *username,
				  bool full_sync, const char *state,
				  struct event *event,
				  replicator_dsync_peer_id_callback_t *callback,
				  void *context)
{
	struct replicator_notify_peer *np;
	string_t *line;

	np = replicator_notify_peer_alloc(replica, event, context);
	np->callback = callback;
	line = t_str_new(256);
	replicator_notify_peer_cmd_append(line, replica, username, full_sync,
					  state, REPLICATION_SERVER_ID);
	replicator_notify_peer_start(np, socket_path, line);
}

void replicator_dsync_request_peer(const char *socket_path,
				   const char *replica, const char *username,
				   struct event *event,
				   replicator_dsync_request_callback_t *callback,
				   void *context)
{
	struct replicator_notify_peer *np;
	string_t *line;

	np = replicator_notify_peer_alloc(replica, event, context);
	np->request_callback = callback;
	line = t_str_new(256);
	replicator_request_peer_cmd_append(line, replica, username);
	replicator_notify_peer_start(np, socket_path, line);
}

void replicator_dsync_abort_all(void)
{
	doveadm_clients_destroy_all();
	/* every hung dsync ended with its connection */
	if (hash_table_is_created(replicator_dsync_hung)) {
		i_assert(hash_table_count(replicator_dsync_hung) == 0);
		hash_table_destroy(&replicator_dsync_hung);
	}
}

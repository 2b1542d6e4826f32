/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "hash.h"
#include "llist.h"
#include "hostpid.h"
#include "str.h"
#include "replicator-db-record.h"
#include "replicator-db.h"
#include "replication-settings.h"
#include "replicator-settings.h"
#include "replicator-auth-protocol.h"
#include "replicator-admin-protocol.h"
#include "replicator-queue.h"
#include "replicator-auth.h"
#include "replicator-dsync.h"
#include "replicator-brain.h"

/* A replica whose syncs failed this many times in a row, with no success
   in between, is backed off: 1 s doubling up to 1 min (+-20 %). */
#define REPLICATOR_REPLICA_FAILURES_BEFORE_BACKOFF 3
#define REPLICATOR_REPLICA_BACKOFF_MIN_SECS 1
#define REPLICATOR_REPLICA_BACKOFF_MAX_SECS 60
/* a replica with a hung dsync is checked again this often */
#define REPLICATOR_REPLICA_HUNG_RETRY_SECS 10
/* after a peer's incoming dsync of a user ended, wait this long for the
   peer to hand over the new state before syncing the user ourselves */
#define REPLICATOR_BRAIN_HANDOVER_WAIT_SECS 10
/* a user whose state is stale waits this long for the peer it asked to
   sync the user before syncing it from here after all */
#define REPLICATOR_BRAIN_DELEGATE_WAIT_SECS 30
/* the replica synced a user this many times in a row when asked, and no
   hand-over came: sync it from here after all (hand-overs fail) */
#define REPLICATOR_BRAIN_DELEGATE_MAX_COUNT 3

struct replicator_replica {
	char *name;
	/* the server id the replica answered hand-overs with */
	char *peer_id;
	unsigned int consecutive_failures;
	unsigned int backoff_secs;
	time_t next_attempt;
};

struct replicator_sync_waiter {
	struct replicator_sync_waiter *prev, *next;
	struct replicator_brain *brain;
	/* the user struct waited for (a re-added user is another one) */
	unsigned int user_id;
	/* satisfied by the user's sync number min_sync_count or later */
	unsigned int min_sync_count;
	replicator_sync_waiter_callback_t *callback;
	void *context;
	char *username;
};

struct replicator_sync {
	struct replicator_sync *prev, *next;
	struct replicator_brain *brain;
	struct replicator_user *user;
	struct event *event;
	char *replica;
	/* "full", "incremental" or "normal" once the dsync runs */
	const char *sync_type;
	bool full;
	/* the incremental sync that runs before a full one */
	bool pre_sync;
	/* its state is being handed over, then the full sync runs */
	bool pre_sync_handover;
	/* the dsync is done, its state is being handed over */
	bool handing_over;
};

/* A user that peers' dsyncs are changing here (or just did): it is not
   synced from here meanwhile. */
struct replicator_hold {
	struct replicator_brain *brain;
	char *username;
	/* incoming dsyncs running now */
	unsigned int count;
	/* count > 0: the longest a hold lasts; count == 0: the wait for the
	   hand-over */
	struct timeout *to;
	/* the hand-over came before the dsync's end was noticed */
	bool handed_over:1;
};

struct replicator_brain {
	struct replicator_queue *queue;
	struct replicator_auth *auth;
	struct replicator_brain_settings set;
	const char **dsync_parameters;
	struct event *event;
	char *peers_path;

	unsigned int running;
	struct replicator_sync *syncs;
	struct timeout *to_fill;
	HASH_TABLE(char *, struct replicator_replica *) replicas;
	/* username -> its waiters */
	HASH_TABLE(char *, struct replicator_sync_waiter *) waiters;
	/* username -> its hold */
	HASH_TABLE(char *, struct replicator_hold *) holds;
	bool state_dirty:1;
	bool deinitializing:1;
};

static void replicator_brain_fill(struct replicator_brain *brain);

static void replicator_brain_set_dirty(struct replicator_brain *brain)
{
	if (brain->state_dirty)
		return;
	brain->state_dirty = TRUE;
	if (brain->set.state_dirty_callback != NULL)
		brain->set.state_dirty_callback(brain->set.context);
}

static struct replicator_replica *
replicator_replica_get(struct replicator_brain *brain, const char *name)
{
	struct replicator_replica *replica;

	replica = hash_table_lookup(brain->replicas, name);
	if (replica == NULL) {
		replica = i_new(struct replicator_replica, 1);
		replica->name = i_strdup(name);
		hash_table_insert(brain->replicas, replica->name, replica);
	}
	return replica;
}

static void
replicator_replica_result(struct replicator_brain *brain,
			  struct replicator_replica *replica, bool success)
{
	unsigned int secs;

	if (success) {
		if (replica->backoff_secs > 0) {
			e_info(brain->event, "Replica %s works again",
			       replica->name);
		}
		replica->consecutive_failures = 0;
		replica->backoff_secs = 0;
		replica->next_attempt = 0;
		return;
	}
	if (++replica->consecutive_failures <
	    REPLICATOR_REPLICA_FAILURES_BEFORE_BACKOFF)
		return;
	replica->backoff_secs = replica->backoff_secs == 0 ?
		REPLICATOR_REPLICA_BACKOFF_MIN_SECS :
		I_MIN(replica->backoff_secs * 2,
		      REPLICATOR_REPLICA_BACKOFF_MAX_SECS);
	secs = replicator_queue_jitter_secs(replica->backoff_secs);
	replica->next_attempt = ioloop_time + secs;
	e_warning(brain->event, "Replica %s failed %u times in a row - "
		  "backing off for %u s", replica->name,
		  replica->consecutive_failures, secs);
}

/* Returns TRUE (and postpones the user) if the replica is backed off. */
static bool
replicator_replica_backed_off(struct replicator_brain *brain,
			      struct replicator_user *user,
			      const char *name)
{
	struct replicator_replica *replica;

	if (replicator_dsync_replica_hung(name)) {
		/* another dsync would hang too */
		replicator_queue_postpone(brain->queue, user, ioloop_time +
					  REPLICATOR_REPLICA_HUNG_RETRY_SECS);
		return TRUE;
	}
	replica = hash_table_lookup(brain->replicas, name);
	if (replica == NULL || replica->next_attempt <= ioloop_time)
		return FALSE;
	replicator_queue_postpone(brain->queue, user, replica->next_attempt);
	return TRUE;
}

static void replicator_sync_waiter_free(struct replicator_sync_waiter *waiter)
{
	i_free(waiter->username);
	i_free(waiter);
}

/* Store a user's changed waiter list (key is the table's own key). */
static void
replicator_brain_waiters_update(struct replicator_brain *brain, char *key,
				struct replicator_sync_waiter *head)
{
	if (head == NULL) {
		hash_table_remove(brain->waiters, key);
		i_free(key);
	} else {
		hash_table_update(brain->waiters, key, head);
	}
}

/* Answer the user's waiters whose sync has come (all of them if all). */
static void
replicator_brain_answer_waiters(struct replicator_brain *brain,
				const struct replicator_user *user,
				bool success, bool all)
{
	struct replicator_sync_waiter *head, *waiter, *next, *answered = NULL;
	char *key;

	if (!hash_table_lookup_full(brain->waiters, user->username,
				    &key, &head))
		return;
	for (waiter = head; waiter != NULL; waiter = next) {
		next = waiter->next;
		if (waiter->user_id != user->id ||
		    (!all && waiter->min_sync_count > user->sync_count))
			continue;
		DLLIST_REMOVE(&head, waiter);
		DLLIST_PREPEND(&answered, waiter);
	}
	replicator_brain_waiters_update(brain, key, head);
	/* callbacks last: they may add waiters */
	while ((waiter = answered) != NULL) {
		DLLIST_REMOVE(&answered, waiter);
		waiter->callback(success, waiter->context);
		replicator_sync_waiter_free(waiter);
	}
}

static void
replicator_sync_free(struct replicator_sync **_sync)
{
	struct replicator_sync *sync = *_sync;

	*_sync = NULL;
	event_unref(&sync->event);
	i_free(sync->replica);
	i_free(sync);
}

/* The user is done with, whether it synced or not. */
static void replicator_sync_end(struct replicator_sync *sync)
{
	struct replicator_brain *brain = sync->brain;

	replicator_queue_push(brain->queue, sync->user);
	if (!sync->handing_over) {
		i_assert(brain->running > 0);
		brain->running--;
	}
	DLLIST_REMOVE(&brain->syncs, sync);
	replicator_brain_set_dirty(brain);
	replicator_sync_free(&sync);
	if (!brain->deinitializing)
		replicator_brain_queue_changed(brain);
}

/* Log the end of the sync with the replicator_sync_finished event. */
static void
replicator_sync_log_finished(struct replicator_sync *sync,
			     enum log_type log_type, const char *result,
			     const char *error, const char *message)
{
	struct event_passthrough *e =
		event_create_passthrough(sync->event)->
		set_name("replicator_sync_finished")->
		add_str("result", result);

	if (error != NULL) {
		e->add_str("error", error);
		e_log(e->event(), log_type, "%s: %s", message, error);
	} else {
		e_log(e->event(), log_type, "%s", message);
	}
}

/* The user leaves the queue: unknown to the userdb, noreplicate, no
   replica configured, or refused by the replica. */
static void replicator_sync_drop_user(struct replicator_sync *sync,
				      const char *reason)
{
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;

	e_info(sync->event, "Removing user from replication: %s", reason);
	if (!replicator_user_is_removed(user))
		replicator_brain_remove_user(brain, &user);
	replicator_sync_end(sync);
}

/* The sync couldn't run (userdb, local doveadm-server): retry later. */
static void replicator_sync_tempfail(struct replicator_sync *sync,
				     const char *error)
{
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;

	(void)replicator_queue_sync_started(brain->queue, user);
	replicator_queue_sync_finished(brain->queue, user,
				       REPLICATOR_SYNC_RESULT_TEMPFAIL,
				       sync->replica, NULL, error);
	replicator_sync_log_finished(sync, LOG_TYPE_ERROR, "tempfail", error,
				     "Can't replicate");
	replicator_brain_answer_waiters(brain, user, FALSE, FALSE);
	replicator_sync_end(sync);
}

/* replica_failing: the replica's other syncs failed just before */
static enum replicator_sync_result
replicator_sync_result(enum replicator_dsync_result result,
		       bool replica_failing)
{
	switch (result) {
	case REPLICATOR_DSYNC_RESULT_OK:
		return REPLICATOR_SYNC_RESULT_OK;
	case REPLICATOR_DSYNC_RESULT_INCOMPLETE:
		return REPLICATOR_SYNC_RESULT_INCOMPLETE;
	case REPLICATOR_DSYNC_RESULT_LOCAL_FAILED:
	case REPLICATOR_DSYNC_RESULT_TIMEOUT:
		return REPLICATOR_SYNC_RESULT_TEMPFAIL;
	case REPLICATOR_DSYNC_RESULT_BUSY:
		return REPLICATOR_SYNC_RESULT_BUSY;
	case REPLICATOR_DSYNC_RESULT_REFUSED:
	case REPLICATOR_DSYNC_RESULT_FAILED:
		break;
	}
	/* a failure of this user alone may come from its state; one of a
	   failing replica doesn't tell */
	return replica_failing ? REPLICATOR_SYNC_RESULT_TEMPFAIL :
		REPLICATOR_SYNC_RESULT_FAILED;
}

static void replicator_brain_peer_loaded(const char *name,
					const char *peer_id, void *context)
{
	struct replicator_replica *replica =
		replicator_replica_get(context, name);

	i_free(replica->peer_id);
	replica->peer_id = i_strdup(peer_id);
}

/* Save the replicas' server ids. It happens rarely: only when a replica
   answers with another id than before. */
static void replicator_brain_peers_save(struct replicator_brain *brain)
{
	struct hash_iterate_context *iter;
	struct replicator_replica *replica;
	const char *error;
	string_t *str;
	char *name;

	if (brain->peers_path == NULL)
		return;
	str = t_str_new(256);
	iter = hash_table_iterate_init(brain->replicas);
	while (hash_table_iterate(iter, brain->replicas, &name, &replica)) {
		if (replica->peer_id != NULL) {
			replicator_peer_record_append(str, replica->name,
						      replica->peer_id);
		}
	}
	hash_table_iterate_deinit(&iter);
	if (replicator_db_file_replace(brain->peers_path, str_data(str),
				       str_len(str), &error) < 0)
		e_error(brain->event, "Couldn't save the replicas' ids: %s",
			error);
}

static void replicator_brain_peer_id(struct replicator_brain *brain,
				     const char *name, const char *peer_id)
{
	struct replicator_replica *replica;

	if (strcmp(peer_id, REPLICATION_SERVER_ID) == 0) {
		/* it can't be told from us: never adopt its states */
		e_warning(brain->event, "Replica %s has this server's id %s: "
			  "give each server its own host name (or "
			  "DOVECOT_HOSTDOMAIN)", name, peer_id);
		return;
	}
	replica = replicator_replica_get(brain, name);
	if (null_strcmp(replica->peer_id, peer_id) == 0)
		return;
	e_debug(brain->event, "Replica %s is server %s", name, peer_id);
	i_free(replica->peer_id);
	replica->peer_id = i_strdup(peer_id);
	replicator_brain_peers_save(brain);
}

static void replicator_sync_run_dsync(struct replicator_sync *sync,
				      bool full, const char *state);

static void replicator_sync_handed_over(const char *replica,
					const char *peer_id, void *context)
{
	struct replicator_sync *sync = context;

	if (peer_id != NULL)
		replicator_brain_peer_id(sync->brain, replica, peer_id);
	if (sync->pre_sync_handover) {
		/* the full sync follows in the same slot */
		sync->pre_sync_handover = FALSE;
		if (replicator_user_is_removed(sync->user)) {
			replicator_sync_log_finished(sync, LOG_TYPE_DEBUG,
				"removed", NULL,
				"Sync finished for a removed user");
		} else if (sync->brain->deinitializing) {
			/* the full sync stays due */
			replicator_sync_log_finished(sync, LOG_TYPE_INFO,
				"aborted", NULL, "Sync aborted: shutting down");
			replicator_queue_sync_aborted(sync->brain->queue,
						      sync->user);
		} else {
			replicator_sync_run_dsync(sync, TRUE, "");
			return;
		}
	}
	replicator_sync_end(sync);
}

/* Hand the new state over to the replica, which continues from it.
   Returns FALSE if it can't be (the replica isn't reached with doveadm,
   or the state is too long). With pre_sync_handover the full sync follows
   in the same slot; otherwise the slot is freed. */
static bool replicator_sync_hand_over(struct replicator_sync *sync,
				      const char *state, bool full_sync)
{
	struct replicator_brain *brain = sync->brain;
	struct replicator_replica_addr addr;
	const char *addr_error;

	if (replicator_replica_addr_parse(sync->replica, &addr,
					  &addr_error) <= 0 ||
	    strlen(state) > REPLICATOR_DSYNC_STATE_MAX_LENGTH)
		return FALSE;
	/* the user stays taken until the hand-over has ended: hand-overs
	   of a user never overtake each other, or the replica could adopt
	   an older state after a newer one */
	if (!sync->pre_sync_handover) {
		sync->handing_over = TRUE;
		/* its slot is free for another user meanwhile */
		i_assert(brain->running > 0);
		brain->running--;
		replicator_brain_queue_changed(brain);
	}
	replicator_dsync_notify_peer(brain->set.doveadm_socket_path,
				     sync->replica, sync->user->username,
				     full_sync, state, sync->event,
				     replicator_sync_handed_over, sync);
	return TRUE;
}

static void
replicator_sync_dsync_callback(enum replicator_dsync_result result,
			       const char *state, const char *error,
			       void *context)
{
	struct replicator_sync *sync = context;
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;
	struct replicator_replica *replica;
	enum replicator_sync_result sync_result;
	bool replica_failing;

	if (brain->deinitializing) {
		/* not the sync's fault: the user stays due and is synced
		   again after the restart */
		replicator_sync_log_finished(sync, LOG_TYPE_INFO, "aborted",
					     NULL, "Sync aborted: shutting down");
		replicator_queue_sync_aborted(brain->queue, user);
		replicator_sync_end(sync);
		return;
	}
	if (sync->pre_sync) {
		sync->pre_sync = FALSE;
		if (result == REPLICATOR_DSYNC_RESULT_REFUSED ||
		    result == REPLICATOR_DSYNC_RESULT_BUSY ||
		    replicator_user_is_removed(user)) {
			/* it ends as the full sync would have */
		} else if ((result == REPLICATOR_DSYNC_RESULT_OK ||
			    result == REPLICATOR_DSYNC_RESULT_INCOMPLETE) &&
			   state != NULL && state[0] != '\0') {
			replicator_queue_sync_progress(brain->queue, user,
						       sync->replica, state);
			/* the replica continues from it too, if the full
			   sync fails */
			sync->pre_sync_handover = TRUE;
			if (!replicator_sync_hand_over(sync, state, FALSE)) {
				sync->pre_sync_handover = FALSE;
				replicator_sync_run_dsync(sync, TRUE, "");
			}
			return;
		} else if (result == REPLICATOR_DSYNC_RESULT_FAILED &&
			   !replicator_dsync_replica_hung(sync->replica)) {
			/* a state that fails doesn't keep the full sync
			   from running (a timeout or a local failure ends
			   it as any failed sync) */
			replicator_sync_run_dsync(sync, TRUE, "");
			return;
		}
	}
	if (result == REPLICATOR_DSYNC_RESULT_REFUSED) {
		replicator_sync_log_finished(sync, LOG_TYPE_DEBUG, "refused",
					     error, "Sync refused");
		replicator_sync_drop_user(sync, error);
		return;
	}
	/* only a failure the replica may have caused counts against it */
	replica = replicator_replica_get(brain, sync->replica);
	replica_failing = replica->consecutive_failures > 0;
	if (result != REPLICATOR_DSYNC_RESULT_LOCAL_FAILED) {
		replicator_replica_result(brain, replica,
			result != REPLICATOR_DSYNC_RESULT_FAILED &&
			result != REPLICATOR_DSYNC_RESULT_TIMEOUT);
	}
	sync_result = replicator_sync_result(result, replica_failing);
	if (replicator_user_is_removed(user)) {
		replicator_sync_log_finished(sync, LOG_TYPE_DEBUG, "removed",
			error, "Sync finished for a removed user");
		replicator_sync_end(sync);
		return;
	}
	replicator_queue_sync_finished(brain->queue, user, sync_result,
				       sync->replica, state, error);
	if (brain->set.state_write_callback != NULL)
		brain->set.state_write_callback(brain->set.context);
	switch (sync_result) {
	case REPLICATOR_SYNC_RESULT_OK:
		replicator_sync_log_finished(sync, LOG_TYPE_DEBUG, "ok", NULL,
					     "Sync finished");
		replicator_brain_answer_waiters(brain, user, TRUE, FALSE);
		if (replicator_sync_hand_over(sync, state == NULL ? "" : state,
					      sync->full))
			return;
		break;
	case REPLICATOR_SYNC_RESULT_BUSY:
		/* the waiters wait for the next sync */
		replicator_sync_log_finished(sync, LOG_TYPE_DEBUG, "busy",
			error, "Sync not done, retrying soon");
		break;
	case REPLICATOR_SYNC_RESULT_INCOMPLETE:
		/* the waiters wait for the next sync, which comes at once */
		replicator_sync_log_finished(sync, LOG_TYPE_INFO,
			"incomplete", error, "Sync incomplete, syncing again");
		/* what it synced is in its state: the replica must not
		   sync from the older one meanwhile */
		if (state != NULL && state[0] != '\0' &&
		    replicator_sync_hand_over(sync, state, FALSE))
			return;
		break;
	case REPLICATOR_SYNC_RESULT_FAILED:
	case REPLICATOR_SYNC_RESULT_TEMPFAIL:
		replicator_sync_log_finished(sync, LOG_TYPE_ERROR, "failed",
					     error, "Sync failed");
		replicator_brain_answer_waiters(brain, user, FALSE, FALSE);
		break;
	}
	replicator_sync_end(sync);
}

/* The state to sync with, "" if there is none for this replica. */
static const char *replicator_sync_state(struct replicator_sync *sync)
{
	struct replicator_user *user = sync->user;

	/* a state is only valid for the replica it was made with (one
	   handed over by the replica before our first sync has none) */
	if (user->state == NULL ||
	    (user->replica != NULL &&
	     strcmp(user->replica, sync->replica) != 0))
		return "";
	if (strlen(user->state) > REPLICATOR_DSYNC_STATE_MAX_LENGTH) {
		e_warning(sync->event, "dsync state is too long to send "
			  "(%zu bytes): syncing without it",
			  strlen(user->state));
		return "";
	}
	return user->state;
}

static void replicator_sync_run_dsync(struct replicator_sync *sync,
				      bool full, const char *state)
{
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;
	struct replicator_dsync_cmd cmd;
	const char *error;

	i_zero(&cmd);
	cmd.username = user->username;
	cmd.parameters = brain->dsync_parameters;
	cmd.full_sync = full;
	cmd.replica = sync->replica;
	cmd.timeout_secs = brain->set.set->replication_dsync_timeout;
	cmd.state = state;
	sync->sync_type = full ? "full" :
		state[0] != '\0' ? "incremental" : "normal";
	event_add_str(sync->event, "sync_type", sync->sync_type);
	e_debug(sync->event, sync->pre_sync ? "Starting an incremental sync "
		"before the full one" : "Starting sync");
	if (replicator_dsync_run(brain->set.doveadm_socket_path, &cmd,
				 replicator_sync_dsync_callback, sync,
				 &error) == NULL) {
		/* started, so it is the sync that failed */
		sync->pre_sync = FALSE;
		replicator_queue_sync_finished(brain->queue, user,
					       REPLICATOR_SYNC_RESULT_TEMPFAIL,
					       sync->replica, NULL, error);
		replicator_sync_log_finished(sync, LOG_TYPE_ERROR,
					     "tempfail", error, "Sync failed");
		replicator_brain_answer_waiters(brain, user, FALSE, FALSE);
		replicator_sync_end(sync);
	}
}

static void replicator_sync_start_dsync(struct replicator_sync *sync)
{
	const char *state;

	sync->full = replicator_queue_sync_started(sync->brain->queue,
						   sync->user);
	state = replicator_sync_state(sync);
	if (sync->full && state[0] != '\0') {
		/* a full sync doesn't use the state, so it takes an expunge
		   that the state would carry over (of mail above what both
		   sides had in common at the last sync) for new mail on the
		   other side, and brings it back. Sync with the state first:
		   the full sync then only misses what changes while it
		   runs. */
		sync->pre_sync = TRUE;
		replicator_sync_run_dsync(sync, FALSE, state);
	} else {
		replicator_sync_run_dsync(sync, sync->full,
					  sync->full ? "" : state);
	}
}

static void replicator_sync_delegated(bool success, void *context)
{
	struct replicator_sync *sync = context;
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;

	if (brain->deinitializing || replicator_user_is_removed(user)) {
		replicator_sync_end(sync);
		return;
	}
	if (success) {
		/* the waiters wait for the hand-over and our next sync */
		replicator_queue_sync_delegated(brain->queue, user,
			REPLICATOR_BRAIN_DELEGATE_WAIT_SECS);
		replicator_sync_end(sync);
		return;
	}
	e_info(sync->event, "Syncing the user from here with the older state");
	replicator_queue_state_stale_ignore(brain->queue, user);
	replicator_sync_start_dsync(sync);
}

/* The replica synced the user, but its state wasn't handed over: ours is
   older, and a sync from it would take what the replica's sync copied
   here and was expunged since for new mail, and bring it back. Ask the
   replica to sync the user instead, and hand its state over. */
static void replicator_sync_delegate(struct replicator_sync *sync)
{
	e_debug(sync->event, "Asking the replica to sync the user: its state "
		"is newer than ours");
	replicator_dsync_request_peer(sync->brain->set.doveadm_socket_path,
				      sync->replica, sync->user->username,
				      sync->event, replicator_sync_delegated,
				      sync);
}

static void
replicator_sync_lookup_callback(enum replicator_auth_result result,
				const char *const *fields, const char *error,
				void *context)
{
	struct replicator_sync *sync = context;
	struct replicator_brain *brain = sync->brain;
	const char *name, *noreplicate;

	if (brain->deinitializing) {
		replicator_sync_end(sync);
		return;
	}
	switch (result) {
	case REPLICATOR_AUTH_RESULT_ERROR:
		/* try again later, like a failed sync */
		replicator_sync_tempfail(sync, error);
		return;
	case REPLICATOR_AUTH_RESULT_NOTFOUND:
		replicator_sync_drop_user(sync, "Unknown user");
		return;
	case REPLICATOR_AUTH_RESULT_FOUND:
		break;
	}
	noreplicate = replicator_auth_field_find(fields,
		REPLICATOR_AUTH_FIELD_NOREPLICATE);
	if (noreplicate != NULL ? replication_noreplicate_value(noreplicate) :
	    brain->set.noreplicate) {
		replicator_sync_drop_user(sync, "noreplicate is set");
		return;
	}
	name = replicator_auth_field_find(fields,
					  REPLICATOR_AUTH_FIELD_MAIL_REPLICA);
	if (name == NULL)
		name = brain->set.default_replica;
	if (name[0] == '\0') {
		replicator_sync_drop_user(sync, "No mail_replica");
		return;
	}
	sync->replica = i_strdup(name);
	event_add_str(sync->event, "replica", sync->replica);

	if (replicator_replica_backed_off(brain, sync->user, name)) {
		/* not this time */
		replicator_sync_end(sync);
		return;
	}
	if (sync->user->state_stale) {
		if (sync->user->delegated) {
			e_info(sync->event, "The replica didn't sync the user "
			       "in %u s: syncing it from here with the older "
			       "state", REPLICATOR_BRAIN_DELEGATE_WAIT_SECS);
			replicator_queue_state_stale_ignore(brain->queue,
							    sync->user);
		} else if (sync->user->delegate_count >=
			   REPLICATOR_BRAIN_DELEGATE_MAX_COUNT) {
			e_warning(sync->event, "The replica synced the user "
				  "%u times in a row without handing its "
				  "state over: syncing it from here with the "
				  "older state",
				  sync->user->delegate_count);
			replicator_queue_state_stale_ignore(brain->queue,
							    sync->user);
		} else if (strpbrk(sync->user->username, "*?") != NULL) {
			/* the replica's "replicate" takes a mask */
			replicator_queue_state_stale_ignore(brain->queue,
							    sync->user);
		} else {
			replicator_sync_delegate(sync);
			return;
		}
	}
	replicator_sync_start_dsync(sync);
}

static void replicator_brain_start(struct replicator_brain *brain,
				   struct replicator_user *user)
{
	struct replicator_sync *sync;

	sync = i_new(struct replicator_sync, 1);
	sync->brain = brain;
	sync->user = user;
	sync->event = event_create(brain->event);
	event_add_str(sync->event, "user", user->username);
	event_add_str(sync->event, "priority",
		      replication_priority_to_str(user->priority));
	event_set_append_log_prefix(sync->event, t_strdup_printf(
		"%s: ", user->username));
	brain->running++;
	DLLIST_PREPEND(&brain->syncs, sync);
	replicator_auth_lookup(brain->auth, user->username,
			       replicator_sync_lookup_callback, sync);
}

static void replicator_brain_fill(struct replicator_brain *brain)
{
	struct replicator_user *user;
	unsigned int next_secs;

	timeout_remove(&brain->to_fill);
	while (brain->running < brain->set.set->replication_max_conns) {
		user = replicator_queue_pop(brain->queue, &next_secs);
		if (user == NULL) {
			/* a sync ended within the loop may have set it */
			timeout_remove(&brain->to_fill);
			brain->to_fill = timeout_add(next_secs * 1000,
				replicator_brain_fill, brain);
			return;
		}
		if (hash_table_lookup(brain->holds, user->username) != NULL) {
			/* a peer's dsync of the user runs: the hold's end
			   wakes the user up */
			e_debug(brain->event, "%s: Waiting for the peer's "
				"sync of the user to end", user->username);
			replicator_queue_postpone(brain->queue, user,
				ioloop_time + REPLICATOR_BRAIN_HANDOVER_WAIT_SECS);
			replicator_queue_push(brain->queue, user);
			continue;
		}
		if (user->replica != NULL &&
		    replicator_replica_backed_off(brain, user,
						  user->replica)) {
			/* no userdb lookup while its replica is down */
			replicator_queue_push(brain->queue, user);
			continue;
		}
		replicator_brain_start(brain, user);
	}
	/* all slots busy: a finishing sync fills again */
}

void replicator_brain_queue_changed(struct replicator_brain *brain)
{
	replicator_brain_set_dirty(brain);
	if (brain->deinitializing)
		return;
	/* let the caller finish updating the user first */
	timeout_remove(&brain->to_fill);
	brain->to_fill = timeout_add_short(0, replicator_brain_fill, brain);
}

static void replicator_brain_queue_changed_callback(void *context)
{
	replicator_brain_queue_changed(context);
}

struct replicator_brain *
replicator_brain_init(struct replicator_queue *queue,
		      struct replicator_auth *auth,
		      const struct replicator_brain_settings *set,
		      struct event *event_parent)
{
	struct replicator_brain *brain;
	const char *removed;

	brain = i_new(struct replicator_brain, 1);
	brain->queue = queue;
	brain->auth = auth;
	brain->set = *set;
	brain->peers_path = i_strdup(set->peers_path);
	brain->event = event_parent;
	brain->dsync_parameters = p_strarray_dup(default_pool,
		replicator_dsync_parameters_parse(
			set->set->replication_dsync_parameters, &removed));
	if (removed != NULL) {
		e_warning(brain->event, "replication_dsync_parameters: "
			  "Ignoring %s (not needed with Dovecot 2.4)",
			  removed);
	}
	if (set->set->replication_max_conns == 0) {
		e_warning(brain->event, "replication_max_conns = 0: "
			  "nothing will be replicated");
	}
	hash_table_create(&brain->replicas, default_pool, 0, str_hash, strcmp);
	hash_table_create(&brain->waiters, default_pool, 0, str_hash, strcmp);
	hash_table_create(&brain->holds, default_pool, 0, str_hash, strcmp);
	if (brain->peers_path != NULL) {
		(void)replicator_db_peers_read(brain->peers_path, brain->event,
					       replicator_brain_peer_loaded,
					       brain);
	}
	replicator_queue_set_change_callback(queue,
		replicator_brain_queue_changed_callback, brain);
	replicator_brain_queue_changed(brain);
	return brain;
}

void replicator_brain_deinit(struct replicator_brain **_brain)
{
	struct replicator_brain *brain = *_brain;
	struct hash_iterate_context *iter;
	struct replicator_replica *replica;
	struct replicator_sync_waiter *head, *waiter;
	struct replicator_hold *hold;
	char *name;

	*_brain = NULL;
	brain->deinitializing = TRUE;
	timeout_remove(&brain->to_fill);
	replicator_queue_set_change_callback(brain->queue, NULL, NULL);
	/* running syncs end as failed and are pushed back */
	replicator_dsync_abort_all();
	replicator_auth_abort(brain->auth);
	iter = hash_table_iterate_init(brain->waiters);
	while (hash_table_iterate(iter, brain->waiters, &name, &head)) {
		while ((waiter = head) != NULL) {
			DLLIST_REMOVE(&head, waiter);
			waiter->callback(FALSE, waiter->context);
			replicator_sync_waiter_free(waiter);
		}
		i_free(name);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&brain->waiters);
	iter = hash_table_iterate_init(brain->replicas);
	while (hash_table_iterate(iter, brain->replicas, &name, &replica)) {
		i_free(replica->name);
		i_free(replica->peer_id);
		i_free(replica);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&brain->replicas);
	iter = hash_table_iterate_init(brain->holds);
	while (hash_table_iterate(iter, brain->holds, &name, &hold)) {
		timeout_remove(&hold->to);
		i_free(hold->username);
		i_free(hold);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&brain->holds);
	i_free(brain->dsync_parameters);
	i_free(brain->peers_path);
	i_free(brain);
}

struct replicator_sync_waiter *
replicator_brain_wait_sync(struct replicator_brain *brain,
			   const char *username,
			   replicator_sync_waiter_callback_t *callback,
			   void *context)
{
	struct replicator_sync_waiter *waiter, *head;
	struct replicator_user *user;
	char *key;

	user = replicator_queue_get(brain->queue, username);
	waiter = i_new(struct replicator_sync_waiter, 1);
	waiter->brain = brain;
	waiter->username = i_strdup(username);
	waiter->user_id = user->id;
	/* a sync running now started before the request: wait for the
	   next one */
	waiter->min_sync_count = user->sync_count + 1;
	waiter->callback = callback;
	waiter->context = context;
	if (hash_table_lookup_full(brain->waiters, username, &key, &head)) {
		DLLIST_PREPEND(&head, waiter);
		hash_table_update(brain->waiters, key, head);
	} else {
		head = NULL;
		DLLIST_PREPEND(&head, waiter);
		hash_table_insert(brain->waiters, i_strdup(username), head);
	}
	return waiter;
}

void replicator_brain_wait_sync_cancel(struct replicator_sync_waiter **_waiter)
{
	struct replicator_sync_waiter *waiter = *_waiter;
	struct replicator_brain *brain;
	struct replicator_sync_waiter *head;
	char *key;

	*_waiter = NULL;
	if (waiter == NULL)
		return;
	brain = waiter->brain;
	if (!hash_table_lookup_full(brain->waiters, waiter->username,
				    &key, &head))
		i_unreached();
	DLLIST_REMOVE(&head, waiter);
	replicator_brain_waiters_update(brain, key, head);
	replicator_sync_waiter_free(waiter);
}

void replicator_brain_remove_user(struct replicator_brain *brain,
				  struct replicator_user **_user)
{
	struct replicator_user *user = *_user;

	replicator_brain_answer_waiters(brain, user, FALSE, TRUE);
	replicator_queue_remove(brain->queue, _user);
	replicator_brain_set_dirty(brain);
}

const char *
replicator_brain_users_replica(struct replicator_brain *brain,
			       const struct replicator_user *user,
			       const char *server_id)
{
	struct replicator_replica *replica;
	const char *name;

	/* the replica this server has synced the user with itself; before
	   its first sync, the global mail_replica. The userdb may name
	   another one for the user: a state adopted for the global one
	   isn't used for it then (replicator_sync_state()). */
	name = user->replica != NULL ? user->replica :
		brain->set.default_replica;
	if (name == NULL)
		return NULL;
	replica = hash_table_lookup(brain->replicas, name);
	if (replica == NULL || replica->peer_id == NULL ||
	    strcmp(replica->peer_id, server_id) != 0)
		return NULL;
	return replica->name;
}

/* End the hold; stale: the replica's state wasn't handed over. */
static void replicator_hold_free(struct replicator_hold *hold, bool stale)
{
	struct replicator_brain *brain = hold->brain;
	struct replicator_user *user;

	hash_table_remove(brain->holds, hold->username);
	user = replicator_queue_lookup(brain->queue, hold->username);
	if (user != NULL) {
		replicator_queue_hold_ended(brain->queue, user, stale);
		replicator_brain_set_dirty(brain);
	}
	if (user != NULL && !user->popped && !user->delegated &&
	    user->not_before > ioloop_time) {
		/* it may have been postponed for the hold */
		replicator_queue_postpone(brain->queue, user, 0);
	}
	timeout_remove(&hold->to);
	i_free(hold->username);
	i_free(hold);
}

static void replicator_hold_handover_timeout(struct replicator_hold *hold)
{
	/* a manual doveadm sync hands over nothing either */
	e_info(hold->brain->event, "%s: No state was handed over in %u s "
	       "after an incoming dsync (a manual sync, or the peer's "
	       "hand-over failed): the peer is asked to sync the user "
	       "first", hold->username, REPLICATOR_BRAIN_HANDOVER_WAIT_SECS);
	replicator_hold_free(hold, TRUE);
}

static void replicator_hold_max_timeout(struct replicator_hold *hold)
{
	e_warning(hold->brain->event, "%s: An incoming dsync of the user "
		  "hasn't ended in %u s (replication_dsync_timeout): syncing "
		  "the user from here again", hold->username,
		  hold->brain->set.set->replication_dsync_timeout);
	replicator_hold_free(hold, FALSE);
}

int replicator_brain_incoming_begin(struct replicator_brain *brain,
				    const char *username,
				    const char **error_r)
{
	struct replicator_user *user;
	struct replicator_hold *hold;
	unsigned int max_secs;

	user = replicator_queue_lookup(brain->queue, username);
	if (user != NULL && user->popped) {
		/* even one that hangs before it reaches the peer: if it got
		   through later, it would run with the state from before
		   the peer's (replication_dsync_timeout bounds it) */
		*error_r = "A sync of the user runs on this server now";
		return -1;
	}
	hold = hash_table_lookup(brain->holds, username);
	if (hold == NULL) {
		hold = i_new(struct replicator_hold, 1);
		hold->brain = brain;
		hold->username = i_strdup(username);
		hash_table_insert(brain->holds, hold->username, hold);
	}
	if (user != NULL) {
		replicator_queue_incoming(brain->queue, user);
		/* the state is stale until the hand-over: saved before the
		   dsync may go on, or a restart meanwhile would forget it */
		replicator_brain_set_dirty(brain);
		if (brain->set.state_write_callback != NULL)
			brain->set.state_write_callback(brain->set.context);
	}
	hold->count++;
	hold->handed_over = FALSE;
	timeout_remove(&hold->to);
	max_secs = brain->set.set->replication_dsync_timeout;
	if (max_secs > 0) {
		hold->to = timeout_add(max_secs * 1000,
				       replicator_hold_max_timeout, hold);
	}
	e_debug(brain->event, "%s: Incoming dsync starts", username);
	return 0;
}

void replicator_brain_incoming_end(struct replicator_brain *brain,
				   const char *username)
{
	struct replicator_hold *hold;

	hold = hash_table_lookup(brain->holds, username);
	if (hold == NULL || hold->count == 0) {
		/* it lasted too long and was dropped */
		return;
	}
	e_debug(brain->event, "%s: Incoming dsync ended", username);
	if (--hold->count > 0)
		return;
	if (hold->handed_over) {
		replicator_hold_free(hold, FALSE);
		return;
	}
	timeout_remove(&hold->to);
	hold->to = timeout_add(REPLICATOR_BRAIN_HANDOVER_WAIT_SECS * 1000,
			       replicator_hold_handover_timeout, hold);
}

void replicator_brain_handed_over(struct replicator_brain *brain,
				  const char *username)
{
	struct replicator_hold *hold;

	hold = hash_table_lookup(brain->holds, username);
	if (hold == NULL)
		return;
	if (hold->count == 0)
		replicator_hold_free(hold, FALSE);
	else
		hold->handed_over = TRUE;
}

const struct replicator_admin_dsync_status *
replicator_brain_get_dsync_status(struct replicator_brain *brain,
				  unsigned int *count_r)
{
	ARRAY(struct replicator_admin_dsync_status) rows;
	struct replicator_admin_dsync_status *row;
	struct replicator_sync *sync;
	unsigned int i;

	t_array_init(&rows, brain->set.set->replication_max_conns);
	for (sync = brain->syncs; sync != NULL; sync = sync->next) {
		row = array_append_space(&rows);
		row->username = t_strdup(sync->user->username);
		if (sync->sync_type == NULL) {
			row->sync_type = "-";
			row->status = "Looking up the user";
		} else {
			row->sync_type = sync->sync_type;
			row->status = sync->handing_over ?
				"Handing the state over to the replica" :
				"Waiting for dsync to finish";
		}
	}
	for (i = brain->running; i < brain->set.set->replication_max_conns; i++) {
		row = array_append_space(&rows);
		row->username = "";
		row->sync_type = "-";
		row->status = "Idle";
	}
	return array_get(&rows, count_r);
}

bool replicator_brain_state_dirty(struct replicator_brain *brain)
{
	return brain->state_dirty;
}

void replicator_brain_state_changed(struct replicator_brain *brain)
{
	replicator_brain_set_dirty(brain);
}

void replicator_brain_state_saved(struct replicator_brain *brain)
{
	brain->state_dirty = FALSE;
}

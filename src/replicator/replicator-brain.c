/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "hash.h"
#include "llist.h"
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

struct replicator_replica {
	char *name;
	unsigned int consecutive_failures;
	unsigned int backoff_secs;
	time_t next_attempt;
};

struct replicator_sync_waiter {
	struct replicator_sync_waiter *prev, *next;
	struct replicator_brain *brain;
	char *username;
	/* satisfied by the user's sync number min_sync_count or later */
	unsigned int min_sync_count;
	replicator_sync_waiter_callback_t *callback;
	void *context;
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
};

struct replicator_brain {
	struct replicator_queue *queue;
	struct replicator_auth *auth;
	struct replicator_brain_settings set;
	const char **dsync_parameters;
	struct event *event;

	unsigned int running;
	struct replicator_sync *syncs;
	struct timeout *to_fill;
	HASH_TABLE(char *, struct replicator_replica *) replicas;
	struct replicator_sync_waiter *waiters;
	bool state_dirty:1;
	bool deinitializing:1;
};

static void replicator_brain_fill(struct replicator_brain *brain);

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

static void
replicator_brain_answer_waiters(struct replicator_brain *brain,
				const char *username, unsigned int sync_count,
				bool success, bool all)
{
	struct replicator_sync_waiter *waiter, *next;

	for (waiter = brain->waiters; waiter != NULL; waiter = next) {
		next = waiter->next;
		if (strcmp(waiter->username, username) != 0 ||
		    (!all && waiter->min_sync_count > sync_count))
			continue;
		DLLIST_REMOVE(&brain->waiters, waiter);
		waiter->callback(success, waiter->context);
		i_free(waiter->username);
		i_free(waiter);
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
	i_assert(brain->running > 0);
	brain->running--;
	DLLIST_REMOVE(&brain->syncs, sync);
	brain->state_dirty = TRUE;
	replicator_sync_free(&sync);
	if (!brain->deinitializing)
		replicator_brain_queue_changed(brain);
}

/* The user leaves the queue: unknown to the userdb, noreplicate, or no
   replica configured. */
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

static void
replicator_sync_dsync_callback(enum replicator_dsync_result result,
			       const char *state, const char *error,
			       void *context)
{
	struct replicator_sync *sync = context;
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;
	struct event_passthrough *e;

	e = event_create_passthrough(sync->event)->
		set_name("replicator_sync_finished");
	if (error != NULL)
		e->add_str("error", error);

	if (brain->deinitializing) {
		/* not the sync's fault: run it again after the restart */
		e_info(sync->event, "Sync aborted: shutting down");
		if (!replicator_user_is_removed(user)) {
			replicator_queue_update(brain->queue, user,
						REPLICATION_PRIORITY_HIGH);
		}
		replicator_sync_end(sync);
		return;
	}
	if (result == REPLICATOR_DSYNC_RESULT_NOUSER ||
	    result == REPLICATOR_DSYNC_RESULT_REFUSED) {
		e_debug(e->event(), "Sync failed: %s", error);
		replicator_sync_drop_user(sync, error);
		return;
	}
	replicator_replica_result(brain,
		replicator_replica_get(brain, sync->replica),
		result == REPLICATOR_DSYNC_RESULT_OK);
	if (replicator_user_is_removed(user)) {
		e_debug(e->event(), "Sync finished for a removed user");
	} else {
		replicator_queue_sync_finished(brain->queue, user,
					       sync->replica, state, error);
	}
	if (error == NULL) {
		struct replicator_replica_addr addr;
		const char *addr_error;

		e_debug(e->event(), "Sync finished");
		/* the replica continues from the same state */
		if (replicator_replica_addr_parse(sync->replica, &addr,
						  &addr_error) > 0) {
			replicator_dsync_notify_peer(
				brain->set.doveadm_socket_path, sync->replica,
				user->username, sync->full,
				state == NULL ? "" : state, sync->event);
		}
	} else {
		e_error(e->event(), "Sync failed: %s", error);
	}
	replicator_brain_answer_waiters(brain, user->username,
					user->sync_count, error == NULL, FALSE);
	replicator_sync_end(sync);
}

static void replicator_sync_start_dsync(struct replicator_sync *sync)
{
	struct replicator_brain *brain = sync->brain;
	struct replicator_user *user = sync->user;
	struct replicator_dsync_cmd cmd;
	const char *error;

	sync->full = replicator_queue_sync_started(brain->queue, user);
	i_zero(&cmd);
	cmd.username = user->username;
	cmd.parameters = brain->dsync_parameters;
	cmd.full_sync = sync->full;
	cmd.replica = sync->replica;
	/* a state is only valid for the replica it was made with (one
	   handed over by the replica before our first sync has none) */
	cmd.state = user->state != NULL && !sync->full &&
		(user->replica == NULL ||
		 strcmp(user->replica, sync->replica) == 0) ?
		user->state : "";
	sync->sync_type = sync->full ? "full" :
		cmd.state[0] != '\0' ? "incremental" : "normal";
	event_add_str(sync->event, "sync_type", sync->sync_type);
	e_debug(sync->event, "Starting sync");
	if (replicator_dsync_run(brain->set.doveadm_socket_path, &cmd,
				 replicator_sync_dsync_callback, sync,
				 &error) == NULL) {
		replicator_sync_dsync_callback(REPLICATOR_DSYNC_RESULT_FAILED,
					       NULL, error, sync);
	}
}

static void
replicator_sync_lookup_callback(enum replicator_auth_result result,
				const char *const *fields, const char *error,
				void *context)
{
	struct replicator_sync *sync = context;
	struct replicator_brain *brain = sync->brain;
	struct replicator_replica *replica;
	const char *name;

	if (brain->deinitializing) {
		replicator_sync_end(sync);
		return;
	}
	switch (result) {
	case REPLICATOR_AUTH_RESULT_ERROR:
		/* try again later, like a failed sync */
		sync->replica = i_strdup("");
		(void)replicator_queue_sync_started(brain->queue, sync->user);
		replicator_queue_sync_finished(brain->queue, sync->user,
					       NULL, NULL, error);
		e_error(sync->event, "Can't replicate: %s", error);
		replicator_brain_answer_waiters(brain, sync->user->username,
						sync->user->sync_count,
						FALSE, FALSE);
		replicator_sync_end(sync);
		return;
	case REPLICATOR_AUTH_RESULT_NOTFOUND:
		replicator_sync_drop_user(sync, "Unknown user");
		return;
	case REPLICATOR_AUTH_RESULT_FOUND:
		break;
	}
	if (replication_noreplicate_value(
		replicator_auth_field_find(fields, "noreplicate"))) {
		replicator_sync_drop_user(sync, "noreplicate is set");
		return;
	}
	name = replicator_auth_field_find(fields, "mail_replica");
	if (name == NULL)
		name = brain->set.default_replica;
	if (name[0] == '\0') {
		replicator_sync_drop_user(sync, "No mail_replica");
		return;
	}
	sync->replica = i_strdup(name);
	event_add_str(sync->event, "replica", sync->replica);

	replica = replicator_replica_get(brain, name);
	if (replica->next_attempt > ioloop_time) {
		/* not this time: the replica is backed off */
		sync->user->not_before = replica->next_attempt;
		replicator_sync_end(sync);
		return;
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
			brain->to_fill = timeout_add(next_secs * 1000,
				replicator_brain_fill, brain);
			return;
		}
		replicator_brain_start(brain, user);
	}
	/* all slots busy: a finishing sync fills again */
}

void replicator_brain_queue_changed(struct replicator_brain *brain)
{
	brain->state_dirty = TRUE;
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
	struct replicator_sync_waiter *waiter;
	char *name;

	*_brain = NULL;
	brain->deinitializing = TRUE;
	timeout_remove(&brain->to_fill);
	replicator_queue_set_change_callback(brain->queue, NULL, NULL);
	/* running syncs end as failed and are pushed back */
	replicator_dsync_abort_all();
	replicator_auth_abort(brain->auth);
	while ((waiter = brain->waiters) != NULL) {
		DLLIST_REMOVE(&brain->waiters, waiter);
		waiter->callback(FALSE, waiter->context);
		i_free(waiter->username);
		i_free(waiter);
	}
	iter = hash_table_iterate_init(brain->replicas);
	while (hash_table_iterate(iter, brain->replicas, &name, &replica)) {
		i_free(replica->name);
		i_free(replica);
	}
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&brain->replicas);
	i_free(brain->dsync_parameters);
	i_free(brain);
}

struct replicator_sync_waiter *
replicator_brain_wait_sync(struct replicator_brain *brain,
			   const char *username,
			   replicator_sync_waiter_callback_t *callback,
			   void *context)
{
	struct replicator_sync_waiter *waiter;
	struct replicator_user *user;

	user = replicator_queue_get(brain->queue, username);
	waiter = i_new(struct replicator_sync_waiter, 1);
	waiter->brain = brain;
	waiter->username = i_strdup(username);
	/* a sync running now started before the request: wait for the
	   next one */
	waiter->min_sync_count = user->sync_count + 1;
	waiter->callback = callback;
	waiter->context = context;
	DLLIST_PREPEND(&brain->waiters, waiter);
	return waiter;
}

void replicator_brain_wait_sync_cancel(struct replicator_sync_waiter **_waiter)
{
	struct replicator_sync_waiter *waiter = *_waiter;

	*_waiter = NULL;
	if (waiter == NULL)
		return;
	DLLIST_REMOVE(&waiter->brain->waiters, waiter);
	i_free(waiter->username);
	i_free(waiter);
}

void replicator_brain_remove_user(struct replicator_brain *brain,
				  struct replicator_user **_user)
{
	struct replicator_user *user = *_user;

	replicator_brain_answer_waiters(brain, user->username, 0, FALSE, TRUE);
	replicator_queue_remove(brain->queue, _user);
	brain->state_dirty = TRUE;
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
			row->status = "Waiting for dsync to finish";
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

void replicator_brain_state_saved(struct replicator_brain *brain)
{
	brain->state_dirty = FALSE;
}

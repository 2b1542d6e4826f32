/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "hash.h"
#include "priorityq.h"
#include "replicator-db-record.h"
#include "replicator-queue.h"

/* head start per priority level for pending requests */
#define REPLICATOR_PRIORITY_HEAD_START_SECS (15 * 60)
#define REPLICATOR_RETRY_MIN_SECS 10
#define REPLICATOR_RETRY_MAX_SECS (5 * 60)
/* this many incomplete syncs in a row are retried like failures */
#define REPLICATOR_INCOMPLETE_BEFORE_BACKOFF 3
#define REPLICATOR_EMPTY_QUEUE_NEXT_SECS 3600
/* a sync the replica turned away as busy is tried again after this,
   doubling while it keeps happening */
#define REPLICATOR_BUSY_RETRY_SECS 3
#define REPLICATOR_BUSY_RETRY_MAX_SECS 60

struct replicator_queue {
	struct priorityq *pq;
	HASH_TABLE(char *, struct replicator_user *) users;
	unsigned int full_sync_interval;
	unsigned int last_user_id;
	/* usernames whose saved fields changed since the last
	   replicator_queue_dirty_clear() -> TRUE if the user was removed
	   meanwhile (it may have been added again since) */
	HASH_TABLE(char *, void *) dirty;

	replicator_queue_change_callback_t *change_callback;
	void *change_context;
};

struct replicator_queue_iter {
	struct replicator_queue *queue;
	struct hash_iterate_context *iter;
};

static time_t
replicator_user_next_sync_time(const struct replicator_queue *queue,
			       const struct replicator_user *user)
{
	time_t t;

	if (user->priority != REPLICATION_PRIORITY_NONE) {
		if (user->last_fast_sync == 0) {
			/* never synced: before everyone, by priority */
			t = REPLICATION_PRIORITY_SYNC + 1 - user->priority;
		} else {
			t = user->last_update - (time_t)user->priority *
				REPLICATOR_PRIORITY_HEAD_START_SECS;
		}
		/* new changes don't bypass a failing user's backoff */
		if (user->last_sync_failed)
			t = I_MAX(t, user->last_fast_sync + user->retry_secs);
	} else if (user->last_sync_failed) {
		t = user->last_fast_sync + user->retry_secs;
	} else if (user->force_full_sync) {
		t = user->last_update;
	} else {
		t = user->last_full_sync + queue->full_sync_interval;
	}
	return I_MAX(t, user->not_before);
}

static int replicator_user_cmp(const void *p1, const void *p2)
{
	const struct replicator_user *user1 = p1, *user2 = p2;

	if (user1->next_sync != user2->next_sync)
		return user1->next_sync < user2->next_sync ? -1 : 1;
	/* same time: higher priority first */
	if (user1->priority != user2->priority)
		return user1->priority > user2->priority ? -1 : 1;
	return 0;
}

struct replicator_queue *
replicator_queue_init(unsigned int full_sync_interval_secs)
{
	struct replicator_queue *queue;

	queue = i_new(struct replicator_queue, 1);
	queue->full_sync_interval = full_sync_interval_secs;
	queue->pq = priorityq_init(replicator_user_cmp, 128);
	hash_table_create(&queue->users, default_pool, 0, str_hash, strcmp);
	hash_table_create(&queue->dirty, default_pool, 0, str_hash, strcmp);
	return queue;
}

static void replicator_user_free(struct replicator_user *user)
{
	i_free(user->username);
	i_free(user->replica);
	i_free(user->state);
	i_free(user->last_error);
	i_free(user);
}

void replicator_queue_deinit(struct replicator_queue **_queue)
{
	struct replicator_queue *queue = *_queue;
	struct hash_iterate_context *iter;
	struct replicator_user *user;
	char *username;

	*_queue = NULL;
	iter = hash_table_iterate_init(queue->users);
	while (hash_table_iterate(iter, queue->users, &username, &user))
		replicator_user_free(user);
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&queue->users);
	replicator_queue_dirty_clear(queue);
	hash_table_destroy(&queue->dirty);
	priorityq_deinit(&queue->pq);
	i_free(queue);
}

void replicator_queue_set_change_callback(
	struct replicator_queue *queue,
	replicator_queue_change_callback_t *callback, void *context)
{
	queue->change_callback = callback;
	queue->change_context = context;
}

static void replicator_queue_insert(struct replicator_queue *queue,
				    struct replicator_user *user)
{
	user->next_sync = replicator_user_next_sync_time(queue, user);
	priorityq_add(queue->pq, &user->item);
}

/* The user's saved fields changed (removed: the user was removed): it is
   to be written again. */
static void replicator_queue_dirty_full(struct replicator_queue *queue,
					const char *username, bool removed)
{
	char *key;
	void *value;

	if (!hash_table_lookup_full(queue->dirty, username, &key, &value)) {
		hash_table_insert(queue->dirty, i_strdup(username),
				  POINTER_CAST(removed));
	} else if (removed && value == NULL) {
		hash_table_update(queue->dirty, key, POINTER_CAST(TRUE));
	}
}

static void replicator_queue_dirty(struct replicator_queue *queue,
				   const char *username)
{
	replicator_queue_dirty_full(queue, username, FALSE);
}

static void replicator_queue_changed(struct replicator_queue *queue)
{
	if (queue->change_callback != NULL)
		queue->change_callback(queue->change_context);
}

struct replicator_user *
replicator_queue_lookup(struct replicator_queue *queue, const char *username)
{
	return hash_table_lookup(queue->users, username);
}

struct replicator_user *
replicator_queue_get(struct replicator_queue *queue, const char *username)
{
	struct replicator_user *user;

	user = replicator_queue_lookup(queue, username);
	if (user == NULL) {
		user = i_new(struct replicator_user, 1);
		user->username = i_strdup(username);
		user->id = ++queue->last_user_id;
		user->last_update = ioloop_time;
		hash_table_insert(queue->users, user->username, user);
		replicator_queue_insert(queue, user);
		replicator_queue_dirty(queue, username);
		replicator_queue_changed(queue);
	}
	return user;
}

static void replicator_queue_reposition(struct replicator_queue *queue,
					struct replicator_user *user)
{
	if (!user->popped) {
		priorityq_remove(queue->pq, &user->item);
		replicator_queue_insert(queue, user);
	}
	replicator_queue_changed(queue);
}

void replicator_queue_update(struct replicator_queue *queue,
			     struct replicator_user *user,
			     enum replication_priority priority)
{
	if (priority != REPLICATION_PRIORITY_NONE && user->oldest_change == 0)
		user->oldest_change = ioloop_time;
	if (user->priority >= priority)
		return;
	user->priority = priority;
	user->last_update = ioloop_time;
	replicator_queue_dirty(queue, user->username);
	replicator_queue_reposition(queue, user);
}

void replicator_queue_force_full_sync(struct replicator_queue *queue,
				      struct replicator_user *user)
{
	user->force_full_sync = TRUE;
	replicator_queue_dirty(queue, user->username);
	replicator_queue_reposition(queue, user);
}

void replicator_queue_postpone(struct replicator_queue *queue,
			       struct replicator_user *user, time_t until)
{
	user->not_before = until;
	replicator_queue_reposition(queue, user);
}

void replicator_queue_remove(struct replicator_queue *queue,
			     struct replicator_user **_user)
{
	struct replicator_user *user = *_user;

	*_user = NULL;
	hash_table_remove(queue->users, user->username);
	replicator_queue_dirty_full(queue, user->username, TRUE);
	if (user->popped) {
		/* freed by replicator_queue_push() */
		user->removed = TRUE;
		return;
	}
	priorityq_remove(queue->pq, &user->item);
	replicator_user_free(user);
}

bool replicator_user_is_removed(const struct replicator_user *user)
{
	return user->removed;
}

unsigned int replicator_queue_user_next_secs(struct replicator_queue *queue,
					     const struct replicator_user *user)
{
	time_t t = user->popped ? replicator_user_next_sync_time(queue, user) :
		user->next_sync;

	return t <= ioloop_time ? 0 : (unsigned int)(t - ioloop_time);
}

bool replicator_queue_want_sync_now(struct replicator_queue *queue,
				    unsigned int *next_secs_r)
{
	struct priorityq_item *item = priorityq_peek(queue->pq);

	if (item == NULL) {
		*next_secs_r = REPLICATOR_EMPTY_QUEUE_NEXT_SECS;
		return FALSE;
	}
	*next_secs_r = replicator_queue_user_next_secs(queue,
		container_of(item, struct replicator_user, item));
	return *next_secs_r == 0;
}

struct replicator_user *
replicator_queue_pop(struct replicator_queue *queue,
		     unsigned int *next_secs_r)
{
	struct replicator_user *user;

	if (!replicator_queue_want_sync_now(queue, next_secs_r))
		return NULL;
	user = container_of(priorityq_pop(queue->pq),
			    struct replicator_user, item);
	user->popped = TRUE;
	return user;
}

void replicator_queue_push(struct replicator_queue *queue,
			   struct replicator_user *user)
{
	i_assert(user->popped);

	if (replicator_user_is_removed(user)) {
		replicator_user_free(user);
		return;
	}
	user->popped = FALSE;
	replicator_queue_insert(queue, user);
	replicator_queue_changed(queue);
}

bool replicator_queue_sync_started(struct replicator_queue *queue,
				   struct replicator_user *user)
{
	i_assert(user->popped);

	replicator_queue_dirty(queue, user->username);
	user->sync_full = user->force_full_sync || user->last_full_sync +
		(time_t)queue->full_sync_interval <= ioloop_time;
	user->sync_started = ioloop_time;
	user->last_fast_sync = ioloop_time;
	user->sync_count++;
	user->not_before = 0;
	/* changes arriving during the sync queue the user again; the
	   starting priority is given back unless the sync succeeds */
	user->sync_priority = user->priority;
	user->sync_oldest_change = user->oldest_change;
	user->priority = REPLICATION_PRIORITY_NONE;
	user->oldest_change = 0;
	return user->sync_full;
}

/* Give the user back what the running sync started with: it is still to be
   replicated. */
static void replicator_user_restore_sync_priority(struct replicator_user *user)
{
	if (user->sync_oldest_change != 0 &&
	    (user->oldest_change == 0 ||
	     user->sync_oldest_change < user->oldest_change))
		user->oldest_change = user->sync_oldest_change;
	if (user->priority < user->sync_priority)
		user->priority = user->sync_priority;
	user->sync_priority = REPLICATION_PRIORITY_NONE;
	user->sync_oldest_change = 0;
}

enum replication_priority
replicator_user_saved_priority(const struct replicator_user *user)
{
	if (user->popped && user->sync_priority > user->priority)
		return user->sync_priority;
	return user->priority;
}

void replicator_queue_sync_aborted(struct replicator_queue *queue,
				   struct replicator_user *user)
{
	i_assert(user->popped);

	replicator_queue_dirty(queue, user->username);
	replicator_user_restore_sync_priority(user);
	if (user->sync_full)
		user->force_full_sync = TRUE;
}

unsigned int replicator_queue_jitter_secs(unsigned int secs)
{
	return secs - secs / 5 + i_rand_limit(secs * 2 / 5 + 1);
}

static unsigned int replicator_retry_secs(unsigned int failure_count)
{
	unsigned int secs = REPLICATOR_RETRY_MIN_SECS;

	while (--failure_count > 0 && secs < REPLICATOR_RETRY_MAX_SECS)
		secs *= 2;
	return replicator_queue_jitter_secs(I_MIN(secs,
						  REPLICATOR_RETRY_MAX_SECS));
}

static void
replicator_user_set_state(struct replicator_user *user, const char *replica,
			  const char *state)
{
	i_free(user->replica);
	user->replica = i_strdup(replica);
	i_free(user->state);
	user->state = i_strdup_empty(state);
}

/* The user's state is as new as the replica's again. */
static void replicator_user_state_fresh(struct replicator_queue *queue,
					struct replicator_user *user)
{
	if (user->state_stale)
		replicator_queue_dirty(queue, user->username);
	user->state_stale = FALSE;
	user->delegated = FALSE;
	user->delegate_count = 0;
}

void replicator_queue_sync_progress(struct replicator_queue *queue,
				    struct replicator_user *user,
				    const char *replica, const char *state)
{
	i_assert(user->popped);

	replicator_queue_dirty(queue, user->username);
	replicator_user_set_state(user, replica, state);
}

/* A run that failed after it began printed the state it ended with. A
   non-empty one isn't adopted: dsync records a mailbox's state even when
   its import failed, so the changes that failed would be skipped by the
   next sync. An empty one means that dsync found the state unusable (a
   mailbox changed under it): syncing with it again fails the same way. */
static void
replicator_user_failed_state(struct replicator_user *user, const char *state)
{
	if (state != NULL && state[0] == '\0' &&
	    user->state != NULL && !user->sync_full) {
		i_free(user->state);
		user->force_full_sync = TRUE;
	}
}

void replicator_queue_sync_finished(struct replicator_queue *queue,
				    struct replicator_user *user,
				    enum replicator_sync_result result,
				    const char *replica, const char *state,
				    const char *error)
{
	unsigned int i, secs;

	i_assert(user->popped);
	i_assert((result == REPLICATOR_SYNC_RESULT_OK) == (error == NULL));

	replicator_queue_dirty(queue, user->username);
	i_free(user->last_error);
	user->last_error = i_strdup(error);
	if (result != REPLICATOR_SYNC_RESULT_BUSY)
		user->busy_count = 0;
	switch (result) {
	case REPLICATOR_SYNC_RESULT_OK:
		replicator_user_state_fresh(queue, user);
		replicator_user_set_state(user, replica, state);
		if (user->sync_full) {
			user->last_full_sync = user->sync_started;
			user->force_full_sync = FALSE;
		}
		user->sync_priority = REPLICATION_PRIORITY_NONE;
		user->sync_oldest_change = 0;
		user->last_sync_failed = FALSE;
		user->last_successful_sync = ioloop_time;
		user->failure_count = 0;
		user->incomplete_count = 0;
		user->retry_secs = 0;
		return;
	case REPLICATOR_SYNC_RESULT_INCOMPLETE:
		/* not a failure: sync again at once */
		if (state != NULL && state[0] != '\0')
			replicator_user_set_state(user, replica, state);
		else {
			/* dsync found the state stale: it wants a full sync */
			i_free(user->state);
			user->force_full_sync = TRUE;
		}
		replicator_user_restore_sync_priority(user);
		if (user->priority < REPLICATION_PRIORITY_HIGH)
			user->priority = REPLICATION_PRIORITY_HIGH;
		if (user->oldest_change == 0)
			user->oldest_change = user->sync_started;
		user->last_update = ioloop_time;
		user->failure_count = 0;
		if (++user->incomplete_count <
		    REPLICATOR_INCOMPLETE_BEFORE_BACKOFF) {
			user->last_sync_failed = FALSE;
			user->retry_secs = 0;
			return;
		}
		/* it keeps happening: don't hold a slot with it (but it
		   isn't a failure: the state stays) */
		user->last_sync_failed = TRUE;
		user->retry_secs = replicator_retry_secs(
			user->incomplete_count -
			REPLICATOR_INCOMPLETE_BEFORE_BACKOFF + 1);
		return;
	case REPLICATOR_SYNC_RESULT_FAILED:
		replicator_user_failed_state(user, state);
		if (user->failure_count > 0 && !user->sync_full) {
			/* failed twice in a row with the state: it may be
			   what fails - don't use it again (a full sync
			   doesn't use it; it runs after a successful
			   incremental one at most) */
			i_free(user->state);
			user->force_full_sync = TRUE;
		}
		break;
	case REPLICATOR_SYNC_RESULT_TEMPFAIL:
		replicator_user_failed_state(user, state);
		break;
	case REPLICATOR_SYNC_RESULT_BUSY:
		/* nothing happened: as if the sync hadn't started, except
		   that it waits a moment */
		replicator_user_restore_sync_priority(user);
		if (user->sync_full)
			user->force_full_sync = TRUE;
		secs = REPLICATOR_BUSY_RETRY_SECS;
		for (i = 0; i < user->busy_count &&
		     secs < REPLICATOR_BUSY_RETRY_MAX_SECS; i++)
			secs *= 2;
		user->busy_count++;
		user->not_before = ioloop_time + replicator_queue_jitter_secs(
			I_MIN(secs, REPLICATOR_BUSY_RETRY_MAX_SECS));
		return;
	}
	user->incomplete_count = 0;
	replicator_user_restore_sync_priority(user);
	if (user->sync_full)
		user->force_full_sync = TRUE;
	user->last_sync_failed = TRUE;
	user->failure_count++;
	user->retry_secs = replicator_retry_secs(user->failure_count);
}

void replicator_queue_import(struct replicator_queue *queue,
			     struct replicator_user *user,
			     const struct replicator_db_record *rec)
{
	i_assert(!user->popped);

	user->priority = rec->priority;
	user->last_update = rec->last_update;
	user->last_fast_sync = rec->last_fast_sync;
	user->last_full_sync = rec->last_full_sync;
	user->last_successful_sync = rec->last_successful_sync;
	user->last_sync_failed = rec->last_sync_failed;
	user->oldest_change = rec->priority == REPLICATION_PRIORITY_NONE ? 0 :
		rec->last_update;
	replicator_user_set_state(user, rec->replica[0] == '\0' ? NULL :
				  rec->replica, rec->state);
	user->state_stale = rec->state_stale;
	replicator_queue_reposition(queue, user);
}

void replicator_queue_hold_ended(struct replicator_queue *queue,
				 struct replicator_user *user, bool stale)
{
	if (user->awaiting_handover) {
		replicator_queue_dirty(queue, user->username);
		user->awaiting_handover = FALSE;
	}
	if (!stale || user->popped) {
		/* a popped user: its own sync's state comes next */
		return;
	}
	if (!user->state_stale)
		replicator_queue_dirty(queue, user->username);
	user->state_stale = TRUE;
}

void replicator_queue_sync_delegated(
	struct replicator_queue *queue ATTR_UNUSED,
	struct replicator_user *user, unsigned int wait_secs)
{
	i_assert(user->popped);
	i_assert(user->state_stale);

	user->delegated = TRUE;
	user->not_before = ioloop_time + wait_secs;
}

void replicator_queue_incoming(struct replicator_queue *queue,
			       struct replicator_user *user)
{
	if (!user->awaiting_handover) {
		replicator_queue_dirty(queue, user->username);
		user->awaiting_handover = TRUE;
	}
	if (!user->delegated)
		return;
	user->delegated = FALSE;
	user->delegate_count++;
}

void replicator_queue_state_stale_ignore(struct replicator_queue *queue,
					 struct replicator_user *user)
{
	i_assert(user->popped);

	replicator_user_state_fresh(queue, user);
}

bool replicator_queue_peer_synced(struct replicator_queue *queue,
				  struct replicator_user *user,
				  const char *replica, bool full_sync,
				  const char *state)
{
	if (user->popped)
		return FALSE;
	replicator_queue_dirty(queue, user->username);
	if (user->delegated) {
		/* what changed here meanwhile is synced from here at once */
		user->not_before = 0;
	}
	replicator_user_state_fresh(queue, user);
	user->last_fast_sync = ioloop_time;
	if (full_sync)
		user->last_full_sync = ioloop_time;
	user->last_successful_sync = ioloop_time;
	user->last_sync_failed = FALSE;
	user->failure_count = 0;
	user->retry_secs = 0;
	i_free(user->last_error);
	if (state[0] != '\0')
		replicator_user_set_state(user, replica, state);
	replicator_queue_reposition(queue, user);
	return TRUE;
}

bool replicator_queue_have_dirty(struct replicator_queue *queue)
{
	return hash_table_count(queue->dirty) > 0;
}

void replicator_queue_dirty_iter(struct replicator_queue *queue,
				 replicator_queue_dirty_callback_t *callback,
				 void *context)
{
	struct hash_iterate_context *iter;
	char *username;
	void *removed;

	iter = hash_table_iterate_init(queue->dirty);
	while (hash_table_iterate(iter, queue->dirty, &username, &removed)) {
		callback(username, removed != NULL,
			 replicator_queue_lookup(queue, username), context);
	}
	hash_table_iterate_deinit(&iter);
}

void replicator_queue_dirty_clear(struct replicator_queue *queue)
{
	struct hash_iterate_context *iter;
	char *username;
	void *removed;

	iter = hash_table_iterate_init(queue->dirty);
	while (hash_table_iterate(iter, queue->dirty, &username, &removed))
		i_free(username);
	hash_table_iterate_deinit(&iter);
	hash_table_clear(queue->dirty, FALSE);
}

unsigned int replicator_queue_count(struct replicator_queue *queue)
{
	return hash_table_count(queue->users);
}

struct replicator_queue_iter *
replicator_queue_iter_init(struct replicator_queue *queue)
{
	struct replicator_queue_iter *iter;

	iter = i_new(struct replicator_queue_iter, 1);
	iter->queue = queue;
	iter->iter = hash_table_iterate_init(queue->users);
	return iter;
}

struct replicator_user *
replicator_queue_iter_next(struct replicator_queue_iter *iter)
{
	struct replicator_user *user;
	char *username;

	if (!hash_table_iterate(iter->iter, iter->queue->users,
				&username, &user))
		return NULL;
	return user;
}

void replicator_queue_iter_deinit(struct replicator_queue_iter **_iter)
{
	struct replicator_queue_iter *iter = *_iter;

	*_iter = NULL;
	hash_table_iterate_deinit(&iter->iter);
	i_free(iter);
}

#ifndef REPLICATOR_QUEUE_H
#define REPLICATOR_QUEUE_H

#include "priorityq.h"
#include "replication-common.h"

struct replicator_db_record;

/* The replicator's users, ordered by when each should be synced next, as
   in Dovecot 2.3:
   - a user with a pending request goes first if never synced; otherwise at
     its last update time minus 15/30/45 min for low/high/sync, so old low
     requests aren't starved by new high ones;
   - a user whose last sync failed is retried after an exponential
     backoff with jitter, 10 s doubling up to 5 min, even if new changes
     are pending (they don't bypass the backoff);
   - an idle user is due for a full sync at last full sync + interval.
   A sync clears the user's priority when it starts, so that changes during
   the sync queue it again, but the priority it started with is kept until
   the sync succeeds: a sync that fails, or never ends because the
   replicator dies, leaves the user due (replicator_user_saved_priority()).
   The queue does no I/O: time comes from ioloop_time. */

/* How a sync of a popped user ended. */
enum replicator_sync_result {
	/* everything was replicated */
	REPLICATOR_SYNC_RESULT_OK,
	/* dsync finished but not everything was replicated (its state was
	   stale, or changes came during the sync): sync again at once, in
	   full if no new state came back; from the third in a row on, with
	   the failure backoff */
	REPLICATOR_SYNC_RESULT_INCOMPLETE,
	/* dsync failed: retry with backoff; after a second failure in a row
	   the state is suspect, and the retry is a full sync without it */
	REPLICATOR_SYNC_RESULT_FAILED,
	/* dsync couldn't be started (userdb or local doveadm-server
	   failure): retry with backoff, keeping the state */
	REPLICATOR_SYNC_RESULT_TEMPFAIL,
	/* the replica synced the user itself at the same time, so nothing
	   was done: sync again in 3 s, doubling up to 1 min while it keeps
	   happening (not a failure); the replica's hand-over usually makes
	   it incremental */
	REPLICATOR_SYNC_RESULT_BUSY,
};

/* One user's replication to one replica. */
struct replicator_user {
	struct priorityq_item item;

	char *username;
	/* where the dsync state below syncs to; NULL until the first sync */
	char *replica;
	/* dsync state of the last successful sync, NULL if none */
	char *state;
	/* error of the last sync, NULL if it succeeded */
	char *last_error;

	enum replication_priority priority;
	/* when the priority was last raised */
	time_t last_update;
	/* when the last sync of any kind / full sync started */
	time_t last_fast_sync, last_full_sync;
	time_t last_successful_sync;
	/* first change not yet covered by a sync that started after it,
	   0 if none */
	time_t oldest_change;
	/* not before this time, e.g. while its replica is backed off */
	time_t not_before;
	/* unique for each user struct: tells a re-added user from the one
	   it replaces */
	unsigned int id;
	/* syncs started since the replicator started */
	unsigned int sync_count;
	/* while popped: the priority and oldest change the running sync
	   started with, and when it started */
	enum replication_priority sync_priority;
	time_t sync_oldest_change;
	time_t sync_started;
	/* consecutive failures, and the retry delay chosen at the last */
	unsigned int failure_count;
	/* consecutive incomplete syncs */
	unsigned int incomplete_count;
	/* consecutive syncs the replica turned away as busy */
	unsigned int busy_count;
	unsigned int retry_secs;

	/* the replica was asked to sync the user and did, without handing
	   its state over, this many times in a row */
	unsigned int delegate_count;

	/* next_sync time as of the last (re)positioning: the sort key */
	time_t next_sync;

	/* being synced now, not in the priority queue */
	bool popped:1;
	/* removed from the queue while popped: freed when pushed back */
	bool removed:1;
	bool last_sync_failed:1;
	/* the next sync is a full one */
	bool force_full_sync:1;
	/* while popped: the running sync is a full one */
	bool sync_full:1;
	/* the replica synced the user here but handed no state over: ours
	   is older than the replica's */
	bool state_stale:1;
	/* an incoming dsync of the replica's started, and its hand-over
	   hasn't come yet: saved as state_stale, since a restart loses the
	   hold that waits for it */
	bool awaiting_handover:1;
	/* state_stale: the replica was asked to sync the user itself, and
	   hasn't started to */
	bool delegated:1;
};

struct replicator_queue;

typedef void replicator_queue_change_callback_t(void *context);

struct replicator_queue *
replicator_queue_init(unsigned int full_sync_interval_secs);
void replicator_queue_deinit(struct replicator_queue **queue);

/* Called (at most once per ioloop run is up to the caller) whenever a user
   may have become due sooner. */
void replicator_queue_set_change_callback(
	struct replicator_queue *queue,
	replicator_queue_change_callback_t *callback, void *context);

/* Returns the user or NULL. */
struct replicator_user *
replicator_queue_lookup(struct replicator_queue *queue, const char *username);
/* Returns the user, adding a new one (priority none, never synced) if
   needed. */
struct replicator_user *
replicator_queue_get(struct replicator_queue *queue, const char *username);
/* Raise the user's priority (never lowers it) and record the change. */
void replicator_queue_update(struct replicator_queue *queue,
			     struct replicator_user *user,
			     enum replication_priority priority);
/* Make the next sync of the user a full one. */
void replicator_queue_force_full_sync(struct replicator_queue *queue,
				      struct replicator_user *user);
/* Don't sync the user before the given time (e.g. its replica is backed
   off). */
void replicator_queue_postpone(struct replicator_queue *queue,
			       struct replicator_user *user, time_t until);
/* Forget the user. A popped user is freed when it is pushed back. */
void replicator_queue_remove(struct replicator_queue *queue,
			     struct replicator_user **user);
/* Returns TRUE if the user was removed while it was popped. */
bool replicator_user_is_removed(const struct replicator_user *user);

/* Returns TRUE if the head of the queue is due now. Otherwise returns
   FALSE with the seconds until it is (3600 for an empty queue). */
bool replicator_queue_want_sync_now(struct replicator_queue *queue,
				    unsigned int *next_secs_r);
/* Take the head user off the queue if it is due; NULL otherwise. */
struct replicator_user *
replicator_queue_pop(struct replicator_queue *queue,
		     unsigned int *next_secs_r);
/* Put a popped user back (or free it, if it was removed meanwhile). */
void replicator_queue_push(struct replicator_queue *queue,
			   struct replicator_user *user);

/* A sync that runs more than one dsync finished one of them with this
   state: it is saved as the user's state now, in case the rest fails. */
void replicator_queue_sync_progress(struct replicator_queue *queue,
				    struct replicator_user *user,
				    const char *replica, const char *state);

/* Mark the start of a sync of a popped user: resets the priority, so that
   changes from now on queue it again. Returns TRUE if it is a full sync. */
bool replicator_queue_sync_started(struct replicator_queue *queue,
				   struct replicator_user *user);
/* Record the outcome of a sync of a popped user to replica. state is the
   new dsync state (OK, INCOMPLETE), error the reason (all but OK). */
void replicator_queue_sync_finished(struct replicator_queue *queue,
				    struct replicator_user *user,
				    enum replicator_sync_result result,
				    const char *replica, const char *state,
				    const char *error);
/* The running sync was aborted (shutdown): the user stays as it was
   before the sync started. */
void replicator_queue_sync_aborted(struct replicator_queue *queue,
				   struct replicator_user *user);
/* The priority to save for the user: a running sync's starting priority
   counts until the sync has succeeded. */
enum replication_priority
replicator_user_saved_priority(const struct replicator_user *user);
/* Set the user's saved fields (replicator.db import). Not for popped
   users. */
void replicator_queue_import(struct replicator_queue *queue,
			     struct replicator_user *user,
			     const struct replicator_db_record *rec);

/* The hold of an incoming dsync of the user has ended: the replica handed
   its state over, or (stale) it didn't in time. */
void replicator_queue_hold_ended(struct replicator_queue *queue,
				 struct replicator_user *user, bool stale);
/* The popped user's state is stale and the replica took the request to
   sync the user itself: it isn't synced from here before the replica has
   handed its state over, or wait_secs have passed. The user hasn't
   started a sync (replicator_queue_sync_started()). */
void replicator_queue_sync_delegated(struct replicator_queue *queue,
				     struct replicator_user *user,
				     unsigned int wait_secs);
/* An incoming dsync of the user starts: if the replica was asked to sync
   it, it does; the user waits for the hold now, and is saved as stale
   until the hold ends. */
void replicator_queue_incoming(struct replicator_queue *queue,
			       struct replicator_user *user);
/* The popped user is synced from here although its state is stale: the
   replica couldn't be asked, or didn't sync it in time. */
void replicator_queue_state_stale_ignore(struct replicator_queue *queue,
					 struct replicator_user *user);

/* The replica synced the user ("f": fully) and handed over the new dsync
   state ("" if none), which belongs to replica. A user being synced now
   keeps the state its own sync is about to produce: returns FALSE then. */
bool replicator_queue_peer_synced(struct replicator_queue *queue,
				  struct replicator_user *user,
				  const char *replica, bool full_sync,
				  const char *state);

/* Returns secs +-20 %, so that things failing together don't retry
   together. */
unsigned int replicator_queue_jitter_secs(unsigned int secs);

/* Seconds until the user is due, 0 if due now. */
unsigned int replicator_queue_user_next_secs(struct replicator_queue *queue,
					     const struct replicator_user *user);

unsigned int replicator_queue_count(struct replicator_queue *queue);

/* Users whose saved fields (replicator_db_record) changed since the last
   replicator_queue_dirty_clear(), so that only they are written: */
bool replicator_queue_have_dirty(struct replicator_queue *queue);
/* removed: the user was removed since (and may have been added again);
   user is NULL if it isn't in the queue now. The queue must not change
   during the iteration. */
typedef void replicator_queue_dirty_callback_t(const char *username,
					       bool removed,
					       struct replicator_user *user,
					       void *context);
void replicator_queue_dirty_iter(struct replicator_queue *queue,
				 replicator_queue_dirty_callback_t *callback,
				 void *context);
void replicator_queue_dirty_clear(struct replicator_queue *queue);

/* Iterate all users, popped ones included. The queue must not change
   during the iteration. */
struct replicator_queue_iter *
replicator_queue_iter_init(struct replicator_queue *queue);
struct replicator_user *
replicator_queue_iter_next(struct replicator_queue_iter *iter);
void replicator_queue_iter_deinit(struct replicator_queue_iter **iter);

#endif

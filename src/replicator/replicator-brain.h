#ifndef REPLICATOR_BRAIN_H
#define REPLICATOR_BRAIN_H

/* Runs the queue: takes due users, looks them up in the userdb (their
   mail_replica, noreplicate), and runs up to replication_max_conns dsyncs
   at once. Users the userdb doesn't know or marks noreplicate leave the
   queue. A replica that keeps failing is backed off as a whole. */

struct replicator_queue;
struct replicator_auth;
struct replicator_settings;
struct replicator_user;
struct replicator_admin_dsync_status;

struct replicator_brain_settings {
	const struct replicator_settings *set;
	/* the global mail_replica; users may override it in userdb */
	const char *default_replica;
	const char *doveadm_socket_path;
	/* where the server ids of the replicas are kept across restarts
	   (REPLICATOR_PEERS_FILE_NAME), NULL for nowhere */
	const char *peers_path;
	/* the global noreplicate setting: users without the userdb field
	   follow it */
	bool noreplicate;
	/* called when there is something to save again (after
	   replicator_brain_state_saved()) */
	void (*state_dirty_callback)(void *context);
	/* called when a sync has finished, before its state is handed over
	   to the replica, and when an incoming dsync starts, before it may
	   go on: the state must be written now, or a crash would leave this
	   side with an older state than the replica's, not known as such */
	void (*state_write_callback)(void *context);
	void *context;
};

/* success: a sync that started after the request succeeded. */
typedef void replicator_sync_waiter_callback_t(bool success, void *context);
struct replicator_sync_waiter;

struct replicator_brain *
replicator_brain_init(struct replicator_queue *queue,
		      struct replicator_auth *auth,
		      const struct replicator_brain_settings *set,
		      struct event *event_parent);
/* Aborts running syncs (recorded as failed) and fails sync waiters. */
void replicator_brain_deinit(struct replicator_brain **brain);

/* Call when the queue may have a user due now. */
void replicator_brain_queue_changed(struct replicator_brain *brain);

/* Wait until the user has been replicated by a sync that starts after
   this call. The callback is called once, unless cancelled. */
struct replicator_sync_waiter *
replicator_brain_wait_sync(struct replicator_brain *brain,
			   const char *username,
			   replicator_sync_waiter_callback_t *callback,
			   void *context);
void replicator_brain_wait_sync_cancel(struct replicator_sync_waiter **waiter);

/* Forget a user (REMOVE): its sync waiters are answered with failure. */
void replicator_brain_remove_user(struct replicator_brain *brain,
				  struct replicator_user **user);

/* Returns the replica (as mail_replica names it) if server_id is known to
   be the server this one syncs the user with: the replica of this server's
   last sync of the user (before the first one: the global mail_replica)
   answered a hand-over with that id. Only then is a dsync state handed
   over by server_id the pair's. Returns NULL otherwise. */
const char *
replicator_brain_users_replica(struct replicator_brain *brain,
			       const struct replicator_user *user,
			       const char *server_id);

/* A peer's dsync of the user is about to run here (INCOMING). Returns 0
   and holds the user: no sync of ours starts until every incoming dsync
   has ended (replicator_brain_incoming_end()) and the peer has handed over
   the state its sync produced, or 10 seconds passed - a sync of ours alongside the peer's, or after it with the state
   from before it, could bring back mail deleted meanwhile. A hold lasts
   replication_dsync_timeout at most. Returns -1 with error_r set if a sync
   of the user runs here now: the peer's dsync must not run. */
int replicator_brain_incoming_begin(struct replicator_brain *brain,
				    const char *username,
				    const char **error_r);
/* An incoming dsync that replicator_brain_incoming_begin() accepted
   ended. */
void replicator_brain_incoming_end(struct replicator_brain *brain,
				   const char *username);
/* A peer handed over the user's state (NOTIFY): a hold on the user waits
   no longer for it. */
void replicator_brain_handed_over(struct replicator_brain *brain,
				  const char *username);

/* Returns the status of each dsync slot, running ones first, then one
   "Idle" entry per free slot (replication_max_conns in all). Allocated from
   the data stack. */
const struct replicator_admin_dsync_status *
replicator_brain_get_dsync_status(struct replicator_brain *brain,
				  unsigned int *count_r);

/* Returns TRUE while the state should be saved (changes since the last
   call to replicator_brain_state_saved()). */
bool replicator_brain_state_dirty(struct replicator_brain *brain);
/* Something that must be saved changed outside the queue. */
void replicator_brain_state_changed(struct replicator_brain *brain);
void replicator_brain_state_saved(struct replicator_brain *brain);

#endif

#ifndef REPLICATOR_DSYNC_H
#define REPLICATOR_DSYNC_H

/* Runs one user's dsync through the local doveadm-server (a new connection
   per sync, as the server runs one process per connection). */

#include "replicator-dsync-protocol.h"

enum replicator_dsync_result {
	REPLICATOR_DSYNC_RESULT_OK,
	/* dsync finished, but changes during the sync or a stale state left
	   something unsynced (exit code CHANGED); the state may be empty */
	REPLICATOR_DSYNC_RESULT_INCOMPLETE,
	/* the replica refuses the user (noreplicate there) */
	REPLICATOR_DSYNC_RESULT_REFUSED,
	/* dsync failed: the replica may be at fault */
	REPLICATOR_DSYNC_RESULT_FAILED,
	/* dsync didn't finish in time (it may still be hanging) */
	REPLICATOR_DSYNC_RESULT_TIMEOUT,
	/* the local doveadm-server couldn't run the sync */
	REPLICATOR_DSYNC_RESULT_LOCAL_FAILED,
	/* the replica's replicator syncs the user itself right now: nothing
	   was done */
	REPLICATOR_DSYNC_RESULT_BUSY,
};

/* state is the dsync state doveadm printed at the end, NULL if it printed
   none (the run ended early, timed out or lost the doveadm-server). A run
   that failed after it began prints one too: a non-empty one covers what
   was synced before the failure, an empty one means that dsync found the
   state it was given unusable. error is the reason (all but OK). */
typedef void replicator_dsync_callback_t(enum replicator_dsync_result result,
					 const char *state, const char *error,
					 void *context);

struct replicator_dsync;

/* Start the sync. The callback is called once, never before this returns;
   after cmd->timeout_secs (0 = never) with TIMEOUT. The doveadm-client API
   can't abort one command, so a timed-out dsync is left to end by itself,
   and its replica counts as hung until it has (for another timeout at
   most). Returns NULL with error_r
   set if the doveadm server can't be reached. */
struct replicator_dsync *
replicator_dsync_run(const char *socket_path,
		     const struct replicator_dsync_cmd *cmd,
		     replicator_dsync_callback_t *callback, void *context,
		     const char **error_r);

/* A hand-over ended: peer_id is the replica's server id if it answered
   with one, NULL if the hand-over failed (logged) or took too long. */
typedef void replicator_dsync_peer_id_callback_t(const char *replica,
						 const char *peer_id,
						 void *context);

/* Hand the new state of a successful sync to the replica's replicator
   through the local doveadm-server ("replicator notify-peer"), naming
   this server as the sender. Failures are logged to event. The callback
   is called once, within REPLICATOR_DSYNC_HANDOVER_TIMEOUT_SECS. */
#define REPLICATOR_DSYNC_HANDOVER_TIMEOUT_SECS 30
void replicator_dsync_notify_peer(const char *socket_path,
				  const char *replica, const char *username,
				  bool full_sync, const char *state,
				  struct event *event,
				  replicator_dsync_peer_id_callback_t *callback,
				  void *context);

/* success: the replica's replicator took the request. */
typedef void replicator_dsync_request_callback_t(bool success,
						 void *context);
/* Ask the replica's replicator to sync the user itself, at priority high
   ("replicator notify-peer -r", which runs "replicator replicate" there):
   its state of the user is newer than ours. Failures are logged to event.
   The callback is called once, within
   REPLICATOR_DSYNC_HANDOVER_TIMEOUT_SECS. */
void replicator_dsync_request_peer(const char *socket_path,
				   const char *replica, const char *username,
				   struct event *event,
				   replicator_dsync_request_callback_t *callback,
				   void *context);

/* Returns TRUE while a timed-out dsync to the replica is still hanging,
   for at most another timeout after it timed out: don't start another
   one meanwhile, or they pile up. */
bool replicator_dsync_replica_hung(const char *replica);

/* Abort every running sync: the callbacks of those not timed out yet are
   called with LOCAL_FAILED. */
void replicator_dsync_abort_all(void);

#endif

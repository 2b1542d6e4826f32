#ifndef REPLICATOR_DSYNC_H
#define REPLICATOR_DSYNC_H

/* Runs one user's dsync through the local doveadm-server (a new connection
   per sync, as the server runs one process per connection). */

#include "replicator-dsync-protocol.h"

enum replicator_dsync_result {
	REPLICATOR_DSYNC_RESULT_OK,
	/* the user doesn't exist (here or on the replica) */
	REPLICATOR_DSYNC_RESULT_NOUSER,
	/* the replica refuses the user (noreplicate there) */
	REPLICATOR_DSYNC_RESULT_REFUSED,
	REPLICATOR_DSYNC_RESULT_FAILED,
};

/* state is the new dsync state (OK only), error the failure. */
typedef void replicator_dsync_callback_t(enum replicator_dsync_result result,
					 const char *state, const char *error,
					 void *context);

struct replicator_dsync;

/* Start the sync. The callback is called once, never before this returns.
   Returns NULL with error_r set if the doveadm server can't be reached. */
struct replicator_dsync *
replicator_dsync_run(const char *socket_path,
		     const struct replicator_dsync_cmd *cmd,
		     replicator_dsync_callback_t *callback, void *context,
		     const char **error_r);

/* Hand the new state of a successful sync to the replica's replicator
   through the local doveadm-server ("replicator notify-peer"). Failures
   are logged to event. */
void replicator_dsync_notify_peer(const char *socket_path,
				  const char *replica, const char *username,
				  bool full_sync, const char *state,
				  struct event *event);

/* Abort every running sync: their callbacks are called with FAILED. */
void replicator_dsync_abort_all(void);

#endif

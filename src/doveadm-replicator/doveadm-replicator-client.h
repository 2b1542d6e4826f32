#ifndef DOVEADM_REPLICATOR_CLIENT_H
#define DOVEADM_REPLICATOR_CLIENT_H

/* doveadm's client of the replicator admin socket
   (replicator-admin-protocol.h): one request per connection, run in a
   private ioloop with a timeout, so it works inside doveadm-server too. */

struct replicator_admin_request;
struct doveadm_replicator_hold;

/* Send a request that is answered with a result line. Returns 0 and the
   result (text_r: what followed + or -), or -1 with error_r set if the
   replicator couldn't be asked. */
int doveadm_replicator_client_request(const char *socket_path,
				      struct event *event,
				      const struct replicator_admin_request *req,
				      bool *success_r, const char **text_r,
				      const char **error_r);

/* Called for each row of a list reply. Returns 0, or -1 with error_r set
   to stop reading. */
typedef int doveadm_replicator_row_callback_t(const char *const *args,
					      void *context,
					      const char **error_r);

/* Send a request that is answered with a list: row_callback gets each
   row's fields. Returns 0 when the whole list arrived, -1 with error_r
   set otherwise (including a failure result from the replicator). */
int doveadm_replicator_client_list(const char *socket_path,
				   struct event *event,
				   const struct replicator_admin_request *req,
				   doveadm_replicator_row_callback_t *callback,
				   void *context, const char **error_r);

/* Tell the replicator that an incoming dsync of the user is about to run
   here (INCOMING). Returns 1 with hold_r set: the replicator holds the
   user until doveadm_replicator_client_hold_release() (or this process
   ends). Returns 0 with error_r set if the replicator is syncing the user
   now: the incoming dsync must not run. Returns -1 with error_r set if the
   replicator couldn't be asked (not running, an older version, no answer
   in 5 s). */
int doveadm_replicator_client_hold(const char *socket_path,
				   struct event *event, const char *username,
				   struct doveadm_replicator_hold **hold_r,
				   const char **error_r);
void doveadm_replicator_client_hold_release(
	struct doveadm_replicator_hold **hold);

#endif

#ifndef DOVEADM_REPLICATOR_CLIENT_H
#define DOVEADM_REPLICATOR_CLIENT_H

/* doveadm's client of the replicator admin socket
   (replicator-admin-protocol.h): one request per connection, run in a
   private ioloop with a timeout, so it works inside doveadm-server too. */

struct replicator_admin_request;

/* Send a request that is answered with a result line. Returns 0 and the
   result (text_r: what followed + or -), or -1 with error_r set if the
   replicator couldn't be asked. */
int doveadm_replicator_client_request(const char *socket_path,
				      struct event *event,
				      const struct replicator_admin_request *req,
				      bool *success_r, const char **text_r,
				      const char **error_r);

#endif

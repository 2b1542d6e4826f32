#ifndef AGGREGATOR_REPLICATOR_CLIENT_H
#define AGGREGATOR_REPLICATOR_CLIENT_H

#include "replication-common.h"

/* The aggregator's connection to the replicator. While the replicator can't
   be reached (or reads too slowly), requests wait in memory: at most one
   per user, at the highest priority seen, so memory is bounded by the
   number of users. Requests sent are kept (again one per user) until the
   replicator acknowledges that it has saved them, and sent again after a
   reconnect: a replicator crash loses nothing. Every request is also
   written to a spool file until the replicator has saved it, so an
   aggregator crash loses nothing either. Reconnects with backoff. */

struct aggregator_settings;
struct aggregator_spool;
struct aggregator_replicator_client;
struct aggregator_sync_request;

/* success: the replicator replicated the user after the request. */
typedef void aggregator_sync_callback_t(bool success, void *context);

/* Requests are also written to spool (unless it is NULL), which the
   client then owns; the requests a previous aggregator left in it are sent
   first. */
struct aggregator_replicator_client *
aggregator_replicator_client_create(const struct aggregator_settings *set,
				    struct aggregator_spool *spool,
				    struct event *event_parent);
/* Fails the waiting sync requests. */
void aggregator_replicator_client_destroy(
	struct aggregator_replicator_client **client);

/* Returns TRUE if every request has been saved by the replicator (nothing
   pending, sent-but-unacknowledged or waiting for a reply). */
bool aggregator_replicator_client_is_idle(
	struct aggregator_replicator_client *client);

/* Ask for the user to be replicated at priority LOW or HIGH. */
void aggregator_replicator_notify(struct aggregator_replicator_client *client,
				  const char *username,
				  enum replication_priority priority);
/* Ask for the user to be replicated now; callback is called once, maybe
   before this returns. The request can be cancelled (the callback then
   isn't called) until then. */
struct aggregator_sync_request *
aggregator_replicator_sync(struct aggregator_replicator_client *client,
			   const char *username,
			   aggregator_sync_callback_t *callback, void *context);
void aggregator_replicator_sync_cancel(struct aggregator_sync_request **req);

#endif

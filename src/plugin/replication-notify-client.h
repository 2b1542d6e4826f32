#ifndef REPLICATION_NOTIFY_CLIENT_H
#define REPLICATION_NOTIFY_CLIENT_H

#include "replication-common.h"

/* A mail user's channel to the aggregator: asynchronous notifications go to
   REPLICATION_NOTIFY_FIFO_NAME, synchronous ones to
   REPLICATION_NOTIFY_SOCKET_NAME, both under base_dir. Nothing here ever
   blocks longer than a sync timeout. */
struct replication_notify_client;

struct replication_notify_client *
replication_notify_client_create(struct event *event, const char *base_dir);
void replication_notify_client_destroy(struct replication_notify_client **client);

/* Write an asynchronous notification (priority LOW or HIGH) to the fifo.
   Returns 1 if written, 0 if the fifo is full (try again soon), -1 if the
   fifo can't be written now (missing, no reader; try again on the next
   change). Problems are logged once until the fifo works again. */
int replication_notify_client_send(struct replication_notify_client *client,
				   const char *username,
				   enum replication_priority priority);

/* Ask the aggregator to replicate the user now and wait up to timeout_msecs
   for the answer. Returns TRUE if the replicator reports the user replicated
   after this request, FALSE on failure or timeout (logged). */
bool replication_notify_client_sync(struct replication_notify_client *client,
				    const char *username,
				    unsigned int timeout_msecs);

#endif

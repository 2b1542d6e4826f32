#ifndef REPLICATOR_NOTIFY_PROTOCOL_H
#define REPLICATOR_NOTIFY_PROTOCOL_H

#include "replication-common.h"

/* Aggregator -> replicator, on REPLICATOR_NOTIFY_SOCKET_NAME (or TCP), as in
   Dovecot 2.3. The aggregator starts with a version line; the replicator
   sends none:
     VERSION TAB replicator-notify TAB 1 TAB 0 LF
   Then requests, fields tab-escaped: */
enum replicator_notify_cmd {
	/* <username> <priority> [<id>]
	   <priority> is low, high or sync; sync needs a non-zero <id>, which
	   the reply echoes. */
	REPLICATOR_NOTIFY_CMD_UPDATE = 'U',
};
/* Replies to sync requests:
     "+" TAB <id> LF   the user was replicated after the request
     "-" TAB <id> LF   replication failed or the user is gone
   and, to an aggregator that announced minor version 1 or later,
   acknowledgements:
     "A" TAB <count> LF  the first <count> requests of this connection are
                         saved: they survive a replicator crash
   Requests not acknowledged when the connection is lost are sent again
   (priority updates are idempotent). Dovecot 2.3's aggregator announces
   1.0 and gets no acknowledgements. */

#define REPLICATOR_NOTIFY_SERVICE_NAME "replicator-notify"
#define REPLICATOR_NOTIFY_MAJOR_VERSION 1
#define REPLICATOR_NOTIFY_MINOR_VERSION 1
/* the first minor version that gets acknowledgements */
#define REPLICATOR_NOTIFY_MINOR_VERSION_ACK 1
/* Longest line accepted by either side, LF included. */
#define REPLICATOR_NOTIFY_MAX_LINE_LENGTH 65536

/* Append the aggregator's version line (with LF). The replicator reads it
   with connection.c's version handshake. */
void replicator_notify_handshake_append(string_t *dest);

struct replicator_notify_request {
	const char *username;
	enum replication_priority priority;
	/* non-zero only for priority SYNC */
	uint32_t id;
};

/* Append a request line (with LF). The priority must not be NONE; id must
   be non-zero exactly when the priority is SYNC. */
void replicator_notify_request_append(string_t *dest, const char *username,
				      enum replication_priority priority,
				      uint32_t id);
/* Parse the tab-split fields of a request line. Returns 0 on success, -1
   with error_r set on anything unexpected (unknown command, wrong number of
   fields, bad priority or id). The request points into args. */
int replicator_notify_request_parse(const char *const *args,
				    struct replicator_notify_request *req_r,
				    const char **error_r);

enum replicator_notify_reply_type {
	REPLICATOR_NOTIFY_REPLY_SYNC,
	REPLICATOR_NOTIFY_REPLY_ACK,
};

struct replicator_notify_reply {
	enum replicator_notify_reply_type type;
	/* SYNC: the request and its outcome */
	uint32_t id;
	bool success;
	/* ACK: requests saved so far on the connection */
	uint64_t count;
};

/* Append a reply line (with LF) to the sync request id. */
void replicator_notify_reply_append(string_t *dest, uint32_t id, bool success);
/* Append an acknowledgement line (with LF). */
void replicator_notify_ack_append(string_t *dest, uint64_t count);
/* Parse the tab-split fields of a reply or acknowledgement line. Returns 0
   on success, -1 with error_r set. */
int replicator_notify_reply_parse(const char *const *args,
				  struct replicator_notify_reply *reply_r,
				  const char **error_r);

#endif

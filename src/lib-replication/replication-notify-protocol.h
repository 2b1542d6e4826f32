#ifndef REPLICATION_NOTIFY_PROTOCOL_H
#define REPLICATION_NOTIFY_PROTOCOL_H

#include "replication-common.h"

/* Mail process -> aggregator, on REPLICATION_NOTIFY_FIFO_NAME (asynchronous)
   and REPLICATION_NOTIFY_SOCKET_NAME (synchronous), as in Dovecot 2.3.
   Neither carries a version handshake.

   Request (one line, fields tab-escaped):
     <username> TAB <priority> LF
   <priority> is "low" or "high" on the fifo; the socket also takes "sync",
   which the aggregator answers once the replicator has replicated the user:
     "+" LF    replicated
     "-" LF    not replicated (timeout, failure, replicator unreachable)
   No other request gets a reply. */

/* Longest request line accepted, LF included (2.3's input buffer size). */
#define REPLICATION_NOTIFY_MAX_LINE_LENGTH 8192

struct replication_notify_request {
	const char *username;
	enum replication_priority priority;
};

/* Append a request line (with LF) to dest. The username must pass
   replication_username_verify() and the priority must not be NONE. */
void replication_notify_request_append(string_t *dest, const char *username,
				       enum replication_priority priority);
/* Parse the tab-split fields of a request line. The priority is LOW, HIGH or
   SYNC; NONE is an error. Returns 0 on success, -1 with error_r set. The
   request points into args. */
int replication_notify_request_parse(const char *const *args,
				     struct replication_notify_request *req_r,
				     const char **error_r);

/* Append a reply line (with LF) to a sync request. */
void replication_notify_reply_append(string_t *dest, bool success);
/* Parse a reply line (without LF). Returns 0 on success, -1 with error_r
   set if it is neither "+" nor "-". */
int replication_notify_reply_parse(const char *line, bool *success_r,
				   const char **error_r);

#endif

#ifndef REPLICATOR_ADMIN_PROTOCOL_H
#define REPLICATOR_ADMIN_PROTOCOL_H

#include "replication-common.h"

/* doveadm (and dsync peers) <-> replicator, on REPLICATOR_ADMIN_SOCKET_NAME,
   wire-compatible with Dovecot 2.3's replicator-doveadm protocol.

   On connect the server sends
     VERSION TAB replicator-doveadm-server TAB 1 TAB 0 LF
   and the client
     VERSION TAB replicator-doveadm-client TAB 1 TAB 0 LF
   Then the client sends requests, one line each, fields tab-escaped: */
enum replicator_admin_cmd {
	/* "STATUS" [<user mask>]
	   Without a mask: replicator_admin_status_count rows, one per
	   replicator_admin_status_counter. With a mask: a
	   replicator_admin_user_status row per matching user. Both end with
	   an empty line. */
	REPLICATOR_ADMIN_CMD_STATUS,
	/* "STATUS-DSYNC"
	   A replicator_admin_dsync_status row per dsync slot, then an empty
	   line. */
	REPLICATOR_ADMIN_CMD_STATUS_DSYNC,
	/* "REPLICATE" <priority> <flags> <user mask>
	   Raise the priority of the matching users ("f" in flags: make the
	   next sync a full one). Result "+<count of users>" or "-<error>". */
	REPLICATOR_ADMIN_CMD_REPLICATE,
	/* "ADD" <user mask>
	   Add users (a mask is looked up in the userdb). Result. */
	REPLICATOR_ADMIN_CMD_ADD,
	/* "REMOVE" <username>
	   Forget a user. Result "+" or "-User not found". */
	REPLICATOR_ADMIN_CMD_REMOVE,
	/* "NOTIFY" <username> <flags> <state> [<sender>]
	   Sent on behalf of the other side of a successful dsync: the user
	   was just synced ("f" in flags: fully) and <state> (may be empty) is
	   the new dsync state. <sender> names the server that ran the dsync
	   (REPLICATION_SERVER_ID). Result "+<the receiver's server id>": the
	   sender learns whom its replica string reaches, so that a state is
	   adopted only from the server the receiver itself syncs the user
	   with. */
	REPLICATOR_ADMIN_CMD_NOTIFY,
	/* "INCOMING" <username>  (minor version 1)
	   Sent by the doveadm-server that is about to run an incoming dsync
	   of the user (dsync-server), which changes the user's mail here.
	   Result "+": the replicator starts no sync of the user until this
	   connection closes and the peer has handed over its new state (or
	   a grace time passed), so that no sync of ours runs alongside the
	   peer's or after it with the state from before it. "-<reason>":
	   a sync of the user runs here now - the incoming dsync must not
	   run (the peer retries; our sync hands over its state). */
	REPLICATOR_ADMIN_CMD_INCOMING,
};
#define REPLICATOR_ADMIN_CMD_COUNT (REPLICATOR_ADMIN_CMD_INCOMING + 1)

#define REPLICATOR_ADMIN_SERVICE_NAME_CLIENT "replicator-doveadm-client"
#define REPLICATOR_ADMIN_SERVICE_NAME_SERVER "replicator-doveadm-server"
#define REPLICATOR_ADMIN_MAJOR_VERSION 1
/* 1: INCOMING */
#define REPLICATOR_ADMIN_MINOR_VERSION 1
#define REPLICATOR_ADMIN_MINOR_VERSION_INCOMING 1
/* Longest line accepted by either side, LF included. NOTIFY carries a dsync
   state, about 60 bytes per mailbox. */
#define REPLICATOR_ADMIN_MAX_LINE_LENGTH (16 * 1024 * 1024)

/* Flag character in REPLICATE and NOTIFY flags: full sync. */
#define REPLICATOR_ADMIN_FLAG_FULL_SYNC 'f'

struct replicator_admin_request {
	enum replicator_admin_cmd cmd;
	/* STATUS (NULL: the summary), REPLICATE, ADD */
	const char *mask;
	/* REMOVE, NOTIFY, INCOMING */
	const char *username;
	/* REPLICATE */
	enum replication_priority priority;
	/* REPLICATE, NOTIFY */
	bool full_sync;
	/* NOTIFY; "" when there is none */
	const char *state;
	/* NOTIFY; NULL when not sent */
	const char *sender;
};

/* Append a request line (with LF). */
void replicator_admin_request_append(string_t *dest,
				     const struct replicator_admin_request *req);
/* Parse the tab-split fields of a request line. Returns 0 on success, -1
   with error_r set on an unknown command, a wrong number of arguments or a
   bad value. The request points into args. */
int replicator_admin_request_parse(const char *const *args,
				   struct replicator_admin_request *req_r,
				   const char **error_r);

/* Append a result line (with LF): "+<text>" or "-<text>". The text is
   tab-escaped so that it stays on one line. */
void replicator_admin_result_append(string_t *dest, bool success,
				    const char *text);
/* Parse the tab-split fields of a result line (one field). text_r is the
   text after +/-, "" if none. Returns 0 on success, -1 with error_r set. */
int replicator_admin_result_parse(const char *const *args, bool *success_r,
				  const char **text_r, const char **error_r);

/* Append the empty line that ends a list reply. */
void replicator_admin_list_end_append(string_t *dest);
/* Returns TRUE if the tab-split fields are the end of a list reply. */
bool replicator_admin_is_list_end(const char *const *args);

/* The counters of STATUS without a mask, in wire order. */
enum replicator_admin_status_counter {
	REPLICATOR_ADMIN_STATUS_QUEUED_SYNC,
	REPLICATOR_ADMIN_STATUS_QUEUED_HIGH,
	REPLICATOR_ADMIN_STATUS_QUEUED_LOW,
	REPLICATOR_ADMIN_STATUS_QUEUED_FAILED,
	REPLICATOR_ADMIN_STATUS_QUEUED_FULL_RESYNC,
	REPLICATOR_ADMIN_STATUS_WAITING_FAILED,
	REPLICATOR_ADMIN_STATUS_TOTAL_USERS,
};
#define REPLICATOR_ADMIN_STATUS_COUNTER_COUNT \
	(REPLICATOR_ADMIN_STATUS_TOTAL_USERS + 1)

/* Returns the 2.3 label of a counter, e.g. "Queued 'sync' requests". */
const char *
replicator_admin_status_counter_label(enum replicator_admin_status_counter c);
/* Append a summary row: <label> <count> */
void replicator_admin_status_count_append(
	string_t *dest, enum replicator_admin_status_counter counter,
	unsigned int count);
/* Parse a summary row. The label is returned as sent (a newer server may
   have counters this client doesn't know). */
int replicator_admin_status_count_parse(const char *const *args,
					const char **label_r,
					unsigned int *count_r,
					const char **error_r);

/* One row of STATUS <mask>:
   <username> <priority> <last fast sync> <last full sync> <failed: 0|1>
   <last successful sync> <seconds until next sync>
   [<oldest unreplicated change> <last error>]
   Times are UNIX timestamps, 0 for never/none. The last two fields are
   ours: 2.3 clients read the first seven and ignore the rest, and a 2.3
   server's rows parse with them empty. A parser ignores fields after
   these, which a later minor version may add. */
struct replicator_admin_user_status {
	const char *username;
	enum replication_priority priority;
	time_t last_fast_sync;
	time_t last_full_sync;
	bool last_sync_failed;
	time_t last_successful_sync;
	unsigned int next_sync_secs;
	/* 0 if nothing is waiting */
	time_t oldest_change;
	/* "" if the last sync succeeded */
	const char *last_error;
};
void replicator_admin_user_status_append(
	string_t *dest, const struct replicator_admin_user_status *status);
int replicator_admin_user_status_parse(
	const char *const *args, struct replicator_admin_user_status *status_r,
	const char **error_r);

/* One row of STATUS-DSYNC: <username> <sync type> <status text>
   An idle slot has an empty username and type "-". */
struct replicator_admin_dsync_status {
	const char *username;
	const char *sync_type;
	const char *status;
};
void replicator_admin_dsync_status_append(
	string_t *dest, const struct replicator_admin_dsync_status *status);
int replicator_admin_dsync_status_parse(
	const char *const *args, struct replicator_admin_dsync_status *status_r,
	const char **error_r);

#endif

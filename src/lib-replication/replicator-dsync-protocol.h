#ifndef REPLICATOR_DSYNC_PROTOCOL_H
#define REPLICATOR_DSYNC_PROTOCOL_H

#include "doveadm-protocol.h"

#include <sysexits.h>

/* The doveadm-server commands of replication (the doveadm protocol itself
   is libdovecot's doveadm-client):

   One user's dsync, sent by the replicator to the local doveadm-server:
     <flags> TAB <username> TAB sync {TAB <parameter>} [TAB -f]
       [TAB -T TAB <secs>] TAB -s TAB <state> TAB <replica> LF
   The server prints the new state as one field and ends with its exit
   code.

   After a successful sync the replicator hands the new state to the
   replica's replicator, so that both sides continue from it (dsync states
   are the pair's, valid in either direction). It asks the local
   doveadm-server, which has the credentials of the replica's doveadm
   server:
     <flags> TAB TAB replicator TAB notify-peer [TAB -f] TAB -i TAB <sender>
       TAB <replica> TAB <username> TAB <state> LF
   which runs on the replica's doveadm server:
     <flags> TAB TAB replicator TAB notify [TAB -f] TAB -i TAB <sender>
       TAB <username> TAB <state> LF
   which sends NOTIFY to that replicator (replicator-admin-protocol.h).
   Both print one field: the replica's server id. */

/* Options of Dovecot 2.3's default replication_dsync_parameters that 2.4
   removed: -d (the replicator passes the destination) and -U (the peer's
   doveadm plugin notifies its replicator). */
#define REPLICATOR_DSYNC_REMOVED_PARAMETERS { "-d", "-U", NULL }

struct replicator_dsync_cmd {
	const char *username;
	/* split replication_dsync_parameters */
	const char *const *parameters;
	bool full_sync;
	/* "" for none */
	const char *state;
	/* destination: tcp:host[:port], tcps:host[:port], remote:... */
	const char *replica;
	/* dsync's I/O timeout (-T), 0 for dsync's default */
	unsigned int timeout_secs;
};

/* The exit code with which the replica's doveadm plugin refuses an
   incoming replication dsync of a noreplicate user. Dovecot 2.4's doveadm
   protocol carries only the exit codes of its own table, and dsync itself
   never exits with this one (it exists for expired credentials), so unlike
   EX_NOPERM (any permission error) it can't be confused with a failure. */
#define REPLICATOR_DSYNC_EX_REFUSED DOVEADM_EX_EXPIRED
/* The exit code with which the replica's doveadm plugin turns an incoming
   dsync away because the replica's own replicator is syncing the user at
   that moment (replicator-admin-protocol.h INCOMING): retry shortly. Of
   the codes 2.4's doveadm protocol carries, only doveadm log and stats
   use this one, never dsync. */
#define REPLICATOR_DSYNC_EX_BUSY EX_PROTOCOL

/* doveadm-server rejects command lines over 1 MiB: a dsync state longer
   than this is not sent (the sync runs without it). */
#define REPLICATOR_DSYNC_STATE_MAX_LENGTH (900 * 1024)

/* names of the doveadm commands */
#define REPLICATOR_DOVEADM_CMD_NOTIFY "replicator notify"
#define REPLICATOR_DOVEADM_CMD_NOTIFY_PEER "replicator notify-peer"

/* A tcp: or tcps: replica: a doveadm server. */
struct replicator_replica_addr {
	const char *host;
	/* 0 = doveadm_port */
	in_port_t port;
	bool ssl;
};

/* Parse a tcp:host[:port] or tcps:host[:port] replica the way dsync does
   (the port follows the last colon; an IPv6 address needs brackets and a
   port: tcp:[::1]:12345). Returns 1 if parsed, 0 if the replica is of
   another kind (remote:, or tcp:/path, a unix socket), -1 with error_r set
   if invalid. */
int replicator_replica_addr_parse(const char *replica,
				  struct replicator_replica_addr *addr_r,
				  const char **error_r);

/* Split replication_dsync_parameters on spaces, dropping the options 2.4
   no longer has. removed_r is set to the dropped ones, space-separated, or
   NULL if none were. */
const char *const *
replicator_dsync_parameters_parse(const char *parameters,
				  const char **removed_r);
/* Append a piece of the state as doveadm-server prints it (tab-escaped,
   possibly in several pieces) to state. */
void replicator_dsync_state_output_append(string_t *state,
					  const unsigned char *data,
					  size_t size);
/* Append the command line (with LF). */
void replicator_dsync_cmd_append(string_t *dest,
				 const struct replicator_dsync_cmd *cmd);

/* Append the replicator notify-peer command line (with LF). */
void replicator_notify_peer_cmd_append(string_t *dest, const char *replica,
				       const char *username, bool full_sync,
				       const char *state, const char *sender);
/* Append the replicator notify-peer -r command line (with LF): ask the
   replica to sync the user itself. */
void replicator_request_peer_cmd_append(string_t *dest, const char *replica,
					const char *username);
/* Append the command line notify-peer -r runs on the replica (with LF):
   "replicator replicate -p high <user>", which Dovecot 2.3 has too. */
void replicator_replicate_cmd_append(string_t *dest, const char *username);
/* Append the replicator notify command line (with LF). */
void replicator_notify_cmd_append(string_t *dest, const char *username,
				  bool full_sync, const char *state,
				  const char *sender);

#endif

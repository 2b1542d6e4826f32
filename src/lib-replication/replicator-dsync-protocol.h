#ifndef REPLICATOR_DSYNC_PROTOCOL_H
#define REPLICATOR_DSYNC_PROTOCOL_H

/* The doveadm-server command the replicator sends to run one user's dsync
   (the doveadm protocol itself is libdovecot's doveadm-client):
     <flags> TAB <username> TAB sync {TAB <parameter>} [TAB -f]
       TAB -s TAB <state> TAB <replica> LF
   The server prints the new state as one field and ends with its exit
   code. */

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
};

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

#endif

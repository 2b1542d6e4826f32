#ifndef REPLICATION_COMMON_H
#define REPLICATION_COMMON_H

/* Names, limits and values shared by every dovecot-replication component.
   Wire formats are defined in the *-protocol.h headers beside this one. */

/* Listener names, as in Dovecot 2.3. Relative paths are resolved against
   base_dir. */
/* aggregator: asynchronous notifications from mail processes */
#define REPLICATION_NOTIFY_FIFO_NAME "replication-notify-fifo"
/* aggregator: synchronous notifications from mail processes */
#define REPLICATION_NOTIFY_SOCKET_NAME "replication-notify"
/* replicator: notifications from the aggregator */
#define REPLICATOR_NOTIFY_SOCKET_NAME "replicator"
/* replicator: admin commands (doveadm replicator) and NOTIFY */
#define REPLICATOR_ADMIN_SOCKET_NAME "replicator-doveadm"

/* Event category names, one per component. */
#define REPLICATION_EVENT_CATEGORY_PLUGIN "replication"
#define REPLICATION_EVENT_CATEGORY_AGGREGATOR "aggregator"
#define REPLICATION_EVENT_CATEGORY_REPLICATOR "replicator"

/* A server's name in NOTIFY (replicator-admin-protocol.h): its host
   domain (hostpid.h), the DOVECOT_HOSTDOMAIN environment variable if set.
   dsync's per-user lock needs it to differ between the servers of a
   replication set already. */
#define REPLICATION_SERVER_ID my_hostdomain()

/* Longest username accepted anywhere, before escaping. */
#define REPLICATION_USERNAME_MAX_LENGTH 1024

enum replication_priority {
	/* no pending request */
	REPLICATION_PRIORITY_NONE = 0,
	/* flag, keyword, expunge and mailbox changes */
	REPLICATION_PRIORITY_LOW,
	/* new mail */
	REPLICATION_PRIORITY_HIGH,
	/* new mail, and the sender waits until it has been replicated */
	REPLICATION_PRIORITY_SYNC,
};
#define REPLICATION_PRIORITY_COUNT (REPLICATION_PRIORITY_SYNC + 1)

/* Returns the wire name of the priority: "none", "low", "high" or "sync". */
const char *replication_priority_to_str(enum replication_priority priority);
/* Parse a wire name (exactly one of the four lowercase names). Returns 0 on
   success, -1 if the name is unknown. */
int replication_priority_parse(const char *str,
			       enum replication_priority *priority_r);

/* Parse a UNIX timestamp as our protocols and files write it: decimal
   digits only, no sign. Returns 0 on success, -1 with error_r naming the
   field if invalid. */
int replication_timestamp_parse(const char *str, const char *field_name,
				time_t *time_r, const char **error_r);

/* Parse a boolean field written as "0" or "1". Returns 0 on success, -1
   with error_r naming the field if invalid. */
int replication_bool_parse(const char *str, const char *field_name,
			   bool *value_r, const char **error_r);

/* Parse a time interval setting: Dovecot 2.3 style plain seconds ("30") or
   2.4 style with units ("30s", "1d"). Returns 0 on success, -1 with
   error_r set. */
int replication_interval_parse(const char *str, unsigned int *secs_r,
			       const char **error_r);

/* Returns TRUE if a noreplicate value (setting or userdb field, NULL if
   absent) excludes the user. As in Dovecot 2.3: any value not starting
   with n, N, 0, f or F does, including the empty value of a userdb flag. */
bool replication_noreplicate_value(const char *value);

/* Check that a username may be sent over any of our protocols: not empty,
   at most REPLICATION_USERNAME_MAX_LENGTH bytes. TAB, LF and other control
   characters are allowed: the protocols escape them. Returns 0 if valid,
   -1 with error_r set otherwise. */
int replication_username_verify(const char *username, const char **error_r);

#endif

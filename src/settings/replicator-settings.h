#ifndef REPLICATOR_SETTINGS_H
#define REPLICATOR_SETTINGS_H

/* Listener types of the replicator service. A listener of any other type,
   e.g. an inet_listener added for a remote aggregator, takes aggregator
   notifications as in 2.3. */
#define REPLICATOR_LISTENER_TYPE_NOTIFY "notify"
#define REPLICATOR_LISTENER_TYPE_ADMIN "doveadm"

struct replicator_settings {
	pool_t pool;
	/* A sync is a full one when the last full sync is this old; idle
	   users are synced again after it. Plain seconds (2.3) or with
	   units. */
	const char *replication_full_sync_interval;
	/* Maximum number of dsyncs running at once. */
	unsigned int replication_max_conns;
	/* Extra doveadm sync parameters, separated by spaces. */
	const char *replication_dsync_parameters;
	/* The longest a dsync may run: the replicator then gives up on it
	   (the user is retried with backoff). Also dsync's own I/O timeout
	   (-T). 0 = no limit. */
	unsigned int replication_dsync_timeout;

	/* parsed: */
	unsigned int parsed_full_sync_interval_secs;
};

extern const struct setting_parser_info replicator_setting_parser_info;

#endif

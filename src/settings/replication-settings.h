#ifndef REPLICATION_SETTINGS_H
#define REPLICATION_SETTINGS_H

/* Per-user replication settings: global, per protocol or from userdb.
   Read by the mail plugin (from the mail user's event) and by the
   replicator (the global fallback for mail_replica). */
struct replication_settings {
	pool_t pool;
	/* Where the user is replicated to: tcp:host[:port], tcps:host[:port]
	   or remote:[login@]host. Empty disables replication. */
	const char *mail_replica;
	/* Dovecot 2.3 userdb flag: set and not starting with n, N, 0, f or F
	   means "don't replicate"; an empty value (the 2.3 flag form) counts
	   as set. Use replication_settings_noreplicate(). */
	const char *noreplicate;
	/* How long a new-mail commit waits for the replica; 0 = don't wait.
	   Plain seconds (2.3) or with units. */
	const char *replication_sync_timeout;

	/* parsed: */
	unsigned int parsed_sync_timeout_secs;
};

extern const struct setting_parser_info replication_setting_parser_info;

/* Returns TRUE if the noreplicate setting says the user must not be
   replicated. */
bool replication_settings_noreplicate(const struct replication_settings *set);

#endif

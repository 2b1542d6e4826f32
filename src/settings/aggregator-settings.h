#ifndef AGGREGATOR_SETTINGS_H
#define AGGREGATOR_SETTINGS_H

struct aggregator_settings {
	pool_t pool;
	/* replicator_port == 0: unix socket path of the replicator, relative
	   to base_dir; otherwise the replicator's host name or IP. */
	const char *replicator_host;
	in_port_t replicator_port;
};

extern const struct setting_parser_info aggregator_setting_parser_info;

#endif

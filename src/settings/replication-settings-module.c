/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "settings-parser.h"
#include "service-settings.h"
#include "replication-settings.h"
#include "aggregator-settings.h"
#include "replicator-settings.h"
#include "replication-settings-module.h"
#include "replication-config.h"

const char *replication_settings_version = DOVECOT_ABI_VERSION;
const char *replication_settings_doveconf_banner =
	REPLICATION_NAME" version "REPLICATION_VERSION;

const struct setting_parser_info *replication_settings_set_infos[] = {
	&replication_setting_parser_info,
	&aggregator_setting_parser_info,
	&replicator_setting_parser_info,
	NULL
};

const struct config_service replication_settings_services_array[] = {
	{ &aggregator_service_settings, aggregator_service_settings_defaults },
	{ &replicator_service_settings, replicator_service_settings_defaults },
	{ NULL, NULL }
};

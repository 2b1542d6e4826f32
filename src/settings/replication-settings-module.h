#ifndef REPLICATION_SETTINGS_MODULE_H
#define REPLICATION_SETTINGS_MODULE_H

/* Symbols that Dovecot's config process (and doveconf) look up in
   $moduledir/settings/libreplication_settings.so, and the service
   definitions they are made of. */

#include "settings-parser.h"
#include "service-settings.h"

extern struct service_settings aggregator_service_settings;
extern const struct setting_keyvalue aggregator_service_settings_defaults[];
extern struct service_settings replicator_service_settings;
extern const struct setting_keyvalue replicator_service_settings_defaults[];

extern const char *replication_settings_version;
extern const char *replication_settings_doveconf_banner;
extern const struct setting_parser_info *replication_settings_set_infos[];
extern const struct config_service replication_settings_services_array[];

#endif

#ifndef REPLICATION_SETTINGS_MODULE_H
#define REPLICATION_SETTINGS_MODULE_H

/* Symbols that Dovecot's config process (and doveconf) look up in
   $moduledir/settings/libreplication_settings.so. */

struct config_service;

extern const char *replication_settings_version;
extern const char *replication_settings_doveconf_banner;
extern const struct setting_parser_info *replication_settings_set_infos[];
extern const struct config_service replication_settings_services_array[];

#endif

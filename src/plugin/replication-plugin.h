#ifndef REPLICATION_PLUGIN_H
#define REPLICATION_PLUGIN_H

/* Mail plugin lib20_replication_plugin.so: notices committed changes of
   replicated users and notifies the aggregator. Needs the notify plugin. */

struct module;

extern const char *replication_plugin_version;
extern const char *replication_plugin_dependencies[];

void replication_plugin_init(struct module *module);
void replication_plugin_deinit(void);

#endif

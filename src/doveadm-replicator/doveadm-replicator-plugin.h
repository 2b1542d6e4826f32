#ifndef DOVEADM_REPLICATOR_PLUGIN_H
#define DOVEADM_REPLICATOR_PLUGIN_H

/* doveadm plugin lib10_doveadm_replicator_plugin.so: the
   "doveadm replicator ..." commands. */

struct module;

extern const char *doveadm_replicator_plugin_version;

void doveadm_replicator_plugin_init(struct module *module);
void doveadm_replicator_plugin_deinit(void);

#endif

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "doveadm-replicator-cmd.h"
#include "doveadm-replicator-dsync.h"
#include "doveadm-replicator-plugin.h"

const char *doveadm_replicator_plugin_version = DOVECOT_ABI_VERSION;

void doveadm_replicator_plugin_init(struct module *module ATTR_UNUSED)
{
	doveadm_replicator_cmds_register();
	doveadm_replicator_dsync_init();
}

void doveadm_replicator_plugin_deinit(void)
{
	doveadm_replicator_dsync_deinit();
}

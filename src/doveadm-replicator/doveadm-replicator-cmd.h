#ifndef DOVEADM_REPLICATOR_CMD_H
#define DOVEADM_REPLICATOR_CMD_H

/* Register the "replicator ..." commands with doveadm. */
void doveadm_replicator_cmds_register(void);

#endif

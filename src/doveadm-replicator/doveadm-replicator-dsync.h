#ifndef DOVEADM_REPLICATOR_DSYNC_H
#define DOVEADM_REPLICATOR_DSYNC_H

/* The receiving side of replication: an incoming dsync (dsync-server) for
   a user with noreplicate is refused with exit code EX_NOPERM, which the
   initiating replicator takes as "drop the user". */

void doveadm_replicator_dsync_init(void);
void doveadm_replicator_dsync_deinit(void);

#endif

#ifndef REPLICATOR_ADMIN_CONN_H
#define REPLICATOR_ADMIN_CONN_H

/* Admin (doveadm replicator) connections (replicator-admin-protocol.h). */

void replicator_admin_conn_create(int fd, const char *name);

void replicator_admin_conns_init(void);
void replicator_admin_conns_deinit(void);

#endif

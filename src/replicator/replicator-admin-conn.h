#ifndef REPLICATOR_ADMIN_CONN_H
#define REPLICATOR_ADMIN_CONN_H

/* Admin (doveadm replicator) connections (replicator-admin-protocol.h). */

struct replicator_queue;

void replicator_admin_conn_create(int fd, const char *name);

void replicator_admin_conns_init(struct replicator_queue *queue);
void replicator_admin_conns_deinit(void);

#endif

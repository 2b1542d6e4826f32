#ifndef REPLICATOR_ADMIN_CONN_H
#define REPLICATOR_ADMIN_CONN_H

/* Admin connections: doveadm replicator commands and NOTIFY from the
   replica's doveadm server (replicator-admin-protocol.h). */

struct replicator_queue;
struct replicator_brain;
struct replicator_auth;

void replicator_admin_conn_create(int fd, const char *name);

void replicator_admin_conns_init(struct replicator_queue *queue,
				 struct replicator_brain *brain,
				 struct replicator_auth *auth);
void replicator_admin_conns_deinit(void);

#endif

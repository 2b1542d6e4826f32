#ifndef REPLICATOR_NOTIFY_CONN_H
#define REPLICATOR_NOTIFY_CONN_H

/* Notifications from aggregators (replicator-notify-protocol.h). */

void replicator_notify_conn_create(int fd, const char *name);

void replicator_notify_conns_init(void);
void replicator_notify_conns_deinit(void);

#endif

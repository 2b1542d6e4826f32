#ifndef AGGREGATOR_NOTIFY_CONN_H
#define AGGREGATOR_NOTIFY_CONN_H

/* Notifications from mail processes, arriving on the fifo or the socket
   (replication-notify-protocol.h). */

/* Start reading notifications from fd. A fifo has no output and is never
   closed: its fd is the master's listener. */
void aggregator_notify_conn_create(int fd, bool fifo);

void aggregator_notify_conns_init(void);
/* Destroys every connection. */
void aggregator_notify_conns_deinit(void);

#endif

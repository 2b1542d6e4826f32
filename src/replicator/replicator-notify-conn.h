#ifndef REPLICATOR_NOTIFY_CONN_H
#define REPLICATOR_NOTIFY_CONN_H

/* Notifications from aggregators (replicator-notify-protocol.h): each
   raises the user's priority; sync requests are answered once a sync that
   started after them has finished. Aggregators that ask for it get their
   requests acknowledged once the state holding them has been saved. */

struct replicator_queue;
struct replicator_brain;

void replicator_notify_conn_create(int fd, const char *name);

void replicator_notify_conns_init(struct replicator_queue *queue,
				  struct replicator_brain *brain);
void replicator_notify_conns_deinit(void);

/* The state, with every request received so far, has been saved: send the
   acknowledgements. */
void replicator_notify_conns_state_saved(void);

#endif

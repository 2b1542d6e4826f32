#ifndef REPLICATOR_COMMON_H
#define REPLICATOR_COMMON_H

/* Parent event of everything the replicator logs. */
extern struct event *replicator_event;

#endif

#ifndef AGGREGATOR_COMMON_H
#define AGGREGATOR_COMMON_H

/* Parent event of everything the aggregator logs. */
extern struct event *aggregator_event;
/* The connection to the replicator. */
extern struct aggregator_replicator_client *aggregator_replicator;

#endif

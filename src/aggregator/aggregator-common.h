#ifndef AGGREGATOR_COMMON_H
#define AGGREGATOR_COMMON_H

/* Parent event of everything the aggregator logs. */
extern struct event *aggregator_event;

#endif

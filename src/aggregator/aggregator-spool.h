#ifndef AGGREGATOR_SPOOL_H
#define AGGREGATOR_SPOOL_H

#include "replication-common.h"

/* Requests the aggregator has read but the replicator hasn't saved yet are
   also written to a file, so that a new aggregator sends them after this
   one is killed. The file is in AGGREGATOR_SPOOL_DIR_NAME under base_dir
   (the aggregator is chrooted there and runs as default_internal_user, so
   the directory is made while the process is still root). Lines are the
   replicator-notify request lines, with id 0 (a sync request is spooled as
   high). The file may hold more than what is unsaved (users already saved,
   lower priorities): replaying them costs a sync, never a change. write()
   without fsync(): the page cache survives a process crash, and a
   per-request fsync would cost more than the notification. */

#define AGGREGATOR_SPOOL_DIR_NAME "replication-aggregator"
#define AGGREGATOR_SPOOL_FILE_NAME "requests"

struct aggregator_spool;

struct aggregator_spool_request {
	const char *username;
	enum replication_priority priority;
};
ARRAY_DEFINE_TYPE(aggregator_spool_request, struct aggregator_spool_request);

/* Make the spool directory in the current directory (base_dir) and open
   it. Call before privileges are dropped: the directory is given to the
   user in the RESTRICT_SETUID/SETGID environment. Returns NULL with an
   error logged if it can't be done; the aggregator then runs without a
   spool. */
struct aggregator_spool *aggregator_spool_preinit(struct event *event);
/* Open the spool file (after privileges are dropped) and add the requests
   it holds to requests_r (allocated from the data stack's pool given).
   Damaged lines are skipped with a warning. Returns -1 if the file can't
   be opened or read (error logged); the spool is then unused. */
int aggregator_spool_open(struct aggregator_spool *spool, pool_t pool,
			  ARRAY_TYPE(aggregator_spool_request) *requests_r);
void aggregator_spool_deinit(struct aggregator_spool **spool);

/* Write the request unless the file already holds one for the user at
   this priority or higher. A write error is logged once and the request
   is kept in memory only until aggregator_spool_want_compact() asks for
   the file to be rewritten. */
void aggregator_spool_append(struct aggregator_spool *spool,
			     const char *username,
			     enum replication_priority priority);
/* Returns TRUE if the file has grown past what its live requests need, or
   lacks requests that couldn't be written before and now can be: the
   caller should call aggregator_spool_replace() with every live request
   (live_count of them). */
bool aggregator_spool_want_compact(struct aggregator_spool *spool,
				   unsigned int live_count);
/* Replace the file's contents with exactly these requests (an empty array
   empties it). */
void aggregator_spool_replace(
	struct aggregator_spool *spool,
	const ARRAY_TYPE(aggregator_spool_request) *requests);

#endif

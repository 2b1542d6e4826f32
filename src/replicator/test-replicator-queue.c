/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "test-common.h"
#include "replicator-queue.h"

#define FULL_SYNC_INTERVAL 3600
#define NOW 1700000000

static struct replicator_user *
test_pop(struct replicator_queue *queue)
{
	unsigned int next_secs;

	return replicator_queue_pop(queue, &next_secs);
}

static void test_sync_ok(struct replicator_queue *queue,
			 struct replicator_user *user)
{
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user, REPLICATOR_SYNC_RESULT_OK,
				       "tcp:replica", "state", NULL);
	replicator_queue_push(queue, user);
}

static void test_replicator_queue_order(void)
{
	struct replicator_queue *queue;
	struct replicator_user *u1, *u2, *u3, *user;
	unsigned int next_secs;

	test_begin("replicator queue order");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);

	/* never synced, priority none: due at once, in insertion order of
	   equal keys doesn't matter; pending priorities go first */
	u1 = replicator_queue_get(queue, "u1");
	u2 = replicator_queue_get(queue, "u2");
	u3 = replicator_queue_get(queue, "u3");
	test_assert(replicator_queue_get(queue, "u1") == u1);
	test_assert_ucmp(replicator_queue_count(queue), ==, 3);
	replicator_queue_update(queue, u2, REPLICATION_PRIORITY_LOW);
	replicator_queue_update(queue, u3, REPLICATION_PRIORITY_SYNC);
	test_assert(test_pop(queue) == u3);
	test_assert(test_pop(queue) == u2);
	test_assert(test_pop(queue) == u1);
	test_assert(test_pop(queue) == NULL);
	test_sync_ok(queue, u1);
	test_sync_ok(queue, u2);
	test_sync_ok(queue, u3);

	/* all synced: nothing due until the full sync interval */
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));
	test_assert_ucmp(next_secs, ==, FULL_SYNC_INTERVAL);
	test_assert(u1->priority == REPLICATION_PRIORITY_NONE);
	test_assert_strcmp(u1->state, "state");
	test_assert_strcmp(u1->replica, "tcp:replica");

	/* a change makes the user due at once */
	ioloop_time += 10;
	replicator_queue_update(queue, u2, REPLICATION_PRIORITY_HIGH);
	test_assert(u2->oldest_change == ioloop_time);
	user = test_pop(queue);
	test_assert(user == u2);
	/* priority only goes up */
	replicator_queue_update(queue, u2, REPLICATION_PRIORITY_LOW);
	test_assert(u2->priority == REPLICATION_PRIORITY_HIGH);
	test_sync_ok(queue, u2);
	test_assert(u2->priority == REPLICATION_PRIORITY_NONE);
	test_assert(u2->oldest_change == 0);

	/* full sync due after the interval */
	ioloop_time = NOW + FULL_SYNC_INTERVAL;
	user = test_pop(queue);
	test_assert(user == u1 || user == u3);
	test_assert(replicator_queue_sync_started(queue, user));
	replicator_queue_sync_finished(queue, user, REPLICATOR_SYNC_RESULT_OK,
				       "tcp:replica", "s2", NULL);
	replicator_queue_push(queue, user);
	test_assert(user->last_full_sync == ioloop_time);

	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_starvation(void)
{
	struct replicator_queue *queue;
	struct replicator_user *low, *high, *sync;

	test_begin("replicator queue starvation bounds");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	low = replicator_queue_get(queue, "low");
	high = replicator_queue_get(queue, "high");
	sync = replicator_queue_get(queue, "sync");
	test_sync_ok(queue, test_pop(queue));
	test_sync_ok(queue, test_pop(queue));
	test_sync_ok(queue, test_pop(queue));

	/* a low request older than 15 min beats a new high one */
	replicator_queue_update(queue, low, REPLICATION_PRIORITY_LOW);
	ioloop_time += 15 * 60 + 1;
	replicator_queue_update(queue, high, REPLICATION_PRIORITY_HIGH);
	test_assert(test_pop(queue) == low);
	test_sync_ok(queue, low);
	test_assert(test_pop(queue) == high);
	test_sync_ok(queue, high);

	/* ... but not one just under 15 min */
	replicator_queue_update(queue, low, REPLICATION_PRIORITY_LOW);
	ioloop_time += 15 * 60 - 1;
	replicator_queue_update(queue, high, REPLICATION_PRIORITY_HIGH);
	test_assert(test_pop(queue) == high);
	test_sync_ok(queue, high);
	test_assert(test_pop(queue) == low);
	test_sync_ok(queue, low);

	/* sync beats low younger than 30 min */
	replicator_queue_update(queue, low, REPLICATION_PRIORITY_LOW);
	ioloop_time += 30 * 60 - 1;
	replicator_queue_update(queue, sync, REPLICATION_PRIORITY_SYNC);
	test_assert(test_pop(queue) == sync);
	test_sync_ok(queue, sync);
	test_assert(test_pop(queue) == low);
	test_sync_ok(queue, low);

	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_failure_backoff(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	unsigned int next_secs, prev_retry = 0, i;

	test_begin("replicator queue failure backoff");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "user");
	for (i = 1; i <= 8; i++) {
		user = test_pop(queue);
		test_assert_idx(user != NULL, i);
		if (user == NULL)
			break;
		(void)replicator_queue_sync_started(queue, user);
		replicator_queue_sync_finished(queue, user,
					       REPLICATOR_SYNC_RESULT_TEMPFAIL,
					       "tcp:replica", NULL, "peer down");
		replicator_queue_push(queue, user);
		test_assert_idx(user->last_sync_failed, i);
		test_assert_strcmp_idx(user->last_error, "peer down", i);
		test_assert_idx(user->state == NULL, i);
		/* 10 s +-20 %, doubling, capped at 5 min +-20 % */
		test_assert_idx(user->retry_secs >= 8 &&
				user->retry_secs <= 360, i);
		if (i > 1 && i < 6)
			test_assert_idx(user->retry_secs > prev_retry, i);
		prev_retry = user->retry_secs;
		test_assert_idx(!replicator_queue_want_sync_now(queue,
								&next_secs), i);
		test_assert_ucmp_idx(next_secs, ==, user->retry_secs, i);
		ioloop_time += user->retry_secs;
	}
	test_assert_ucmp(user->failure_count, ==, 8);
	test_assert(user->retry_secs >= 240);

	/* a new change doesn't bypass the backoff */
	ioloop_time = user->last_fast_sync + 1;
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));
	test_assert_ucmp(next_secs, ==, user->retry_secs - 1);
	ioloop_time = user->last_fast_sync + user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user, REPLICATOR_SYNC_RESULT_OK,
				       "tcp:replica", "st", NULL);
	replicator_queue_push(queue, user);
	test_assert_ucmp(user->failure_count, ==, 0);
	test_assert(user->last_error == NULL);
	test_assert(user->last_successful_sync == ioloop_time);

	/* not_before holds a user back even with a pending change */
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	replicator_queue_postpone(queue, user, ioloop_time + 30);
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));
	test_assert_ucmp(next_secs, ==, 30);

	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_remove(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user, *user2;

	test_begin("replicator queue remove");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "a");
	user2 = replicator_queue_get(queue, "b");
	replicator_queue_remove(queue, &user2);
	test_assert(user2 == NULL);
	test_assert(replicator_queue_lookup(queue, "b") == NULL);

	/* removed while being synced: freed when pushed back */
	user = test_pop(queue);
	test_assert(user != NULL);
	user2 = user;
	replicator_queue_remove(queue, &user2);
	test_assert(replicator_user_is_removed(user));
	test_assert(replicator_queue_lookup(queue, "a") == NULL);
	test_assert_ucmp(replicator_queue_count(queue), ==, 0);
	replicator_queue_push(queue, user);
	test_assert(test_pop(queue) == NULL);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_peer_synced(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	unsigned int next_secs;

	test_begin("replicator queue peer synced");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "user");
	test_assert(replicator_queue_peer_synced(queue, user, "tcp:r", TRUE,
						 "peerstate"));
	test_assert_strcmp(user->state, "peerstate");
	/* the state belongs to the replica now, even before our first
	   sync */
	test_assert_strcmp(user->replica, "tcp:r");
	test_assert(user->last_full_sync == NOW);
	test_assert(user->last_successful_sync == NOW);
	/* nothing due: the peer just synced everything */
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));

	/* a pending change stays pending */
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_LOW);
	test_assert(replicator_queue_peer_synced(queue, user, "tcp:r", FALSE,
						 ""));
	test_assert_strcmp(user->state, "peerstate");
	test_assert(user->priority == REPLICATION_PRIORITY_LOW);

	/* a running sync keeps its own coming state */
	user = test_pop(queue);
	test_assert(user != NULL);
	test_assert(!replicator_queue_peer_synced(queue, user, "tcp:r",
						  FALSE, "other"));
	test_assert_strcmp(user->state, "peerstate");
	replicator_queue_push(queue, user);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_sync_outcomes(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	unsigned int next_secs;
	time_t full;

	test_begin("replicator queue sync outcomes");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "user");
	user = test_pop(queue);
	test_sync_ok(queue, user);
	full = user->last_full_sync;
	test_assert(full == NOW);

	/* a running sync keeps its starting priority saved: a crash before
	   it ends leaves the user due */
	ioloop_time += 10;
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	user = test_pop(queue);
	(void)replicator_queue_sync_started(queue, user);
	test_assert(user->priority == REPLICATION_PRIORITY_NONE);
	test_assert(replicator_user_saved_priority(user) ==
		    REPLICATION_PRIORITY_HIGH);
	/* aborted (shutdown): the priority comes back, no failure */
	replicator_queue_sync_aborted(queue, user);
	replicator_queue_push(queue, user);
	test_assert(user->priority == REPLICATION_PRIORITY_HIGH);
	test_assert(user->oldest_change == NOW + 10);
	test_assert(!user->last_sync_failed);

	/* failed: the priority comes back too, with the backoff */
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_FAILED,
				       "tcp:replica", NULL, "failed");
	replicator_queue_push(queue, user);
	test_assert(user->priority == REPLICATION_PRIORITY_HIGH);
	test_assert(user->last_sync_failed);
	/* the first failure keeps the state */
	test_assert_strcmp(user->state, "state");
	test_assert(!user->force_full_sync);
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));

	/* the second in a row drops it: the retry is a full sync */
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	test_assert(!replicator_queue_sync_started(queue, user));
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_FAILED,
				       "tcp:replica", NULL, "failed");
	replicator_queue_push(queue, user);
	test_assert(user->state == NULL);
	test_assert(user->force_full_sync);

	/* a failed full sync stays due: last_full_sync is unchanged */
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	test_assert(replicator_queue_sync_started(queue, user));
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_TEMPFAIL,
				       "tcp:replica", NULL, "failed");
	replicator_queue_push(queue, user);
	test_assert(user->last_full_sync == full);
	test_assert(user->force_full_sync);
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	test_assert(replicator_queue_sync_started(queue, user));
	replicator_queue_sync_finished(queue, user, REPLICATOR_SYNC_RESULT_OK,
				       "tcp:replica", "new", NULL);
	replicator_queue_push(queue, user);
	test_assert(user->last_full_sync == ioloop_time);
	test_assert(!user->force_full_sync);
	test_assert(user->priority == REPLICATION_PRIORITY_NONE);
	test_assert(user->oldest_change == 0);

	/* incomplete with an empty state (it was stale): at once, in full,
	   without the state */
	ioloop_time += 10;
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_LOW);
	user = test_pop(queue);
	test_assert(!replicator_queue_sync_started(queue, user));
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_INCOMPLETE,
				       "tcp:replica", "", "stale");
	replicator_queue_push(queue, user);
	test_assert(user->state == NULL);
	test_assert(user->force_full_sync);
	test_assert(!user->last_sync_failed);
	test_assert(user->priority == REPLICATION_PRIORITY_HIGH);
	user = test_pop(queue);
	test_assert(user != NULL);
	test_assert(replicator_queue_sync_started(queue, user));
	/* incomplete with a state (changes during the sync): at once with
	   the new state */
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_INCOMPLETE,
				       "tcp:replica", "s3", "changed");
	replicator_queue_push(queue, user);
	test_assert_strcmp(user->state, "s3");
	/* the full sync didn't finish */
	test_assert(user->force_full_sync);
	test_assert(replicator_queue_want_sync_now(queue, &next_secs));
	/* the third incomplete sync in a row backs off like a failure */
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_INCOMPLETE,
				       "tcp:replica", "s4", "changed");
	replicator_queue_push(queue, user);
	test_assert(user->last_sync_failed);
	test_assert(user->priority == REPLICATION_PRIORITY_HIGH);
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));
	test_assert_ucmp(next_secs, ==, user->retry_secs);
	/* ... but it isn't a failure: the next real one is the first */
	test_assert_ucmp(user->failure_count, ==, 0);
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_FAILED,
				       "tcp:replica", NULL, "failed");
	replicator_queue_push(queue, user);
	test_assert_ucmp(user->failure_count, ==, 1);
	test_assert_ucmp(user->incomplete_count, ==, 0);

	/* a re-added user is a new struct */
	{
		unsigned int old_id = user->id;
		replicator_queue_remove(queue, &user);
		user = replicator_queue_get(queue, "user");
		test_assert(user->id != old_id);
	}
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_failed_state(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;

	test_begin("replicator queue state printed by a failed sync");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "user");
	user = test_pop(queue);
	test_sync_ok(queue, user);

	/* no state printed (ended early, timed out): the old one stays */
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	user = test_pop(queue);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_TEMPFAIL,
				       "tcp:replica", NULL, "timed out");
	replicator_queue_push(queue, user);
	test_assert_strcmp(user->state, "state");
	test_assert(!user->force_full_sync);

	/* failed after it synced some: its state may cover changes that
	   failed, the old one stays */
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_TEMPFAIL,
				       "tcp:replica", "partial", "failed");
	replicator_queue_push(queue, user);
	test_assert_strcmp(user->state, "state");
	test_assert(!user->force_full_sync);
	test_assert(user->last_sync_failed);

	/* an empty one: dsync found the state unusable, retrying with it
	   fails the same way */
	ioloop_time += user->retry_secs;
	user = test_pop(queue);
	test_assert(user != NULL);
	(void)replicator_queue_sync_started(queue, user);
	replicator_queue_sync_finished(queue, user,
				       REPLICATOR_SYNC_RESULT_TEMPFAIL,
				       "tcp:replica", "", "failed");
	replicator_queue_push(queue, user);
	test_assert(user->state == NULL);
	test_assert(user->force_full_sync);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_stale_state(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	unsigned int next_secs;

	test_begin("replicator queue stale state");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	user = replicator_queue_get(queue, "user");
	user = test_pop(queue);
	test_sync_ok(queue, user);

	/* a running sync's own state comes next: not stale */
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_LOW);
	user = test_pop(queue);
	test_assert(user != NULL);
	replicator_queue_hold_ended(queue, user, TRUE);
	test_assert(!user->state_stale);
	replicator_queue_push(queue, user);
	/* an incoming dsync's hold: saved as stale until it ends */
	replicator_queue_incoming(queue, user);
	test_assert(user->awaiting_handover);
	test_assert(!user->state_stale);
	replicator_queue_hold_ended(queue, user, FALSE);
	test_assert(!user->awaiting_handover);
	test_assert(!user->state_stale);
	replicator_queue_incoming(queue, user);
	replicator_queue_hold_ended(queue, user, TRUE);
	test_assert(!user->awaiting_handover);
	test_assert(user->state_stale);

	/* delegated: not synced from here meanwhile, the change stays */
	replicator_queue_update(queue, user, REPLICATION_PRIORITY_HIGH);
	user = test_pop(queue);
	test_assert(user != NULL);
	replicator_queue_sync_delegated(queue, user, 30);
	replicator_queue_push(queue, user);
	test_assert(user->delegated);
	test_assert(user->priority == REPLICATION_PRIORITY_HIGH);
	test_assert(!replicator_queue_want_sync_now(queue, &next_secs));
	test_assert_ucmp(next_secs, ==, 30);
	/* the replica starts to: the hold decides from now on */
	replicator_queue_incoming(queue, user);
	test_assert(!user->delegated);
	test_assert_ucmp(user->delegate_count, ==, 1);
	user->delegated = TRUE;
	/* the replica's hand-over: synced from here at once */
	test_assert(replicator_queue_peer_synced(queue, user, "tcp:r", FALSE,
						 "peer"));
	test_assert_ucmp(user->delegate_count, ==, 0);
	test_assert(!user->state_stale);
	test_assert(!user->delegated);
	test_assert(replicator_queue_want_sync_now(queue, &next_secs));

	/* the replica didn't sync it: from here after all */
	replicator_queue_hold_ended(queue, user, TRUE);
	user = test_pop(queue);
	replicator_queue_sync_delegated(queue, user, 30);
	replicator_queue_push(queue, user);
	ioloop_time += 30;
	user = test_pop(queue);
	test_assert(user != NULL);
	replicator_queue_state_stale_ignore(queue, user);
	test_assert(!user->state_stale);
	test_sync_ok(queue, user);
	test_assert(!user->delegated);
	replicator_queue_deinit(&queue);
	test_end();
}

static void test_replicator_queue_random(void)
{
	struct replicator_queue *queue;
	struct replicator_user *user;
	enum replication_priority prev_priority;
	unsigned int i, round;

	test_begin("replicator queue random drain");
	ioloop_time = NOW;
	queue = replicator_queue_init(FULL_SYNC_INTERVAL);
	for (i = 0; i < 1000; i++) {
		user = replicator_queue_get(queue,
			t_strdup_printf("user%u", i_rand_limit(200)));
		replicator_queue_update(queue, user,
					i_rand_limit(REPLICATION_PRIORITY_COUNT));
	}
	for (round = 0; round < 20; round++) {
		ARRAY(struct replicator_user *) popped;
		struct replicator_user *const *userp;

		t_array_init(&popped, 200);
		prev_priority = REPLICATION_PRIORITY_SYNC;
		while ((user = test_pop(queue)) != NULL) {
			/* never-synced users with pending priority come out
			   by priority; the rest are all due */
			if (user->last_fast_sync == 0 &&
			    user->priority != REPLICATION_PRIORITY_NONE) {
				test_assert_idx(user->priority <=
						prev_priority, round);
				prev_priority = user->priority;
			}
			(void)replicator_queue_sync_started(queue, user);
			if (i_rand_limit(5) == 0) {
				replicator_queue_sync_finished(queue, user,
					REPLICATOR_SYNC_RESULT_FAILED, "r",
					NULL, "failed");
			} else {
				replicator_queue_sync_finished(queue, user,
					REPLICATOR_SYNC_RESULT_OK, "r", "s",
					NULL);
			}
			array_push_back(&popped, &user);
		}
		array_foreach(&popped, userp)
			replicator_queue_push(queue, *userp);
		ioloop_time += 1;
		for (i = 0; i < 50; i++) {
			user = replicator_queue_get(queue,
				t_strdup_printf("user%u", i_rand_limit(200)));
			replicator_queue_update(queue, user,
				1 + i_rand_limit(REPLICATION_PRIORITY_SYNC));
		}
	}
	/* eventually everything drains */
	ioloop_time += 24 * 3600;
	while ((user = test_pop(queue)) != NULL) {
		(void)replicator_queue_sync_started(queue, user);
		replicator_queue_sync_finished(queue, user,
					       REPLICATOR_SYNC_RESULT_OK, "r", "s",
					       NULL);
		test_assert(user->priority == REPLICATION_PRIORITY_NONE);
		/* removed while popped: pushing it back frees it */
		struct replicator_user *removed = user;
		replicator_queue_remove(queue, &removed);
		replicator_queue_push(queue, user);
	}
	test_assert_ucmp(replicator_queue_count(queue), ==, 0);
	replicator_queue_deinit(&queue);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_replicator_queue_order,
		test_replicator_queue_starvation,
		test_replicator_queue_failure_backoff,
		test_replicator_queue_remove,
		test_replicator_queue_peer_synced,
		test_replicator_queue_failed_state,
		test_replicator_queue_stale_state,
		test_replicator_queue_sync_outcomes,
		test_replicator_queue_random,
		NULL
	};
	return test_run(test_functions);
}

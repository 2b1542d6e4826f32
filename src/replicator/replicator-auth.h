#ifndef REPLICATOR_AUTH_H
#define REPLICATOR_AUTH_H

/* Asynchronous userdb lookups and listing over the auth-userdb socket
   (replicator-auth-protocol.h). Lookups and listing use separate
   connections, made when needed; requests time out. */

struct replicator_auth;

enum replicator_auth_result {
	REPLICATOR_AUTH_RESULT_ERROR = -1,
	REPLICATOR_AUTH_RESULT_NOTFOUND = 0,
	REPLICATOR_AUTH_RESULT_FOUND = 1,
};

/* fields are the userdb's key=value fields (FOUND), error is set on ERROR. */
typedef void replicator_auth_lookup_callback_t(
	enum replicator_auth_result result, const char *const *fields,
	const char *error, void *context);
/* Called for each listed user. */
typedef void replicator_auth_list_user_callback_t(const char *username,
						  void *context);
/* Called once at the end of the listing: error is NULL on success. */
typedef void replicator_auth_list_done_callback_t(const char *error,
						  void *context);

struct replicator_auth *
replicator_auth_init(const char *socket_path, struct event *event_parent);
/* Fail every pending request: the callbacks are called with an error. */
void replicator_auth_abort(struct replicator_auth *auth);
/* Pending requests are dropped without calling their callbacks. */
void replicator_auth_deinit(struct replicator_auth **auth);

/* Look up a user. The callback is called once, never before this
   returns. */
void replicator_auth_lookup(struct replicator_auth *auth,
			    const char *username,
			    replicator_auth_lookup_callback_t *callback,
			    void *context);
/* List users matching mask. Returns FALSE (and calls nothing) if a listing
   is already running. The callbacks are never called before this
   returns. */
bool replicator_auth_list(struct replicator_auth *auth, const char *mask,
			  replicator_auth_list_user_callback_t *user_callback,
			  replicator_auth_list_done_callback_t *done_callback,
			  void *context);

#endif

#ifndef REPLICATOR_AUTH_PROTOCOL_H
#define REPLICATOR_AUTH_PROTOCOL_H

/* The part of Dovecot's auth-master protocol (the auth-userdb socket) that
   the replicator speaks itself, so that user listing and lookups never
   block its ioloop (libdovecot's auth-master client runs an inner ioloop).
   Fields are tab-escaped.

   Server on connect:  VERSION TAB 1 TAB <minor> LF  SPID TAB <pid> LF
   Client on connect:  VERSION TAB 1 TAB 0 LF
   Requests:
     USER TAB <id> TAB <username> TAB protocol=replicator LF
     LIST TAB <id> TAB user=<mask> TAB protocol=replicator LF
   Replies:
     USER TAB <id> TAB <username> {TAB <key>=<value>}
     NOTFOUND TAB <id>
     FAIL TAB <id> [TAB reason=<reason>]
     LIST TAB <id> TAB <username>      (one per user)
     DONE TAB <id> TAB [fail]          (end of the list) */

#define REPLICATOR_AUTH_MAJOR_VERSION 1
#define REPLICATOR_AUTH_MINOR_VERSION 0
#define REPLICATOR_AUTH_PROTOCOL "replicator"
/* Longest reply line accepted, LF included. */
#define REPLICATOR_AUTH_MAX_LINE_LENGTH (64 * 1024)

enum replicator_auth_reply_type {
	/* handshake: VERSION and SPID */
	REPLICATOR_AUTH_REPLY_HANDSHAKE,
	REPLICATOR_AUTH_REPLY_USER,
	REPLICATOR_AUTH_REPLY_NOTFOUND,
	REPLICATOR_AUTH_REPLY_FAIL,
	REPLICATOR_AUTH_REPLY_LIST,
	REPLICATOR_AUTH_REPLY_DONE,
};

struct replicator_auth_reply {
	enum replicator_auth_reply_type type;
	unsigned int id;
	/* USER, LIST */
	const char *username;
	/* USER: key=value fields */
	const char *const *fields;
	/* FAIL: reason (may be ""); DONE: TRUE if the listing failed */
	const char *reason;
	bool failed;
	/* HANDSHAKE: TRUE once SPID (the last handshake line) was seen */
	bool handshake_done;
};

void replicator_auth_handshake_append(string_t *dest);
void replicator_auth_user_request_append(string_t *dest, unsigned int id,
					 const char *username);
/* mask may contain * and ?; "*" lists everyone */
void replicator_auth_list_request_append(string_t *dest, unsigned int id,
					 const char *mask);
/* Parse the tab-split fields of a reply line. The reply points into args.
   Returns 0 on success, -1 with error_r set. */
int replicator_auth_reply_parse(const char *const *args,
				struct replicator_auth_reply *reply_r,
				const char **error_r);
/* userdb fields the replicator reads */
#define REPLICATOR_AUTH_FIELD_MAIL_REPLICA "mail_replica"
#define REPLICATOR_AUTH_FIELD_NOREPLICATE "noreplicate"

/* Returns the value of key in USER reply fields, or NULL. */
const char *replicator_auth_field_find(const char *const *fields,
				       const char *key);

#endif

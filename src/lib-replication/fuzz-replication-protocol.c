/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "fuzzer.h"
#include "replication-notify-protocol.h"
#include "replicator-notify-protocol.h"
#include "replicator-admin-protocol.h"
#include "replicator-auth-protocol.h"
#include "replicator-db-record.h"

/* Every parser gets the same line; whatever parses must encode again. */
FUZZ_BEGIN_STR(const char *line)
{
	const char *const *args = t_strsplit_tabescaped(line);
	struct replication_notify_request notify_req;
	struct replicator_notify_request repl_req;
	struct replicator_notify_reply notify_reply;
	struct replicator_admin_request admin_req;
	struct replicator_admin_user_status user_status;
	struct replicator_admin_dsync_status dsync_status;
	struct replicator_auth_reply auth_reply;
	struct replicator_db_record rec;
	string_t *str = t_str_new(128);
	const char *error, *text, *label;
	unsigned int count;
	bool success;

	if (replication_notify_request_parse(args, &notify_req, &error) == 0) {
		replication_notify_request_append(str, notify_req.username,
						  notify_req.priority);
	}
	(void)replication_notify_reply_parse(line, &success, &error);
	if (replicator_notify_request_parse(args, &repl_req, &error) == 0) {
		replicator_notify_request_append(str, repl_req.username,
						 repl_req.priority,
						 repl_req.id);
	}
	(void)replicator_notify_reply_parse(args, &notify_reply, &error);
	if (replicator_admin_request_parse(args, &admin_req, &error) == 0)
		replicator_admin_request_append(str, &admin_req);
	(void)replicator_admin_result_parse(args, &success, &text, &error);
	(void)replicator_admin_status_count_parse(args, &label, &count,
						  &error);
	if (replicator_admin_user_status_parse(args, &user_status,
					       &error) == 0)
		replicator_admin_user_status_append(str, &user_status);
	if (replicator_admin_dsync_status_parse(args, &dsync_status,
						&error) == 0)
		replicator_admin_dsync_status_append(str, &dsync_status);
	if (replicator_auth_reply_parse(args, &auth_reply, &error) == 0 &&
	    auth_reply.fields != NULL)
		(void)replicator_auth_field_find(auth_reply.fields, "x");
	if (replicator_db_record_parse(args, &rec, &error) == 0)
		replicator_db_record_append(str, &rec);
}
FUZZ_END

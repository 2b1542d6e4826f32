/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "net.h"
#include "str.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
#include "doveadm-settings.h"
#include "doveadm-protocol.h"
#include "doveadm-client.h"
#include "replication-common.h"
#include "replicator-admin-protocol.h"
#include "replicator-dsync-protocol.h"
#include "doveadm-replicator-client.h"
#include "doveadm-replicator-cmd.h"

#include <sysexits.h>

#define DOVEADM_REPLICATOR_PEER_TIMEOUT_MSECS (30 * 1000)

static const char *
cmd_replicator_socket_path(struct doveadm_cmd_context *cctx)
{
	const char *path;

	if (doveadm_cmd_param_str(cctx, "socket-path", &path))
		return path;
	return t_strconcat(doveadm_settings->base_dir, "/",
			   REPLICATOR_ADMIN_SOCKET_NAME, NULL);
}

static void cmd_replicator_failed(struct doveadm_cmd_context *cctx,
				  const char *error)
{
	e_error(cctx->event, "%s", error);
	doveadm_exit_code = EX_TEMPFAIL;
}

/* Run a request answered with a result; returns the text after "+". */
static bool
cmd_replicator_request(struct doveadm_cmd_context *cctx,
		       const struct replicator_admin_request *req,
		       const char **text_r)
{
	const char *error;
	bool success;

	if (doveadm_replicator_client_request(cmd_replicator_socket_path(cctx),
					      cctx->event, req, &success,
					      text_r, &error) < 0) {
		cmd_replicator_failed(cctx, error);
		return FALSE;
	}
	if (!success) {
		e_error(cctx->event, "Replicator failed: %s", *text_r);
		doveadm_exit_code = EX_USAGE;
		return FALSE;
	}
	return TRUE;
}

static bool cmd_replicator_get_mask(struct doveadm_cmd_context *cctx,
				    const char *param, const char **mask_r)
{
	if (!doveadm_cmd_param_str(cctx, param, mask_r) || **mask_r == '\0') {
		e_error(cctx->event, "%s: missing %s", cctx->cmd->name, param);
		doveadm_exit_code = EX_USAGE;
		return FALSE;
	}
	return TRUE;
}

/* "time ago" as 2.3 printed it: HH:MM:SS, or "-" for never */
static const char *cmd_replicator_time_ago(time_t t)
{
	time_t diff;

	if (t == 0)
		return "-";
	diff = ioloop_time > t ? ioloop_time - t : 0;
	return t_strdup_printf("%02d:%02d:%02d", (int)(diff / 3600),
			       (int)(diff / 60 % 60), (int)(diff % 60));
}

static const char *cmd_replicator_secs(unsigned int secs)
{
	return t_strdup_printf("%02u:%02u:%02u", secs / 3600,
			       secs / 60 % 60, secs % 60);
}

static int cmd_replicator_status_count_row(const char *const *args,
					   void *context ATTR_UNUSED,
					   const char **error_r)
{
	const char *label;
	unsigned int count;

	if (replicator_admin_status_count_parse(args, &label, &count,
						error_r) < 0)
		return -1;
	doveadm_print(label);
	doveadm_print_num(count);
	return 0;
}

static int cmd_replicator_user_status_row(const char *const *args,
					  void *context ATTR_UNUSED,
					  const char **error_r)
{
	struct replicator_admin_user_status status;

	if (replicator_admin_user_status_parse(args, &status, error_r) < 0)
		return -1;
	doveadm_print(status.username);
	doveadm_print(replication_priority_to_str(status.priority));
	doveadm_print(cmd_replicator_time_ago(status.last_fast_sync));
	doveadm_print(cmd_replicator_time_ago(status.last_full_sync));
	doveadm_print(cmd_replicator_time_ago(status.last_successful_sync));
	doveadm_print(status.last_sync_failed ? "y" : "-");
	doveadm_print(cmd_replicator_secs(status.next_sync_secs));
	doveadm_print(cmd_replicator_time_ago(status.oldest_change));
	doveadm_print(status.last_error[0] == '\0' ? "-" :
		      status.last_error);
	return 0;
}

static void cmd_replicator_status(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	doveadm_replicator_row_callback_t *callback;
	const char *error;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_STATUS;
	if (doveadm_cmd_param_str(cctx, "user-mask", &req.mask) &&
	    req.mask[0] == '\0')
		req.mask = NULL;

	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	if (req.mask == NULL) {
		doveadm_print_header("field", "field",
				     DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
		doveadm_print_header("value", "value",
				     DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
		callback = cmd_replicator_status_count_row;
	} else {
		doveadm_print_header("username", "username",
				     DOVEADM_PRINT_HEADER_FLAG_EXPAND);
		doveadm_print_header_simple("priority");
		doveadm_print_header_simple("fast sync");
		doveadm_print_header_simple("full sync");
		doveadm_print_header_simple("success sync");
		doveadm_print_header_simple("failed");
		doveadm_print_header_simple("next sync secs");
		doveadm_print_header_simple("waiting");
		doveadm_print_header_simple("last error");
		callback = cmd_replicator_user_status_row;
	}
	if (doveadm_replicator_client_list(cmd_replicator_socket_path(cctx),
					   cctx->event, &req, callback, NULL,
					   &error) < 0)
		cmd_replicator_failed(cctx, error);
}

static int cmd_replicator_dsync_status_row(const char *const *args,
					   void *context ATTR_UNUSED,
					   const char **error_r)
{
	struct replicator_admin_dsync_status status;

	if (replicator_admin_dsync_status_parse(args, &status, error_r) < 0)
		return -1;
	doveadm_print(status.username);
	doveadm_print(status.sync_type);
	doveadm_print(status.status);
	return 0;
}

static void cmd_replicator_dsync_status(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	const char *error;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_STATUS_DSYNC;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	doveadm_print_header("username", "username",
			     DOVEADM_PRINT_HEADER_FLAG_EXPAND);
	doveadm_print_header_simple("type");
	doveadm_print_header_simple("status");
	if (doveadm_replicator_client_list(cmd_replicator_socket_path(cctx),
					   cctx->event, &req,
					   cmd_replicator_dsync_status_row,
					   NULL, &error) < 0)
		cmd_replicator_failed(cctx, error);
}

static void cmd_replicator_replicate(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	const char *priority = "low", *text;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_REPLICATE;
	if (!cmd_replicator_get_mask(cctx, "user-mask", &req.mask))
		return;
	(void)doveadm_cmd_param_bool(cctx, "full-sync", &req.full_sync);
	(void)doveadm_cmd_param_str(cctx, "priority", &priority);
	if (replication_priority_parse(priority, &req.priority) < 0) {
		e_error(cctx->event, "Invalid priority: %s", priority);
		doveadm_exit_code = EX_USAGE;
		return;
	}
	if (!cmd_replicator_request(cctx, &req, &text))
		return;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	doveadm_print_header("result", "result",
			     DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
	doveadm_print(t_strdup_printf("%s users updated", text));
}

static void cmd_replicator_add(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	const char *text;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_ADD;
	if (cmd_replicator_get_mask(cctx, "user-mask", &req.mask))
		(void)cmd_replicator_request(cctx, &req, &text);
}

static void cmd_replicator_remove(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	const char *text, *error;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_REMOVE;
	if (!cmd_replicator_get_mask(cctx, "user", &req.username))
		return;
	if (replication_username_verify(req.username, &error) < 0) {
		e_error(cctx->event, "%s", error);
		doveadm_exit_code = EX_USAGE;
		return;
	}
	(void)cmd_replicator_request(cctx, &req, &text);
}

/* Print the replica's server id: the one field of notify and
   notify-peer. */
static void cmd_replicator_print_id(const char *id)
{
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	doveadm_print_header("id", "id", DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE);
	doveadm_print(id);
}

/* replicator notify [-f] [-i <sender>] <user> <state>: the server <sender>
   synced <user> with us */
static void cmd_replicator_notify(struct doveadm_cmd_context *cctx)
{
	struct replicator_admin_request req;
	const char *text, *error;
	bool success;

	i_zero(&req);
	req.cmd = REPLICATOR_ADMIN_CMD_NOTIFY;
	if (!doveadm_cmd_param_str(cctx, "user", &req.username) ||
	    !doveadm_cmd_param_str(cctx, "state", &req.state)) {
		doveadm_exit_code = EX_USAGE;
		return;
	}
	(void)doveadm_cmd_param_bool(cctx, "full-sync", &req.full_sync);
	(void)doveadm_cmd_param_str(cctx, "sender", &req.sender);
	if (replication_username_verify(req.username, &error) < 0) {
		e_error(cctx->event, "%s", error);
		doveadm_exit_code = EX_USAGE;
		return;
	}
	if (doveadm_replicator_client_request(cmd_replicator_socket_path(cctx),
					      cctx->event, &req, &success,
					      &text, &error) < 0) {
		e_error(cctx->event, "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	} else if (!success) {
		e_error(cctx->event, "Replicator failed: %s", text);
		doveadm_exit_code = EX_TEMPFAIL;
	} else {
		cmd_replicator_print_id(text);
	}
}

struct peer_cmd_context {
	struct ioloop *ioloop;
	int exit_code;
	/* the callback runs in another data stack frame */
	char *error;
	/* what the replica's notify printed: its server id */
	string_t *id;
	bool finished;
};

static void peer_cmd_print(const unsigned char *data, size_t size,
			   bool finished ATTR_UNUSED,
			   struct peer_cmd_context *ctx)
{
	replicator_dsync_state_output_append(ctx->id, data, size);
}

static void peer_cmd_callback(const struct doveadm_server_reply *reply,
			      void *context)
{
	struct peer_cmd_context *ctx = context;

	ctx->finished = TRUE;
	ctx->exit_code = reply->exit_code;
	ctx->error = i_strdup(reply->error);
	io_loop_stop(ctx->ioloop);
}

/* replicator notify-peer [-f] [-i <sender>] <replica> <user> <state>: run
   "replicator notify" on the replica's doveadm server. With -r (the state
   is ignored), run "replicator replicate -p high <user>" there instead:
   ask the replica, whose state of the user is newer, to sync it. */
static void cmd_replicator_notify_peer(struct doveadm_cmd_context *cctx)
{
	const struct doveadm_client_cmd_settings cmd_set = {
		.proxy_ttl = DOVEADM_PROXY_TTL,
	};
	struct doveadm_client_settings client_set;
	struct replicator_replica_addr addr;
	struct peer_cmd_context ctx;
	struct doveadm_client *client;
	struct ip_addr *ips;
	unsigned int ips_count;
	const char *replica, *username, *state, *sender = "", *error;
	struct timeout *to;
	string_t *line;
	bool full_sync = FALSE, request = FALSE;
	int ret;

	if (!doveadm_cmd_param_str(cctx, "replica", &replica) ||
	    !doveadm_cmd_param_str(cctx, "user", &username) ||
	    !doveadm_cmd_param_str(cctx, "state", &state)) {
		doveadm_exit_code = EX_USAGE;
		return;
	}
	(void)doveadm_cmd_param_bool(cctx, "full-sync", &full_sync);
	(void)doveadm_cmd_param_str(cctx, "sender", &sender);
	(void)doveadm_cmd_param_bool(cctx, "request", &request);
	ret = replicator_replica_addr_parse(replica, &addr, &error);
	if (ret <= 0) {
		e_error(cctx->event, "%s", ret < 0 ? error : t_strdup_printf(
			"Replica %s is not a doveadm server (tcp: or tcps:)",
			replica));
		doveadm_exit_code = EX_USAGE;
		return;
	}

	i_zero(&client_set);
	client_set.hostname = addr.host;
	client_set.port = addr.port != 0 ? addr.port :
		doveadm_settings->doveadm_port;
	client_set.username = doveadm_settings->doveadm_username;
	client_set.password = doveadm_settings->doveadm_password;
	client_set.ssl_flags = addr.ssl ? AUTH_PROXY_SSL_FLAG_YES : 0;
	if (net_addr2ip(addr.host, &client_set.ip) < 0) {
		ret = net_gethostbyname(addr.host, &ips, &ips_count);
		if (ret != 0) {
			e_error(cctx->event, "gethostbyname(%s) failed: %s",
				addr.host, net_gethosterror(ret));
			doveadm_exit_code = EX_TEMPFAIL;
			return;
		}
		client_set.ip = ips[0];
	}

	i_zero(&ctx);
	ctx.ioloop = io_loop_create();
	if (doveadm_client_create(&client_set, &client, &error) < 0) {
		e_error(cctx->event, "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
		io_loop_destroy(&ctx.ioloop);
		return;
	}
	line = t_str_new(256);
	if (request)
		replicator_replicate_cmd_append(line, username);
	else {
		replicator_notify_cmd_append(line, username, full_sync, state,
					     sender);
	}
	ctx.id = str_new(default_pool, 64);
	doveadm_client_set_print(client, peer_cmd_print, &ctx);
	doveadm_client_cmd(client, &cmd_set, str_c(line), NULL,
			   peer_cmd_callback, &ctx);
	doveadm_client_unref(&client);
	to = timeout_add(DOVEADM_REPLICATOR_PEER_TIMEOUT_MSECS,
			 io_loop_stop, ctx.ioloop);
	io_loop_run(ctx.ioloop);
	timeout_remove(&to);
	if (!ctx.finished) {
		e_error(cctx->event, "%s: timed out", replica);
		doveadm_clients_destroy_all();
		doveadm_exit_code = EX_TEMPFAIL;
	} else if (ctx.exit_code != 0) {
		e_error(cctx->event, "%s: replicator %s failed: %s",
			replica, request ? "replicate" : "notify",
			ctx.error == NULL ? "" : ctx.error);
		doveadm_exit_code = ctx.exit_code == EX_USAGE ?
			EX_USAGE : EX_TEMPFAIL;
	} else {
		/* replicate prints how many users it updated, not an id */
		cmd_replicator_print_id(request ? "" : str_c(ctx.id));
	}
	str_free(&ctx.id);
	i_free(ctx.error);
	io_loop_destroy(&ctx.ioloop);
}

static struct doveadm_cmd_ver2 doveadm_replicator_cmds[] = {
{
	.name = "replicator status",
	.cmd = cmd_replicator_status,
	.usage = "[-a <replicator socket path>] [<user mask>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user-mask", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator dsync-status",
	.cmd = cmd_replicator_dsync_status,
	.usage = "[-a <replicator socket path>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator replicate",
	.cmd = cmd_replicator_replicate,
	.usage = "[-a <replicator socket path>] [-f] [-p <priority>] <user mask>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('f', "full-sync", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('p', "priority", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user-mask", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator add",
	.cmd = cmd_replicator_add,
	.usage = "[-a <replicator socket path>] <user mask>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user-mask", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator remove",
	.cmd = cmd_replicator_remove,
	.usage = "[-a <replicator socket path>] <username>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = REPLICATOR_DOVEADM_CMD_NOTIFY,
	.cmd = cmd_replicator_notify,
	.usage = "[-a <replicator socket path>] [-f] [-i <sender>] <username> <state>",
	.flags = CMD_FLAG_HIDDEN,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('f', "full-sync", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('i', "sender", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "state", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = REPLICATOR_DOVEADM_CMD_NOTIFY_PEER,
	.cmd = cmd_replicator_notify_peer,
	.usage = "[-f] [-r] [-i <sender>] <replica> <username> <state>",
	.flags = CMD_FLAG_HIDDEN,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('f', "full-sync", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('r', "request", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('i', "sender", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "replica", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "state", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
};

void doveadm_replicator_cmds_register(void)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(doveadm_replicator_cmds); i++)
		doveadm_cmd_register_ver2(&doveadm_replicator_cmds[i]);
}

/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "net.h"
#include "str.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
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

static void cmd_replicator_unavailable(struct doveadm_cmd_context *cctx)
{
	/* FIXME: the admin client arrives with the admin surface */
	e_error(cctx->event, "%s: not available in this build yet",
		cctx->cmd->name);
	doveadm_exit_code = EX_UNAVAILABLE;
}

/* replicator notify [-f] <user> <state>: a peer synced <user> to us */
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
	}
}

struct peer_cmd_context {
	struct ioloop *ioloop;
	int exit_code;
	const char *error;
	bool finished;
};

static void peer_cmd_callback(const struct doveadm_server_reply *reply,
			      void *context)
{
	struct peer_cmd_context *ctx = context;

	ctx->finished = TRUE;
	ctx->exit_code = reply->exit_code;
	ctx->error = t_strdup(reply->error);
	io_loop_stop(ctx->ioloop);
}

/* replicator notify-peer [-f] <replica> <user> <state>: run
   "replicator notify" on the replica's doveadm server */
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
	const char *replica, *username, *state, *error;
	struct timeout *to;
	string_t *line;
	bool full_sync = FALSE;
	int ret;

	if (!doveadm_cmd_param_str(cctx, "replica", &replica) ||
	    !doveadm_cmd_param_str(cctx, "user", &username) ||
	    !doveadm_cmd_param_str(cctx, "state", &state)) {
		doveadm_exit_code = EX_USAGE;
		return;
	}
	(void)doveadm_cmd_param_bool(cctx, "full-sync", &full_sync);
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
	replicator_notify_cmd_append(line, username, full_sync, state);
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
		e_error(cctx->event, "%s: replicator notify failed: %s",
			replica, ctx.error == NULL ? "" : ctx.error);
		doveadm_exit_code = ctx.exit_code == EX_USAGE ?
			EX_USAGE : EX_TEMPFAIL;
	}
	io_loop_destroy(&ctx.ioloop);
}

static struct doveadm_cmd_ver2 doveadm_replicator_cmds[] = {
{
	.name = "replicator status",
	.cmd = cmd_replicator_unavailable,
	.usage = "[-a <replicator socket path>] [<user mask>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user-mask", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator dsync-status",
	.cmd = cmd_replicator_unavailable,
	.usage = "[-a <replicator socket path>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator replicate",
	.cmd = cmd_replicator_unavailable,
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
	.cmd = cmd_replicator_unavailable,
	.usage = "[-a <replicator socket path>] <user mask>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user-mask", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "replicator remove",
	.cmd = cmd_replicator_unavailable,
	.usage = "[-a <replicator socket path>] <username>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = REPLICATOR_DOVEADM_CMD_NOTIFY,
	.cmd = cmd_replicator_notify,
	.usage = "[-a <replicator socket path>] [-f] <username> <state>",
	.flags = CMD_FLAG_HIDDEN,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('a', "socket-path", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('f', "full-sync", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "state", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = REPLICATOR_DOVEADM_CMD_NOTIFY_PEER,
	.cmd = cmd_replicator_notify_peer,
	.usage = "[-f] <replica> <username> <state>",
	.flags = CMD_FLAG_HIDDEN,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('f', "full-sync", CMD_PARAM_BOOL, 0)
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

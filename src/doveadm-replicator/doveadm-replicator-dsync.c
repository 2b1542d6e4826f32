/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "module-context.h"
#include "settings.h"
#include "mail-user.h"
#include "doveadm-mail.h"
#include "doveadm-settings.h"
#include "replication-common.h"
#include "replication-settings.h"
#include "replicator-dsync-protocol.h"
#include "doveadm-replicator-client.h"
#include "doveadm-replicator-dsync.h"

#include <sysexits.h>

#define DOVEADM_REPLICATOR_DSYNC_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, doveadm_replicator_dsync_module)

struct doveadm_replicator_dsync_context {
	union doveadm_mail_cmd_module_context module_ctx;
	/* the local replicator holds the user while the dsync runs */
	struct doveadm_replicator_hold *hold;
	/* the local replicator is syncing the user itself: why */
	const char *busy_reason;
};

static MODULE_CONTEXT_DEFINE_INIT(doveadm_replicator_dsync_module,
				  &doveadm_mail_cmd_module_register);
static void (*next_hook_doveadm_mail_init)(struct doveadm_mail_cmd_context *ctx);

/* Ask the local replicator to hold the user while the incoming dsync runs
   (still with the privileges to reach its root-only socket). */
static int
doveadm_replicator_dsync_server_prerun(
	struct doveadm_mail_cmd_context *ctx,
	struct mail_storage_service_user *service_user, const char **error_r)
{
	struct doveadm_replicator_dsync_context *rctx =
		DOVEADM_REPLICATOR_DSYNC_CONTEXT(ctx);
	const char *socket_path, *error;
	int ret;

	if (rctx->module_ctx.super.prerun != NULL &&
	    rctx->module_ctx.super.prerun(ctx, service_user, error_r) < 0)
		return -1;
	socket_path = t_strconcat(doveadm_settings->base_dir, "/",
				  REPLICATOR_ADMIN_SOCKET_NAME, NULL);
	ret = doveadm_replicator_client_hold(socket_path, ctx->cctx->event,
					     ctx->cctx->username, &rctx->hold,
					     &error);
	if (ret == 0)
		rctx->busy_reason = p_strdup(ctx->pool, error);
	else if (ret < 0) {
		e_debug(ctx->cctx->event, "replication: Incoming dsync not "
			"coordinated with the replicator: %s", error);
	}
	return 0;
}

static int
doveadm_replicator_dsync_server_run(struct doveadm_mail_cmd_context *ctx,
				    struct mail_user *user)
{
	struct doveadm_replicator_dsync_context *rctx =
		DOVEADM_REPLICATOR_DSYNC_CONTEXT(ctx);
	const struct replication_settings *set;
	const char *error;
	bool noreplicate;
	int ret;

	if (settings_get(user->event, &replication_setting_parser_info, 0,
			 &set, &error) < 0) {
		e_error(user->event, "%s", error);
		ctx->exit_code = EX_TEMPFAIL;
		doveadm_replicator_client_hold_release(&rctx->hold);
		return -1;
	}
	noreplicate = replication_settings_noreplicate(set);
	settings_free(set);
	if (noreplicate) {
		e_info(user->event, "replication: Refusing incoming dsync: "
		       "noreplicate is set");
		ctx->exit_code = REPLICATOR_DSYNC_EX_REFUSED;
		doveadm_replicator_client_hold_release(&rctx->hold);
		return -1;
	}
	if (rctx->busy_reason != NULL) {
		e_info(user->event, "replication: Turning incoming dsync away, "
		       "the peer retries: %s", rctx->busy_reason);
		ctx->exit_code = REPLICATOR_DSYNC_EX_BUSY;
		return -1;
	}
	ret = rctx->module_ctx.super.run(ctx, user);
	/* the replicator waits for the peer's hand-over next */
	doveadm_replicator_client_hold_release(&rctx->hold);
	return ret;
}

static void
doveadm_replicator_dsync_server_deinit(struct doveadm_mail_cmd_context *ctx)
{
	struct doveadm_replicator_dsync_context *rctx =
		DOVEADM_REPLICATOR_DSYNC_CONTEXT(ctx);

	/* the user lookup may have failed after prerun */
	doveadm_replicator_client_hold_release(&rctx->hold);
	if (rctx->module_ctx.super.deinit != NULL)
		rctx->module_ctx.super.deinit(ctx);
}

static void
doveadm_replicator_mail_init(struct doveadm_mail_cmd_context *ctx)
{
	struct doveadm_replicator_dsync_context *rctx;

	if (strcmp(ctx->cmd->name, "dsync-server") == 0) {
		rctx = p_new(ctx->pool, struct doveadm_replicator_dsync_context,
			     1);
		rctx->module_ctx.super = ctx->v;
		ctx->v.prerun = doveadm_replicator_dsync_server_prerun;
		ctx->v.run = doveadm_replicator_dsync_server_run;
		ctx->v.deinit = doveadm_replicator_dsync_server_deinit;
		MODULE_CONTEXT_SET(ctx, doveadm_replicator_dsync_module, rctx);
	}
	if (next_hook_doveadm_mail_init != NULL)
		next_hook_doveadm_mail_init(ctx);
}

void doveadm_replicator_dsync_init(void)
{
	next_hook_doveadm_mail_init = hook_doveadm_mail_init;
	hook_doveadm_mail_init = doveadm_replicator_mail_init;
}

void doveadm_replicator_dsync_deinit(void)
{
	if (hook_doveadm_mail_init == doveadm_replicator_mail_init)
		hook_doveadm_mail_init = next_hook_doveadm_mail_init;
}

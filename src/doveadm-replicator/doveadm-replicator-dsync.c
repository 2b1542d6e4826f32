/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "module-context.h"
#include "settings.h"
#include "mail-user.h"
#include "doveadm-mail.h"
#include "replication-settings.h"
#include "replicator-dsync-protocol.h"
#include "doveadm-replicator-dsync.h"

#include <sysexits.h>

#define DOVEADM_REPLICATOR_DSYNC_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, doveadm_replicator_dsync_module)

struct doveadm_replicator_dsync_context {
	union doveadm_mail_cmd_module_context module_ctx;
};

static MODULE_CONTEXT_DEFINE_INIT(doveadm_replicator_dsync_module,
				  &doveadm_mail_cmd_module_register);
static void (*next_hook_doveadm_mail_init)(struct doveadm_mail_cmd_context *ctx);

static int
doveadm_replicator_dsync_server_run(struct doveadm_mail_cmd_context *ctx,
				    struct mail_user *user)
{
	struct doveadm_replicator_dsync_context *rctx =
		DOVEADM_REPLICATOR_DSYNC_CONTEXT(ctx);
	const struct replication_settings *set;
	const char *error;
	bool noreplicate;

	if (settings_get(user->event, &replication_setting_parser_info, 0,
			 &set, &error) < 0) {
		e_error(user->event, "%s", error);
		ctx->exit_code = EX_TEMPFAIL;
		return -1;
	}
	noreplicate = replication_settings_noreplicate(set);
	settings_free(set);
	if (noreplicate) {
		e_info(user->event, "replication: Refusing incoming dsync: "
		       "noreplicate is set");
		ctx->exit_code = REPLICATOR_DSYNC_EX_REFUSED;
		return -1;
	}
	return rctx->module_ctx.super.run(ctx, user);
}

static void
doveadm_replicator_mail_init(struct doveadm_mail_cmd_context *ctx)
{
	struct doveadm_replicator_dsync_context *rctx;

	if (strcmp(ctx->cmd->name, "dsync-server") == 0) {
		rctx = p_new(ctx->pool, struct doveadm_replicator_dsync_context,
			     1);
		rctx->module_ctx.super = ctx->v;
		ctx->v.run = doveadm_replicator_dsync_server_run;
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

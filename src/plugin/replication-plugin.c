/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "module-context.h"
#include "settings.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"
#include "notify-plugin.h"
#include "replication-common.h"
#include "replication-settings.h"
#include "replication-plugin.h"

#define REPLICATION_USER_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, replication_user_module)

struct replication_user {
	union mail_user_module_context module_ctx;
	const struct replication_settings *set;
	struct event *event;
};

const char *replication_plugin_version = DOVECOT_ABI_VERSION;
const char *replication_plugin_dependencies[] = { "notify", NULL };

static struct event_category event_category_replication = {
	.name = REPLICATION_EVENT_CATEGORY_PLUGIN,
};

static MODULE_CONTEXT_DEFINE_INIT(replication_user_module,
				  &mail_user_module_register);
static struct notify_context *replication_notify_ctx;

static void replication_user_deinit(struct mail_user *user)
{
	struct replication_user *ruser = REPLICATION_USER_CONTEXT(user);

	settings_free(ruser->set);
	event_unref(&ruser->event);
	ruser->module_ctx.super.deinit(user);
}

static void replication_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	const struct replication_settings *set;
	struct replication_user *ruser;
	const char *error;

	if (settings_get(user->event, &replication_setting_parser_info, 0,
			 &set, &error) < 0) {
		user->error = p_strdup(user->pool, error);
		return;
	}
	if (set->mail_replica[0] == '\0') {
		e_debug(user->event, "replication: No mail_replica setting - "
			"replication disabled");
		settings_free(set);
		return;
	}
	if (replication_settings_noreplicate(set)) {
		e_debug(user->event, "replication: noreplicate set - "
			"replication disabled");
		settings_free(set);
		return;
	}

	ruser = p_new(user->pool, struct replication_user, 1);
	ruser->set = set;
	ruser->event = event_create(user->event);
	event_add_category(ruser->event, &event_category_replication);
	event_set_append_log_prefix(ruser->event, "replication: ");
	ruser->module_ctx.super = *v;
	user->vlast = &ruser->module_ctx.super;
	v->deinit = replication_user_deinit;
	MODULE_CONTEXT_SET(user, replication_user_module, ruser);
}

static const struct notify_vfuncs replication_notify_vfuncs = {
};

static struct mail_storage_hooks replication_mail_storage_hooks = {
	.mail_user_created = replication_mail_user_created,
};

void replication_plugin_init(struct module *module)
{
	replication_notify_ctx = notify_register(&replication_notify_vfuncs);
	mail_storage_hooks_add(module, &replication_mail_storage_hooks);
}

void replication_plugin_deinit(void)
{
	mail_storage_hooks_remove(&replication_mail_storage_hooks);
	notify_unregister(&replication_notify_ctx);
}

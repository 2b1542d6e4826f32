/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "module-context.h"
#include "settings.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mailbox-list-private.h"
#include "mailbox-log.h"
#include "notify-plugin.h"
#include "replication-common.h"
#include "replication-settings.h"
#include "replication-notify-client.h"
#include "replication-plugin.h"

/* How soon a full fifo is tried again, doubling up to the maximum. */
#define REPLICATION_FIFO_RETRY_MIN_MSECS 100
#define REPLICATION_FIFO_RETRY_MAX_MSECS 5000

#define REPLICATION_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, replication_user_module)
#define REPLICATION_USER_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, replication_user_module)
#define REPLICATION_LIST_CONTEXT(obj) \
	MODULE_CONTEXT(obj, replication_mailbox_list_module)
#define REPLICATION_LIST_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, replication_mailbox_list_module)
#define REPLICATION_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, replication_storage_module)

struct replication_user {
	union mail_user_module_context module_ctx;
	struct mail_user *user;
	const struct replication_settings *set;
	struct event *event;
	struct replication_notify_client *client;

	/* highest priority not yet written to the fifo */
	enum replication_priority pending;
	struct timeout *to_flush;
	unsigned int retry_msecs;
};

struct replication_mailbox_list {
	union mailbox_list_module_context module_ctx;
	/* the mailbox being deleted now (mailbox_delete_begin .. end) */
	struct mailbox *deleting_box;
	guid_128_t deleting_guid;
};

struct replication_txn {
	struct replication_user *ruser;
	bool new_mail:1;
	/* expunges, flag or keyword changes */
	bool changed:1;
	bool sync_txn:1;
};

const char *replication_plugin_version = DOVECOT_ABI_VERSION;
const char *replication_plugin_dependencies[] = { "notify", NULL };

static struct event_category event_category_replication = {
	.name = REPLICATION_EVENT_CATEGORY_PLUGIN,
};

static MODULE_CONTEXT_DEFINE_INIT(replication_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(replication_mailbox_list_module,
				  &mailbox_list_module_register);
static MODULE_CONTEXT_DEFINE_INIT(replication_storage_module,
				  &mail_storage_module_register);
static struct notify_context *replication_notify_ctx;

static void replication_flush(struct replication_user *ruser)
{
	int ret;

	timeout_remove(&ruser->to_flush);
	if (ruser->pending == REPLICATION_PRIORITY_NONE)
		return;

	ret = replication_notify_client_send(ruser->client,
					     ruser->user->username,
					     ruser->pending);
	if (ret > 0) {
		e_debug(ruser->event, "Notified (priority %s)",
			replication_priority_to_str(ruser->pending));
		ruser->pending = REPLICATION_PRIORITY_NONE;
		ruser->retry_msecs = 0;
	} else if (ret == 0 && current_ioloop != NULL) {
		/* fifo full: the aggregator is behind, try again soon */
		ruser->retry_msecs = ruser->retry_msecs == 0 ?
			REPLICATION_FIFO_RETRY_MIN_MSECS :
			I_MIN(ruser->retry_msecs * 2,
			      REPLICATION_FIFO_RETRY_MAX_MSECS);
		ruser->to_flush = timeout_add(ruser->retry_msecs,
					      replication_flush, ruser);
	}
	/* else: kept pending, tried again on the next change */
}

static void replication_notify(struct replication_user *ruser,
			       enum replication_priority priority,
			       const char *reason)
{
	e_debug(ruser->event, "%s: priority %s", reason,
		replication_priority_to_str(priority));

	if (priority == REPLICATION_PRIORITY_SYNC) {
		if (replication_notify_client_sync(ruser->client,
				ruser->user->username,
				ruser->set->parsed_sync_timeout_secs * 1000)) {
			/* that sync started after every earlier change */
			ruser->pending = REPLICATION_PRIORITY_NONE;
			timeout_remove(&ruser->to_flush);
			return;
		}
		priority = REPLICATION_PRIORITY_HIGH;
	}
	if (ruser->pending < priority)
		ruser->pending = priority;
	if (ruser->to_flush != NULL)
		return;
	if (current_ioloop == NULL) {
		replication_flush(ruser);
		return;
	}
	/* let the rest of this command's changes collect first */
	ruser->to_flush = timeout_add_short(0, replication_flush, ruser);
}

static struct replication_user *
replication_user_get(struct mail_user *user)
{
	struct replication_user *ruser = REPLICATION_USER_CONTEXT(user);

	/* dsync's own changes are not replicated back */
	if (ruser == NULL || user->dsyncing)
		return NULL;
	return ruser;
}

static void *
replication_mail_transaction_begin(struct mailbox_transaction_context *t)
{
	struct mail_namespace *ns =
		mailbox_get_namespace(mailbox_transaction_get_mailbox(t));
	struct replication_user *ruser = REPLICATION_USER_CONTEXT(ns->user);
	struct replication_txn *txn;

	if (ruser == NULL)
		return NULL;
	txn = i_new(struct replication_txn, 1);
	txn->ruser = ruser;
	txn->sync_txn = (t->flags & MAILBOX_TRANSACTION_FLAG_SYNC) != 0;
	return txn;
}

static void replication_mail_save(void *_txn, struct mail *mail ATTR_UNUSED)
{
	struct replication_txn *txn = _txn;

	if (txn != NULL)
		txn->new_mail = TRUE;
}

static void replication_mail_copy(void *_txn, struct mail *src ATTR_UNUSED,
				  struct mail *dst ATTR_UNUSED)
{
	struct replication_txn *txn = _txn;

	/* delivery (from a raw storage), COPY and MOVE all bring new mail
	   into the destination */
	if (txn != NULL)
		txn->new_mail = TRUE;
}

static void replication_mail_changed(void *_txn)
{
	struct replication_txn *txn = _txn;

	if (txn != NULL)
		txn->changed = TRUE;
}

static void replication_mail_expunge(void *txn, struct mail *mail ATTR_UNUSED)
{
	/* e.g. POP3 DELE: its commit's changes_mask doesn't show it */
	replication_mail_changed(txn);
}

static void
replication_mail_update_flags(void *txn, struct mail *mail ATTR_UNUSED,
			      enum mail_flags old_flags ATTR_UNUSED)
{
	replication_mail_changed(txn);
}

static void
replication_mail_update_keywords(void *txn, struct mail *mail ATTR_UNUSED,
				 const char *const *old_keywords ATTR_UNUSED)
{
	replication_mail_changed(txn);
}

static void
replication_mail_transaction_commit(void *_txn,
		struct mail_transaction_commit_changes *changes)
{
	struct replication_txn *txn = _txn;
	struct replication_user *ruser;
	enum replication_priority priority;

	if (txn == NULL)
		return;
	ruser = replication_user_get(txn->ruser->user);
	if (ruser != NULL && !txn->sync_txn) {
		if (txn->new_mail) {
			priority = ruser->set->parsed_sync_timeout_secs > 0 ?
				REPLICATION_PRIORITY_SYNC :
				REPLICATION_PRIORITY_HIGH;
			replication_notify(ruser, priority, "new mail");
		} else if (txn->changed ||
			   (changes->changes_mask &
			    ENUM_NEGATE(MAIL_INDEX_TRANSACTION_CHANGE_OTHERS)) != 0) {
			/* flags, keywords, expunges, modseqs, attributes:
			   not cache-only writes */
			replication_notify(ruser, REPLICATION_PRIORITY_LOW,
					   "mailbox changes");
		}
	}
	i_free(txn);
}

static void replication_mail_transaction_rollback(void *_txn)
{
	struct replication_txn *txn = _txn;

	i_free(txn);
}

static void replication_mailbox_changed(struct mailbox *box,
					const char *reason)
{
	struct replication_user *ruser =
		replication_user_get(mailbox_get_namespace(box)->user);

	if (ruser != NULL)
		replication_notify(ruser, REPLICATION_PRIORITY_LOW, reason);
}

static void replication_mailbox_create(struct mailbox *box)
{
	replication_mailbox_changed(box, "mailbox create");
}

/* Forget the open change log, so that the next record opens it again.
   mailbox_log keeps its file open for up to a minute: once another
   process has rotated it, this one's records go to the rotated file, and
   after the next rotation nowhere (each rotation replaces the old
   file). Long-lived IMAP sessions lost deletions that way. */
static void replication_list_reopen_changelog(struct mailbox_list *list)
{
	if (list->changelog != NULL)
		mailbox_log_free(&list->changelog);
}

/* Write a record that must not be lost: also reopen the log after it,
   since it may have rotated the log, and Dovecot's own record of the same
   change follows. */
static void
replication_list_add_change(struct mailbox_list *list,
			    enum mailbox_log_record_type type,
			    const guid_128_t guid)
{
	replication_list_reopen_changelog(list);
	mailbox_list_add_change(list, type, guid);
	replication_list_reopen_changelog(list);
}

/* Dovecot writes a mailbox's deletion and rename to the mailbox list's
   change log only after the mailbox is gone or renamed. A dsync listing
   the mailboxes in between finds neither the mailbox (or its new name)
   nor the change: it creates the mailbox again from the replica with its
   old GUID, after which the deletion logged a moment later is ignored for
   good (a mailbox with that GUID exists), or takes a rename without a
   timestamp for the loser of a name conflict and renames it back. The
   records are written here just before the change instead: a deletion
   from the list's delete_mailbox(), which runs only after the storage has
   checked that the deletion may go on (the mailbox empty, if it had to
   be, and no new mail since its expunge), so a deletion that fails
   leaves no record behind. */
static void *replication_mailbox_delete_begin(struct mailbox *box)
{
	struct replication_mailbox_list *rlist =
		REPLICATION_LIST_CONTEXT(box->list);
	struct mailbox_metadata metadata;

	/* not INBOX: some layouts can't delete it, which they find only in
	   delete_mailbox() */
	if (rlist == NULL || !box->opened || box->inbox_any ||
	    mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0)
		return NULL;
	rlist->deleting_box = box;
	memcpy(rlist->deleting_guid, metadata.guid,
	       sizeof(rlist->deleting_guid));
	return rlist;
}

static void replication_mailbox_delete_end(void *txn)
{
	struct replication_mailbox_list *rlist = txn;

	if (rlist != NULL)
		rlist->deleting_box = NULL;
}

static int
replication_list_delete_mailbox(struct mailbox_list *list, const char *name)
{
	struct replication_mailbox_list *rlist =
		REPLICATION_LIST_CONTEXT_REQUIRE(list);

	if (rlist->deleting_box != NULL &&
	    strcmp(rlist->deleting_box->name, name) == 0) {
		replication_list_add_change(list,
					    MAILBOX_LOG_RECORD_DELETE_MAILBOX,
					    rlist->deleting_guid);
	} else {
		replication_list_reopen_changelog(list);
	}
	return rlist->module_ctx.super.delete_mailbox(list, name);
}

static int
replication_list_set_subscribed(struct mailbox_list *list, const char *name,
				bool set)
{
	struct replication_mailbox_list *rlist =
		REPLICATION_LIST_CONTEXT_REQUIRE(list);

	replication_list_reopen_changelog(list);
	return rlist->module_ctx.super.set_subscribed(list, name, set);
}

static int
replication_mailbox_rename_box(struct mailbox *src, struct mailbox *dest)
{
	union mailbox_module_context *rbox = REPLICATION_CONTEXT_REQUIRE(src);
	enum mailbox_existence src_existence, dest_existence;
	guid_128_t name_sha;

	/* not for a rename that is going to fail (dest's list is locked
	   now): the record would stamp a mailbox already under the new
	   name as just renamed, and win a name conflict for it */
	if (mailbox_exists(src, FALSE, &src_existence) == 0 &&
	    src_existence != MAILBOX_EXISTENCE_NONE &&
	    mailbox_exists(dest, FALSE, &dest_existence) == 0 &&
	    dest_existence == MAILBOX_EXISTENCE_NONE) {
		/* as Dovecot records it: by the new name's hash */
		mailbox_name_get_sha128(dest->vname, name_sha);
		replication_list_add_change(src->list,
					    MAILBOX_LOG_RECORD_RENAME,
					    name_sha);
	} else {
		/* for Dovecot's record of the rename */
		replication_list_reopen_changelog(src->list);
	}
	return rbox->super.rename_box(src, dest);
}

static void
replication_mailbox_delete_commit(void *txn, struct mailbox *box)
{
	replication_mailbox_delete_end(txn);
	replication_mailbox_changed(box, "mailbox delete");
}

static void
replication_mailbox_rename(struct mailbox *src ATTR_UNUSED,
			   struct mailbox *dest)
{
	replication_mailbox_changed(dest, "mailbox rename");
}

static void
replication_mailbox_set_subscribed(struct mailbox *box,
				   bool subscribed ATTR_UNUSED)
{
	replication_mailbox_changed(box, "mailbox subscribe");
}

static void replication_user_deinit(struct mail_user *user)
{
	struct replication_user *ruser = REPLICATION_USER_CONTEXT_REQUIRE(user);

	replication_flush(ruser);
	if (ruser->pending != REPLICATION_PRIORITY_NONE) {
		e_warning(ruser->event, "Couldn't send the final notification "
			  "(priority %s): the user is replicated at the next "
			  "change or full sync",
			  replication_priority_to_str(ruser->pending));
	}
	timeout_remove(&ruser->to_flush);
	replication_notify_client_destroy(&ruser->client);
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
	ruser->user = user;
	ruser->set = set;
	ruser->event = event_create(user->event);
	event_add_category(ruser->event, &event_category_replication);
	event_set_append_log_prefix(ruser->event, "replication: ");
	ruser->client = replication_notify_client_create(ruser->event,
							 user->set->base_dir);
	ruser->module_ctx.super = *v;
	user->vlast = &ruser->module_ctx.super;
	v->deinit = replication_user_deinit;
	MODULE_CONTEXT_SET(user, replication_user_module, ruser);
}

static const struct notify_vfuncs replication_notify_vfuncs = {
	.mail_transaction_begin = replication_mail_transaction_begin,
	.mail_save = replication_mail_save,
	.mail_copy = replication_mail_copy,
	.mail_expunge = replication_mail_expunge,
	.mail_update_flags = replication_mail_update_flags,
	.mail_update_keywords = replication_mail_update_keywords,
	.mail_transaction_commit = replication_mail_transaction_commit,
	.mail_transaction_rollback = replication_mail_transaction_rollback,
	.mailbox_create = replication_mailbox_create,
	.mailbox_delete_begin = replication_mailbox_delete_begin,
	.mailbox_delete_commit = replication_mailbox_delete_commit,
	.mailbox_delete_rollback = replication_mailbox_delete_end,
	.mailbox_rename = replication_mailbox_rename,
	.mailbox_set_subscribed = replication_mailbox_set_subscribed,
};

static void replication_mailbox_list_created(struct mailbox_list *list)
{
	struct mailbox_list_vfuncs *v = list->vlast;
	struct replication_mailbox_list *rlist;

	if (REPLICATION_USER_CONTEXT(list->ns->user) == NULL)
		return;
	rlist = p_new(list->pool, struct replication_mailbox_list, 1);
	rlist->module_ctx.super = *v;
	list->vlast = &rlist->module_ctx.super;
	v->delete_mailbox = replication_list_delete_mailbox;
	v->set_subscribed = replication_list_set_subscribed;
	MODULE_CONTEXT_SET(list, replication_mailbox_list_module, rlist);
}

static void replication_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	union mailbox_module_context *rbox;

	if (REPLICATION_USER_CONTEXT(box->storage->user) == NULL)
		return;
	rbox = p_new(box->pool, union mailbox_module_context, 1);
	rbox->super = *v;
	box->vlast = &rbox->super;
	v->rename_box = replication_mailbox_rename_box;
	MODULE_CONTEXT_SET_SELF(box, replication_storage_module, rbox);
}

static struct mail_storage_hooks replication_mail_storage_hooks = {
	.mail_user_created = replication_mail_user_created,
	.mailbox_list_created = replication_mailbox_list_created,
	.mailbox_allocated = replication_mailbox_allocated,
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

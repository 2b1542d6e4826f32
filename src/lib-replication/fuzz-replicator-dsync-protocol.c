/* Copyright (c) 2026 dovecot-replication authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "fuzzer.h"
#include "fuzz-replication.h"
#include "replicator-dsync-protocol.h"

/* What the replicator parses around its dsyncs: the replica (mail_replica,
   the same way dsync does), replication_dsync_parameters, and the dsync
   state (or peer id) that doveadm-server prints, which arrives tab-escaped
   in pieces of any size, except that libdovecot's doveadm client never
   ends a piece with an escape character (it holds a trailing \001 back
   for the next one). */

static void replica_addr_append(string_t *dest,
				const struct replicator_replica_addr *addr)
{
	str_append(dest, addr->ssl ? "tcps:" : "tcp:");
	if (addr->host[0] == '[') {
		/* only from tcp:[host]:port, which has no ] in the host */
		i_assert(addr->port != 0);
		i_assert(strchr(addr->host, ']') == NULL);
		str_printfa(dest, "[%s]", addr->host);
	} else {
		/* the port follows the last colon, so the host may have
		   colons if there is a port */
		i_assert(addr->port != 0 || strchr(addr->host, ':') == NULL);
		str_append(dest, addr->host);
	}
	if (addr->port != 0)
		str_printfa(dest, ":%u", addr->port);
}

static void fuzz_replica(const char *replica)
{
	struct replicator_replica_addr addr, addr2;
	string_t *encoded = t_str_new(128);
	const char *error;
	int ret;

	if (replicator_replica_addr_parse(replica, &addr, &error) <= 0)
		return;
	i_assert(addr.host[0] != '\0');
	i_assert(strchr(addr.host, '/') == NULL);
	replica_addr_append(encoded, &addr);
	ret = replicator_replica_addr_parse(str_c(encoded), &addr2, &error);
	if (ret < 0)
		i_panic("Replica %s doesn't parse: %s", str_c(encoded), error);
	i_assert(ret > 0);
	i_assert(strcmp(addr.host, addr2.host) == 0);
	i_assert(addr.port == addr2.port);
	i_assert(addr.ssl == addr2.ssl);
}

static void fuzz_parameters(const char *parameters)
{
	static const char *const removed_params[] =
		REPLICATOR_DSYNC_REMOVED_PARAMETERS;
	const char *const *params, *const *params2, *removed, *removed2;
	const char *joined;
	unsigned int i;

	params = replicator_dsync_parameters_parse(parameters, &removed);
	for (i = 0; params[i] != NULL; i++) {
		i_assert(params[i][0] != '\0');
		i_assert(strchr(params[i], ' ') == NULL);
		i_assert(!str_array_find(removed_params, params[i]));
	}
	i_assert(removed == NULL || removed[0] != '\0');
	/* the kept ones, joined again, are kept as they are */
	joined = t_strarray_join(params, " ");
	params2 = replicator_dsync_parameters_parse(joined, &removed2);
	i_assert(removed2 == NULL);
	i_assert(str_array_length(params) == str_array_length(params2));
	for (i = 0; params[i] != NULL; i++)
		i_assert(strcmp(params[i], params2[i]) == 0);
}

static void fuzz_state_output(const unsigned char *data, size_t size)
{
	string_t *escaped = t_str_new(size * 2 + 1);
	string_t *state = t_str_new(size + 1);
	const unsigned char *text;
	size_t pos, piece, i = 0;

	str_append_tabescaped(escaped, t_strndup(data, size));
	text = str_data(escaped);
	/* cut the printed text into pieces of 1..8 bytes chosen by the
	   input, as the doveadm client may hand it over */
	for (pos = 0; pos < str_len(escaped); pos += piece) {
		piece = size == 0 ? 1 : (data[i++ % size] & 7) + 1;
		piece = I_MIN(piece, str_len(escaped) - pos);
		if (text[pos + piece - 1] == '\001')
			piece++;
		i_assert(pos + piece <= str_len(escaped));
		replicator_dsync_state_output_append(state, text + pos,
						     piece);
	}
	i_assert(strcmp(str_c(state), t_strndup(data, size)) == 0);
}

FUZZ_BEGIN_STR(const char *input)
{
	const char *const *lines = fuzz_replication_lines(input);

	for (; *lines != NULL; lines++) {
		fuzz_replica(*lines);
		fuzz_parameters(*lines);
	}
	fuzz_state_output((const unsigned char *)input, strlen(input));
}
FUZZ_END

#ifndef FUZZ_REPLICATION_H
#define FUZZ_REPLICATION_H

/* Helpers shared by the fuzz-*.c targets (fuzzer.h's FUZZ_BEGIN_STR gives
   the input as a string, NULs replaced). */

#include "str.h"
#include "strescape.h"

/* The input is one or more protocol lines; each is handed to the parsers
   the way connection.c hands a line to input_args: split at TABs and
   unescaped. */
static inline const char *const *fuzz_replication_lines(const char *input)
{
	return t_strsplit(input, "\n");
}

static inline const char *const *fuzz_replication_args(const char *line)
{
	return t_strsplit_tabescaped(line);
}

/* Check that an encoder wrote exactly one LF-terminated line (an escaped
   field never contains a raw LF) and return its fields as the peer
   would see them. */
static inline const char *const *
fuzz_replication_encoded_args(string_t *encoded)
{
	const char *data = str_c(encoded);
	size_t len = str_len(encoded);

	i_assert(len > 0 && data[len - 1] == '\n');
	i_assert(memchr(data, '\n', len - 1) == NULL);
	return t_strsplit_tabescaped(t_strndup(data, len - 1));
}

/* Both NULL, or the same string. */
static inline bool fuzz_replication_str_equals(const char *a, const char *b)
{
	return null_strcmp(a, b) == 0;
}

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_common.h - what every libFuzzer target here shares
 *
 * Theory of operation: each target feeds one parser arbitrary bytes and
 * checks the invariants its header documents.  A violated invariant calls
 * fuzz_fail(), which prints one line and aborts, so libFuzzer records the
 * input as a crash exactly as it does for an ASan or UBSan report.  GLib
 * warnings and criticals (g_return_if_fail(), a GError set twice, a
 * json-glib type mismatch) are API misuse and abort as well; everything
 * else GLib or vs_log says is dropped, because formatting log lines would
 * cost more than the parsing under test.
 *
 * Splits: parsers that are fed incrementally (the tunnel decoder, the
 * control socket's splitter) must give the same result whatever the
 * chunking.  fuzz_rng is a small deterministic generator seeded from the
 * input, so a crash reproduces from the input file alone.
 */
#ifndef VS_FUZZ_COMMON_H
#define VS_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/**
 * fuzz_fail() - report a violated invariant and abort (libFuzzer saves the input)
 * @fmt:	printf format, one line
 */
static inline void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "==FUZZ INVARIANT== ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

#define FUZZ_CHECK(cond, ...)					\
	do {							\
		if (!(cond))					\
			fuzz_fail(__FILE__ ":" G_STRINGIFY(__LINE__) ": " #cond ": " __VA_ARGS__); \
	} while (0)

/*
 * Warnings that are GLib's own bugs, not misuse by the code under test:
 *  - GLib 2.74's g_key_file_get_string() sets its internal GError twice for
 *    a value holding an invalid escape and ending in a backslash (k=\l\),
 *    before it reports one error to its caller correctly.  The overwriting
 *    message names GKeyFile's own parser, so a GError set twice by our code
 *    (whose messages are different) still aborts.
 */
static inline bool fuzz_glib_known_warning(const gchar *domain, const gchar *message)
{
	return domain && !strcmp(domain, "GLib") &&
	       strstr(message, "GError set over the top of a previous GError") &&
	       (strstr(message, "The overwriting error message was: Key file contains escape "
			       "character at end of line") ||
		strstr(message, "The overwriting error message was: Key file contains invalid "
			       "escape sequence"));
}

/* Aborts on warnings and criticals, drops the rest */
static inline void fuzz_glib_log_cb(const gchar *domain, GLogLevelFlags level,
				    const gchar *message, gpointer opaque)
{
	if (fuzz_glib_known_warning(domain, message))
		return;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		fuzz_fail("GLib %s from %s: %s",
			  level & G_LOG_LEVEL_WARNING ? "warning" : "critical",
			  domain ? domain : "?", message);
}

static inline GLogWriterOutput fuzz_glib_writer_cb(GLogLevelFlags level, const GLogField *fields,
						   gsize n_fields, gpointer opaque)
{
	gsize i;

	if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
		return G_LOG_WRITER_HANDLED;
	for (i = 0; i < n_fields; i++)
		if (!strcmp(fields[i].key, "MESSAGE") && fields[i].length < 0)
			fuzz_fail("GLib structured warning: %s", (const char *)fields[i].value);
	fuzz_fail("GLib structured warning");
}

/**
 * fuzz_quiet_logs() - vs_log at ERR only; GLib warnings and criticals fatal
 */
static inline void fuzz_quiet_logs(void)
{
	vs_log_set_level(VS_LOG_ERR);
	g_log_set_default_handler(fuzz_glib_log_cb, NULL);
	g_log_set_writer_func(fuzz_glib_writer_cb, NULL, NULL);
}

/* xorshift32: deterministic chunk sizes from a seed taken from the input */
struct fuzz_rng {
	uint32_t s;
};

static inline void fuzz_rng_seed(struct fuzz_rng *r, uint32_t seed)
{
	r->s = seed ? seed : 0x9e3779b9u;
}

static inline uint32_t fuzz_rng_next(struct fuzz_rng *r)
{
	uint32_t x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x;
	return x;
}

/**
 * fuzz_chunk_len() - size of the next piece: mostly tiny (1..8 bytes, so
 * headers and tokens are split everywhere), sometimes large
 * @r:		generator
 * @left:	bytes still to feed, > 0
 *
 * Return: 1..@left
 */
static inline size_t fuzz_chunk_len(struct fuzz_rng *r, size_t left)
{
	static const uint32_t max[4] = { 1, 8, 64, 16384 };
	uint32_t x = fuzz_rng_next(r);
	size_t n = 1 + (x >> 2) % max[x & 3];

	return n < left ? n : left;
}

/* FNV-1a: a seed for the splits of inputs that carry no seed of their own */
static inline uint32_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/**
 * fuzz_dup_exact() - copy bytes into a heap block of exactly that size, so
 * that ASan reports a read one byte past the end (libFuzzer's own buffer
 * is exact too, but a sub-range of it is not)
 * @p:		bytes
 * @n:		count, may be 0
 *
 * Return: the copy; free() it
 */
static inline uint8_t *fuzz_dup_exact(const void *p, size_t n)
{
	/* malloc(0) is a valid block of no bytes under ASan: any read is caught */
	uint8_t *c = malloc(n);

	if (!c && n)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

#endif /* VS_FUZZ_COMMON_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_split.c - the control socket's splitter: where does the next
 * JSON value end?
 *
 * Theory of operation: a client's bytes arrive in any pieces; QMP
 * clients (qemu.qmp) send no newline after a request.  ctl_split_step()
 * looks at each byte once and tracks only what decides where a value ends:
 * the bracket depth, whether it is inside a string (either quote, as QMP
 * allows), and a backslash escape.  It does not parse: the value it
 * returns may still be invalid JSON, which the parser (control_json.c)
 * says.  Top-level numbers and literals end at the next delimiter.
 *
 * Resynchronisation (docs/control-protocol.md): a control byte other than
 * TAB, CR and LF, 0xFE/0xFF anywhere, or CR/LF inside a string is a
 * lexical error: the partial value is dropped and the splitter starts
 * afresh, reporting one error per run of bad bytes.  A value over
 * VS_CTL_MAX_MSG_SIZE or VS_CTL_MAX_DEPTH is reported at once and the
 * rest of it skipped (tracked, not stored); a stray '}' or ']' between
 * values is reported and skipped.
 *
 * Security model: any bytes at any pace.  Memory is bounded by
 * VS_CTL_MAX_MSG_SIZE per client; the depth counter is 64 bits and only
 * compared against VS_CTL_MAX_DEPTH.  Pure: no socket, no GLib main loop,
 * so the session code (control.c), the unit test and fuzz_control link it
 * as it is.
 */
#include <string.h>

#include "control_priv.h"

void ctl_split_reset(struct ctl_split *sp)
{
	g_byte_array_set_size(sp->buf, 0);
	sp->state = CTL_SPLIT_IDLE;
	sp->depth = 0;
	sp->quote = 0;
	sp->escape = false;
	sp->skipping = false;
}

static bool ctl_split_is_lexical_error(const struct ctl_split *sp, unsigned char c)
{
	if (c == 0xfe || c == 0xff)	/* never in UTF-8: QMP's reset byte */
		return true;
	if (c == '\n' || c == '\r')	/* a string cannot span lines */
		return sp->quote != 0;
	return c < 0x20 && c != '\t';
}

static bool ctl_split_is_delimiter(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr("{}[],:\"'", c);
}

/*
 * ctl_split_append() - keep one byte of the current value
 *
 * Return: false if that makes the value too big (the caller reports it;
 * from then on the value is skipped)
 */
static bool ctl_split_append(struct ctl_split *sp, unsigned char c)
{
	if (sp->skipping)
		return true;
	if (sp->buf->len >= VS_CTL_MAX_MSG_SIZE) {
		g_byte_array_set_size(sp->buf, 0);
		sp->skipping = true;
		return false;
	}
	g_byte_array_append(sp->buf, &c, 1);
	return true;
}

enum ctl_split_event ctl_split_step(struct ctl_split *sp, const unsigned char *data, size_t len,
				    size_t *used)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (ctl_split_is_lexical_error(sp, c)) {
			bool report = sp->state == CTL_SPLIT_IDLE ? !sp->quiet : !sp->skipping;

			ctl_split_reset(sp);
			sp->quiet = true;
			if (report) {
				sp->bad = c;
				*used = i + 1;
				return CTL_SPLIT_EV_LEXICAL;
			}
			continue;
		}

		if (sp->state == CTL_SPLIT_BARE && ctl_split_is_delimiter(c)) {
			/* A number or literal ends here; the delimiter belongs to
			 * what follows, so it is looked at again below, as IDLE */
			if (!sp->skipping) {
				sp->state = CTL_SPLIT_IDLE;
				*used = i;
				return CTL_SPLIT_EV_MESSAGE;
			}
			ctl_split_reset(sp);
		}

		switch (sp->state) {
		case CTL_SPLIT_IDLE:
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				continue;
			sp->quiet = false;
			if (c == '}' || c == ']') {
				sp->bad = c;
				*used = i + 1;
				return CTL_SPLIT_EV_STRAY;
			}
			g_byte_array_append(sp->buf, &c, 1);
			if (c == '{' || c == '[') {
				sp->state = CTL_SPLIT_VALUE;
				sp->depth = 1;
			} else if (c == '"' || c == '\'') {
				sp->state = CTL_SPLIT_VALUE;
				sp->quote = (char)c;
			} else {
				sp->state = CTL_SPLIT_BARE;
			}
			continue;

		case CTL_SPLIT_BARE:
			if (!ctl_split_append(sp, c)) {
				*used = i + 1;
				return CTL_SPLIT_EV_OVERSIZE;
			}
			continue;

		case CTL_SPLIT_VALUE: {
			bool complete = false;

			if (sp->quote) {
				if (sp->escape) {
					sp->escape = false;
				} else if (c == '\\') {
					sp->escape = true;
				} else if (c == (unsigned char)sp->quote) {
					sp->quote = 0;
					complete = !sp->depth;
				}
			} else if (c == '{' || c == '[') {
				if (++sp->depth > VS_CTL_MAX_DEPTH && !sp->skipping) {
					g_byte_array_set_size(sp->buf, 0);
					sp->skipping = true;
					*used = i + 1;
					return CTL_SPLIT_EV_TOO_DEEP;
				}
			} else if (c == '}' || c == ']') {
				complete = !--sp->depth;
			} else if (c == '"' || c == '\'') {
				sp->quote = (char)c;
			}

			if (!ctl_split_append(sp, c)) {
				*used = i + 1;
				if (complete)	/* the limit fell on the last byte */
					ctl_split_reset(sp);
				return CTL_SPLIT_EV_OVERSIZE;
			}
			if (!complete)
				continue;
			if (sp->skipping) {	/* answered already */
				ctl_split_reset(sp);
				continue;
			}
			sp->state = CTL_SPLIT_IDLE;
			*used = i + 1;
			return CTL_SPLIT_EV_MESSAGE;
		}
		}
	}
	*used = len;
	return CTL_SPLIT_EV_MORE;
}

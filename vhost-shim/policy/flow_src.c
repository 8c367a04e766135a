/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_src.c - per-source straggler switching: table, transitions, ageing
 *
 * Theory of operation: see flow_src.h.  src_set() is the only place that
 * changes an entry's state; src_tick() turns the passing of time into
 * TIMEOUT and LINGER_END events before anything else looks at an entry.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "flow_src.h"

const char *const vs_flow_src_state_names[VS_FLOW_SRC_NUM_STATES] = {
	[VS_FLOW_SRC_FREE] = "free",
	[VS_FLOW_SRC_WAITING] = "waiting",
	[VS_FLOW_SRC_ARMED] = "armed",
	[VS_FLOW_SRC_LINGERING] = "lingering",
	[VS_FLOW_SRC_STOPPED] = "stopped",
};

const char *const vs_flow_src_event_names[VS_FLOW_SRC_NUM_EVENTS] = {
	[VS_FLOW_SRC_EV_PACKET] = "packet",
	[VS_FLOW_SRC_EV_ARM] = "arm",
	[VS_FLOW_SRC_EV_FIRE] = "fire",
	[VS_FLOW_SRC_EV_TIMEOUT] = "timeout",
	[VS_FLOW_SRC_EV_LINGER_END] = "linger-end",
};

static_assert(VS_FLOW_SRC_NUM_STATES <= 255, "state stored as uint8_t");

#define X	(-1)	/* not allowed */
#define W	VS_FLOW_SRC_WAITING
#define A	VS_FLOW_SRC_ARMED
#define L	VS_FLOW_SRC_LINGERING
#define S	VS_FLOW_SRC_STOPPED

/* [state][event]: the next state; the single source of truth */
static const int8_t src_next[VS_FLOW_SRC_NUM_STATES][VS_FLOW_SRC_NUM_EVENTS] = {
	/*                         packet arm fire timeout linger-end */
	[VS_FLOW_SRC_FREE] =      { X,     X,  X,   X,      X },
	[VS_FLOW_SRC_WAITING] =   { W,     A,  L,   L,      X },
	[VS_FLOW_SRC_ARMED] =     { L,     A,  L,   L,      X },
	[VS_FLOW_SRC_LINGERING] = { L,     L,  L,   L,      S },
	[VS_FLOW_SRC_STOPPED] =   { S,     S,  S,   S,      X },
};

#undef X
#undef W
#undef A
#undef L
#undef S

int vs_flow_src_transition(enum vs_flow_src_state from, enum vs_flow_src_event ev)
{
	if ((unsigned int)from >= VS_FLOW_SRC_NUM_STATES ||
	    (unsigned int)ev >= VS_FLOW_SRC_NUM_EVENTS || src_next[from][ev] < 0)
		return -EINVAL;
	return src_next[from][ev];
}

int vs_flow_src_init(struct vs_flow_src *t, struct vs_flow_src_entry *slots, uint32_t n,
		     uint64_t seed)
{
	if (n < VS_FLOW_SRC_MIN_SIZE || n > VS_FLOW_SRC_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->slots = slots;
	t->mask = n - 1;
	t->seed = seed;
	memset(slots, 0, sizeof(*slots) * n);
	return 0;
}

void vs_flow_src_begin(struct vs_flow_src *t, uint64_t now_ms)
{
	memset(t->slots, 0, sizeof(*t->slots) * ((size_t)t->mask + 1));
	t->resume_ms = now_ms;
}

/* MurmurHash3's 64-bit finaliser */
static inline uint64_t src_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint32_t src_hash(const struct vs_flow_src *t, uint8_t af, const uint8_t addr[16],
			 uint32_t rule_id)
{
	uint64_t a[2], h;

	memcpy(a, addr, sizeof(a));
	h = src_fmix64(t->seed ^ ((uint64_t)rule_id << 8 | af));
	h = src_fmix64(h ^ a[0]);
	h = src_fmix64(h ^ a[1]);
	return (uint32_t)h & t->mask;
}

static inline bool src_is(const struct vs_flow_src_entry *e, uint8_t af, const uint8_t addr[16],
			  uint32_t rule_id)
{
	return e->state != VS_FLOW_SRC_FREE && e->rule_id == rule_id && e->af == af &&
	       !memcmp(e->addr, addr, 16);
}

static struct vs_flow_src_entry *src_find(const struct vs_flow_src *t, uint8_t af,
					  const uint8_t addr[16], uint32_t rule_id)
{
	uint32_t h = src_hash(t, af, addr, rule_id), i;

	for (i = 0; i < VS_FLOW_SRC_PROBE; i++) {
		struct vs_flow_src_entry *e = &t->slots[(h + i) & t->mask];

		if (src_is(e, af, addr, rule_id))
			return e;
	}
	return NULL;
}

/*
 * src_reuse_rank() - how readily an entry gives its place to a new source:
 * 0 first, 3 never (see "Ageing" in flow_src.h)
 */
static unsigned int src_reuse_rank(const struct vs_flow_src_entry *e, uint64_t now_ms)
{
	if (e->state == VS_FLOW_SRC_FREE)
		return 0;
	/* a note is kept for the whole window: reused, its source would be
	 * reported again on its next frame (a flood of sources: a report per
	 * frame) */
	if (e->rule_id == VS_FLOW_SRC_NOTE_ID)
		return 3;
	if (now_ms >= e->end_ms)
		return 1;
	if (e->state == VS_FLOW_SRC_WAITING)
		return 1;
	if (e->state == VS_FLOW_SRC_ARMED)
		return 2;
	return 3;
}

/* A place for a new source: a free slot, or the least recently used of the best rank */
static struct vs_flow_src_entry *src_place(struct vs_flow_src *t, uint8_t af,
					   const uint8_t addr[16], uint32_t rule_id,
					   uint64_t now_ms)
{
	uint32_t h = src_hash(t, af, addr, rule_id), i;
	struct vs_flow_src_entry *best = NULL;
	unsigned int best_rank = 3;

	for (i = 0; i < VS_FLOW_SRC_PROBE; i++) {
		struct vs_flow_src_entry *e = &t->slots[(h + i) & t->mask];
		unsigned int rank = src_reuse_rank(e, now_ms);

		if (rank < best_rank || (rank == best_rank && best && rank < 3 &&
					 e->last_ms < best->last_ms)) {
			best = e;
			best_rank = rank;
			if (!rank)
				break;
		}
	}
	if (!best)
		return NULL;
	if (best->state == VS_FLOW_SRC_FREE)
		t->stats.created++;
	else
		t->stats.reused++;
	memset(best, 0, sizeof(*best));
	memcpy(best->addr, addr, 16);
	best->af = af;
	best->rule_id = rule_id;
	best->last_ms = now_ms;
	return best;
}

static uint64_t src_end_ms(const struct vs_flow_src *t, const struct vs_flow_crule *r)
{
	return t->resume_ms + r->timeout_ms + r->linger_ms;
}

static struct vs_flow_src_entry *src_get(struct vs_flow_src *t, const struct vs_flow_crule *r,
					 uint8_t af, const uint8_t addr[16], uint64_t now_ms)
{
	struct vs_flow_src_entry *e = src_find(t, af, addr, r->id);

	if (e)
		return e;
	e = src_place(t, af, addr, r->id, now_ms);
	if (e) {
		e->state = VS_FLOW_SRC_WAITING;
		e->end_ms = src_end_ms(t, r);
	}
	return e;
}

/* The one setter of an entry's state */
static void src_set(struct vs_flow_src *t, struct vs_flow_src_entry *e,
		    const struct vs_flow_crule *r, enum vs_flow_src_event ev, uint64_t now_ms)
{
	int next = vs_flow_src_transition((enum vs_flow_src_state)e->state, ev);

	if (next < 0) {
		t->stats.illegal++;
		return;
	}
	if (next == e->state)
		return;
	if (next == VS_FLOW_SRC_LINGERING) {
		if (ev == VS_FLOW_SRC_EV_TIMEOUT) {
			e->switch_ms = t->resume_ms + r->timeout_ms;
			t->stats.timeouts++;
		} else {
			e->switch_ms = now_ms;
			t->stats.fired++;
		}
		e->stop_ms = e->switch_ms + r->linger_ms;
	} else if (next == VS_FLOW_SRC_STOPPED) {
		t->stats.stopped++;
	}
	e->state = (uint8_t)next;
}

/* Apply the time-outs that are due */
static void src_tick(struct vs_flow_src *t, struct vs_flow_src_entry *e,
		     const struct vs_flow_crule *r, uint64_t now_ms)
{
	if ((e->state == VS_FLOW_SRC_WAITING || e->state == VS_FLOW_SRC_ARMED) &&
	    now_ms >= t->resume_ms + r->timeout_ms)
		src_set(t, e, r, VS_FLOW_SRC_EV_TIMEOUT, now_ms);
	if (e->state == VS_FLOW_SRC_LINGERING && now_ms >= e->stop_ms)
		src_set(t, e, r, VS_FLOW_SRC_EV_LINGER_END, now_ms);
}

/* The event a frame's (or a report's) VS_FLOW_EV_* bits are under @r's trigger */
static enum vs_flow_src_event src_event(const struct vs_flow_crule *r, unsigned int events)
{
	switch (r->trigger) {
	case VS_FLOW_TRIG_NONE:
		break;
	case VS_FLOW_TRIG_TCP_SYN:
		if (events & VS_FLOW_EV_TCP_SYN)
			return VS_FLOW_SRC_EV_FIRE;
		break;
	case VS_FLOW_TRIG_SIP_REGISTER:
		if (events & VS_FLOW_EV_SIP_REGISTER)
			return VS_FLOW_SRC_EV_FIRE;
		break;
	case VS_FLOW_TRIG_SIP_BYE_NEXT:
		if (events & VS_FLOW_EV_SIP_BYE)
			return VS_FLOW_SRC_EV_ARM;
		break;
	case VS_FLOW_TRIG_DIRECT:
		if (events & VS_FLOW_EV_DIRECT)
			return VS_FLOW_SRC_EV_FIRE;
		break;
	case VS_FLOW_NUM_TRIGGERS:
		break;
	}
	return VS_FLOW_SRC_EV_PACKET;
}

enum vs_flow_src_verdict vs_flow_src_straggler(struct vs_flow_src *t,
					       const struct vs_flow_crule *r,
					       const struct vs_flow_key *k, unsigned int events,
					       uint64_t now_ms)
{
	static const uint8_t none[16];
	bool l3 = k->flags & VS_FLOW_KEY_L3;
	struct vs_flow_src_entry *e;
	enum vs_flow_src_verdict v;

	e = src_get(t, r, l3 ? (uint8_t)k->af : VS_FLOW_AF_NONE, l3 ? k->src : none, now_ms);
	if (!e) {
		t->stats.untracked++;
		v = now_ms < src_end_ms(t, r) ? VS_FLOW_SRC_TUNNEL : VS_FLOW_SRC_STOP;
	} else {
		e->last_ms = now_ms;
		src_tick(t, e, r, now_ms);
		/* judged by when it reached us: a frame that came before its
		 * source stopped, and waited in a queue, is still tunnelled */
		v = e->state == VS_FLOW_SRC_STOPPED && now_ms >= e->stop_ms ? VS_FLOW_SRC_STOP
									  : VS_FLOW_SRC_TUNNEL;
		src_set(t, e, r, src_event(r, events), now_ms);
		src_tick(t, e, r, now_ms);
	}
	if (v == VS_FLOW_SRC_TUNNEL)
		t->stats.tunnelled++;
	else
		t->stats.refused++;
	return v;
}

void vs_flow_src_report(struct vs_flow_src *t, const struct vs_flow_crule *r,
			enum vs_flow_af af, const uint8_t addr[16], unsigned int events,
			uint64_t now_ms)
{
	enum vs_flow_src_event ev = src_event(r, events);
	struct vs_flow_src_entry *e;

	if (ev == VS_FLOW_SRC_EV_PACKET)
		return;		/* a report is not a frame of the source's */
	e = src_get(t, r, (uint8_t)af, addr, now_ms);
	if (!e) {
		t->stats.untracked++;
		return;
	}
	e->last_ms = now_ms;
	src_tick(t, e, r, now_ms);
	src_set(t, e, r, ev, now_ms);
	src_tick(t, e, r, now_ms);
}

enum vs_flow_src_state vs_flow_src_state(const struct vs_flow_src *t, uint32_t rule_id,
					 enum vs_flow_af af, const uint8_t addr[16])
{
	const struct vs_flow_src_entry *e = src_find(t, (uint8_t)af, addr, rule_id);

	return e ? (enum vs_flow_src_state)e->state : VS_FLOW_SRC_FREE;
}

bool vs_flow_src_note_direct(struct vs_flow_src *t, enum vs_flow_af af, const uint8_t addr[16],
			     uint64_t now_ms)
{
	struct vs_flow_src_entry *e = src_find(t, (uint8_t)af, addr, VS_FLOW_SRC_NOTE_ID);

	if (e) {
		e->last_ms = now_ms;
		return false;
	}
	e = src_place(t, (uint8_t)af, addr, VS_FLOW_SRC_NOTE_ID, now_ms);
	if (!e) {	/* no place: not reported, so it switches by its time-out */
		t->stats.untracked++;
		return false;
	}
	e->state = VS_FLOW_SRC_STOPPED;	/* reported; never changes */
	return true;
}

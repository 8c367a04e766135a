/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_rules.c - rule checks, the compiler of a port's table, the matcher
 *
 * Theory of operation: see flow_rules.h.  Everything but
 * vs_flow_rules_match() and vs_flow_rules_slot() runs on the main loop
 * and may allocate; those two only read an immutable table and run on
 * lcores.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "flow_rules.h"

G_DEFINE_QUARK(vs-flow-error-quark, vs_flow_error)

const char *const vs_flow_action_names[VS_FLOW_NUM_ACTIONS] = {
	[VS_FLOW_ACT_BUFFER] = "buffer",
	[VS_FLOW_ACT_HOLD] = "hold",
	[VS_FLOW_ACT_DROP] = "drop",
};

const char *const vs_flow_trigger_names[VS_FLOW_NUM_TRIGGERS] = {
	[VS_FLOW_TRIG_NONE] = "none",
	[VS_FLOW_TRIG_TCP_SYN] = "tcp-syn",
	[VS_FLOW_TRIG_SIP_REGISTER] = "sip-register",
	[VS_FLOW_TRIG_SIP_BYE_NEXT] = "sip-bye-next",
	[VS_FLOW_TRIG_DIRECT] = "direct-arrival",
};

const char *const vs_flow_tcp_loss_names[VS_FLOW_NUM_TCP_LOSS] = {
	[VS_FLOW_TCP_LOSS_DROP] = "drop",
	[VS_FLOW_TCP_LOSS_RESET] = "reset",
};

static_assert(VS_FLOW_MAX_SLOTS <= UINT16_MAX, "slots are stored as uint16_t");
static_assert(VS_FLOW_NUM_DEFAULTS == 3, "one default rule per class: udp, tcp, other");

static const char *const flow_default_names[VS_FLOW_NUM_DEFAULTS] = {
	[VS_PKT_UDP] = "default-udp",
	[VS_PKT_TCP] = "default-tcp",
	[VS_PKT_OTHER] = "default-other",
};

struct vs_flow_rule *vs_flow_rule_new(const char *name)
{
	struct vs_flow_rule *r = g_new0(struct vs_flow_rule, 1);

	g_strlcpy(r->name, name ? name : "", sizeof(r->name));
	r->action = VS_FLOW_ACT_BUFFER;
	r->trigger = VS_FLOW_TRIG_DIRECT;
	r->linger_ms = VS_FLOW_DEFAULT_LINGER_MS;
	r->timeout_ms = VS_DEFAULT_LINGER_MS;
	return r;
}

void vs_flow_rule_free(struct vs_flow_rule *r)
{
	if (!r)
		return;
	g_strfreev(r->ports);
	g_free(r);
}

struct vs_flow_rule *vs_flow_rule_copy(const struct vs_flow_rule *r)
{
	struct vs_flow_rule *c = g_memdup2(r, sizeof(*r));

	c->ports = g_strdupv(r->ports);
	return c;
}

/* Can a frame matching @m be a TCP segment? */
static bool flow_match_can_tcp(const struct vs_flow_match *m)
{
	return !(m->fields & VS_FLOW_M_PROTO) || m->proto == VS_IPPROTO_TCP;
}

/* A rule named by the user must not pose as one of the default rules */
static bool flow_name_ok(const char *name)
{
	const char *p;

	if (!*name || g_str_has_prefix(name, "default-"))
		return false;
	for (p = name; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

gboolean vs_flow_rule_validate(const struct vs_flow_rule *r, GError **error)
{
	const struct vs_flow_match *m = &r->match;
	const char *n = r->name;

	if (!flow_name_ok(n)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy '%s': a name is 1-%d characters of [A-Za-z0-9_.-] and does not "
			    "start with 'default-'", n, VS_FLOW_NAME_MAX);
		return FALSE;
	}
	if (!(r->set & VS_FLOW_SET_MATCH)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: match= is required (match=any matches every frame)", n);
		return FALSE;
	}
	if ((m->fields & VS_FLOW_M_SRC) && (m->fields & VS_FLOW_M_DST) &&
	    m->src.af != m->dst.af) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: src and dst are of different address families", n);
		return FALSE;
	}
	if ((m->fields & (VS_FLOW_M_SPORT | VS_FLOW_M_DPORT)) && (m->fields & VS_FLOW_M_PROTO) &&
	    m->proto != VS_IPPROTO_TCP && m->proto != VS_IPPROTO_UDP &&
	    m->proto != VS_IPPROTO_SCTP) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: ports need proto tcp, udp or sctp (or no proto), not %u",
			    n, m->proto);
		return FALSE;
	}
	if ((m->fields & VS_FLOW_M_CLASS)) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: class is for default rules", n);
		return FALSE;
	}
	if (r->action == VS_FLOW_ACT_HOLD && (!(m->fields & VS_FLOW_M_PROTO) ||
					      m->proto != VS_IPPROTO_TCP)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: action=hold is for TCP: add proto=tcp to the match", n);
		return FALSE;
	}
	if ((r->set & VS_FLOW_SET_TCP_LOSS) && r->tcp_on_loss == VS_FLOW_TCP_LOSS_RESET &&
	    !flow_match_can_tcp(m)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: tcp-on-loss=reset on a rule that matches no TCP", n);
		return FALSE;
	}
	/* a connection's resets are decided from its addresses, ports and
	 * VLAN: a DSCP mark is per segment, and a forged one could flip it
	 * (review 70, F1/F2) */
	if ((r->set & VS_FLOW_SET_TCP_LOSS) && (m->fields & VS_FLOW_M_DSCP)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: tcp-on-loss on a rule that matches dscp: a connection's "
			    "resets are decided by its addresses, ports and VLAN", n);
		return FALSE;
	}
	if (r->trigger == VS_FLOW_TRIG_TCP_SYN && !flow_match_can_tcp(m)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: trigger=tcp-syn on a rule that matches no TCP", n);
		return FALSE;
	}
	if (r->action == VS_FLOW_ACT_DROP &&
	    (r->set & (VS_FLOW_SET_PRIORITY | VS_FLOW_SET_MAX_PKTS | VS_FLOW_SET_MAX_BYTES))) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: priority, max-pkts and max-bytes mean nothing with action=drop",
			    n);
		return FALSE;
	}
	if (r->priority >= VS_FLOW_PRIO_LEVELS || r->action >= VS_FLOW_NUM_ACTIONS ||
	    r->trigger >= VS_FLOW_NUM_TRIGGERS || r->tcp_on_loss >= VS_FLOW_NUM_TCP_LOSS) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: value out of range", n);
		return FALSE;
	}
	if (r->id >= VS_FLOW_ID_DEFAULT_BASE) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: id %u is reserved", n, r->id);
		return FALSE;
	}
	return TRUE;
}

static bool flow_prefix_equal(const struct vs_flow_prefix *a, const struct vs_flow_prefix *b)
{
	return a->af == b->af && a->len == b->len && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

bool vs_flow_rule_equal(const struct vs_flow_rule *a, const struct vs_flow_rule *b)
{
	const struct vs_flow_match *x = &a->match, *y = &b->match;
	guint i;

	if (strcmp(a->name, b->name) || a->id != b->id || a->action != b->action ||
	    a->set != b->set || a->priority != b->priority || a->max_pkts != b->max_pkts ||
	    a->max_bytes != b->max_bytes || a->linger_ms != b->linger_ms ||
	    a->timeout_ms != b->timeout_ms || a->trigger != b->trigger ||
	    a->tcp_on_loss != b->tcp_on_loss)
		return false;
	if (x->fields != y->fields ||
	    ((x->fields & VS_FLOW_M_SRC) && !flow_prefix_equal(&x->src, &y->src)) ||
	    ((x->fields & VS_FLOW_M_DST) && !flow_prefix_equal(&x->dst, &y->dst)) ||
	    ((x->fields & VS_FLOW_M_PROTO) && x->proto != y->proto) ||
	    ((x->fields & VS_FLOW_M_DSCP) && x->dscp != y->dscp) ||
	    ((x->fields & VS_FLOW_M_VLAN) && x->vlan != y->vlan) ||
	    ((x->fields & VS_FLOW_M_SPORT) &&
	     (x->sport_lo != y->sport_lo || x->sport_hi != y->sport_hi)) ||
	    ((x->fields & VS_FLOW_M_DPORT) &&
	     (x->dport_lo != y->dport_lo || x->dport_hi != y->dport_hi)) ||
	    ((x->fields & VS_FLOW_M_CLASS) && x->cls != y->cls))
		return false;
	if (!a->ports || !b->ports)
		return a->ports == b->ports;
	for (i = 0; a->ports[i] && b->ports[i]; i++)
		if (strcmp(a->ports[i], b->ports[i]))
			return false;
	return !a->ports[i] && !b->ports[i];
}

bool vs_flow_rule_applies(const struct vs_flow_rule *r, const char *port)
{
	return !port || !r->ports || g_strv_contains((const gchar *const *)r->ports, port);
}

/*
 * flow_log2_fx8() - 256 * log2(@x), rounded down by the truncations of
 * the bit-by-bit method (and so never decreasing as @x grows), for
 * 1 <= @x <= 65536.  No floating point: a table built here must not depend
 * on the libm it runs with.
 */
static uint32_t flow_log2_fx8(uint32_t x)
{
	uint32_t ip = 31 - (uint32_t)__builtin_clz(x), r = ip << 8, bit;
	uint64_t m = (uint64_t)x << (31 - ip);	/* 1.xxx in Q31 */

	for (bit = 128; bit; bit >>= 1) {
		m = (m * m) >> 31;
		if (m >= (2ull << 31)) {
			m >>= 1;
			r |= bit;
		}
	}
	return r;
}

static uint32_t flow_range_bits(uint16_t lo, uint16_t hi)
{
	return (16u << 8) - flow_log2_fx8((uint32_t)hi - lo + 1);
}

/* The first key of the match order: header bits pinned down, in 1/256 */
static uint32_t flow_specificity(const struct vs_flow_match *m)
{
	uint32_t s = 0;

	if (m->fields & VS_FLOW_M_SRC)
		s += (uint32_t)m->src.len << 8;
	if (m->fields & VS_FLOW_M_DST)
		s += (uint32_t)m->dst.len << 8;
	if (m->fields & VS_FLOW_M_PROTO)
		s += 8u << 8;
	if (m->fields & VS_FLOW_M_VLAN)
		s += 12u << 8;
	if (m->fields & VS_FLOW_M_DSCP)
		s += 6u << 8;
	if (m->fields & VS_FLOW_M_SPORT)
		s += flow_range_bits(m->sport_lo, m->sport_hi);
	if (m->fields & VS_FLOW_M_DPORT)
		s += flow_range_bits(m->dport_lo, m->dport_hi);
	return s;
}

/* Prefix length of a compiled rule's source (or destination), -1 for none */
static int flow_crule_plen(const struct vs_flow_crule *r, bool src)
{
	const uint64_t *mask = src ? r->src_mask : r->dst_mask;

	if (!(r->fields & (src ? VS_FLOW_M_SRC : VS_FLOW_M_DST)))
		return -1;
	return __builtin_popcountll(mask[0]) + __builtin_popcountll(mask[1]);
}

int vs_flow_rules_compare(const struct vs_flow_crule *a, const struct vs_flow_crule *b)
{
	int d;

	if (a->specificity != b->specificity)
		return a->specificity > b->specificity ? -1 : 1;
	d = __builtin_popcount(b->fields) - __builtin_popcount(a->fields);
	if (d)
		return d;
	d = flow_crule_plen(b, true) - flow_crule_plen(a, true);
	if (d)
		return d;
	d = flow_crule_plen(b, false) - flow_crule_plen(a, false);
	if (d)
		return d;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int flow_crule_cmp_cb(const void *a, const void *b)
{
	return vs_flow_rules_compare(a, b);
}

static void flow_prefix_words(const struct vs_flow_prefix *p, uint64_t val[2], uint64_t mask[2])
{
	uint8_t m[16] = { 0 };
	unsigned int i;

	for (i = 0; i < p->len; i++)
		m[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	memcpy(mask, m, 16);
	memcpy(val, p->addr, 16);
	val[0] &= mask[0];
	val[1] &= mask[1];
}

/* A rule's linger-ms after its switch when it sets none (flow_rules.h) */
static uint32_t flow_default_linger(enum vs_flow_trigger trigger)
{
	return trigger == VS_FLOW_TRIG_DIRECT ? VS_FLOW_DEFAULT_DIRECT_LINGER_MS
					      : VS_FLOW_DEFAULT_LINGER_MS;
}

static void flow_compile_rule(const struct vs_flow_rule *r, const struct vs_buf_policy *defaults,
			      const struct vs_flow_port_opts *o, struct vs_flow_crule *c)
{
	const struct vs_flow_match *m = &r->match;

	memset(c, 0, sizeof(*c));
	c->fields = m->fields;
	if (m->fields & VS_FLOW_M_SRC) {
		c->af = m->src.af;
		flow_prefix_words(&m->src, c->src_val, c->src_mask);
	}
	if (m->fields & VS_FLOW_M_DST) {
		c->af = m->dst.af;
		flow_prefix_words(&m->dst, c->dst_val, c->dst_mask);
	}
	c->proto = m->proto;
	c->dscp = m->dscp;
	c->vlan = m->vlan;
	c->sport_lo = m->sport_lo;
	c->sport_hi = m->sport_hi;
	c->dport_lo = m->dport_lo;
	c->dport_hi = m->dport_hi;
	c->cls = m->cls;
	c->id = r->id;
	c->specificity = flow_specificity(m);
	c->action = r->action;
	c->priority = r->priority;
	if (r->action != VS_FLOW_ACT_DROP && (r->set & VS_FLOW_SET_MAX_PKTS)) {
		c->res_pkts = r->max_pkts;
		c->res_bytes = MIN((uint64_t)r->max_pkts * VS_FLOW_RES_FRAME_BYTES,
				   o->total_max_bytes);
	}
	if (r->action != VS_FLOW_ACT_DROP && (r->set & VS_FLOW_SET_MAX_BYTES))
		c->res_bytes = r->max_bytes;
	c->max_pkts = (r->set & VS_FLOW_SET_MAX_PKTS) ? r->max_pkts : (uint32_t)o->total_max_pkts;
	c->max_bytes = (r->set & VS_FLOW_SET_MAX_BYTES) ? r->max_bytes : o->total_max_bytes;
	c->linger_ms = (r->set & VS_FLOW_SET_LINGER) ? r->linger_ms : flow_default_linger(r->trigger);
	c->timeout_ms = (r->set & VS_FLOW_SET_TIMEOUT) ? r->timeout_ms : defaults->linger_ms;
	c->trigger = r->trigger;
	c->tcp_on_loss = (r->set & VS_FLOW_SET_TCP_LOSS) ? r->tcp_on_loss : o->tcp_on_loss;
	c->tcp_loss_set = r->set & VS_FLOW_SET_TCP_LOSS;
	g_strlcpy(c->name, r->name, sizeof(c->name));
}

/* The default rule of class @cls: today's per-class policy */
static void flow_compile_default(enum vs_pkt_class cls, const struct vs_buf_policy *p,
				 const struct vs_flow_port_opts *o, struct vs_flow_crule *c)
{
	memset(c, 0, sizeof(*c));
	c->fields = VS_FLOW_M_CLASS;
	c->cls = cls;
	c->id = VS_FLOW_ID_DEFAULT(cls);
	if (p->class_policy[cls] == VS_CLASS_DROP)
		c->action = VS_FLOW_ACT_DROP;
	else
		c->action = cls == VS_PKT_TCP ? VS_FLOW_ACT_HOLD : VS_FLOW_ACT_BUFFER;
	c->max_pkts = p->max_pkts[cls];
	c->max_bytes = p->max_bytes[cls];
	c->linger_ms = flow_default_linger(VS_FLOW_TRIG_DIRECT);
	c->timeout_ms = p->linger_ms;
	c->trigger = VS_FLOW_TRIG_DIRECT;
	c->tcp_on_loss = cls == VS_PKT_TCP ? o->tcp_on_loss : VS_FLOW_TCP_LOSS_DROP;
	g_strlcpy(c->name, flow_default_names[cls], sizeof(c->name));
}

/* Bucket of a frame: 0 without IP; 1 + 3 * (family - 1) + (TCP 0, UDP 1, other 2) */
static inline unsigned int flow_bucket(enum vs_flow_af af, uint8_t proto)
{
	if (af == VS_FLOW_AF_NONE)
		return 0;
	return 1 + 3 * ((unsigned int)af - 1) +
	       (proto == VS_IPPROTO_TCP ? 0 : proto == VS_IPPROTO_UDP ? 1 : 2);
}

/* Can @c match a frame of bucket @b?  A coarse filter; the match decides. */
static bool flow_bucket_fits(const struct vs_flow_crule *c, unsigned int b)
{
	static const uint8_t protos[3] = { VS_IPPROTO_TCP, VS_IPPROTO_UDP, 0 };
	enum vs_flow_af af;
	unsigned int kind;

	if (b == 0)
		return !(c->fields & VS_FLOW_M_L3);
	af = (enum vs_flow_af)(1 + (b - 1) / 3);
	kind = (b - 1) % 3;
	if (c->af != VS_FLOW_AF_NONE && c->af != af)
		return false;
	if (!(c->fields & VS_FLOW_M_PROTO))
		return true;
	if (kind < 2)
		return c->proto == protos[kind];
	return c->proto != VS_IPPROTO_TCP && c->proto != VS_IPPROTO_UDP;
}

static int flow_by_id_cmp(const void *a, const void *b, void *opaque)
{
	const struct vs_flow_table *t = opaque;
	uint32_t x = t->rules[*(const uint16_t *)a].id, y = t->rules[*(const uint16_t *)b].id;

	return x < y ? -1 : x > y;
}

/*
 * flow_check_reservations() - does every priority that has rules keep
 * something under the totals, after the reservations of the rules above it
 * (if there are any)
 */
static gboolean flow_check_reservations(const struct vs_flow_table *t, GError **error)
{
	uint64_t res_p[VS_FLOW_PRIO_LEVELS] = { 0 }, res_b[VS_FLOW_PRIO_LEVELS] = { 0 };
	uint64_t above_p = 0, above_b = 0;
	bool used[VS_FLOW_PRIO_LEVELS] = { false };
	int l;
	uint32_t i;

	for (i = 0; i < t->n_rules; i++) {
		const struct vs_flow_crule *c = &t->rules[i];

		if (c->action == VS_FLOW_ACT_DROP)
			continue;
		used[c->priority] = true;
		res_p[c->priority] += c->res_pkts;
		res_b[c->priority] += c->res_bytes;
	}
	for (l = VS_FLOW_PRIO_LEVELS - 1; l >= 0; l--) {
		/* totals of 0 with nothing reserved (every class cap 0, as
		 * set-buffer-policy allows) are the caps' doing, not the rules' */
		if (used[l] && (above_p || above_b) &&
		    (above_p >= t->total_pkts || above_b >= t->total_bytes)) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "policy: the caps of the rules above priority %d (%" G_GUINT64_FORMAT
				    " packets, %" G_GUINT64_FORMAT " bytes) are held in reserve and "
				    "leave nothing to priority %d under total-max-pkts %" G_GUINT64_FORMAT
				    ", total-max-bytes %" G_GUINT64_FORMAT,
				    l, above_p, above_b, l, t->total_pkts, t->total_bytes);
			return FALSE;
		}
		above_p += res_p[l];
		above_b += res_b[l];
	}
	return TRUE;
}

struct vs_flow_table *vs_flow_rules_compile(struct vs_flow_rule *const *rules, guint n,
					    const char *port, const struct vs_buf_policy *defaults,
					    const struct vs_flow_port_opts *opts, GError **error)
{
	static uint64_t generation;
	struct vs_flow_port_opts o = { 0 };
	g_autoptr(vs_flow_table) t = NULL;
	uint32_t n_user = 0, i, b;
	int c;

	if (opts)
		o = *opts;
	/* the port's total-max-* keys, else the class caps summed */
	if (!(o.set & VS_FLOW_POPT_TOTAL_PKTS))
		o.total_max_pkts = defaults->total_max_pkts
					   ? defaults->total_max_pkts
					   : (uint64_t)defaults->max_pkts[0] + defaults->max_pkts[1] +
						     defaults->max_pkts[2];
	if (!(o.set & VS_FLOW_POPT_TOTAL_BYTES))
		o.total_max_bytes = defaults->total_max_bytes
					    ? defaults->total_max_bytes
					    : defaults->max_bytes[0] + defaults->max_bytes[1] +
						      defaults->max_bytes[2];

	for (i = 0; i < n; i++) {
		if (!vs_flow_rule_applies(rules[i], port))
			continue;
		if (!vs_flow_rule_validate(rules[i], error))
			return NULL;
		if (++n_user > VS_FLOW_MAX_RULES) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "policy: more than %d rules for port %s", VS_FLOW_MAX_RULES,
				    port ? port : "(all)");
			return NULL;
		}
	}
	t = g_malloc0(sizeof(*t) + sizeof(t->rules[0]) * (n_user + VS_FLOW_NUM_DEFAULTS));
	t->n_user = n_user;
	t->n_rules = n_user + VS_FLOW_NUM_DEFAULTS;
	t->total_pkts = o.total_max_pkts;
	t->total_bytes = o.total_max_bytes;

	for (i = 0, n_user = 0; i < n; i++) {
		const struct vs_flow_rule *r = rules[i];

		if (!vs_flow_rule_applies(r, port))
			continue;
		if (r->action != VS_FLOW_ACT_DROP &&
		    (((r->set & VS_FLOW_SET_MAX_PKTS) && r->max_pkts > o.total_max_pkts) ||
		     ((r->set & VS_FLOW_SET_MAX_BYTES) && r->max_bytes > o.total_max_bytes))) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "policy %s: its caps exceed the port's total-max-pkts %"
				    G_GUINT64_FORMAT " / total-max-bytes %" G_GUINT64_FORMAT,
				    r->name, o.total_max_pkts, o.total_max_bytes);
			return NULL;
		}
		flow_compile_rule(r, defaults, &o, &t->rules[n_user]);
		t->tcp_loss_rules |= t->rules[n_user].tcp_loss_set;
		t->tcp_reset_rules |= t->rules[n_user].tcp_loss_set &&
				      t->rules[n_user].tcp_on_loss == VS_FLOW_TCP_LOSS_RESET;
		n_user++;
	}
	qsort(t->rules, n_user, sizeof(t->rules[0]), flow_crule_cmp_cb);
	for (i = 1; i < n_user; i++) {
		if (t->rules[i].id == t->rules[i - 1].id) {
			g_set_error(error, VS_FLOW_ERROR, 0, "policy %s and %s: same id %u",
				    t->rules[i - 1].name, t->rules[i].name, t->rules[i].id);
			return NULL;
		}
	}
	for (c = 0; c < VS_FLOW_NUM_DEFAULTS; c++)
		flow_compile_default((enum vs_pkt_class)c, defaults, &o, &t->rules[n_user + c]);
	if (!flow_check_reservations(t, error))
		return NULL;

	for (b = 0; b < VS_FLOW_NUM_BUCKETS; b++)
		for (i = 0; i < n_user; i++)
			if (flow_bucket_fits(&t->rules[i], b))
				t->bucket[b][t->bucket_n[b]++] = (uint16_t)i;
	for (i = 0; i < t->n_rules; i++)
		t->by_id[i] = (uint16_t)i;
	g_qsort_with_data(t->by_id, (gint)t->n_rules, sizeof(t->by_id[0]), flow_by_id_cmp, t);
	t->generation = __atomic_add_fetch(&generation, 1, __ATOMIC_RELAXED);
	return g_steal_pointer(&t);
}

void vs_flow_rules_free(struct vs_flow_table *t)
{
	g_free(t);
}

static inline bool flow_prefix_match(const uint8_t addr[16], const uint64_t val[2],
				     const uint64_t mask[2])
{
	uint64_t a[2];

	memcpy(a, addr, sizeof(a));
	return ((a[0] & mask[0]) == val[0]) & ((a[1] & mask[1]) == val[1]);
}

static inline bool flow_crule_match(const struct vs_flow_crule *c, const struct vs_flow_key *k)
{
	uint32_t f = c->fields;

	if ((f & VS_FLOW_M_VLAN) && (!(k->flags & VS_FLOW_KEY_VLAN) || k->vlan != c->vlan))
		return false;
	if (!(f & VS_FLOW_M_L3))
		return true;
	/* the bucket guarantees an IP header of the rule's family */
	if ((f & VS_FLOW_M_SRC) && !flow_prefix_match(k->src, c->src_val, c->src_mask))
		return false;
	if ((f & VS_FLOW_M_DST) && !flow_prefix_match(k->dst, c->dst_val, c->dst_mask))
		return false;
	if ((f & VS_FLOW_M_PROTO) && k->proto != c->proto)
		return false;
	if ((f & VS_FLOW_M_DSCP) && k->dscp != c->dscp)
		return false;
	if (f & (VS_FLOW_M_SPORT | VS_FLOW_M_DPORT)) {
		if (!(k->flags & VS_FLOW_KEY_PORTS))
			return false;
		if ((f & VS_FLOW_M_SPORT) && (k->sport < c->sport_lo || k->sport > c->sport_hi))
			return false;
		if ((f & VS_FLOW_M_DPORT) && (k->dport < c->dport_lo || k->dport > c->dport_hi))
			return false;
	}
	return true;
}

uint32_t vs_flow_rules_match(const struct vs_flow_table *t, const struct vs_flow_key *k)
{
	unsigned int b, i;

	if (k->cls >= VS_PKT_NUM_CLASSES)
		return VS_FLOW_NO_SLOT;
	b = flow_bucket((k->flags & VS_FLOW_KEY_L3) ? k->af : VS_FLOW_AF_NONE, k->proto);
	for (i = 0; i < t->bucket_n[b]; i++) {
		uint16_t s = t->bucket[b][i];

		if (flow_crule_match(&t->rules[s], k))
			return s;
	}
	return t->n_user + (uint32_t)k->cls;
}

enum vs_flow_tcp_loss vs_flow_rules_tcp_loss(const struct vs_flow_table *t,
					     const struct vs_flow_key *k,
					     enum vs_flow_tcp_loss port)
{
	uint32_t s;

	if (!t || !t->tcp_loss_rules)
		return port;
	s = vs_flow_rules_match(t, k);
	if (s >= t->n_user || !t->rules[s].tcp_loss_set)
		return port;
	return t->rules[s].tcp_on_loss;
}

uint32_t vs_flow_rules_slot(const struct vs_flow_table *t, uint32_t id)
{
	uint32_t lo = 0, hi = t->n_rules;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, mid_id = t->rules[t->by_id[mid]].id;

		if (mid_id == id)
			return t->by_id[mid];
		if (mid_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return VS_FLOW_NO_SLOT;
}

void vs_flow_rules_slot_map(const struct vs_flow_table *from, const struct vs_flow_table *to,
			    uint32_t *map)
{
	uint32_t i;

	for (i = 0; i < from->n_rules; i++)
		map[i] = vs_flow_rules_slot(to, from->rules[i].id);
}

/*
 * ctacct -- per-client traffic accounting from a ctnetlink conntrack dump.
 * See ctacct.h for the interface and the exact parsing rules.
 *
 * Plain C99, no Python headers and no kernel headers, so that it builds
 * standalone for the target (arm-linux-gnueabihf) as well as inside the cffi
 * extension.  Every read goes through an offset that has been checked against
 * the end of its container first; multi-byte fields are read with memcpy or
 * byte by byte, so unaligned input is fine on every architecture.
 */
#include "ctacct.h"

#include <string.h>

/* linux/netlink.h */
#define NLMSG_HDRLEN 16u
#define NLMSG_ERROR 0x2u
#define NLA_HDRLEN 4u
#define NLA_TYPE_MASK 0x3fffu /* ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) */

/* linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h */
#define NFGENMSG_LEN 4u
#define NFNL_SUBSYS_CTNETLINK 1u
#define IPCTNL_MSG_CT_NEW 0u
#define IPCTNL_MSG_CT_DELETE 2u
#define CT_NEW_MSG ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)
#define CT_DELETE_MSG ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE)
#define FAMILY_AF_INET 2u
#define FAMILY_AF_INET6 10u

enum ctattr_type {
	CTA_TUPLE_ORIG = 1,
	CTA_TUPLE_REPLY = 2,
	CTA_COUNTERS_ORIG = 9,
	CTA_COUNTERS_REPLY = 10
};

enum ctattr_tuple { CTA_TUPLE_IP = 1 };

enum ctattr_ip {
	CTA_IP_V4_SRC = 1,
	CTA_IP_V4_DST = 2,
	CTA_IP_V6_SRC = 3,
	CTA_IP_V6_DST = 4
};

enum ctattr_counters {
	CTA_COUNTERS_PACKETS = 1,
	CTA_COUNTERS_BYTES = 2,
	CTA_COUNTERS32_PACKETS = 3,
	CTA_COUNTERS32_BYTES = 4
};

/* A tuple's source address: IPv4 and IPv6 (an entry has one of the two). */
struct tuple_src {
	int have_v4;
	int have_v6;
	uint32_t v4; /* network byte order, as in the message */
	uint8_t v6[16];
};

/* What one conntrack entry contributes. */
struct ct_entry {
	struct tuple_src orig;
	struct tuple_src reply;
	uint64_t orig_packets;
	uint64_t orig_bytes;
	uint64_t reply_packets;
	uint64_t reply_bytes;
};

/* One attribute, as offsets into the buffer. */
struct nla {
	unsigned int type; /* nla_type without the flag bits */
	size_t data;       /* offset of the payload */
	size_t data_len;
};

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

/*
 * Fetch the attribute at *pos of the container that ends at end, and move
 * *pos to the next one.  Returns 1, 0 when the container is exhausted, or a
 * negative status with *err_off set.
 */
static int nla_next(const uint8_t *buf, size_t *pos, size_t end,
		    struct nla *a, size_t *err_off)
{
	size_t p = *pos;
	size_t left, step;
	uint16_t nla_len;

	if (p >= end)
		return 0;
	left = end - p;
	if (left < NLA_HDRLEN) {
		*err_off = p;
		return CTACCT_E_NLA_TRUNC;
	}
	nla_len = get_u16(buf + p);
	if (nla_len < NLA_HDRLEN) {
		*err_off = p;
		return CTACCT_E_NLA_LEN;
	}
	if (nla_len > left) {
		*err_off = p;
		return CTACCT_E_NLA_PAST_END;
	}
	a->type = get_u16(buf + p + 2) & NLA_TYPE_MASK;
	a->data = p + NLA_HDRLEN;
	a->data_len = nla_len - NLA_HDRLEN;
	step = align4(nla_len);
	*pos = step < left ? p + step : end;
	return 1;
}

/* CTA_TUPLE_IP: pick CTA_IP_V4_SRC / CTA_IP_V6_SRC, check the sizes of
 * those and of the _DST ones. */
static int parse_tuple_ip(const uint8_t *buf, size_t pos, size_t end,
			  struct tuple_src *src, size_t *err_off)
{
	struct nla a;
	int rc;

	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		size_t want;

		switch (a.type) {
		case CTA_IP_V4_SRC:
		case CTA_IP_V4_DST:
			want = 4;
			break;
		case CTA_IP_V6_SRC:
		case CTA_IP_V6_DST:
			want = 16;
			break;
		default:
			continue;
		}
		if (a.data_len != want) {
			*err_off = a.data - NLA_HDRLEN;
			return CTACCT_E_PAYLOAD;
		}
		if (a.type == CTA_IP_V4_SRC) {
			src->v4 = get_u32(buf + a.data);
			src->have_v4 = 1;
		} else if (a.type == CTA_IP_V6_SRC) {
			memcpy(src->v6, buf + a.data, 16);
			src->have_v6 = 1;
		}
	}
	return rc;
}

/* CTA_TUPLE_ORIG or CTA_TUPLE_REPLY: descend into CTA_TUPLE_IP. */
static int parse_tuple(const uint8_t *buf, size_t pos, size_t end,
		       struct tuple_src *src, size_t *err_off)
{
	struct nla a;
	int rc;

	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		if (a.type != CTA_TUPLE_IP)
			continue;
		rc = parse_tuple_ip(buf, a.data, a.data + a.data_len, src,
				    err_off);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* CTA_COUNTERS_ORIG or CTA_COUNTERS_REPLY. */
static int parse_counters(const uint8_t *buf, size_t pos, size_t end,
			  uint64_t *packets, uint64_t *bytes, size_t *err_off)
{
	struct nla a;
	int rc;

	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		size_t want;
		uint64_t v;

		switch (a.type) {
		case CTA_COUNTERS_PACKETS:
		case CTA_COUNTERS_BYTES:
			want = 8;
			break;
		case CTA_COUNTERS32_PACKETS:
		case CTA_COUNTERS32_BYTES:
			want = 4;
			break;
		default: /* CTA_COUNTERS_PAD and anything newer */
			continue;
		}
		if (a.data_len != want) {
			*err_off = a.data - NLA_HDRLEN;
			return CTACCT_E_PAYLOAD;
		}
		v = want == 8 ? get_be64(buf + a.data) : get_be32(buf + a.data);
		if (a.type == CTA_COUNTERS_PACKETS ||
		    a.type == CTA_COUNTERS32_PACKETS)
			*packets = v;
		else
			*bytes = v;
	}
	return rc;
}

static uint32_t hash32(uint32_t x)
{
	/* A well-mixed integer hash (lowbias32): clients of one subnet differ
	 * in the low address bits, which sit in the high bytes of addr_be on a
	 * little-endian machine. */
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static uint32_t hash128(const uint8_t *a)
{
	/* the interface identifier (the low 8 bytes) tells clients apart */
	return hash32(get_u32(a + 8) ^ hash32(get_u32(a + 12)) ^
		      hash32(get_u32(a) ^ get_u32(a + 4)));
}

/*
 * The slot of addr: found, or claimed if there is room (load <= 3/4).
 * NULL when the table is full.
 */
static struct ctacct_client *table_slot(struct ctacct_client *table,
					size_t cap, size_t *n_used,
					uint32_t addr)
{
	size_t mask = cap - 1;
	size_t i = hash32(addr) & mask;
	size_t probes;

	for (probes = 0; probes < cap; probes++) {
		struct ctacct_client *c = &table[i];

		if (c->connections == 0) {
			if ((*n_used + 1) * 4 > cap * 3)
				return NULL;
			memset(c, 0, sizeof(*c));
			c->addr_be = addr;
			(*n_used)++;
			return c;
		}
		if (c->addr_be == addr)
			return c;
		i = (i + 1) & mask;
	}
	return NULL;
}

/* The same for an IPv6 address (16 bytes, as in the message). */
static struct ctacct_client6 *table6_slot(struct ctacct_client6 *table,
					  size_t cap, size_t *n_used,
					  const uint8_t *addr)
{
	size_t mask = cap - 1;
	size_t i = hash128(addr) & mask;
	size_t probes;

	for (probes = 0; probes < cap; probes++) {
		struct ctacct_client6 *c = &table[i];

		if (c->connections == 0) {
			if ((*n_used + 1) * 4 > cap * 3)
				return NULL;
			memset(c, 0, sizeof(*c));
			memcpy(c->addr, addr, 16);
			(*n_used)++;
			return c;
		}
		if (memcmp(c->addr, addr, 16) == 0)
			return c;
		i = (i + 1) & mask;
	}
	return NULL;
}

/* Which addresses are stations: IPv4 (ctacct_count) or IPv6 (ctacct_count6). */
struct stations {
	unsigned int family;
	uint32_t net_be;
	uint32_t mask_be;
	const uint32_t *exclude_be;
	const uint8_t *prefixes6; /* n_prefixes6 x (16 address, 16 mask) */
	size_t n_prefixes6;
	const uint8_t *exclude6; /* n_exclude x 16 */
	size_t n_exclude;
};

/* The address of src in st's family, or NULL. */
static const void *src_addr(const struct stations *st,
			    const struct tuple_src *src)
{
	if (st->family == FAMILY_AF_INET)
		return src->have_v4 ? (const void *)&src->v4 : NULL;
	return src->have_v6 ? (const void *)src->v6 : NULL;
}

static int is_excluded(const struct stations *st, const void *addr)
{
	size_t i;

	if (addr == NULL)
		return 0;
	for (i = 0; i < st->n_exclude; i++) {
		if (st->family == FAMILY_AF_INET
			    ? st->exclude_be[i] == *(const uint32_t *)addr
			    : memcmp(st->exclude6 + 16 * i, addr, 16) == 0)
			return 1;
	}
	return 0;
}

static int in_prefixes6(const struct stations *st, const uint8_t *addr)
{
	size_t i, k;

	for (i = 0; i < st->n_prefixes6; i++) {
		const uint8_t *net = st->prefixes6 + 32 * i;

		for (k = 0; k < 16 && (addr[k] & net[16 + k]) == net[k]; k++)
			;
		if (k == 16)
			return 1;
	}
	return 0;
}

static int is_station(const struct stations *st, const void *addr)
{
	if (addr == NULL)
		return 0;
	if (st->family == FAMILY_AF_INET
		    ? (*(const uint32_t *)addr & st->mask_be) != st->net_be
		    : !in_prefixes6(st, addr))
		return 0;
	return !is_excluded(st, addr);
}

/* The client's counters, as one table or the other holds them. */
struct client_sums {
	uint64_t *tx_bytes, *tx_packets, *rx_bytes, *rx_packets;
	uint32_t *connections;
};

/* The tables: table4 (IPv4) or table6 (IPv6), cap slots. */
struct tables {
	struct ctacct_client *table4;
	struct ctacct_client6 *table6;
	size_t cap;
	size_t *n_used;
};

static int claim(struct tables *t, const void *addr, struct client_sums *s)
{
	if (t->table4 != NULL) {
		uint32_t a4;
		struct ctacct_client *c;

		memcpy(&a4, addr, 4);
		c = table_slot(t->table4, t->cap, t->n_used, a4);
		if (c == NULL)
			return CTACCT_E_NOSPC;
		s->tx_bytes = &c->tx_bytes;
		s->tx_packets = &c->tx_packets;
		s->rx_bytes = &c->rx_bytes;
		s->rx_packets = &c->rx_packets;
		s->connections = &c->connections;
	} else {
		struct ctacct_client6 *c =
			table6_slot(t->table6, t->cap, t->n_used, addr);

		if (c == NULL)
			return CTACCT_E_NOSPC;
		s->tx_bytes = &c->tx_bytes;
		s->tx_packets = &c->tx_packets;
		s->rx_bytes = &c->rx_bytes;
		s->rx_packets = &c->rx_packets;
		s->connections = &c->connections;
	}
	return CTACCT_OK;
}

/* One IPCTNL_MSG_CT_NEW or _DELETE message at buf[msg..end). */
static int count_entry(const uint8_t *buf, size_t msg, size_t end,
		       const struct stations *st, struct tables *t,
		       size_t *err_off)
{
	struct ct_entry e;
	struct client_sums s;
	struct nla a;
	const void *orig, *reply;
	size_t pos;
	unsigned int family;
	int rc;

	if (end - msg < NLMSG_HDRLEN + NFGENMSG_LEN) {
		*err_off = msg;
		return CTACCT_E_NFGENMSG;
	}
	memset(&e, 0, sizeof(e));
	family = buf[msg + NLMSG_HDRLEN]; /* nfgenmsg.nfgen_family */
	/* ctacct_count6 runs after ctacct_count, which has checked every
	 * entry: the others are skipped unread (see ctacct.h) */
	if (st->family == FAMILY_AF_INET6 && family != FAMILY_AF_INET6)
		return CTACCT_OK;
	pos = msg + NLMSG_HDRLEN + NFGENMSG_LEN;
	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		size_t a_end = a.data + a.data_len;

		switch (a.type) {
		case CTA_TUPLE_ORIG:
			rc = parse_tuple(buf, a.data, a_end, &e.orig, err_off);
			break;
		case CTA_TUPLE_REPLY:
			rc = parse_tuple(buf, a.data, a_end, &e.reply, err_off);
			break;
		case CTA_COUNTERS_ORIG:
			rc = parse_counters(buf, a.data, a_end, &e.orig_packets,
					    &e.orig_bytes, err_off);
			break;
		case CTA_COUNTERS_REPLY:
			rc = parse_counters(buf, a.data, a_end,
					    &e.reply_packets, &e.reply_bytes,
					    err_off);
			break;
		default:
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (family != st->family)
		return CTACCT_OK;
	orig = src_addr(st, &e.orig);
	reply = src_addr(st, &e.reply);

	/* The router at either end: its own traffic (DHCP, DNS to its resolver,
	 * its pings), not a station's through NAT. */
	if (is_excluded(st, orig) || is_excluded(st, reply))
		return CTACCT_OK;
	if (is_station(st, orig)) {
		/* The station opened it: orig is what it sent. */
		rc = claim(t, orig, &s);
		if (rc < 0)
			return rc;
		*s.tx_bytes += e.orig_bytes;
		*s.tx_packets += e.orig_packets;
		*s.rx_bytes += e.reply_bytes;
		*s.rx_packets += e.reply_packets;
	} else if (is_station(st, reply)) {
		/* Into the station (port forward or routed): reversed. */
		rc = claim(t, reply, &s);
		if (rc < 0)
			return rc;
		*s.tx_bytes += e.reply_bytes;
		*s.tx_packets += e.reply_packets;
		*s.rx_bytes += e.orig_bytes;
		*s.rx_packets += e.orig_packets;
	} else {
		return CTACCT_OK;
	}
	if (*s.connections != UINT32_MAX)
		(*s.connections)++;
	return CTACCT_OK;
}

static int bad_cap(size_t cap, size_t slot)
{
	return cap == 0 || (cap & (cap - 1)) != 0 || cap > SIZE_MAX / 4 / slot;
}

static int bad_table(const struct ctacct_client *table, size_t cap)
{
	return table == NULL || bad_cap(cap, sizeof(*table));
}

/* The messages of buf[0..len), each entry counted into t. */
static int walk(const uint8_t *buf, size_t len, const struct stations *st,
		struct tables *t, size_t *err_off)
{
	size_t off = 0;

	while (off < len) {
		size_t left = len - off;
		size_t step;
		uint32_t msg_len;
		uint16_t type;

		if (left < NLMSG_HDRLEN) {
			*err_off = off;
			return CTACCT_E_NLMSG_TRUNC;
		}
		msg_len = get_u32(buf + off);
		type = get_u16(buf + off + 4);
		if (msg_len < NLMSG_HDRLEN || msg_len > left) {
			*err_off = off;
			return CTACCT_E_NLMSG_LEN;
		}
		if (type == NLMSG_ERROR) {
			*err_off = off;
			return CTACCT_E_NLMSG_ERROR;
		}
		/* dump entries and destroy events carry the same attributes */
		if (type == CT_NEW_MSG || type == CT_DELETE_MSG) {
			int rc = count_entry(buf, off, off + msg_len, st, t,
					     err_off);
			if (rc < 0) {
				if (rc == CTACCT_E_NOSPC)
					*err_off = off;
				return rc;
			}
		}
		step = align4(msg_len);
		if (step >= left)
			break;
		off += step;
	}
	return CTACCT_OK;
}

/* walk() after the checks both entry points make; table_ok: the table
 * itself is fine (not NULL, cap a power of two). */
static int checked_walk(const uint8_t *buf, size_t len,
			const struct stations *st, const void *exclude,
			int table_ok, struct tables *t, size_t *err_off)
{
	size_t ignored;

	if (err_off == NULL)
		err_off = &ignored;
	*err_off = 0;
	if ((buf == NULL && len != 0) || !table_ok || t->n_used == NULL ||
	    *t->n_used > t->cap || (exclude == NULL && st->n_exclude != 0))
		return CTACCT_E_INVAL;
	return walk(buf, len, st, t, err_off);
}

int ctacct_count(const uint8_t *buf, size_t len, uint32_t net_be,
		 uint32_t mask_be, const uint32_t *exclude_be, size_t n_exclude,
		 struct ctacct_client *table, size_t cap, size_t *n_used,
		 size_t *err_off)
{
	struct stations st;
	struct tables t;

	memset(&st, 0, sizeof(st));
	st.family = FAMILY_AF_INET;
	st.net_be = net_be;
	st.mask_be = mask_be;
	st.exclude_be = exclude_be;
	st.n_exclude = n_exclude;
	memset(&t, 0, sizeof(t));
	t.table4 = table;
	t.cap = cap;
	t.n_used = n_used;
	return checked_walk(buf, len, &st, exclude_be, !bad_table(table, cap),
			    &t, err_off);
}

int ctacct_count6(const uint8_t *buf, size_t len, const uint8_t *prefixes,
		  size_t n_prefixes, const uint8_t *exclude, size_t n_exclude,
		  struct ctacct_client6 *table, size_t cap, size_t *n_used,
		  size_t *err_off)
{
	struct stations st;
	struct tables t;

	memset(&st, 0, sizeof(st));
	st.family = FAMILY_AF_INET6;
	st.prefixes6 = prefixes;
	st.n_prefixes6 = n_prefixes;
	st.exclude6 = exclude;
	st.n_exclude = n_exclude;
	memset(&t, 0, sizeof(t));
	t.table6 = table;
	t.cap = cap;
	t.n_used = n_used;
	return checked_walk(buf, len, &st, exclude,
			    table != NULL && !bad_cap(cap, sizeof(*table)) &&
				    (prefixes != NULL || n_prefixes == 0),
			    &t, err_off);
}

int ctacct_rehash(const struct ctacct_client *old, size_t old_cap,
		  struct ctacct_client *new_table, size_t new_cap,
		  size_t *n_used)
{
	size_t i;

	if (old == NULL || n_used == NULL || bad_table(new_table, new_cap))
		return CTACCT_E_INVAL;
	*n_used = 0;
	for (i = 0; i < old_cap; i++) {
		struct ctacct_client *c;

		if (old[i].connections == 0)
			continue;
		c = table_slot(new_table, new_cap, n_used, old[i].addr_be);
		if (c == NULL)
			return CTACCT_E_NOSPC;
		*c = old[i];
	}
	return CTACCT_OK;
}

/* Pack the used slots (those whose uint32_t at conn_off is not 0) of a
 * table of cap slots of size bytes at its front; zero the rest. */
static size_t compact_slots(uint8_t *table, size_t cap, size_t size,
			    size_t conn_off)
{
	size_t i, n = 0;

	for (i = 0; i < cap; i++) {
		uint32_t connections;

		memcpy(&connections, table + i * size + conn_off,
		       sizeof(connections));
		if (connections == 0)
			continue;
		if (i != n)
			memcpy(table + n * size, table + i * size, size);
		n++;
	}
	if (n < cap)
		memset(table + n * size, 0, (cap - n) * size);
	return n;
}

size_t ctacct_compact(struct ctacct_client *table, size_t cap)
{
	return table == NULL ? 0
			     : compact_slots((uint8_t *)table, cap, sizeof(*table),
					     offsetof(struct ctacct_client,
						      connections));
}

int ctacct_rehash6(const struct ctacct_client6 *old, size_t old_cap,
		   struct ctacct_client6 *new_table, size_t new_cap,
		   size_t *n_used)
{
	size_t i;

	if (old == NULL || n_used == NULL || new_table == NULL ||
	    bad_cap(new_cap, sizeof(*new_table)))
		return CTACCT_E_INVAL;
	*n_used = 0;
	for (i = 0; i < old_cap; i++) {
		struct ctacct_client6 *c;

		if (old[i].connections == 0)
			continue;
		c = table6_slot(new_table, new_cap, n_used, old[i].addr);
		if (c == NULL)
			return CTACCT_E_NOSPC;
		*c = old[i];
	}
	return CTACCT_OK;
}

size_t ctacct_compact6(struct ctacct_client6 *table, size_t cap)
{
	return table == NULL ? 0
			     : compact_slots((uint8_t *)table, cap, sizeof(*table),
					     offsetof(struct ctacct_client6,
						      connections));
}

const char *ctacct_strerror(int status)
{
	switch (status) {
	case CTACCT_OK:
		return "success";
	case CTACCT_E_INVAL:
		return "invalid argument";
	case CTACCT_E_NLMSG_TRUNC:
		return "truncated netlink message header";
	case CTACCT_E_NLMSG_LEN:
		return "netlink message length out of bounds";
	case CTACCT_E_NFGENMSG:
		return "ctnetlink message too short for nfgenmsg";
	case CTACCT_E_NLA_TRUNC:
		return "truncated netlink attribute header";
	case CTACCT_E_NLA_LEN:
		return "netlink attribute length below 4";
	case CTACCT_E_NLA_PAST_END:
		return "netlink attribute past the end of its container";
	case CTACCT_E_PAYLOAD:
		return "wrong payload size for an address or counter attribute";
	case CTACCT_E_NLMSG_ERROR:
		return "NLMSG_ERROR message in the dump";
	case CTACCT_E_NOSPC:
		return "client table full";
	default:
		return "unknown error";
	}
}

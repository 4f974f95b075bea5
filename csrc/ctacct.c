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

enum ctattr_type {
	CTA_TUPLE_ORIG = 1,
	CTA_TUPLE_REPLY = 2,
	CTA_COUNTERS_ORIG = 9,
	CTA_COUNTERS_REPLY = 10
};

enum ctattr_tuple { CTA_TUPLE_IP = 1 };

enum ctattr_ip { CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2 };

enum ctattr_counters {
	CTA_COUNTERS_PACKETS = 1,
	CTA_COUNTERS_BYTES = 2,
	CTA_COUNTERS32_PACKETS = 3,
	CTA_COUNTERS32_BYTES = 4
};

/* What one conntrack entry contributes. */
struct ct_entry {
	int have_orig_src;
	int have_reply_src;
	uint32_t orig_src;  /* network byte order, as in the message */
	uint32_t reply_src;
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

/* CTA_TUPLE_IP: pick CTA_IP_V4_SRC, check CTA_IP_V4_DST's size. */
static int parse_tuple_ip(const uint8_t *buf, size_t pos, size_t end,
			  uint32_t *src, int *have_src, size_t *err_off)
{
	struct nla a;
	int rc;

	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		if (a.type != CTA_IP_V4_SRC && a.type != CTA_IP_V4_DST)
			continue;
		if (a.data_len != 4) {
			*err_off = a.data - NLA_HDRLEN;
			return CTACCT_E_PAYLOAD;
		}
		if (a.type == CTA_IP_V4_SRC) {
			*src = get_u32(buf + a.data);
			*have_src = 1;
		}
	}
	return rc;
}

/* CTA_TUPLE_ORIG or CTA_TUPLE_REPLY: descend into CTA_TUPLE_IP. */
static int parse_tuple(const uint8_t *buf, size_t pos, size_t end,
		       uint32_t *src, int *have_src, size_t *err_off)
{
	struct nla a;
	int rc;

	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		if (a.type != CTA_TUPLE_IP)
			continue;
		rc = parse_tuple_ip(buf, a.data, a.data + a.data_len, src,
				    have_src, err_off);
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

/* Which addresses are stations. */
struct stations {
	uint32_t net_be;
	uint32_t mask_be;
	const uint32_t *exclude_be;
	size_t n_exclude;
};

static int is_excluded(const struct stations *st, uint32_t addr)
{
	size_t i;

	for (i = 0; i < st->n_exclude; i++)
		if (st->exclude_be[i] == addr)
			return 1;
	return 0;
}

static int is_station(const struct stations *st, uint32_t addr)
{
	size_t i;

	if ((addr & st->mask_be) != st->net_be)
		return 0;
	for (i = 0; i < st->n_exclude; i++)
		if (st->exclude_be[i] == addr)
			return 0;
	return 1;
}

/* One IPCTNL_MSG_CT_NEW or _DELETE message at buf[msg..end). */
static int count_entry(const uint8_t *buf, size_t msg, size_t end,
		       const struct stations *st, struct ctacct_client *table,
		       size_t cap, size_t *n_used, size_t *err_off)
{
	struct ct_entry e;
	struct ctacct_client *c;
	struct nla a;
	size_t pos;
	unsigned int family;
	int rc;

	if (end - msg < NLMSG_HDRLEN + NFGENMSG_LEN) {
		*err_off = msg;
		return CTACCT_E_NFGENMSG;
	}
	memset(&e, 0, sizeof(e));
	family = buf[msg + NLMSG_HDRLEN]; /* nfgenmsg.nfgen_family */
	pos = msg + NLMSG_HDRLEN + NFGENMSG_LEN;
	while ((rc = nla_next(buf, &pos, end, &a, err_off)) > 0) {
		size_t a_end = a.data + a.data_len;

		switch (a.type) {
		case CTA_TUPLE_ORIG:
			rc = parse_tuple(buf, a.data, a_end, &e.orig_src,
					 &e.have_orig_src, err_off);
			break;
		case CTA_TUPLE_REPLY:
			rc = parse_tuple(buf, a.data, a_end, &e.reply_src,
					 &e.have_reply_src, err_off);
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
	if (family != FAMILY_AF_INET)
		return CTACCT_OK;

	/* The router at either end: its own traffic (DHCP, DNS to its resolver,
	 * its pings), not a station's through NAT. */
	if ((e.have_orig_src && is_excluded(st, e.orig_src)) ||
	    (e.have_reply_src && is_excluded(st, e.reply_src)))
		return CTACCT_OK;
	if (e.have_orig_src && is_station(st, e.orig_src)) {
		/* The station opened it: orig is what it sent. */
		c = table_slot(table, cap, n_used, e.orig_src);
		if (c == NULL)
			return CTACCT_E_NOSPC;
		c->tx_bytes += e.orig_bytes;
		c->tx_packets += e.orig_packets;
		c->rx_bytes += e.reply_bytes;
		c->rx_packets += e.reply_packets;
	} else if (e.have_reply_src && is_station(st, e.reply_src)) {
		/* Into the station (port forward or routed): reversed. */
		c = table_slot(table, cap, n_used, e.reply_src);
		if (c == NULL)
			return CTACCT_E_NOSPC;
		c->tx_bytes += e.reply_bytes;
		c->tx_packets += e.reply_packets;
		c->rx_bytes += e.orig_bytes;
		c->rx_packets += e.orig_packets;
	} else {
		return CTACCT_OK;
	}
	if (c->connections != UINT32_MAX)
		c->connections++;
	return CTACCT_OK;
}

static int bad_table(const struct ctacct_client *table, size_t cap)
{
	return table == NULL || cap == 0 || (cap & (cap - 1)) != 0 ||
	       cap > SIZE_MAX / 4 / sizeof(*table);
}

int ctacct_count(const uint8_t *buf, size_t len, uint32_t net_be,
		 uint32_t mask_be, const uint32_t *exclude_be, size_t n_exclude,
		 struct ctacct_client *table, size_t cap, size_t *n_used,
		 size_t *err_off)
{
	struct stations st;
	size_t ignored;
	size_t off = 0;

	if (err_off == NULL)
		err_off = &ignored;
	*err_off = 0;
	if ((buf == NULL && len != 0) || bad_table(table, cap) ||
	    n_used == NULL || *n_used > cap ||
	    (exclude_be == NULL && n_exclude != 0))
		return CTACCT_E_INVAL;
	st.net_be = net_be;
	st.mask_be = mask_be;
	st.exclude_be = exclude_be;
	st.n_exclude = n_exclude;

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
			int rc = count_entry(buf, off, off + msg_len, &st,
					     table, cap, n_used, err_off);
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

size_t ctacct_compact(struct ctacct_client *table, size_t cap)
{
	size_t i, n = 0;

	if (table == NULL)
		return 0;
	for (i = 0; i < cap; i++) {
		if (table[i].connections == 0)
			continue;
		if (i != n)
			table[n] = table[i];
		n++;
	}
	if (n < cap)
		memset(&table[n], 0, (cap - n) * sizeof(*table));
	return n;
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

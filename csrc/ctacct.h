/*
 * ctacct -- per-client traffic accounting from a ctnetlink conntrack dump
 * or a batch of conntrack destroy events.
 *
 * The input is what the kernel sends in answer to IPCTNL_MSG_CT_GET (or
 * _GET_CTRZERO) with NLM_F_DUMP, or a batch of destroy events: a run of
 * netlink messages, each an nlmsghdr, a struct nfgenmsg and the CTA_*
 * attributes of one conntrack entry.  ctacct_count() walks the
 * messages and adds the CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY of every IPv4
 * entry to the client it belongs to; ctacct_count6() does the same for the
 * IPv6 entries (stations: addresses in one of a list of prefixes):
 *
 * A station is an address inside the subnet that is not in the exclude list
 * (the router's own address on the subnet goes there: its IGMP reports and
 * its connections to stations are not a station's traffic).
 *
 *   - CTA_TUPLE_ORIG source a station (the station opened the
 *     connection): tx += orig counters, rx += reply counters;
 *   - otherwise CTA_TUPLE_REPLY source a station (a connection into
 *     the station: a port forward, where the original destination is the
 *     router's public address, or a routed connection, where the reply
 *     source equals the original destination): tx += reply counters,
 *     rx += orig counters;
 *   - otherwise the entry is not a client's and is skipped.
 *
 * Clients live in a caller-provided open-addressing hash table, so nothing is
 * allocated here and the memory used is the caller's table only (40 bytes a
 * slot).  The table keeps its contents across calls: a dump can be fed one
 * receive buffer at a time.
 *
 * Parsing rules (mirrored exactly by the pure-Python path in
 * python/hotshare/netlink/ctacct_py.py, which must give the same answers):
 *
 *   - messages: a header needs 16 bytes; 16 <= nlmsg_len <= bytes left; the
 *     next message starts NLMSG_ALIGN(nlmsg_len) further on (the walk ends
 *     if that is past the end).  NLMSG_NOOP, NLMSG_DONE, NLMSG_OVERRUN and
 *     messages of other types are skipped; NLMSG_ERROR is an error.
 *     IPCTNL_MSG_CT_NEW messages of subsystem NFNL_SUBSYS_CTNETLINK (dump
 *     entries) and IPCTNL_MSG_CT_DELETE ones (destroy events of the
 *     NFNLGRP_CONNTRACK_DESTROY group, with an entry's final counters) need
 *     room for the nfgenmsg, and their attributes fill the rest of the message.
 *   - attributes: a header needs 4 bytes; 4 <= nla_len <= bytes left in the
 *     enclosing container; the next attribute starts NLA_ALIGN(nla_len)
 *     further on.  NLA_F_NESTED / NLA_F_NET_BYTEORDER are ignored.
 *   - the walk descends into CTA_TUPLE_ORIG, CTA_TUPLE_REPLY (and their
 *     CTA_TUPLE_IP), CTA_COUNTERS_ORIG and CTA_COUNTERS_REPLY; every other
 *     attribute is skipped unread.  CTA_IP_V4_SRC / CTA_IP_V4_DST must carry
 *     4 bytes, CTA_IP_V6_SRC / CTA_IP_V6_DST 16 (in entries of either family;
 *     an entry's addresses of the other family are not its stations'), CTA_COUNTERS_PACKETS / _BYTES 8 (big endian), the old
 *     CTA_COUNTERS32_* 4.  A repeated attribute: the last one wins.
 *   - sums wrap modulo 2^64, connections modulo 2^32.
 *
 * Nothing is ever read outside [buf, buf + len).
 */
#ifndef CTACCT_H
#define CTACCT_H

#include <stddef.h>
#include <stdint.h>

struct ctacct_client {
	uint32_t addr_be;     /* client IPv4 address, network byte order */
	uint32_t connections; /* entries attributed to it; 0 = empty slot */
	uint64_t tx_bytes;    /* sent by the client */
	uint64_t tx_packets;
	uint64_t rx_bytes;    /* received by the client */
	uint64_t rx_packets;
};

struct ctacct_client6 {
	uint8_t addr[16];     /* client IPv6 address, as in the message */
	uint32_t connections; /* entries attributed to it; 0 = empty slot */
	uint32_t pad;
	uint64_t tx_bytes;
	uint64_t tx_packets;
	uint64_t rx_bytes;
	uint64_t rx_packets;
};

/*
 * The source of the status codes; ctacct_strerror() in ctacct.c holds their
 * texts.  python/hotshare/netlink/status.py copies both (the pure-Python
 * path raises them) and tests/unit/test_ctacct_contract.py checks the copy
 * against this enum and that table.
 */
enum ctacct_status {
	CTACCT_OK = 0,
	CTACCT_E_INVAL = -1,        /* bad arguments */
	CTACCT_E_NLMSG_TRUNC = -2,  /* fewer than 16 bytes left for an nlmsghdr */
	CTACCT_E_NLMSG_LEN = -3,    /* nlmsg_len < 16 or past the end */
	CTACCT_E_NFGENMSG = -4,     /* ctnetlink message without room for nfgenmsg */
	CTACCT_E_NLA_TRUNC = -5,    /* fewer than 4 bytes left for an nlattr */
	CTACCT_E_NLA_LEN = -6,      /* nla_len < 4 */
	CTACCT_E_NLA_PAST_END = -7, /* nla_len past the end of its container */
	CTACCT_E_PAYLOAD = -8,      /* wrong payload size for an address/counter */
	CTACCT_E_NLMSG_ERROR = -9,  /* the dump holds an NLMSG_ERROR message */
	CTACCT_E_NOSPC = -10        /* the client table is full: grow, resume */
};

/*
 * Add the entries of buf[0..len) to the table.
 *
 * net_be / mask_be: the client subnet, both in network byte order (an address
 * a is a client's when (a & mask_be) == net_be) ...
 * exclude_be / n_exclude: ... unless it is one of these (network byte order;
 * may be NULL when n_exclude is 0).
 * table / cap: the hash table; cap a power of two; all-zero when empty.
 * *n_used: in: slots in use on entry; out: slots in use on return.  The table
 * is never filled beyond 3/4 of cap.
 * err_off (may be NULL): on error, the offset in buf of the offending header
 * (nlmsghdr or nlattr).  For CTACCT_E_NOSPC it is the offset of the message
 * that could not be added: every message before it was counted and nothing
 * of it was, so the caller grows the table (ctacct_rehash) and calls again
 * from that offset.
 *
 * Returns CTACCT_OK or a negative enum ctacct_status.
 */
int ctacct_count(const uint8_t *buf, size_t len, uint32_t net_be,
		 uint32_t mask_be, const uint32_t *exclude_be, size_t n_exclude,
		 struct ctacct_client *table, size_t cap, size_t *n_used,
		 size_t *err_off);

/*
 * Move every client of old (old_cap slots) into the empty table new_table
 * (new_cap slots, a power of two).  *n_used receives the count.  Returns
 * CTACCT_OK, CTACCT_E_INVAL or CTACCT_E_NOSPC (new table too small).
 */
int ctacct_rehash(const struct ctacct_client *old, size_t old_cap,
		  struct ctacct_client *new_table, size_t new_cap,
		  size_t *n_used);

/*
 * Pack the used slots at the front of the table (the table is no longer a
 * hash table afterwards).  Returns their number.
 */
size_t ctacct_compact(struct ctacct_client *table, size_t cap);

/*
 * ctacct_count for the IPv6 entries: a station is an address in one of the
 * n_prefixes prefixes (each 32 bytes: the address, then the mask, both as
 * in a message) that is not one of the n_exclude addresses (16 bytes each).
 * The rest as ctacct_count, except that the attributes of entries of other
 * families are skipped unread: the caller runs ctacct_count on the same
 * buffer first, which checks every entry (and stops at the first error, as
 * the pure-Python walk, which does both in one, does).
 */
int ctacct_count6(const uint8_t *buf, size_t len, const uint8_t *prefixes,
		  size_t n_prefixes, const uint8_t *exclude, size_t n_exclude,
		  struct ctacct_client6 *table, size_t cap, size_t *n_used,
		  size_t *err_off);
int ctacct_rehash6(const struct ctacct_client6 *old, size_t old_cap,
		   struct ctacct_client6 *new_table, size_t new_cap,
		   size_t *n_used);
size_t ctacct_compact6(struct ctacct_client6 *table, size_t cap);

/* A short English description of a status code. */
const char *ctacct_strerror(int status);

#endif /* CTACCT_H */

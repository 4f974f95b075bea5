/*
 * ctacct_driver -- run ctacct_count() on dump files, standalone.
 *
 * Built with -fsanitize=address,undefined by `make asan` and driven by
 * tests/unit/test_ctacct_sanitizers.py.  Every buffer handed to ctacct_count
 * is a heap block of exactly the input's size, so AddressSanitizer catches
 * the first byte read past the end.
 *
 *   ctacct_driver [-s NET/PREFIX] [-x ADDR]... [-c CAP] FILE...
 *       print, per file, "ADDR tx_bytes tx_packets rx_bytes rx_packets
 *       connections" per client in address order, or "error CODE OFFSET";
 *       CAP (default 4, a power of two) is the first table size, small so
 *       that the grow-and-resume path runs.
 *   -6 PREFIX (IPv6, e.g. fd42::/64; up to 4) and -X ADDR6 (excluded):
 *       also count the IPv6 entries (ctacct_count6), printed after the IPv4
 *       clients as 32 hex digits instead of an address.
 *   ctacct_driver [options] -p FILE...
 *       every prefix of every file; prints "prefixes N ok K".
 *   ctacct_driver [options] -P FILE...
 *       the same, but the message cut by the prefix is reframed to end
 *       exactly there (its nlmsg_len rewritten): the framing stays valid and
 *       the attributes inside are what is cut.
 *   ctacct_driver [options] -m COUNT -r SEED FILE...
 *       COUNT random corruptions of every file (half of them reframed as
 *       above); prints "mutations N ok K".
 *
 * Exit status: 0, 1 on a usage or I/O error, 2 if an invariant breaks (the
 * sanitizers abort on their own).
 */
#define _POSIX_C_SOURCE 200112L /* inet_pton */
#include "ctacct.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXCLUDE 16

struct options {
	uint32_t net_be;
	uint32_t mask_be;
	uint32_t exclude_be[MAX_EXCLUDE];
	size_t n_exclude;
	size_t first_cap;
	uint8_t prefixes6[4 * 32]; /* address, mask */
	size_t n_prefixes6;
	uint8_t exclude6[MAX_EXCLUDE * 16];
	size_t n_exclude6;
};

struct result {
	int status;
	size_t err_off;
	struct ctacct_client *clients; /* compacted, n of them */
	size_t n;
	struct ctacct_client6 *clients6; /* the same for IPv6 */
	size_t n6;
};

static uint32_t be_from_octets(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t o[4];
	uint32_t v;

	o[0] = (uint8_t)a;
	o[1] = (uint8_t)b;
	o[2] = (uint8_t)c;
	o[3] = (uint8_t)d;
	memcpy(&v, o, sizeof(v));
	return v;
}

static uint32_t host_order(uint32_t be)
{
	uint8_t o[4];

	memcpy(o, &be, sizeof(o));
	return (uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 |
	       (uint32_t)o[2] << 8 | (uint32_t)o[3];
}

static int parse_addr(const char *s, uint32_t *be, unsigned *prefix)
{
	unsigned a, b, c, d, p = 32;
	int n = sscanf(s, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &p);

	if (n < 4 || a > 255 || b > 255 || c > 255 || d > 255 || p > 32)
		return -1;
	*be = be_from_octets(a, b, c, d);
	if (prefix)
		*prefix = p;
	return 0;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/* Count buf the way hotshare.accounting does: grow the table and resume
 * whenever it fills up. */
static struct result count(const uint8_t *buf, size_t len,
			   const struct options *opt)
{
	struct result r;
	size_t cap = opt->first_cap;
	size_t n_used = 0, off = 0;
	struct ctacct_client *table = xcalloc(cap, sizeof(*table));

	memset(&r, 0, sizeof(r));
	for (;;) {
		size_t err = 0;
		int rc = ctacct_count(buf + off, len - off, opt->net_be,
				      opt->mask_be, opt->exclude_be,
				      opt->n_exclude, table, cap, &n_used,
				      &err);

		if (rc == CTACCT_E_NOSPC) {
			struct ctacct_client *bigger =
				xcalloc(cap * 4, sizeof(*bigger));
			size_t moved = 0;

			if (ctacct_rehash(table, cap, bigger, cap * 4,
					  &moved) != CTACCT_OK ||
			    moved != n_used) {
				fprintf(stderr, "rehash lost clients\n");
				exit(2);
			}
			free(table);
			table = bigger;
			cap *= 4;
			off += err;
			continue;
		}
		if (rc != CTACCT_OK) {
			r.status = rc;
			r.err_off = off + err;
			free(table);
			return r;
		}
		break;
	}
	if (n_used * 4 > cap * 3) {
		fprintf(stderr, "table over 3/4 full\n");
		exit(2);
	}
	r.n = ctacct_compact(table, cap);
	if (r.n != n_used) {
		fprintf(stderr, "compact: %zu clients, n_used %zu\n", r.n,
			n_used);
		exit(2);
	}
	r.clients = table;
	return r;
}

/* The IPv6 entries of buf into r (with -6), growing as count() does. */
static void count6(const uint8_t *buf, size_t len, const struct options *opt,
		   struct result *r)
{
	size_t cap = opt->first_cap;
	size_t n_used = 0, off = 0;
	struct ctacct_client6 *table = xcalloc(cap, sizeof(*table));

	for (;;) {
		size_t err = 0;
		int rc = ctacct_count6(buf + off, len - off, opt->prefixes6,
				       opt->n_prefixes6, opt->exclude6,
				       opt->n_exclude6, table, cap, &n_used,
				       &err);

		if (rc == CTACCT_E_NOSPC) {
			struct ctacct_client6 *bigger =
				xcalloc(cap * 4, sizeof(*bigger));
			size_t moved = 0;

			if (ctacct_rehash6(table, cap, bigger, cap * 4,
					   &moved) != CTACCT_OK ||
			    moved != n_used) {
				fprintf(stderr, "rehash6 lost clients\n");
				exit(2);
			}
			free(table);
			table = bigger;
			cap *= 4;
			off += err;
			continue;
		}
		if (rc != CTACCT_OK) {
			r->status = rc;
			r->err_off = off + err;
			free(table);
			return;
		}
		break;
	}
	r->n6 = ctacct_compact6(table, cap);
	if (r->n6 != n_used) {
		fprintf(stderr, "compact6: %zu clients, n_used %zu\n", r->n6,
			n_used);
		exit(2);
	}
	r->clients6 = table;
}

static int by_address6(const void *a, const void *b)
{
	return memcmp(((const struct ctacct_client6 *)a)->addr,
		      ((const struct ctacct_client6 *)b)->addr, 16);
}

static int by_address(const void *a, const void *b)
{
	uint32_t x = host_order(((const struct ctacct_client *)a)->addr_be);
	uint32_t y = host_order(((const struct ctacct_client *)b)->addr_be);

	return x < y ? -1 : x > y;
}

static void print_result(struct result *r)
{
	size_t i;

	if (r->status != CTACCT_OK) {
		printf("error %d %zu\n", r->status, r->err_off);
		return;
	}
	qsort(r->clients, r->n, sizeof(*r->clients), by_address);
	for (i = 0; i < r->n; i++) {
		const struct ctacct_client *c = &r->clients[i];
		uint32_t a = host_order(c->addr_be);

		printf("%u.%u.%u.%u %llu %llu %llu %llu %lu\n", a >> 24,
		       (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff,
		       (unsigned long long)c->tx_bytes,
		       (unsigned long long)c->tx_packets,
		       (unsigned long long)c->rx_bytes,
		       (unsigned long long)c->rx_packets,
		       (unsigned long)c->connections);
	}
	if (r->clients6 != NULL)
		qsort(r->clients6, r->n6, sizeof(*r->clients6), by_address6);
	for (i = 0; i < r->n6; i++) {
		const struct ctacct_client6 *c = &r->clients6[i];
		int k;

		for (k = 0; k < 16; k++)
			printf("%02x", c->addr[k]);
		printf(" %llu %llu %llu %llu %lu\n",
		       (unsigned long long)c->tx_bytes,
		       (unsigned long long)c->tx_packets,
		       (unsigned long long)c->rx_bytes,
		       (unsigned long long)c->rx_packets,
		       (unsigned long)c->connections);
	}
}

/* Both walks, as hotshare.netlink.ctacct does: IPv4, then (with -6) IPv6. */
static struct result count_all(const uint8_t *buf, size_t len,
			       const struct options *opt)
{
	struct result r = count(buf, len, opt);

	if (r.status == CTACCT_OK && opt->n_prefixes6)
		count6(buf, len, opt, &r);
	return r;
}

/* Run on an exact-size heap copy of data[0..len). */
static int run_copy(const uint8_t *data, size_t len, const struct options *opt)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct result r;

	if (copy == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	if (len)
		memcpy(copy, data, len);
	r = count_all(len ? copy : NULL, len, opt);
	free(copy);
	free(r.clients);
	free(r.clients6);
	return r.status;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *bigger;

			cap = cap ? cap * 2 : 65536;
			bigger = realloc(buf, cap);
			if (bigger == NULL) {
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
			buf = bigger;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Make the message that straddles the end of buf[0..len) end exactly at len
 * (when its header is whole), so that only its attributes are truncated. */
static void reframe_last(uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= 16) {
		uint32_t msg_len;

		memcpy(&msg_len, buf + off, sizeof(msg_len));
		if (msg_len < 16 || msg_len >= len - off) {
			msg_len = (uint32_t)(len - off);
			memcpy(buf + off, &msg_len, sizeof(msg_len));
			return;
		}
		off += (msg_len + 3u) & ~(size_t)3u;
		if (off >= len)
			return;
	}
}

/* xorshift32: reproducible corruption without rand()'s libc variance. */
static uint32_t next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void mutate(uint8_t *buf, size_t *len, uint32_t *rng)
{
	unsigned ops = 1 + next_random(rng) % 4;

	while (ops-- && *len) {
		size_t pos = next_random(rng) % *len;

		switch (next_random(rng) % 4) {
		case 0: /* truncate */
			*len = pos;
			break;
		case 1: /* flip a byte */
			buf[pos] = (uint8_t)next_random(rng);
			break;
		case 2: /* a small or huge 16-bit length */
			if (pos + 2 <= *len) {
				static const uint16_t vals[] = {
					0, 1, 3, 4, 5, 8, 12, 16, 20, 0xffff };
				uint16_t v = vals[next_random(rng) % 10];

				memcpy(buf + pos, &v, sizeof(v));
			}
			break;
		default: /* drop a few bytes */
		{
			size_t k = 1 + next_random(rng) % 8;

			if (k > *len - pos)
				k = *len - pos;
			memmove(buf + pos, buf + pos + k, *len - pos - k);
			*len -= k;
		}
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: ctacct_driver [-s NET/PREFIX] [-x ADDR]... "
			"[-6 PREFIX6]... [-X ADDR6]... [-c CAP] "
			"[-p | -P | -m COUNT -r SEED] FILE...\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct options opt;
	int prefixes = 0, reframe = 0;
	unsigned long mutations = 0;
	uint32_t seed = 1;
	int i;

	memset(&opt, 0, sizeof(opt));
	opt.first_cap = 4;
	parse_addr("10.42.0.0/23", &opt.net_be, NULL);
	opt.mask_be = be_from_octets(255, 255, 254, 0);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *flag = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(flag, "-p") == 0 || strcmp(flag, "-P") == 0) {
			prefixes = 1;
			reframe = flag[1] == 'P';
			continue;
		}
		if (val == NULL)
			usage();
		i++;
		if (strcmp(flag, "-s") == 0) {
			unsigned p;
			uint32_t m;

			if (parse_addr(val, &opt.net_be, &p))
				usage();
			m = p ? 0xffffffffu << (32 - p) : 0;
			opt.mask_be = be_from_octets(m >> 24, (m >> 16) & 0xff,
						     (m >> 8) & 0xff, m & 0xff);
			opt.net_be &= opt.mask_be;
		} else if (strcmp(flag, "-x") == 0) {
			if (opt.n_exclude == MAX_EXCLUDE ||
			    parse_addr(val, &opt.exclude_be[opt.n_exclude],
				       NULL))
				usage();
			opt.n_exclude++;
		} else if (strcmp(flag, "-6") == 0) {
			char addr[64];
			unsigned p;
			uint8_t *net = opt.prefixes6 + 32 * opt.n_prefixes6;
			unsigned k;

			if (opt.n_prefixes6 == 4 ||
			    sscanf(val, "%63[0-9a-fA-F:]/%u", addr, &p) != 2 ||
			    p > 128 || inet_pton(AF_INET6, addr, net) != 1)
				usage();
			for (k = 0; k < 16; k++) {
				unsigned bits = p > 8 * k ? p - 8 * k : 0;

				net[16 + k] = (uint8_t)(bits >= 8 ? 0xffu
							: (0xff00u >> bits) & 0xffu);
				net[k] &= net[16 + k];
			}
			opt.n_prefixes6++;
		} else if (strcmp(flag, "-X") == 0) {
			if (opt.n_exclude6 == MAX_EXCLUDE ||
			    inet_pton(AF_INET6, val,
				      opt.exclude6 + 16 * opt.n_exclude6) != 1)
				usage();
			opt.n_exclude6++;
		} else if (strcmp(flag, "-c") == 0) {
			opt.first_cap = strtoul(val, NULL, 0);
			if (opt.first_cap == 0 ||
			    (opt.first_cap & (opt.first_cap - 1)))
				usage();
		} else if (strcmp(flag, "-m") == 0) {
			mutations = strtoul(val, NULL, 0);
		} else if (strcmp(flag, "-r") == 0) {
			seed = (uint32_t)strtoul(val, NULL, 0) | 1u;
		} else {
			usage();
		}
	}
	if (i == argc)
		usage();

	for (; i < argc; i++) {
		size_t len;
		uint8_t *buf = read_file(argv[i], &len);

		if (prefixes) {
			uint8_t *work = xcalloc(len, 1);
			size_t cut, ok = 0;

			for (cut = 0; cut <= len; cut++) {
				memcpy(work, buf, cut);
				if (reframe)
					reframe_last(work, cut);
				ok += run_copy(work, cut, &opt) == CTACCT_OK;
			}
			printf("prefixes %zu ok %zu\n", len + 1, ok);
			free(work);
		} else if (mutations) {
			uint8_t *work = xcalloc(len, 1);
			unsigned long k, ok = 0;

			for (k = 0; k < mutations; k++) {
				size_t wlen = len;

				memcpy(work, buf, len);
				mutate(work, &wlen, &seed);
				if (next_random(&seed) % 2)
					reframe_last(work, wlen);
				ok += run_copy(work, wlen, &opt) == CTACCT_OK;
			}
			printf("mutations %lu ok %lu\n", mutations, ok);
			free(work);
		} else {
			uint8_t *copy = xcalloc(len, 1);
			struct result r;

			memcpy(copy, buf, len);
			r = count_all(len ? copy : NULL, len, &opt);
			print_result(&r);
			free(r.clients);
			free(r.clients6);
			free(copy);
		}
		free(buf);
	}
	return 0;
}

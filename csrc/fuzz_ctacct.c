/*
 * libFuzzer harness for ctacct_count():  make -C csrc fuzz fuzz-run
 *
 * The whole input is the dump (so a recorded dump is a good seed as is).
 * Each input is counted twice: once into a table big enough from the start
 * (4096 slots: an input of at most 8192 bytes, -max_len, holds fewer than
 * 410 messages, so fewer clients than 3/4 of that),
 * once into a one-slot table that has to grow and resume again and again.
 * Beyond the sanitizers' checks, the two runs must agree exactly: same
 * status, same error offset, same clients with the same sums.
 */
#include "ctacct.h"

#include <stdlib.h>
#include <string.h>

struct run {
	int status;
	size_t err_off;
	size_t n;
	struct ctacct_client *clients;
};

static struct run count(const uint8_t *data, size_t size, size_t cap,
			uint32_t net_be, uint32_t mask_be,
			const uint32_t *excl, size_t n_excl)
{
	struct run r;
	size_t n_used = 0, off = 0;
	struct ctacct_client *table = calloc(cap, sizeof(*table));

	memset(&r, 0, sizeof(r));
	if (table == NULL)
		abort();
	for (;;) {
		size_t err = 0;
		int rc = ctacct_count(data + off, size - off, net_be, mask_be,
				      excl, n_excl, table, cap, &n_used, &err);

		if (rc == CTACCT_E_NOSPC) {
			struct ctacct_client *bigger =
				calloc(cap * 2, sizeof(*bigger));
			size_t moved = 0;

			if (bigger == NULL ||
			    ctacct_rehash(table, cap, bigger, cap * 2,
					  &moved) != CTACCT_OK ||
			    moved != n_used)
				abort();
			free(table);
			table = bigger;
			cap *= 2;
			off += err;
			continue;
		}
		r.status = rc;
		r.err_off = rc == CTACCT_OK ? 0 : off + err;
		break;
	}
	r.n = ctacct_compact(table, cap);
	if (r.n != n_used)
		abort();
	r.clients = table;
	return r;
}

/* The same for ctacct_count6: the IPv6 entries. */
struct run6 {
	int status;
	size_t err_off;
	size_t n;
	struct ctacct_client6 *clients;
};

static struct run6 count6(const uint8_t *data, size_t size, size_t cap,
			  const uint8_t *prefix, const uint8_t *excl)
{
	struct run6 r;
	size_t n_used = 0, off = 0;
	struct ctacct_client6 *table = calloc(cap, sizeof(*table));

	memset(&r, 0, sizeof(r));
	if (table == NULL)
		abort();
	for (;;) {
		size_t err = 0;
		int rc = ctacct_count6(data + off, size - off, prefix, 1, excl,
				       1, table, cap, &n_used, &err);

		if (rc == CTACCT_E_NOSPC) {
			struct ctacct_client6 *bigger =
				calloc(cap * 2, sizeof(*bigger));
			size_t moved = 0;

			if (bigger == NULL ||
			    ctacct_rehash6(table, cap, bigger, cap * 2,
					   &moved) != CTACCT_OK ||
			    moved != n_used)
				abort();
			free(table);
			table = bigger;
			cap *= 2;
			off += err;
			continue;
		}
		r.status = rc;
		r.err_off = rc == CTACCT_OK ? 0 : off + err;
		break;
	}
	r.n = ctacct_compact6(table, cap);
	if (r.n != n_used)
		abort();
	r.clients = table;
	return r;
}

static int by_addr6(const void *a, const void *b)
{
	return memcmp(((const struct ctacct_client6 *)a)->addr,
		      ((const struct ctacct_client6 *)b)->addr, 16);
}

static void fuzz6(const uint8_t *data, size_t size)
{
	/* fd42::/64 or ::/0 (address then mask), fd42::1 excluded */
	uint8_t prefix[32] = { 0xfd, 0x42 };
	uint8_t excl[16] = { 0xfd, 0x42 };
	struct run6 big, small;

	excl[15] = 1;
	if (size % 2)
		memset(prefix + 16, 0xff, 8);
	else
		memset(prefix, 0, 2);
	big = count6(data, size, 4096, prefix, excl);
	small = count6(data, size, 1, prefix, excl);
	if (big.status != small.status || big.err_off != small.err_off ||
	    big.n != small.n)
		abort();
	qsort(big.clients, big.n, sizeof(*big.clients), by_addr6);
	qsort(small.clients, small.n, sizeof(*small.clients), by_addr6);
	if (big.n &&
	    memcmp(big.clients, small.clients, big.n * sizeof(*big.clients)))
		abort();
	free(big.clients);
	free(small.clients);
}

static int by_addr(const void *a, const void *b)
{
	uint32_t x = ((const struct ctacct_client *)a)->addr_be;
	uint32_t y = ((const struct ctacct_client *)b)->addr_be;

	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 10.0.0.0/8 catches most of what the fuzzer invents; every other
	 * input uses 0.0.0.0/0 and excludes 10.0.0.1. */
	static const uint8_t net8[4] = { 10, 0, 0, 0 };
	static const uint8_t mask8[4] = { 255, 0, 0, 0 };
	static const uint8_t router[4] = { 10, 0, 0, 1 };
	uint32_t net = 0, mask = 0, excl;
	struct run big, small;

	memcpy(&excl, router, sizeof(excl));
	if (size % 2) {
		memcpy(&net, net8, sizeof(net));
		memcpy(&mask, mask8, sizeof(mask));
	}
	big = count(data, size, 4096, net, mask, &excl, size % 3 == 0);
	small = count(data, size, 1, net, mask, &excl, size % 3 == 0);
	if (big.status != small.status || big.err_off != small.err_off)
		abort();
	/* Even on an error: the messages before the bad one were counted
	 * whole by both runs, the bad one by neither. */
	if (big.n != small.n)
		abort();
	qsort(big.clients, big.n, sizeof(*big.clients), by_addr);
	qsort(small.clients, small.n, sizeof(*small.clients), by_addr);
	if (big.n &&
	    memcmp(big.clients, small.clients, big.n * sizeof(*big.clients)))
		abort();
	free(big.clients);
	free(small.clients);
	fuzz6(data, size);
	return 0;
}

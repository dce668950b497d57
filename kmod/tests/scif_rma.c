// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_rma.c - selftests of windows, RMA, fences and mmap.
 *
 * TAP; each test in its own process; after each, the harness waits for the
 * endpoint/connection counters to return to their old values and for the
 * windows, pinned_pages and rma_inflight counters to be 0.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "harness.h"
#include "rma_util.h"

#define PG		4096UL
#define MiB		(1024UL * 1024)

/* ---- helpers --------------------------------------------------------- */

static int fmark(int fd, int flags, int *mark)
{
	struct scifioctl_fence_mark m = {
		.flags = flags, .mark = (uintptr_t)mark,
	};

	return ioctl(fd, SCIF_FENCE_MARK, &m);
}

static int fwait(int fd, int mark)
{
	return ioctl(fd, SCIF_FENCE_WAIT, mark);
}

/* Mark and wait for every RMA @fd issued (or its peer's, with INIT_PEER). */
static int fence(int fd, int flags)
{
	int mark;

	if (fmark(fd, flags, &mark))
		return -1;
	return fwait(fd, mark);
}

static int fsignal(int fd, long loff, uint64_t lval, long roff,
		   uint64_t rval, int flags)
{
	struct scifioctl_fence_signal s = {
		.loff = loff, .lval = lval, .roff = roff, .rval = rval,
		.flags = flags,
	};

	return ioctl(fd, SCIF_FENCE_SIGNAL, &s);
}

static void fill(void *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t v = xs64(&s);

		memcpy((char *)p + i, &v, 8);
	}
	for (; i < n; i++)
		((char *)p)[i] = (char)xs64(&s);
}

static int all_zero(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const char *)p)[i])
			return 0;
	return 1;
}

static int wait_rma_counters(int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (dbg_counter("windows") == 0 &&
		    dbg_counter("pinned_pages") == 0 &&
		    dbg_counter("rma_inflight") == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

#define RW	(SCIF_PROT_READ | SCIF_PROT_WRITE)

/* ---- REG / UNREG ----------------------------------------------------- */

TEST(reg_errors)
{
	int c, s, fd = ep_open();
	char *b = palloc(8 * PG);
	long o1, o2;

	REQUIRE(fd >= 0);
	CHECK_ERR(reg(fd, b, PG, 0, RW, 0), ENOTCONN);
	REQUIRE(make_pair(&c, &s) == 0);
	CHECK_ERR(reg(c, b + 1, PG, 0, RW, 0), EINVAL);
	CHECK_ERR(reg(c, b, PG + 1, 0, RW, 0), EINVAL);
	CHECK_ERR(reg(c, b, 0, 0, RW, 0), EINVAL);
	CHECK_ERR(reg(c, b, PG, 0, 4, 0), EINVAL);
	CHECK_ERR(reg(c, b, PG, 0, RW, 1), EINVAL);
	CHECK_ERR(reg(c, b, PG, 0, RW, SCIF_MAP_FIXED | 0x20), EINVAL);
	CHECK_ERR(regf(c, b, PG, 0x1001, RW), EINVAL);
	CHECK_ERR(regf(c, b, PG, -PG, RW), EINVAL);
	CHECK_ERR(reg(c, b, PG, -PG, RW, 0), EINVAL);
	CHECK_ERR(regf(c, b, PG, 0x7ffffffffffff000L, RW), EINVAL);
	CHECK_ERR(reg(c, b, -PG, 0, RW, 0), EINVAL);
	CHECK_ERR(reg(c, (void *)0x1000, PG, 0, RW, 0), EFAULT);
	CHECK_ERR(reg(c, (void *)0xffffffff81000000UL, PG, 0, RW, 0), EFAULT);
	CHECK_ERR(reg(c, (void *)0xfffffffffffff000UL, 2 * PG, 0, RW, 0), EFAULT);
	CHECK(dbg_counter("windows") == 0 && dbg_counter("pinned_pages") == 0);

	CHECK(regf(c, b, 4 * PG, 0x100000, RW) == 0x100000);
	CHECK_ERR(regf(c, b, PG, 0x100000 + 3 * PG, RW), EADDRINUSE);
	CHECK_ERR(regf(c, b, 8 * PG, 0x100000 - 4 * PG, RW), EADDRINUSE);
	CHECK(regf(c, b, PG, 0x100000 + 4 * PG, SCIF_PROT_READ) == 0x100000 + 4 * PG);
	CHECK(regf(c, b, PG, 0x100000 - PG, 0) == 0x100000 - PG);
	/* The same pages may back several windows. */
	o1 = reg(c, b, 8 * PG, 0, RW, 0);
	o2 = reg(c, b, 8 * PG, 0x100000, RW, 0);
	CHECK(o1 >= 0 && o1 % PG == 0 && o2 >= 0 && o2 % PG == 0);
	CHECK(o2 >= 0x100000 + 5 * (long)PG);
	CHECK(o1 + 8 * (long)PG <= 0x100000 - (long)PG || o1 >= 0x100000 + 5 * (long)PG);
	CHECK(dbg_counter("windows") == 5);
	CHECK(dbg_counter("pinned_pages") == 22);
	/* A bad out_offset pointer: nothing stays registered. */
	CHECK_ERR(ioctl(c, SCIF_REG, (void *)8), EFAULT);
	close(s);
	CHECK_ERR(reg(c, b, PG, 0, RW, 0), ECONNRESET);
	close(c);
	CHECK(wait_rma_counters(2000) == 0);
	close(fd);
}

TEST(reg_rlimit)
{
	pid_t pid = fork();
	int st;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		char *b = palloc(32 * PG);
		int c, s;

		REQUIRE(make_pair(&c, &s) == 0);
		REQUIRE(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
		/* Drop CAP_IPC_LOCK with everything else. */
		REQUIRE(setgid(65534) == 0 && setuid(65534) == 0);
		CHECK(reg(c, b, 8 * PG, 0, RW, 0) >= 0);
		CHECK_ERR(reg(s, b, 9 * PG, 0, RW, 0), EAGAIN);
		CHECK(regf(s, b, 8 * PG, 0x10000, RW) == 0x10000);
		CHECK_ERR(reg(c, b, PG, 0, SCIF_PROT_READ, 0), EAGAIN);
		CHECK(unreg(s, 0x10000, 8 * PG) == 0);
		CHECK(reg(c, b + 8 * PG, 8 * PG, 0, RW, 0) >= 0);
		CHECK_ERR(reg(c, b, 32 * PG, 0, RW, 0), EAGAIN);
		close(c);
		close(s);
		_exit(t_failed);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(unreg_ranges)
{
	char *b = palloc(16 * PG);
	int c, s, fd = ep_open();

	REQUIRE(fd >= 0 && make_pair(&c, &s) == 0);
	struct scifioctl_unreg u = { 0, PG };

	CHECK_ERR(ioctl(fd, SCIF_UNREG, &u), ENOTCONN);
	CHECK(regf(c, b, 2 * PG, 0x10000, RW) == 0x10000);
	CHECK(regf(c, b, 2 * PG, 0x12000, RW) == 0x12000);
	CHECK(regf(c, b, 2 * PG, 0x20000, RW) == 0x20000);
	CHECK_ERR(unreg(c, 0x10000, PG), EINVAL);		/* partial */
	CHECK_ERR(unreg(c, 0x11000, 2 * PG), EINVAL);		/* straddles */
	CHECK_ERR(unreg(c, 0x10000, 3 * PG), EINVAL);
	CHECK_ERR(unreg(c, 0x10001, 2 * PG), EINVAL);
	CHECK_ERR(unreg(c, 0x10000, 2 * PG + 1), EINVAL);
	CHECK_ERR(unreg(c, 0x10000, 0), EINVAL);
	CHECK_ERR(unreg(c, -PG, PG), EINVAL);
	CHECK_ERR(unreg(c, 0x30000, PG), ENXIO);
	CHECK_ERR(unreg(c, 0x7ffffffffffff000L, 2 * PG), EINVAL);
	CHECK_ERR(unreg(s, 0x10000, 2 * PG), ENXIO);	/* not the peer's */
	CHECK(dbg_counter("windows") == 3);
	CHECK(unreg(c, 0x10000, 2 * PG) == 0);
	CHECK_ERR(unreg(c, 0x10000, 2 * PG), ENXIO);
	CHECK(dbg_counter("windows") == 2);
	/* A range holding whole windows and holes. */
	CHECK(unreg(c, 0, 0x40000) == 0);
	CHECK(dbg_counter("windows") == 0 && dbg_counter("pinned_pages") == 0);
	/* Offsets are free again at once. */
	CHECK(regf(c, b, 4 * PG, 0x10000, RW) == 0x10000);
	/* UNREG still works after the peer closed. */
	close(s);
	CHECK(unreg(c, 0x10000, 4 * PG) == 0);
	close(c);
	close(fd);
}

/* ---- copies ---------------------------------------------------------- */

/*
 * c: local windows 3 + 5 pages at LOFF, LOFF + 3 pages (adjacent);
 * s: windows 4 + 4 pages at ROFF, ROFF + 4 pages.
 */
#define LOFF	0x40000L
#define ROFF	0x80000L
#define SPAN	(8 * PG)

struct rig {
	int c, s;
	char *l, *r;
};

static void rig_up(struct rig *g, int cnode, int snode)
{
	REQUIRE(make_pair_nodes(cnode, snode, &g->c, &g->s) == 0);
	g->l = palloc(SPAN);
	g->r = palloc(SPAN);
	REQUIRE(regf(g->c, g->l, 3 * PG, LOFF, RW) == LOFF);
	REQUIRE(regf(g->c, g->l + 3 * PG, 5 * PG, LOFF + 3 * PG, RW) ==
		LOFF + 3 * (long)PG);
	REQUIRE(regf(g->s, g->r, 4 * PG, ROFF, RW) == ROFF);
	REQUIRE(regf(g->s, g->r + 4 * PG, 4 * PG, ROFF + 4 * PG, RW) ==
		ROFF + 4 * (long)PG);
}

static void rig_down(struct rig *g)
{
	close(g->c);
	close(g->s);
	munmap(g->l, SPAN);
	munmap(g->r, SPAN);
}

static const struct { long lo, ro, len; } cases[] = {
	{ 0, 0, 1 }, { 5, 4093, 63 }, { 64, 128, 64 }, { 4095, 1, 4097 },
	{ 100, 12000, 20000 }, { 1, 3, 32000 }, { 0, 0, SPAN },
	{ 3 * PG - 7, 4 * PG - 9, 100 },
};

static void copy_matrix(int cnode, int snode)
{
	struct rig g;
	int n = 0;

	rig_up(&g, cnode, snode);
	for (int flags = 0; flags < 16; flags++) {
		for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			long lo = cases[i].lo, ro = cases[i].ro, len = cases[i].len;
			uint64_t seed = flags * 100 + i + 1;

			/* writeTo: l -> r */
			fill(g.l, SPAN, seed);
			memset(g.r, 0, SPAN);
			CHECK_OK(rma(g.c, SCIF_WRITETO, LOFF + lo, len, ROFF + ro, flags));
			CHECK_OK(fence(g.c, SCIF_FENCE_INIT_SELF));
			if (memcmp(g.r + ro, g.l + lo, len) || !all_zero(g.r, ro) ||
			    !all_zero(g.r + ro + len, SPAN - ro - len))
				FAILF("writeTo flags %d case %u: data", flags, i);
			/* readFrom: r -> l */
			fill(g.r, SPAN, seed * 7);
			memset(g.l, 0, SPAN);
			CHECK_OK(rma(g.c, SCIF_READFROM, LOFF + lo, len, ROFF + ro, flags));
			CHECK_OK(fence(g.c, SCIF_FENCE_INIT_SELF));
			if (memcmp(g.l + lo, g.r + ro, len) || !all_zero(g.l, lo) ||
			    !all_zero(g.l + lo + len, SPAN - lo - len))
				FAILF("readFrom flags %d case %u: data", flags, i);
			/* The peer's direction: s writes into c's windows. */
			fill(g.r, SPAN, seed * 13);
			memset(g.l, 0, SPAN);
			CHECK_OK(rma(g.s, SCIF_WRITETO, ROFF + ro, len, LOFF + lo, flags));
			CHECK_OK(fence(g.c, SCIF_FENCE_INIT_PEER));
			if (memcmp(g.l + lo, g.r + ro, len))
				FAILF("peer writeTo flags %d case %u: data", flags, i);
			/* v* calls, odd user addresses. */
			char *v = palloc(SPAN + 2 * PG);

			fill(v, SPAN + 2 * PG, seed * 3);
			memset(g.r, 0, SPAN);
			CHECK_OK(vrma(g.c, SCIF_VWRITETO, v + 5 + i, len, ROFF + ro, flags));
			CHECK_OK(fence(g.c, SCIF_FENCE_INIT_SELF));
			if (memcmp(g.r + ro, v + 5 + i, len))
				FAILF("vwriteTo flags %d case %u: data", flags, i);
			memset(v, 0, SPAN + 2 * PG);
			CHECK_OK(vrma(g.c, SCIF_VREADFROM, v + 7, len, ROFF + ro, flags));
			CHECK_OK(fence(g.c, SCIF_FENCE_INIT_SELF));
			if (memcmp(g.r + ro, v + 7, len) || !all_zero(v, 7) ||
			    !all_zero(v + 7 + len, SPAN + 2 * PG - 7 - len))
				FAILF("vreadFrom flags %d case %u: data", flags, i);
			munmap(v, SPAN + 2 * PG);
			n++;
		}
	}
	CHECK(n == 16 * (int)(sizeof(cases) / sizeof(cases[0])));
	rig_down(&g);
}

TEST(copy_all_flags)
{
	copy_matrix(0, 0);
}

TEST(copy_two_nodes)
{
	copy_matrix(0, 1);
}

TEST(copy_large)
{
	size_t big = 16 * MiB;
	char *a = palloc(big), *b = palloc(big), *v = palloc(big + PG);
	int c, s, mark;

	REQUIRE(make_pair(&c, &s) == 0);
	REQUIRE(regf(c, a, big, 0, RW) == 0);
	REQUIRE(regf(s, b, big, 1L << 40, RW) == 1L << 40);
	fill(a, big, 42);
	CHECK_OK(rma(c, SCIF_WRITETO, 0, big, 1L << 40, 0));
	CHECK_OK(fmark(c, SCIF_FENCE_INIT_SELF, &mark));
	CHECK(mark > 0);
	CHECK_OK(fwait(c, mark));
	CHECK(memcmp(a, b, big) == 0);
	fill(b, big, 43);
	CHECK_OK(rma(c, SCIF_READFROM, 0, big, 1L << 40, SCIF_RMA_SYNC));
	CHECK(memcmp(a, b, big) == 0);
	fill(b, big, 44);
	CHECK_OK(vrma(c, SCIF_VREADFROM, v + 3, big - 3, (1L << 40) + 3,
		      SCIF_RMA_ORDERED | SCIF_RMA_USECACHE));
	CHECK_OK(fence(c, SCIF_FENCE_INIT_SELF));
	CHECK(memcmp(v + 3, b + 3, big - 3) == 0);
	fill(v, big, 45);
	CHECK_OK(vrma(c, SCIF_VWRITETO, v + 1, big, 1L << 40, SCIF_RMA_USECPU));
	CHECK(memcmp(v + 1, b, big) == 0);
	close(c);
	close(s);
}

TEST(copy_errors)
{
	char *l = palloc(8 * PG), *r = palloc(8 * PG);
	int c, s, fd = ep_open();

	REQUIRE(fd >= 0 && make_pair(&c, &s) == 0);
	CHECK_ERR(rma(fd, SCIF_WRITETO, 0, 1, 0, 0), ENOTCONN);
	CHECK_ERR(vrma(fd, SCIF_VREADFROM, l, 1, 0, 0), ENOTCONN);
	REQUIRE(regf(c, l, 2 * PG, 0, SCIF_PROT_READ) == 0);
	REQUIRE(regf(c, l + 2 * PG, 2 * PG, 2 * PG, SCIF_PROT_WRITE) == 2 * (long)PG);
	REQUIRE(regf(c, l + 4 * PG, 2 * PG, 6 * PG, RW) == 6 * (long)PG);	/* gap */
	REQUIRE(regf(s, r, 2 * PG, 0, SCIF_PROT_READ) == 0);
	REQUIRE(regf(s, r + 2 * PG, 2 * PG, 2 * PG, SCIF_PROT_WRITE) == 2 * (long)PG);

	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 0, 0, 0), EINVAL);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 1, 2 * PG, 0x10), EINVAL);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 1, 2 * PG, -1), EINVAL);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, l, 0, 2 * PG, 0), EINVAL);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, l, (5UL << 30), 2 * PG, 0), EINVAL);
	/* Protection: writeTo needs local READ and remote WRITE. */
	CHECK_OK(rma(c, SCIF_WRITETO, 0, 100, 2 * PG, SCIF_RMA_SYNC));
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 100, 0, 0), EACCES);
	CHECK_ERR(rma(c, SCIF_WRITETO, 2 * PG, 100, 2 * PG, 0), EACCES);
	CHECK_ERR(rma(c, SCIF_WRITETO, PG, 2 * PG, 2 * PG, 0), EACCES);	/* spans R|W */
	CHECK_OK(rma(c, SCIF_READFROM, 2 * PG, 100, 0, SCIF_RMA_SYNC));
	CHECK_ERR(rma(c, SCIF_READFROM, 2 * PG, 100, 2 * PG, 0), EACCES);
	CHECK_ERR(rma(c, SCIF_READFROM, 0, 100, 0, 0), EACCES);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, r, 10, 0, 0), EACCES);
	CHECK_ERR(vrma(c, SCIF_VREADFROM, r, 10, 2 * PG, 0), EACCES);
	/* Not registered. */
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 100, 4 * PG, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 100, 4 * PG - 50, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, 6 * PG - 10, 100, 2 * PG, 0), ENXIO);	/* gap */
	CHECK_ERR(rma(c, SCIF_WRITETO, 7 * PG, 2 * PG, 2 * PG, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, -1, 1, 2 * PG, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 1, -4096, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0x7fffffffffffffffL, 2, 2 * PG, 0), ENXIO);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, (size_t)-1, 2 * PG, 0), ENXIO);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, l, 10, 40 * PG, 0), ENXIO);
	/* Bad user buffers. */
	CHECK_ERR(vrma(c, SCIF_VWRITETO, NULL, 10, 2 * PG, 0), EFAULT);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, (void *)0xffffffff81000000UL, 10, 2 * PG, 0), EFAULT);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, (void *)-16L, 100, 2 * PG, 0), EFAULT);
	CHECK_ERR(ioctl(c, SCIF_WRITETO, NULL), EFAULT);
	/* The peer's windows, not ours, are the remote side. */
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 10, 6 * PG, 0), ENXIO);
	CHECK_OK(rma(s, SCIF_WRITETO, 0, 10, 6 * PG, 0));
	close(s);
	CHECK_ERR(rma(c, SCIF_WRITETO, 0, 100, 2 * PG, 0), ECONNRESET);
	CHECK_ERR(vrma(c, SCIF_VREADFROM, l, 100, 0, 0), ECONNRESET);
	close(c);
	close(fd);
}

/* Copies keep working with O_NONBLOCK set (the Node addon sets it). */
TEST(copy_nonblock)
{
	char *l = palloc(4 * PG), *r = palloc(4 * PG);
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	fcntl(c, F_SETFL, O_NONBLOCK);
	REQUIRE(regf(c, l, 4 * PG, 0, RW) == 0);
	REQUIRE(regf(s, r, 4 * PG, 0, RW) == 0);
	fill(l, 4 * PG, 9);
	CHECK_OK(rma(c, SCIF_WRITETO, 0, 4 * PG, 0, SCIF_RMA_SYNC));
	CHECK(memcmp(l, r, 4 * PG) == 0);
	CHECK_OK(rma(c, SCIF_WRITETO, 0, 4 * PG, 0, 0));
	CHECK_OK(fence(c, SCIF_FENCE_INIT_SELF));
	close(c);
	close(s);
}

/* ---- fences ---------------------------------------------------------- */

TEST(fence_mark_wait)
{
	size_t big = 4 * MiB;
	char *a = palloc(8 * big), *b = palloc(8 * big);
	int c, s, m0, m1, m2, fd = ep_open();

	REQUIRE(fd >= 0 && make_pair(&c, &s) == 0);
	CHECK_ERR(fmark(fd, SCIF_FENCE_INIT_SELF, &m0), ENOTCONN);
	CHECK_ERR(fwait(fd, 0), ENOTCONN);
	CHECK_ERR(fmark(c, 0, &m0), EINVAL);
	CHECK_ERR(fmark(c, 3, &m0), EINVAL);
	CHECK_ERR(fmark(c, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL, &m0), EINVAL);
	CHECK_ERR(fmark(c, SCIF_FENCE_INIT_SELF, NULL), EFAULT);
	CHECK_OK(fmark(c, SCIF_FENCE_INIT_SELF, &m0));
	CHECK(m0 == 0);
	CHECK_OK(fwait(c, m0));
	CHECK_ERR(fwait(c, 1), EINVAL);		/* not issued yet */
	CHECK_ERR(fwait(c, 12345), EINVAL);
	CHECK_OK(fmark(c, SCIF_FENCE_INIT_PEER, &m1));
	CHECK(m1 < 0 && (m1 & 0x7fffffff) == 0);
	CHECK_OK(fwait(c, m1));
	CHECK_ERR(fwait(c, (int)0x80000001), EINVAL);

	REQUIRE(regf(c, a, 8 * big, 0, RW) == 0);
	REQUIRE(regf(s, b, 8 * big, 0, RW) == 0);
	fill(a, 8 * big, 5);
	for (int i = 0; i < 8; i++)
		CHECK_OK(rma(c, SCIF_WRITETO, i * big, big, i * big, 0));
	CHECK_OK(fmark(c, SCIF_FENCE_INIT_SELF, &m1));
	CHECK(m1 == 8);
	CHECK_OK(fmark(s, SCIF_FENCE_INIT_PEER, &m2));
	CHECK(m2 == (int)(0x80000000u | 8));
	CHECK_OK(fwait(s, m2));
	CHECK(memcmp(a, b, 8 * big) == 0);
	CHECK_OK(fwait(c, m1));
	CHECK_OK(fwait(c, m0));		/* old marks stay valid */
	/* The peer's RMAs, fenced by us. */
	fill(b, 8 * big, 6);
	for (int i = 7; i >= 0; i--)
		CHECK_OK(rma(s, SCIF_WRITETO, i * big, big, i * big, 0));
	CHECK_OK(fence(c, SCIF_FENCE_INIT_PEER));
	CHECK(memcmp(a, b, 8 * big) == 0);
	close(c);
	close(s);
	close(fd);
}

struct waiter {
	int fd, mark, ret, err;
	volatile int done;
	volatile pid_t tid;
};

static void *wait_thread(void *p)
{
	struct waiter *w = p;

	w->tid = (pid_t)syscall(SYS_gettid);
	w->ret = fwait(w->fd, w->mark);
	w->err = errno;
	w->done = 1;
	return NULL;
}

/* Is thread |tid| of this process asleep (in the kernel, waiting)? */
static int thread_sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (!tid)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Closing the fd from another thread wakes a FENCE_WAIT. */
TEST(fence_wait_close)
{
	size_t big = 16 * MiB;
	char *a = palloc(big), *b = palloc(big);
	struct waiter w = { 0 };
	pthread_t th;
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	REQUIRE(regf(c, a, big, 0, RW) == 0);
	REQUIRE(regf(s, b, big, 0, RW) == 0);
	for (int i = 0; i < 48; i++)
		CHECK_OK(rma(c, SCIF_WRITETO, 0, big, 0, 0));
	w.fd = c;
	REQUIRE(fmark(c, SCIF_FENCE_INIT_SELF, &w.mark) == 0);
	pthread_create(&th, NULL, wait_thread, &w);
	/* Close only once the waiter sleeps in FENCE_WAIT (else: EBADF). */
	for (int i = 0; i < 1000 && !w.done && !thread_sleeping(w.tid); i++)
		msleep(5);
	msleep(20);
	close(c);
	for (int i = 0; i < 500 && !w.done; i++)
		msleep(10);
	CHECK(w.done);
	CHECK(w.ret == 0 || (w.ret == -1 && w.err == ECONNRESET));
	pthread_join(th, NULL);
	close(s);
}

/* A peer mark's waiter wakes when the peer closes. */
TEST(fence_wait_peer_close)
{
	size_t big = 16 * MiB;
	char *a = palloc(big), *b = palloc(big);
	struct waiter w = { 0 };
	pthread_t th;
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	REQUIRE(regf(c, a, big, 0, RW) == 0);
	REQUIRE(regf(s, b, big, 0, RW) == 0);
	for (int i = 0; i < 48; i++)
		CHECK_OK(rma(s, SCIF_WRITETO, 0, big, 0, 0));
	w.fd = c;
	REQUIRE(fmark(c, SCIF_FENCE_INIT_PEER, &w.mark) == 0);
	pthread_create(&th, NULL, wait_thread, &w);
	msleep(20);
	close(s);
	for (int i = 0; i < 500 && !w.done; i++)
		msleep(10);
	CHECK(w.done);
	CHECK(w.ret == 0 || (w.ret == -1 && w.err == ECONNRESET));
	pthread_join(th, NULL);
	CHECK_ERR(fmark(c, SCIF_FENCE_INIT_PEER, &w.mark), ECONNRESET);
	close(c);
}

TEST(fence_signal_errors)
{
	char *l = palloc(4 * PG), *r = palloc(4 * PG);
	int c, s, fd = ep_open();

	REQUIRE(fd >= 0 && make_pair(&c, &s) == 0);
	CHECK_ERR(fsignal(fd, 0, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), ENOTCONN);
	REQUIRE(regf(c, l, PG, 0, RW) == 0);
	REQUIRE(regf(c, l + PG, PG, PG, RW) == (long)PG);
	REQUIRE(regf(c, l + 2 * PG, PG, 2 * PG, SCIF_PROT_READ) == 2 * (long)PG);
	REQUIRE(regf(s, r, 2 * PG, 0, RW) == 0);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, 0), EINVAL);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, SCIF_FENCE_INIT_SELF), EINVAL);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, SCIF_SIGNAL_LOCAL), EINVAL);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, 3 | SCIF_SIGNAL_LOCAL), EINVAL);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL | 0x40), EINVAL);
	CHECK_ERR(fsignal(c, 2, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), EINVAL);
	CHECK_ERR(fsignal(c, 0, 1, 6, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE), EINVAL);
	CHECK_ERR(fsignal(c, 8 * PG, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), ENXIO);
	CHECK_ERR(fsignal(c, 3 * PG - 4, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), ENXIO);
	CHECK_ERR(fsignal(c, -8, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), ENXIO);
	CHECK_ERR(fsignal(c, 0, 1, 2 * PG - 4, 1, SCIF_FENCE_INIT_PEER | SCIF_SIGNAL_REMOTE), ENXIO);
	CHECK_ERR(fsignal(c, 2 * PG, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), EACCES);
	/* An unaligned (4-byte) target spanning two windows works. */
	CHECK_ERR(fsignal(c, 2 * PG - 4, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), EACCES);
	CHECK_OK(fsignal(c, PG - 4, 0x1122334455667788ULL, 0, 0,
			 SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL));
	CHECK(*(uint32_t *)(l + PG - 4) == 0x55667788 &&
	      *(uint32_t *)(l + PG) == 0x11223344);
	CHECK_OK(fsignal(c, 0, 0, 4, 0xabcdef0123456789ULL,
			 SCIF_FENCE_INIT_PEER | SCIF_SIGNAL_REMOTE));
	CHECK(memcmp(r + 4, &(uint64_t){ 0xabcdef0123456789ULL }, 8) == 0);
	close(s);
	CHECK_ERR(fsignal(c, 0, 1, 0, 1, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL), ECONNRESET);
	close(c);
	close(fd);
}

/*
 * The value lands only after the data: spin on the flag, then check the
 * data.  @peer: the signal is issued by the target side (INIT_PEER).
 */
static void signal_after_data(int peer, int remote)
{
	size_t big = 8 * MiB;
	char *a = palloc(big), *b = palloc(big);
	uint64_t *fa = palloc(PG), *fb = palloc(PG);
	int c, s, rounds = 4;

	REQUIRE(make_pair(&c, &s) == 0);
	REQUIRE(regf(c, a, big, 0, RW) == 0);
	REQUIRE(regf(s, b, big, 0, RW) == 0);
	REQUIRE(regf(c, fa, PG, 1L << 30, RW) == 1L << 30);
	REQUIRE(regf(s, fb, PG, 1L << 30, RW) == 1L << 30);
	for (int k = 1; k <= rounds; k++) {
		volatile uint64_t *flag = remote ? (peer ? fa : fb) : (peer ? fb : fa);
		int sig_fd = peer ? s : c;

		fill(a, big, k);
		for (int i = 0; i < 8; i++)
			CHECK_OK(rma(c, SCIF_WRITETO, i * (big / 8), big / 8,
				     i * (big / 8), 0));
		if (remote)
			CHECK_OK(fsignal(sig_fd, 0, 0, (1L << 30) + 8, k,
					 (peer ? SCIF_FENCE_INIT_PEER : SCIF_FENCE_INIT_SELF) |
					 SCIF_SIGNAL_REMOTE));
		else
			CHECK_OK(fsignal(sig_fd, (1L << 30) + 8, k, 0, 0,
					 (peer ? SCIF_FENCE_INIT_PEER : SCIF_FENCE_INIT_SELF) |
					 SCIF_SIGNAL_LOCAL));
		for (int i = 0; i < 5000000 && flag[1] != (uint64_t)k; i++)
			sched_yield();
		CHECK(flag[1] == (uint64_t)k);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (memcmp(a, b, big))
			FAILF("round %d: data not complete when the flag landed", k);
	}
	close(c);
	close(s);
}

TEST(fence_signal_self_local)
{
	signal_after_data(0, 0);
}

TEST(fence_signal_self_remote)
{
	signal_after_data(0, 1);
}

TEST(fence_signal_peer_local)
{
	signal_after_data(1, 0);
}

TEST(fence_signal_peer_remote)
{
	signal_after_data(1, 1);
}

/* ---- mmap ------------------------------------------------------------ */

TEST(mmap_peer_window)
{
	char *r = palloc(8 * PG), *m;
	int c, s, fd = ep_open();

	REQUIRE(fd >= 0 && make_pair(&c, &s) == 0);
	CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENOTCONN);
	REQUIRE(regf(s, r, 2 * PG, 0x10000, RW) == 0x10000);
	REQUIRE(regf(s, r + 2 * PG, 2 * PG, 0x12000, RW) == 0x12000);
	REQUIRE(regf(s, r + 4 * PG, 2 * PG, 0x20000, SCIF_PROT_READ) == 0x20000);
	fill(r, 8 * PG, 77);

	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0x10000);
	REQUIRE(m != MAP_FAILED);
	CHECK(memcmp(m, r, 4 * PG) == 0);
	m[5] = 'x';
	m[3 * PG + 9] = 'y';
	CHECK(r[5] == 'x' && r[3 * PG + 9] == 'y');
	r[2 * PG] = 'z';
	CHECK(m[2 * PG] == 'z');
	CHECK(dbg_counter("windows") == 3);
	/* Unregister: the mapping stays valid until munmap. */
	CHECK(unreg(s, 0x10000, 4 * PG) == 0);
	CHECK(dbg_counter("windows") == 3);
	CHECK(dbg_counter("pinned_pages") == 6);
	m[7] = 'q';
	CHECK(r[7] == 'q');
	/* A partial munmap keeps the rest. */
	CHECK(munmap(m, PG) == 0);
	CHECK(m[PG + 1] == r[PG + 1]);
	CHECK(dbg_counter("windows") == 3);
	CHECK(munmap(m + PG, 3 * PG) == 0);
	CHECK(dbg_counter("windows") == 1);
	CHECK(dbg_counter("pinned_pages") == 2);

	/* Errors. */
	CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, c, 0x20000) == MAP_FAILED && errno == EINVAL);
	CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED, c, 0x10000) == MAP_FAILED && errno == ENXIO);
	CHECK(mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, c, 0x20000) == MAP_FAILED && errno == ENXIO);
	CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0x20000) == MAP_FAILED &&
	      errno == EACCES);
	CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED, s, 0x20000) == MAP_FAILED && errno == ENXIO);
	m = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, c, 0x20000);
	REQUIRE(m != MAP_FAILED);
	CHECK(m[PG + 3] == r[4 * PG + PG + 3]);
	CHECK_ERR(mprotect(m, PG, PROT_READ | PROT_WRITE), EACCES);
	/* Close both endpoints: still mapped, windows alive until munmap. */
	close(c);
	close(s);
	CHECK(m[3] == r[4 * PG + 3]);
	CHECK(dbg_counter("windows") == 1);
	CHECK(munmap(m, 2 * PG) == 0);
	CHECK(wait_rma_counters(2000) == 0);
	close(fd);
}

/* Both directions of a pair map each other, across two nodes. */
TEST(mmap_two_nodes)
{
	char *a = palloc(2 * PG), *b = palloc(2 * PG), *ma, *mb;
	int c, s;

	REQUIRE(make_pair_nodes(1, 0, &c, &s) == 0);
	REQUIRE(regf(c, a, 2 * PG, 0, RW) == 0);
	REQUIRE(regf(s, b, 2 * PG, 0, RW) == 0);
	ma = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	mb = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	REQUIRE(ma != MAP_FAILED && mb != MAP_FAILED);
	strcpy(ma + 100, "to c");
	strcpy(mb + PG, "to s");
	CHECK(strcmp(a + 100, "to c") == 0 && strcmp(b + PG, "to s") == 0);
	/* RMA into a window someone has mapped. */
	CHECK_OK(vrma(c, SCIF_VWRITETO, "rma!", 5, 200, SCIF_RMA_SYNC));
	CHECK(strcmp(mb + 200, "rma!") == 0);
	/* fork: the child does not inherit the mapping. */
	pid_t pid = fork();

	if (pid == 0)
		_exit(mincore(mb, PG, (unsigned char[1]){ 0 }) == 0 ? 1 : 0);
	int st;

	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	munmap(ma, 2 * PG);
	close(c);
	close(s);
	CHECK(b[PG] == 't');
	munmap(mb, 2 * PG);
}

/* ---- lifetime -------------------------------------------------------- */

TEST(unreg_inflight)
{
	size_t big = 16 * MiB;
	char *a = palloc(big), *b = palloc(big);
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	for (int round = 0; round < 4; round++) {
		REQUIRE(regf(c, a, big, 0, RW) == 0);
		REQUIRE(regf(s, b, big, 0, RW) == 0);
		for (int i = 0; i < 8; i++)
			CHECK_OK(rma(c, i & 1 ? SCIF_READFROM : SCIF_WRITETO, 0,
				     big, 0, 0));
		CHECK_OK(unreg(c, 0, big));
		CHECK_OK(unreg(s, 0, big));
		CHECK_ERR(rma(c, SCIF_WRITETO, 0, 1, 0, 0), ENXIO);
		CHECK_OK(fence(c, SCIF_FENCE_INIT_SELF));
		CHECK(dbg_counter("windows") == 0);
	}
	close(c);
	close(s);
}

TEST(close_inflight)
{
	size_t big = 16 * MiB;
	char *a = palloc(big), *b = palloc(big);
	int c, s, mark;

	for (int round = 0; round < 4; round++) {
		REQUIRE(make_pair(&c, &s) == 0);
		REQUIRE(regf(c, a, big, 0, RW) == 0);
		REQUIRE(regf(s, b, big, 0, RW) == 0);
		for (int i = 0; i < 8; i++) {
			CHECK_OK(rma(c, SCIF_WRITETO, 0, big, 0, 0));
			CHECK_OK(rma(s, SCIF_WRITETO, 0, big, 0, 0));
		}
		CHECK_OK(fsignal(c, 8, 1, 16, 2, SCIF_FENCE_INIT_PEER |
				 SCIF_SIGNAL_LOCAL | SCIF_SIGNAL_REMOTE));
		if (round & 1) {
			close(c);
			/* The peer sees the reset. */
			CHECK_ERR(rma(s, SCIF_WRITETO, 0, 1, 0, 0), ECONNRESET);
			CHECK_ERR(fmark(s, SCIF_FENCE_INIT_SELF, &mark), ECONNRESET);
			close(s);
		} else {
			close(s);
			close(c);
		}
		CHECK(wait_rma_counters(5000) == 0);
	}
}

/* A process killed with windows, mappings and async RMAs in flight. */
TEST(kill_inflight)
{
	for (int round = 0; round < 3; round++) {
		int p[2];
		char ch;
		pid_t pid;

		REQUIRE(pipe(p) == 0);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			size_t big = 8 * MiB;
			char *a = palloc(big), *b = palloc(big), *m;
			int c, s, c2, s2;

			REQUIRE(make_pair(&c, &s) == 0);
			REQUIRE(make_pair_nodes(0, 1, &c2, &s2) == 0);
			REQUIRE(regf(c, a, big, 0, RW) == 0);
			REQUIRE(regf(s, b, big, 0, RW) == 0);
			REQUIRE(regf(s2, b, big, 0, RW) == 0);
			m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
			REQUIRE(m != MAP_FAILED);
			REQUIRE(write(p[1], "x", 1) == 1);
			for (;;) {
				rma(c, SCIF_WRITETO, 0, big, 0, 0);
				rma(s, SCIF_READFROM, 0, big, 0, 0);
				vrma(c2, SCIF_VWRITETO, a + 1, big - 1, 0, 0);
				fsignal(c, 0, 1, 8, 2, SCIF_FENCE_INIT_SELF |
					SCIF_SIGNAL_LOCAL | SCIF_SIGNAL_REMOTE);
				m[round] = 1;
			}
		}
		close(p[1]);
		CHECK(read(p[0], &ch, 1) == 1);
		close(p[0]);
		msleep(50 + 100 * round);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		CHECK(wait_rma_counters(5000) == 0);
	}
}

int main(void)
{
	static const struct test tests[] = {
		T(reg_errors, 20),
		T(reg_rlimit, 20),
		T(unreg_ranges, 20),
		T(copy_all_flags, 120),
		T(copy_two_nodes, 120),
		T(copy_large, 60),
		T(copy_errors, 20),
		T(copy_nonblock, 20),
		T(fence_mark_wait, 60),
		T(fence_wait_close, 60),
		T(fence_wait_peer_close, 60),
		T(fence_signal_errors, 20),
		T(fence_signal_self_local, 60),
		T(fence_signal_self_remote, 60),
		T(fence_signal_peer_local, 60),
		T(fence_signal_peer_remote, 60),
		T(mmap_peer_window, 20),
		T(mmap_two_nodes, 20),
		T(unreg_inflight, 60),
		T(close_inflight, 60),
		T(kill_inflight, 60),
	};

	return run_tests("scif_rma", tests, sizeof(tests) / sizeof(tests[0]));
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_fuzz.c - random ioctls against /dev/scif*.
 *
 * usage: scif_fuzz SECONDS [THREADS] [SEED]
 *
 * Worker threads issue valid and invalid ioctls with random structure
 * contents, sizes and pointers (NULL, tiny, kernel range, unmapped guard
 * pages, the end of a mapping), poll, toggle O_NONBLOCK, close endpoints
 * other threads are using, build real connections, and fork children that
 * are killed with SIGKILL.  The RMA half: windows registered from the
 * threads' areas, copies (mostly asynchronous) and fences on them, mmaps of
 * the peer's windows that other threads munmap, while other threads
 * unregister and close the same endpoints.  A signal thread interrupts blocking calls.
 *
 * Faults after a partial success: every out-parameter is sometimes on a
 * read-only page (the whole argument, or its tail, so the copy-in works and
 * the copy-out faults), for random ioctls and for REG, ACCEPTREQ and
 * FENCE_MARK on real connections.  Races: thread pairs on one connection's
 * endpoint, one looping (faulting) REG at fixed offsets while the other
 * UNREGs them, mmaps them from the peer, copies, and closes the endpoint.
 * Children fork with endpoints, windows, mmaps and pending accepts open,
 * and some execve the fuzzer on the inherited descriptors.
 *
 * --unpriv: fuzz in a child running as uid/gid 65534 with RLIMIT_MEMLOCK
 * 512 KiB; the root parent checks the counters after it.  At the end everything is closed and the scif debugfs
 * counters must return to zero.  Exit status 0 on success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/scif_ioctl.h>

#include "scif_test_api.h"

#define NSLOTS		48
#define NPORTS		16
#define NHANDLES	16
#define AREA		(64 * 1024)
#define MAXTHR		16
#define NMAPS		16
#define PG		4096UL

static int slots[NSLOTS];
static int ports[NPORTS];
static uint64_t handles[NHANDLES];
static volatile int stop;
static int nthreads = 4, nnodes = 2;
static pthread_t workers[MAXTHR];
static volatile int done_workers;
static long ops, errs_seen;
static long succ[18];	/* successful SCIF ioctls by number */
static uintptr_t maps[NMAPS];	/* mapping address | number of pages */
static pid_t children[64];
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;

struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r)
{
	uint64_t x = r->s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return r->s = x;
}

static unsigned int rn(struct rng *r, unsigned int n)
{
	return n ? rnd(r) % n : 0;
}

static const char *dev_path(int node)
{
	static const char *p[] = { "/dev/scif", "/dev/scif1", "/dev/scif2",
				   "/dev/scif3" };

	return p[node & 3];
}

static int slot_fd(struct rng *r)
{
	switch (rn(r, 20)) {
	case 0:
		return -1;
	case 1:
		return 100000;
	default:
		return __atomic_load_n(&slots[rn(r, NSLOTS)], __ATOMIC_RELAXED);
	}
}

static void slot_put(struct rng *r, int fd)
{
	int old = __atomic_exchange_n(&slots[rn(r, NSLOTS)], fd, __ATOMIC_SEQ_CST);

	if (old > 0)
		close(old);
}

struct thr {
	struct rng r;
	char *area;	/* AREA bytes RW, then a PROT_NONE guard page */
	char *fz;	/* two pages; the second read-only but when filled */
	struct thr *aux;	/* the partner thread's state in op_race */
};

static char *self_exe;

/*
 * A copy of the @size byte argument @arg whose tail (or all of it) is on a
 * read-only page: the kernel reads it, but writing an out-parameter faults.
 */
static void *fault_copy(struct thr *t, const void *arg, size_t size)
{
	char *d = t->fz + PG - rn(&t->r, size);

	mprotect(t->fz + PG, PG, PROT_READ | PROT_WRITE);
	memcpy(d, arg, size);
	mprotect(t->fz + PG, PG, PROT_READ);
	return d;
}

/* Allocate a thread's area and fault pages. */
static int thr_init(struct thr *t, uint64_t seed)
{
	char *a = mmap(NULL, AREA + 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *f = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (a == MAP_FAILED || f == MAP_FAILED || mprotect(a + AREA, 4096, PROT_NONE))
		return -1;
	t->area = a;
	t->fz = f;
	t->r.s = seed | 1;
	return 0;
}

/* A pointer for the kernel to read or write: usually inside the area. */
static void *fuzz_ptr(struct thr *t, size_t need)
{
	struct rng *r = &t->r;

	switch (rn(r, 16)) {
	case 0:
		return NULL;
	case 1:
		return (void *)0x10;
	case 2:
		return (void *)0xffffffff81000000UL;
	case 3:
		return (void *)(uintptr_t)rnd(r);
	case 4:
		return t->area + AREA;			/* guard page */
	case 5:
		return t->area + AREA - rn(r, need + 1);	/* straddles */
	default:
		if (need >= AREA)
			return t->area;
		return t->area + rn(r, AREA - need);
	}
}

static int fuzz_port(struct rng *r)
{
	switch (rn(r, 6)) {
	case 0:
		return 0;
	case 1:
		return rn(r, 70000);
	case 2:
		return rn(r, 1100);
	default:
		return __atomic_load_n(&ports[rn(r, NPORTS)], __ATOMIC_RELAXED);
	}
}

static int fuzz_len(struct rng *r)
{
	switch (rn(r, 8)) {
	case 0:
		return -(int)rn(r, 10) - 1;
	case 1:
		return (int)rnd(r);
	case 2:
		return 0;
	case 3:
		return rn(r, 2 * AREA);
	default:
		return rn(r, 512);
	}
}

static void fill_random(struct rng *r, void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)p)[i] = rnd(r);
}

/* Offsets in the registered space: mostly small page multiples. */
static long fuzz_off(struct rng *r)
{
	switch (rn(r, 10)) {
	case 0:
		return (long)rnd(r);
	case 1:
		return -(long)PG * (1 + rn(r, 4));
	case 2:
		return PG * rn(r, 32) + rn(r, PG);
	default:
		return PG * rn(r, 32);
	}
}

static int fuzz_rma_flags(struct rng *r)
{
	return rn(r, 8) ? (int)rn(r, 16) : (int)rnd(r);
}

/* Publish a mapping for other threads to munmap; unmaps the one replaced. */
static void map_put(struct rng *r, void *p, size_t npages)
{
	uintptr_t old = __atomic_exchange_n(&maps[rn(r, NMAPS)],
					    (uintptr_t)p | npages,
					    __ATOMIC_SEQ_CST);

	if (old)
		munmap((void *)(old & ~(PG - 1)), (old & (PG - 1)) * PG);
}

static void map_drop(struct rng *r)
{
	uintptr_t old = __atomic_exchange_n(&maps[rn(r, NMAPS)], 0,
					    __ATOMIC_SEQ_CST);

	if (old)
		munmap((void *)(old & ~(PG - 1)), (old & (PG - 1)) * PG);
}

static unsigned long fuzz_cmd(struct rng *r)
{
	static const unsigned long cmds[] = {
		SCIF_BIND, SCIF_LISTEN, SCIF_CONNECT, SCIF_ACCEPTREQ,
		SCIF_ACCEPTREG, SCIF_SEND, SCIF_RECV, SCIF_REG, SCIF_UNREG,
		SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM, SCIF_VWRITETO,
		SCIF_GET_NODEIDS, SCIF_FENCE_MARK, SCIF_FENCE_WAIT,
		SCIF_FENCE_SIGNAL,
	};

	switch (rn(r, 10)) {
	case 0:
		return _IOC(rn(r, 4), 's', rn(r, 32), rn(r, 64));
	case 1:
		return (uint32_t)rnd(r);
	default:
		return cmds[rn(r, sizeof(cmds) / sizeof(cmds[0]))];
	}
}

/* Build the argument of @cmd in the area (or a bad pointer). */
static unsigned long fuzz_arg(struct thr *t, unsigned long cmd)
{
	struct rng *r = &t->r;
	void *p;

	switch (cmd) {
	case SCIF_LISTEN:
		return rn(r, 4) ? rn(r, 2000) : (unsigned long)(int)rnd(r);
	case SCIF_FENCE_WAIT:
		if (rn(r, 2))
			return rn(r, 64) | (rn(r, 2) ? 0x80000000UL : 0);
		return rnd(r);
	}
	p = fuzz_ptr(t, 64);
	if ((uintptr_t)p < (uintptr_t)t->area ||
	    (uintptr_t)p + 64 > (uintptr_t)t->area + AREA)
		return (unsigned long)p;
	fill_random(r, p, 64);
	switch (cmd) {
	case SCIF_BIND:
		*(int *)p = fuzz_port(r);
		break;
	case SCIF_CONNECT: {
		struct scifioctl_connect *c = p;

		c->peer.node = rn(r, 5) ? rn(r, nnodes) : rn(r, 300);
		c->peer.port = fuzz_port(r);
		break;
	}
	case SCIF_ACCEPTREQ: {
		struct scifioctl_accept *a = p;

		a->flags = rn(r, 8) ? 0 : (rn(r, 2) ? SCIF_ACCEPT_SYNC : (int)rnd(r));
		break;
	}
	case SCIF_ACCEPTREG:
		if (rn(r, 4))
			*(uint64_t *)p = __atomic_load_n(&handles[rn(r, NHANDLES)],
							 __ATOMIC_RELAXED);
		break;
	case SCIF_SEND:
	case SCIF_RECV: {
		struct scifioctl_msg *m = p;
		int len = fuzz_len(r);

		m->len = len;
		m->msg = (uintptr_t)fuzz_ptr(t, len > 0 ? len : 0);
		m->flags = rn(r, 4) ? 0 : (rn(r, 2) ? 1 : (int)rnd(r));
		break;
	}
	case SCIF_REG: {
		struct scifioctl_reg *g = p;

		g->addr = rn(r, 4) ? (uintptr_t)(t->area + PG * rn(r, 16)) :
			  (uintptr_t)fuzz_ptr(t, PG);
		g->len = rn(r, 6) ? PG * (1 + rn(r, 4)) : rnd(r) >> rn(r, 64);
		g->offset = fuzz_off(r);
		g->prot = rn(r, 6) ? (int)(1 + rn(r, 3)) : (int)rnd(r);
		g->flags = rn(r, 3) ? 0 : rn(r, 3) ? SCIF_MAP_FIXED : (int)rnd(r);
		break;
	}
	case SCIF_UNREG: {
		struct scifioctl_unreg *u = p;

		u->offset = fuzz_off(r);
		u->len = rn(r, 6) ? PG * (1 + rn(r, 8)) : rnd(r) >> rn(r, 64);
		break;
	}
	case SCIF_READFROM:
	case SCIF_WRITETO:
	case SCIF_VREADFROM:
	case SCIF_VWRITETO: {
		struct scifioctl_copy *c = p;

		c->loffset = fuzz_off(r);
		c->roffset = fuzz_off(r);
		c->len = rn(r, 6) ? 1 + rn(r, 8 * PG) : rnd(r) >> rn(r, 64);
		c->addr = (uintptr_t)fuzz_ptr(t, c->len < AREA ? c->len : AREA);
		c->flags = fuzz_rma_flags(r);
		break;
	}
	case SCIF_FENCE_MARK: {
		struct scifioctl_fence_mark *m = p;

		m->flags = rn(r, 6) ? (int)(1 + rn(r, 2)) : (int)rnd(r);
		m->mark = (uintptr_t)fuzz_ptr(t, 4);
		break;
	}
	case SCIF_FENCE_SIGNAL: {
		struct scifioctl_fence_signal *f = p;

		f->loff = fuzz_off(r) & ~(rn(r, 8) ? 3L : 0L);
		f->roff = fuzz_off(r) & ~(rn(r, 8) ? 3L : 0L);
		f->lval = rnd(r);
		f->rval = rnd(r);
		f->flags = rn(r, 6) ? (int)((1 + rn(r, 2)) | (0x10 * (1 + rn(r, 3)))) :
			   (int)rnd(r);
		break;
	}
	case SCIF_GET_NODEIDS: {
		struct scifioctl_node_ids *n = p;

		n->len = rn(r, 3) ? (int)rn(r, 300) : (int)rnd(r);
		n->nodes = (uintptr_t)fuzz_ptr(t, 600);
		n->self = (uintptr_t)fuzz_ptr(t, 2);
		break;
	}
	default:
		break;
	}
	return (unsigned long)p;
}

static void remember_port(struct rng *r, int port)
{
	__atomic_store_n(&ports[rn(r, NPORTS)], port, __ATOMIC_RELAXED);
}

static void op_ioctl(struct thr *t)
{
	struct rng *r = &t->r;
	unsigned long cmd = fuzz_cmd(r), arg;
	int fd = slot_fd(r);

	if (fd <= 2)
		fd = -1;
	arg = fuzz_arg(t, cmd);
	if (!rn(r, 4) && (char *)arg >= t->area && (char *)arg + 64 <= t->area + AREA)
		arg = (unsigned long)fault_copy(t, (void *)arg, 64);
	if (ioctl(fd, cmd, arg) == 0) {
		if (_IOC_TYPE(cmd) == 's' && _IOC_NR(cmd) < 18)
			__atomic_fetch_add(&succ[_IOC_NR(cmd)], 1, __ATOMIC_RELAXED);
		if (cmd == SCIF_BIND && (char *)arg >= t->area &&
		    (char *)arg < t->area + AREA)
			remember_port(r, *(int *)arg & 0xffff);
		if (cmd == SCIF_ACCEPTREQ && (char *)arg >= t->area &&
		    (char *)arg < t->area + AREA)
			__atomic_store_n(&handles[rn(r, NHANDLES)],
					 ((struct scifioctl_accept *)arg)->endpt,
					 __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&errs_seen, 1, __ATOMIC_RELAXED);
	}
}

/* A listener, a connection and an accept: real connected states. */
static void op_pair(struct thr *t)
{
	struct rng *r = &t->r;
	int node = rn(r, nnodes), l = open(dev_path(node), O_RDWR | O_CLOEXEC);
	int c = open(dev_path(rn(r, nnodes)), O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int port = 0, a;
	struct scifioctl_connect cc = { 0 };
	struct scifioctl_accept ac = { 0 };

	if (l < 0 || c < 0)
		goto out;
	if (ioctl(l, SCIF_BIND, &port) || ioctl(l, SCIF_LISTEN, 1 + rn(r, 4)))
		goto out;
	remember_port(r, port);
	cc.peer.node = node;
	cc.peer.port = port;
	ioctl(c, SCIF_CONNECT, &cc);
	if (!rn(r, 3))		/* the copy-out faults: the request must stay */
		ioctl(l, SCIF_ACCEPTREQ, fault_copy(t, &ac, sizeof(ac)));
	if (ioctl(l, SCIF_ACCEPTREQ, &ac) == 0) {
		__atomic_store_n(&handles[rn(r, NHANDLES)], ac.endpt,
				 __ATOMIC_RELAXED);
		if (rn(r, 4)) {
			a = open(dev_path(node), O_RDWR | O_CLOEXEC);
			if (a >= 0) {
				ioctl(a, SCIF_ACCEPTREG, &ac.endpt);
				slot_put(r, a);
			}
		}
	}
	ioctl(c, SCIF_CONNECT, &cc);
	if (rn(r, 2)) {
		slot_put(r, l);
		l = -1;
	}
	slot_put(r, c);
	c = -1;
out:
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
}

/* ioctl(), counting successes by command number. */
static int cioctl(int fd, unsigned long cmd, unsigned long arg)
{
	int ret = ioctl(fd, cmd, arg);

	if (ret == 0 && _IOC_TYPE(cmd) == 's' && _IOC_NR(cmd) < 18)
		__atomic_fetch_add(&succ[_IOC_NR(cmd)], 1, __ATOMIC_RELAXED);
	return ret;
}

/* Register windows from @t's area on @fd: mostly at offsets others hit. */
static void rma_reg(struct thr *t, int fd)
{
	struct rng *r = &t->r;
	struct scifioctl_reg g = {
		.addr = (uintptr_t)(t->area + PG * rn(r, 12)),
		.len = PG * (1 + rn(r, 4)),
		.offset = PG * rn(r, 8),
		.prot = 1 + rn(r, 3),
		.flags = rn(r, 2) ? SCIF_MAP_FIXED : 0,
	};

	if (!rn(r, 3))
		cioctl(fd, SCIF_REG, (unsigned long)fault_copy(t, &g, sizeof(g)));
	else
		cioctl(fd, SCIF_REG, (unsigned long)&g);
}

/*
 * A real connection with windows on both sides, then RMAs, fences, fence
 * signals, mmaps and unregistrations on it; the endpoints are usually left
 * in the slots, for other threads to use and close.
 */
/* A listener @l and a connection @c (connector) - @s (accepted): 0 or -1. */
static int conn_setup(struct thr *t, int *lp, int *cp, int *sp)
{
	struct rng *r = &t->r;
	int node = rn(r, nnodes), l, c, s, port = 0;
	struct scifioctl_connect cc = { 0 };
	struct scifioctl_accept ac = { .flags = SCIF_ACCEPT_SYNC };

	*lp = l = open(dev_path(node), O_RDWR | O_CLOEXEC);
	*cp = c = open(dev_path(rn(r, nnodes)), O_RDWR | O_CLOEXEC | O_NONBLOCK);
	*sp = s = open(dev_path(node), O_RDWR | O_CLOEXEC | (rn(r, 2) ? O_NONBLOCK : 0));
	if (l < 0 || c < 0 || s < 0)
		return -1;
	if (cioctl(l, SCIF_BIND, (unsigned long)&port) || cioctl(l, SCIF_LISTEN, 1))
		return -1;
	cc.peer.node = node;
	cc.peer.port = port;
	cioctl(c, SCIF_CONNECT, (unsigned long)&cc);
	if (!rn(r, 4))
		cioctl(l, SCIF_ACCEPTREQ, (unsigned long)fault_copy(t, &ac, sizeof(ac)));
	if (cioctl(l, SCIF_ACCEPTREQ, (unsigned long)&ac) ||
	    cioctl(s, SCIF_ACCEPTREG, (unsigned long)&ac.endpt))
		return -1;
	for (int i = 0; i < 50 && cioctl(c, SCIF_CONNECT, (unsigned long)&cc) && errno != EISCONN; i++)
		usleep(100);
	return 0;
}

static void op_rma(struct thr *t)
{
	struct rng *r = &t->r;
	int l, c, s, mark;

	if (conn_setup(t, &l, &c, &s))
		goto out;
	for (int i = 1 + rn(r, 3); i > 0; i--) {
		rma_reg(t, c);
		rma_reg(t, s);
	}
	for (int i = 4 + rn(r, 16); i > 0; i--) {
		int fd = rn(r, 2) ? c : s;
		struct scifioctl_copy cp = {
			.loffset = PG * rn(r, 8) + rn(r, 2) * rn(r, PG),
			.roffset = PG * rn(r, 8) + rn(r, 2) * rn(r, PG),
			.len = 1 + rn(r, rn(r, 4) ? 2 * PG : 4 * PG),
			.flags = rn(r, 16),
		};
		struct scifioctl_fence_signal fs = {
			.loff = PG * rn(r, 8) + 4 * rn(r, 1024),
			.roff = PG * rn(r, 8) + 4 * rn(r, 1024),
			.lval = rnd(r), .rval = rnd(r),
			.flags = (1 + rn(r, 2)) | (0x10 * (1 + rn(r, 3))),
		};
		volatile char *m;
		size_t np;

		switch (rn(r, 8)) {
		case 0:
		case 1:
			cioctl(fd, rn(r, 2) ? SCIF_WRITETO : SCIF_READFROM,
			       (unsigned long)&cp);
			break;
		case 2:
			cp.addr = (uintptr_t)t->area + rn(r, AREA - cp.len);
			cioctl(fd, rn(r, 2) ? SCIF_VWRITETO : SCIF_VREADFROM,
			       (unsigned long)&cp);
			break;
		case 3: {
			struct scifioctl_fence_mark fm = {
				.flags = 1 + rn(r, 2), .mark = (uintptr_t)&mark,
			};

			if (!rn(r, 4))
				fm.mark = (uintptr_t)t->fz + PG + rn(r, PG - 4);

			if (cioctl(fd, SCIF_FENCE_MARK, (unsigned long)&fm) == 0 && rn(r, 2))
				cioctl(fd, SCIF_FENCE_WAIT, (unsigned long)mark);
			break;
		}
		case 4:
			cioctl(fd, SCIF_FENCE_SIGNAL, (unsigned long)&fs);
			break;
		case 5:
			np = 1 + rn(r, 3);
			m = mmap(NULL, np * PG, PROT_READ | (rn(r, 2) ? PROT_WRITE : 0),
				 MAP_SHARED, fd, PG * rn(r, 8));
			if (m == MAP_FAILED)
				break;
			(void)m[rn(r, np * PG)];
			map_put(r, (void *)m, np);
			break;
		case 6: {
			struct scifioctl_unreg u = {
				.offset = PG * rn(r, 8), .len = PG * (1 + rn(r, 8)),
			};

			cioctl(fd, SCIF_UNREG, (unsigned long)&u);
			break;
		}
		default:
			rma_reg(t, fd);
			break;
		}
	}
	if (rn(r, 4)) {
		slot_put(r, c);
		c = -1;
	}
	if (rn(r, 4)) {
		slot_put(r, s);
		s = -1;
	}
out:
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
}

/* One side of op_race: REG (often faulting), UNREG, peer mmap, copies. */
struct race {
	struct thr *t;
	int fd, peer, closer;
	int iters;
};

static void *race_body(void *p)
{
	struct race *a = p;
	struct thr *t = a->t;
	struct rng *r = &t->r;

	for (int i = 0; i < a->iters; i++) {
		long off = PG * rn(r, 4);
		struct scifioctl_reg g = {
			.addr = (uintptr_t)(t->area + PG * rn(r, 12)),
			.len = PG * (1 + rn(r, 2)), .offset = off,
			.prot = rn(r, 4), .flags = SCIF_MAP_FIXED,
		};
		struct scifioctl_unreg u = { .offset = off, .len = PG * (1 + rn(r, 2)) };
		struct scifioctl_copy cp = {
			.loffset = off, .roffset = PG * rn(r, 4), .len = 1 + rn(r, 2 * PG),
			.flags = rn(r, 16),
		};
		volatile char *m;

		switch (rn(r, 8)) {
		case 0: case 1: case 2:
			cioctl(a->fd, SCIF_REG, (unsigned long)fault_copy(t, &g, sizeof(g)));
			break;
		case 3:
			cioctl(a->fd, SCIF_REG, (unsigned long)&g);
			break;
		case 4:
			cioctl(a->fd, SCIF_UNREG, (unsigned long)&u);
			break;
		case 5:
			m = mmap(NULL, PG, rn(r, 3) ? PROT_READ : PROT_NONE, MAP_SHARED,
				 a->peer, off);
			if (m != MAP_FAILED) {
				if (!rn(r, 2))
					mprotect((void *)m, PG, PROT_READ | PROT_WRITE);
				map_put(r, (void *)m, 1);
			}
			break;
		case 6:
			cioctl(a->fd, rn(r, 2) ? SCIF_WRITETO : SCIF_READFROM,
			       (unsigned long)&cp);
			break;
		default:
			if (a->closer && !rn(r, 16)) {
				close(a->fd);		/* the opener's close: shutdown */
				a->fd = -1;
				return NULL;
			}
			break;
		}
	}
	return NULL;
}

/* Two threads racing on one connection's endpoint (finding 1's class). */
static void op_race(struct thr *t)
{
	struct race a = { .t = t, .iters = 20 + rn(&t->r, 200), .closer = 1 };
	struct race b = { .t = t->aux, .iters = 20 + rn(&t->r, 200) };
	int l, c, s, d;
	pthread_t th;

	if (conn_setup(t, &l, &c, &s))
		goto out;
	d = dup(c);
	if (d < 0)
		goto out;
	a.fd = c;
	a.peer = s;
	b.fd = d;
	b.peer = s;
	t->aux->r.s ^= rnd(&t->r);
	if (pthread_create(&th, NULL, race_body, &b)) {
		close(d);
		goto out;
	}
	race_body(&a);
	c = a.fd;
	pthread_join(th, NULL);
	close(d);
	if (rn(&t->r, 2)) {
		slot_put(&t->r, s);
		s = -1;
	}
out:
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
}

static void op_misc(struct thr *t)
{
	struct rng *r = &t->r;
	struct pollfd pf[4];
	int fd;

	switch (rn(r, 7)) {
	case 6:
		map_drop(r);
		break;
	case 0:
		fd = open(dev_path(rn(r, nnodes + 1)), O_RDWR | O_CLOEXEC |
			  (rn(r, 2) ? O_NONBLOCK : 0));
		if (fd >= 0)
			slot_put(r, fd);
		break;
	case 1:
		fd = __atomic_exchange_n(&slots[rn(r, NSLOTS)], -1, __ATOMIC_SEQ_CST);
		if (fd > 0)
			close(fd);
		break;
	case 2:
		for (int i = 0; i < 4; i++) {
			pf[i].fd = slot_fd(r);
			pf[i].events = POLLIN | POLLOUT;
		}
		poll(pf, 4, rn(r, 3));
		break;
	case 3:
		fd = slot_fd(r);
		if (fd > 2)
			fcntl(fd, F_SETFL, rn(r, 2) ? O_NONBLOCK : 0);
		break;
	case 4:
		fd = slot_fd(r);
		if (fd > 2) {
			size_t np = 1 + rn(r, 4);
			int prot = rn(r, 2) ? PROT_READ : PROT_READ | PROT_WRITE;
			volatile char *m = mmap(NULL, np * PG, prot,
						rn(r, 8) ? MAP_SHARED : MAP_PRIVATE,
						fd, PG * rn(r, 32));

			if (m != MAP_FAILED) {
				(void)m[rn(r, np * PG)];
				if (prot & PROT_WRITE)
					m[rn(r, np * PG)] = 1;
				if (rn(r, 2))
					map_put(r, (void *)m, np);
				else
					munmap((void *)m, np * PG);
			}
		}
		break;
	case 5:
		fd = slot_fd(r);
		if (fd > 2) {
			int d = dup(fd);

			if (d >= 0)
				close(d);
		}
		break;
	}
}

static void child_body(struct thr *t)
{
	for (;;) {
		switch (rn(&t->r, 6)) {
		case 5:
			if (t->aux)
				op_race(t);
			break;
		case 4:
			op_rma(t);
			break;
		case 0:
			op_pair(t);
			break;
		case 1:
			op_misc(t);
			break;
		default:
			op_ioctl(t);
			break;
		}
	}
}

static void op_fork(struct thr *t)
{
	pid_t pid;
	int idx = -1;

	pthread_mutex_lock(&child_lock);
	for (int i = 0; i < 64; i++)
		if (!children[i]) {
			idx = i;
			break;
		}
	if (idx < 0) {
		pthread_mutex_unlock(&child_lock);
		return;
	}
	pid = fork();
	if (pid == 0) {
		t->r.s ^= getpid() * 0x9e3779b97f4a7c15ULL;
		alarm(5);
		/* A pending accept and a window, then maybe execve. */
		op_pair(t);
		op_rma(t);
		if (self_exe && rn(&t->r, 2)) {
			char seed[32];

			for (int i = 0; i < NSLOTS; i++)
				if (slots[i] > 2)
					fcntl(slots[i], F_SETFD, 0);
			snprintf(seed, sizeof(seed), "%llu", (unsigned long long)t->r.s);
			execl(self_exe, "scif_fuzz", "--exec-child", seed, (char *)NULL);
		}
		child_body(t);
		_exit(0);
	}
	if (pid > 0)
		children[idx] = pid;
	pthread_mutex_unlock(&child_lock);
}

static void reap_children(int all)
{
	pthread_mutex_lock(&child_lock);
	for (int i = 0; i < 64; i++) {
		if (!children[i])
			continue;
		if (all || rand() % 4 == 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	pthread_mutex_unlock(&child_lock);
}

static void *worker(void *p)
{
	struct thr *t = p;

	while (!stop) {
		unsigned int k = rn(&t->r, 100);

		if (k < 55)
			op_ioctl(t);
		else if (k < 65)
			op_pair(t);
		else if (k < 72)
			op_rma(t);
		else if (k < 76)
			op_race(t);
		else if (k < 99)
			op_misc(t);
		else
			op_fork(t);
		__atomic_fetch_add(&ops, 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&done_workers, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void on_sig(int s) { (void)s; }

static long counter(const char *name)
{
	char path[128], buf[32];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/scif/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* The fork-then-execve'd child: fuzz the inherited descriptors. */
static int exec_child(uint64_t seed)
{
	static struct thr t, aux;
	int n = 0;

	alarm(3);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	for (int fd = 3; fd < 1024 && n < NSLOTS; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			slots[n++] = fd;
		}
	if (thr_init(&t, seed) || thr_init(&aux, seed * 3))
		return 1;
	t.aux = &aux;
	nnodes = 2;
	child_body(&t);
	return 0;
}

static void close_all_slots(void)
{
	for (int i = 0; i < NSLOTS; i++) {
		int fd = __atomic_exchange_n(&slots[i], -1, __ATOMIC_SEQ_CST);

		if (fd > 0)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = { "endpoints", "connections", "windows",
				       "pinned_pages", "rma_inflight" };
	struct sigaction sa = { .sa_handler = on_sig };
	struct rlimit rl = { 4096, 4096 };
	static struct thr thr[MAXTHR];
	int seconds, bad = 0, unpriv = 0, unpriv_failed = 0;
	uint64_t seed;
	time_t end;

	if (argc == 3 && !strcmp(argv[1], "--exec-child"))
		return exec_child(strtoull(argv[2], NULL, 0));
	if (argc > 1 && !strcmp(argv[1], "--unpriv")) {
		unpriv = 1;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s [--unpriv] SECONDS [THREADS] [SEED]\n", argv[0]);
		return 2;
	}
	self_exe = realpath("/proc/self/exe", NULL);
	seconds = atoi(argv[1]);
	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (nthreads < 1 || nthreads > MAXTHR)
		nthreads = 4;
	seed = argc > 3 ? strtoull(argv[3], NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	nnodes = counter("nodes");
	if (nnodes < 1 || access("/dev/scif", R_OK | W_OK)) {
		fprintf(stderr, "scif_fuzz: /dev/scif or /sys/kernel/debug/scif missing\n");
		return 1;
	}
	if (nnodes > 4)
		nnodes = 4;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (unpriv) {
		/* The fuzzing runs in a child as 65534; root checks debugfs. */
		struct rlimit ml = { 512 * 1024, 512 * 1024 };
		int st;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			if (waitpid(pid, &st, 0) != pid)
				return 1;
			unpriv_failed = !WIFEXITED(st) || WEXITSTATUS(st);
			if (unpriv_failed)
				printf("scif_fuzz: FAIL: the unprivileged fuzzer exited with status 0x%x\n", st);
			goto check;
		}
		if (setrlimit(RLIMIT_MEMLOCK, &ml) || setgroups(0, NULL) ||
		    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
			perror("scif_fuzz: dropping privileges");
			return 1;
		}
	}
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("scif_fuzz: %d s, %d threads, seed 0x%llx, %d nodes, uid %d\n", seconds,
	       nthreads, (unsigned long long)seed, nnodes, (int)getuid());
	fflush(stdout);

	for (int i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	for (int i = 0; i < nthreads; i++) {
		static struct thr aux[MAXTHR];

		if (thr_init(&thr[i], seed + 0x9e3779b97f4a7c15ULL * (i + 1)) ||
		    thr_init(&aux[i], seed + 0x7f4a7c159e3779b9ULL * (i + 1))) {
			perror("mmap");
			return 1;
		}
		thr[i].aux = &aux[i];
		pthread_create(&workers[i], NULL, worker, &thr[i]);
	}

	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		usleep(50000);
		for (int i = 0; i < nthreads; i++)
			pthread_kill(workers[i], SIGUSR1);
		reap_children(0);
	}
	stop = 1;
	/* Closing wakes blocked calls (flush); signals interrupt the rest. */
	while (__atomic_load_n(&done_workers, __ATOMIC_SEQ_CST) < nthreads) {
		close_all_slots();
		for (int i = 0; i < nthreads; i++)
			pthread_kill(workers[i], SIGUSR1);
		usleep(20000);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(workers[i], NULL);
	close_all_slots();
	for (int i = 0; i < NMAPS; i++)
		if (maps[i])
			munmap((void *)(maps[i] & ~(PG - 1)), (maps[i] & (PG - 1)) * PG);
	reap_children(1);
	printf("scif_fuzz: %ld operations, %ld failed with an error\n", ops,
	       errs_seen);
	printf("scif_fuzz: successful ioctls by number:");
	for (int i = 1; i < 18; i++)
		printf(" %d:%ld", i, succ[i]);
	printf("\n");
	if (unpriv)
		return 0;	/* the root parent checks the counters */

check:
	for (int tries = 0; tries < 500; tries++) {
		bad = 0;
		for (unsigned int i = 0; i < 5; i++)
			bad |= counter(names[i]) != 0;
		if (!bad)
			break;
		usleep(20000);
	}
	for (unsigned int i = 0; i < 5; i++)
		printf("scif_fuzz: %s = %ld\n", names[i], counter(names[i]));
	if (bad) {
		printf("scif_fuzz: FAIL: counters did not return to zero\n");
		return 1;
	}
	if (unpriv_failed)
		return 1;
	printf("scif_fuzz: PASS\n");
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_harden.c - regression tests of issue 10's findings (security
 * hardening of scif.ko): faulting copy-outs racing UNREG/close/mmap,
 * mmap protections, per-user RLIMIT_MEMLOCK across fork/exec, ACCEPTREQ's
 * copy-out rollback, REG's allocation before the limit check, reaping a
 * killed process with queued RMAs, v* pin accounting and pin-count
 * overflow, and read-only windows of untouched memory.
 *
 * Most tests run their body as uid 65534 with a small RLIMIT_MEMLOCK (in a
 * child, so the root test process can read debugfs and the kernel log).
 * Each test also fails if the kernel log gained a WARNING/BUG/Oops line
 * during it.
 */
#include "harness.h"
#include "rma_util.h"

#include <grp.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#define PG		4096UL
#define MiB		(1024UL * 1024)
#define GiB		(1024UL * MiB)
#define NOBODY		65534
#define OFF		(1L << 20)	/* a SCIF_MAP_FIXED offset */

/* ---- helpers --------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fence_self(int fd)
{
	int mark;
	struct scifioctl_fence_mark m = {
		.flags = SCIF_FENCE_INIT_SELF, .mark = (uintptr_t)&mark,
	};

	if (ioctl(fd, SCIF_FENCE_MARK, &m))
		return -1;
	return ioctl(fd, SCIF_FENCE_WAIT, mark);
}

static void fill(void *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = xs64(&s);

		memcpy((char *)p + i, &v, 8);
	}
}

/*
 * debugfs is root's: the unprivileged child asks its root parent for a
 * counter over a pipe (as_nobody serves the requests).
 */
static int dbg_req[2] = { -1, -1 }, dbg_resp[2] = { -1, -1 };

static int dbg_open(const char *name)
{
	return name[0];		/* 'w'indows or 'p'inned_pages */
}

static long dbg_read(int which)
{
	char c = (char)which;
	long v = -1;

	if (write(dbg_req[1], &c, 1) != 1 ||
	    read(dbg_resp[0], &v, sizeof(v)) != sizeof(v))
		return -1;
	return v;
}

static void dbg_serve(void)
{
	char c;

	while (read(dbg_req[0], &c, 1) == 1) {
		long v = dbg_counter(c == 'w' ? "windows" : "pinned_pages");

		if (write(dbg_resp[1], &v, sizeof(v)) != sizeof(v))
			break;
	}
}

/* Wait up to @ms for the counter @which to read @v. */
static int dbg_wait(int which, long v, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (dbg_read(which) == v)
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "#   %s is %ld, expected %ld\n",
		which == 'w' ? "windows" : "pinned_pages", dbg_read(which), v);
	return -1;
}

/* Become uid/gid 65534 with RLIMIT_MEMLOCK = @memlock (no capabilities). */
static void drop_priv(rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	REQUIRE(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	REQUIRE(setgroups(0, NULL) == 0);
	REQUIRE(setresgid(NOBODY, NOBODY, NOBODY) == 0);
	REQUIRE(setresuid(NOBODY, NOBODY, NOBODY) == 0);
	REQUIRE(geteuid() == NOBODY);
}

/* Run @fn as uid 65534 in a child; its failure is ours. */
static void as_nobody(rlim_t memlock, void (*fn)(void))
{
	int st;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	REQUIRE(!pipe2(dbg_req, O_CLOEXEC) && !pipe2(dbg_resp, O_CLOEXEC));
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		close(dbg_req[0]);
		close(dbg_resp[1]);
		drop_priv(memlock);
		fn();
		fflush(stderr);
		_exit(t_failed ? 1 : 0);
	}
	close(dbg_req[1]);
	close(dbg_resp[0]);
	dbg_serve();
	REQUIRE(waitpid(pid, &st, 0) == pid);
	close(dbg_req[0]);
	close(dbg_resp[1]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAILF("unprivileged part failed (status 0x%x)", st);
}

/* ---- kernel log ------------------------------------------------------ */

static char klog_last[256];	/* the last line logged before the test */

static char *klog_read(void)
{
	int n, size = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	char *buf;

	if (size <= 0)
		size = 1 << 20;
	buf = malloc(size + 1);
	REQUIRE(buf);
	n = klogctl(3, buf, size);		/* SYSLOG_ACTION_READ_ALL */
	REQUIRE(n >= 0);
	buf[n] = 0;
	return buf;
}

static void klog_marker(void)
{
	char *buf = klog_read(), *end = buf + strlen(buf), *p;

	while (end > buf && end[-1] == '\n')
		*--end = 0;
	p = strrchr(buf, '\n');
	snprintf(klog_last, sizeof(klog_last), "%s", p ? p + 1 : buf);
	free(buf);
}

/* Fail on a WARNING/BUG/Oops line logged since klog_marker(). */
static void klog_check(void)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "BUG ", "Oops", "refcount_t:",
		"list_del corruption", "list_add corruption", "KFENCE",
		"general protection", "kernel BUG",
	};
	char *buf = klog_read(), *p = NULL, *line;

	if (klog_last[0])
		p = strstr(buf, klog_last);
	p = p ? p + strlen(klog_last) : buf;
	for (line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(line, bad[i])) {
				FAILF("kernel log: %s", line);
				break;
			}
	free(buf);
}

/* ---- finding 1: REG's copy-out fault --------------------------------- */

/*
 * A REG argument whose out_offset is the first word of a read-only page
 * (@split), or whose whole struct is on a read-only page.
 */
static struct scifioctl_reg *fault_reg_arg(void *addr, size_t len, long off,
					   int prot, int flags, int split)
{
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct scifioctl_reg *r;

	REQUIRE(p != MAP_FAILED);
	r = split ? (void *)(p + PG - offsetof(struct scifioctl_reg, out_offset))
		  : (void *)p;
	*r = (struct scifioctl_reg){
		.addr = (uintptr_t)addr, .len = len, .offset = off,
		.prot = prot, .flags = flags, .out_offset = -7,
	};
	REQUIRE(mprotect(split ? p + PG : p, PG, PROT_READ) == 0);
	return r;
}

static int dfd_windows, dfd_pinned;

static void reg_fault_rollback_body(void)
{
	int c, s;
	char *buf = palloc(4 * PG);
	long w0, p0;

	REQUIRE(make_pair(&c, &s) == 0);
	w0 = dbg_read(dfd_windows);
	p0 = dbg_read(dfd_pinned);
	for (int split = 0; split < 2; split++) {
		struct scifioctl_reg *fx = fault_reg_arg(buf, 4 * PG, OFF,
			SCIF_PROT_READ | SCIF_PROT_WRITE, SCIF_MAP_FIXED, split);
		struct scifioctl_reg *fa = fault_reg_arg(buf, 4 * PG, 0,
			SCIF_PROT_READ | SCIF_PROT_WRITE, 0, split);

		CHECK_ERR(ioctl(c, SCIF_REG, fx), EFAULT);
		CHECK_ERR(ioctl(c, SCIF_REG, fa), EFAULT);
		CHECK(dbg_wait(dfd_windows, w0, 1000) == 0);
		CHECK(dbg_wait(dfd_pinned, p0, 1000) == 0);
		/* Nothing stayed registered: the offsets are free. */
		CHECK_ERR(unreg(c, OFF, 4 * PG), ENXIO);
		CHECK(regf(c, buf, 4 * PG, OFF, SCIF_PROT_READ) == OFF);
		CHECK(reg(c, buf, PG, 0, SCIF_PROT_READ, 0) == 0);
		CHECK_OK(unreg(c, OFF, 4 * PG));
		CHECK_OK(unreg(c, 0, PG));
	}
	CHECK(dbg_wait(dfd_windows, w0, 1000) == 0);
	close(c);
	close(s);
}

TEST(reg_fault_rollback)
{
	dfd_windows = dbg_open("windows");
	dfd_pinned = dbg_open("pinned_pages");
	klog_marker();
	as_nobody(1 * MiB, reg_fault_rollback_body);
	klog_check();
}

/* A thread looping faulting REGs (fixed at OFF, or not) on one endpoint. */
struct freg {
	int fd, fixed;
	volatile int stop;
	long n, bad;
	int last_err;
	char *buf;
};

static void *freg_thread(void *p)
{
	struct freg *f = p;
	struct scifioctl_reg *a[2];

	for (int i = 0; i < 2; i++)
		a[i] = fault_reg_arg(f->buf, 4 * PG, f->fixed ? OFF : 0,
				     SCIF_PROT_READ | SCIF_PROT_WRITE,
				     f->fixed ? SCIF_MAP_FIXED : 0, i);
	while (!f->stop) {
		int r = ioctl(f->fd, SCIF_REG, a[f->n & 1]);

		f->n++;
		if (r == 0) {
			f->bad++;
			FAILF("faulting REG returned 0");
		} else if (errno != EFAULT) {
			f->last_err = errno;
			break;
		}
	}
	return NULL;
}

static void reg_fault_vs_unreg_body(void)
{
	struct freg f = { .fixed = 1 };
	pthread_t th;
	long unregs = 0, ok = 0;
	int c, s;
	double end;

	f.buf = palloc(4 * PG);
	REQUIRE(make_pair(&c, &s) == 0);
	f.fd = c;
	REQUIRE(pthread_create(&th, NULL, freg_thread, &f) == 0);
	end = now() + 2.0;
	while (now() < end && !t_failed) {
		int r = unreg(c, OFF, 4 * PG);

		unregs++;
		if (r == 0) {
			ok++;
			if (ok == 1)
				FAILF("UNREG of a window whose REG faulted succeeded");
		} else if (errno != ENXIO) {
			FAILF("UNREG: errno %d (%s)", errno, strerror(errno));
			break;
		}
	}
	f.stop = 1;
	pthread_join(th, NULL);
	if (f.last_err)
		FAILF("faulting REG: errno %d (%s), expected EFAULT",
		      f.last_err, strerror(f.last_err));
	fprintf(stderr, "#   %ld faulting REGs, %ld UNREGs, %ld succeeded\n",
		f.n, unregs, ok);
	CHECK(dbg_wait(dfd_windows, 0, 2000) == 0);
	CHECK(regf(c, f.buf, 4 * PG, OFF, SCIF_PROT_READ) == OFF);
	close(c);
	close(s);
}

TEST(reg_fault_vs_unreg)
{
	dfd_windows = dbg_open("windows");
	klog_marker();
	as_nobody(1 * MiB, reg_fault_vs_unreg_body);
	klog_check();
}

static void reg_fault_vs_close_body(void)
{
	double end = now() + 2.0;
	long rounds = 0, regs = 0;
	char *buf = palloc(4 * PG);
	uint64_t seed = getpid();

	while (now() < end && !t_failed) {
		struct freg f = { .fixed = (int)(rounds & 1), .buf = buf };
		pthread_t th;
		int c, s;

		REQUIRE(make_pair(&c, &s) == 0);
		f.fd = dup(c);		/* close(c) by the opener shuts c down */
		REQUIRE(f.fd >= 0);
		REQUIRE(pthread_create(&th, NULL, freg_thread, &f) == 0);
		usleep(xs64(&seed) % 3000);
		close(c);
		while (!f.last_err && !f.bad)	/* ends at the shutdown */
			usleep(100);
		f.stop = 1;
		pthread_join(th, NULL);
		if (f.last_err != ECONNRESET && f.last_err != ENOTCONN &&
		    f.last_err != EBADF)
			FAILF("REG after close: errno %d (%s)", f.last_err,
			      strerror(f.last_err));
		regs += f.n;
		close(f.fd);
		close(s);
		rounds++;
	}
	fprintf(stderr, "#   %ld rounds, %ld faulting REGs\n", rounds, regs);
	CHECK(dbg_wait(dfd_windows, 0, 3000) == 0);
}

TEST(reg_fault_vs_close)
{
	dfd_windows = dbg_open("windows");
	klog_marker();
	as_nobody(1 * MiB, reg_fault_vs_close_body);
	klog_check();
}

static void reg_fault_vs_peer_mmap_body(void)
{
	struct freg f = { .fixed = 1 };
	pthread_t th;
	long maps = 0, ok = 0;
	int c, s;
	double end;

	f.buf = palloc(4 * PG);
	REQUIRE(make_pair(&c, &s) == 0);
	f.fd = c;
	REQUIRE(pthread_create(&th, NULL, freg_thread, &f) == 0);
	end = now() + 2.0;
	while (now() < end && !t_failed) {
		void *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			       MAP_SHARED, s, OFF);

		maps++;
		if (m != MAP_FAILED) {
			if (!ok++)
				FAILF("peer mmap of a window whose REG faulted succeeded");
			munmap(m, 4 * PG);
		} else if (errno != ENXIO) {
			FAILF("peer mmap: errno %d (%s)", errno, strerror(errno));
			break;
		}
	}
	f.stop = 1;
	pthread_join(th, NULL);
	if (f.last_err)
		FAILF("faulting REG: errno %d (%s)", f.last_err,
		      strerror(f.last_err));
	fprintf(stderr, "#   %ld faulting REGs, %ld peer mmaps, %ld succeeded\n",
		f.n, maps, ok);
	close(c);
	close(s);
	CHECK(dbg_wait(dfd_windows, 0, 3000) == 0);
	CHECK(dbg_wait(dfd_pinned, 0, 3000) == 0);
}

TEST(reg_fault_vs_peer_mmap)
{
	dfd_windows = dbg_open("windows");
	dfd_pinned = dbg_open("pinned_pages");
	klog_marker();
	as_nobody(1 * MiB, reg_fault_vs_peer_mmap_body);
	klog_check();
}

/* ---- finding 2: mmap protections ------------------------------------- */

static void mmap_prot_body(void)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE,
	};
	char *buf = palloc(3 * PG), *m;
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	fill(buf, 3 * PG, 42);
	REQUIRE(regf(c, buf, PG, 0, 0) == 0);			/* prot 0 */
	REQUIRE(regf(c, buf + PG, PG, PG, SCIF_PROT_WRITE) == (long)PG);
	REQUIRE(regf(c, buf + 2 * PG, PG, 2 * PG, SCIF_PROT_READ) ==
		(long)(2 * PG));

	for (int w = 0; w < 2; w++)
		for (int i = 0; i < 4; i++) {
			errno = 0;
			m = mmap(NULL, PG, prots[i], MAP_SHARED, s, w * PG);
			if (m != MAP_FAILED) {
				FAILF("mmap(prot %d) of a %s window succeeded",
				      prots[i], w ? "write-only" : "prot-0");
				if (prots[i] == PROT_NONE &&
				    !mprotect(m, PG, PROT_READ)) {
					FAILF("... and mprotect(PROT_READ) too: bytes %s",
					      memcmp(m, buf + w * PG, PG) ?
					      "differ" : "readable");
				}
				munmap(m, PG);
			} else if (errno != EACCES) {
				FAILF("mmap(prot %d) of a %s window: errno %d, expected EACCES",
				      prots[i], w ? "write-only" : "prot-0", errno);
			}
		}

	/* Read-only window. */
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, s, 2 * PG);
	CHECK(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		CHECK(!memcmp(m, buf + 2 * PG, PG));
		CHECK_ERR(mprotect(m, PG, PROT_READ | PROT_WRITE), EACCES);
		munmap(m, PG);
	}
	CHECK_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, s, 2 * PG),
		  EACCES);
	m = mmap(NULL, PG, PROT_NONE, MAP_SHARED, s, 2 * PG);
	CHECK(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		CHECK_OK(mprotect(m, PG, PROT_READ));
		CHECK(!memcmp(m, buf + 2 * PG, PG));
		CHECK_ERR(mprotect(m, PG, PROT_WRITE), EACCES);
		CHECK_ERR(mprotect(m, PG, PROT_READ | PROT_WRITE), EACCES);
		munmap(m, PG);
	}
	close(c);
	close(s);
}

TEST(mmap_prot_enforced)
{
	klog_marker();
	as_nobody(1 * MiB, mmap_prot_body);
	klog_check();
}

/* ---- finding 3: RLIMIT_MEMLOCK per user ------------------------------ */

#define L_PAGES		64		/* RLIMIT_MEMLOCK in pages */
#define R_PAGES		48		/* one REG: fits once, not twice */

/* Exit status of a REG child: 0 registered, 1 EAGAIN, 2 other. */
static int reg_status(int fd, long off)
{
	char *b = palloc(R_PAGES * PG);

	if (regf(fd, b, R_PAGES * PG, off, SCIF_PROT_READ | SCIF_PROT_WRITE) == off)
		return 0;
	if (errno == EAGAIN)
		return 1;
	fprintf(stderr, "#   REG: errno %d (%s)\n", errno, strerror(errno));
	return 2;
}

static int child_reg(int fd, long off)
{
	int st;
	pid_t pid = fork();

	if (!pid)
		_exit(reg_status(fd, off));
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

static int exec_reg(int fd, long off)
{
	char sfd[16], soff[32];
	int st;
	pid_t pid;

	snprintf(sfd, sizeof(sfd), "%d", fd);
	snprintf(soff, sizeof(soff), "%ld", off);
	pid = fork();
	if (!pid) {
		fcntl(fd, F_SETFD, 0);
		execl("/proc/self/exe", "scif_harden", "--reg-child", sfd,
		      soff, (char *)NULL);
		_exit(4);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

static void memlock_fork_body(void)
{
	int c, s, r, got = 0;

	REQUIRE(make_pair(&c, &s) == 0);
	r = child_reg(c, 0);
	CHECK(r == 0);
	for (int i = 1; i <= 6; i++) {
		r = child_reg(c, i * OFF);
		got += r == 0;
		if (r != 1)
			FAILF("fork child %d: REG status %d, expected EAGAIN (1)",
			      i, r);
	}
	r = exec_reg(c, 8 * OFF);
	got += r == 0;
	if (r != 1)
		FAILF("execve'd child: REG status %d, expected EAGAIN (1)", r);
	if (got)
		fprintf(stderr, "#   %d children registered %d pages each beyond RLIMIT_MEMLOCK (%d pages)\n",
			got, R_PAGES, L_PAGES);
	/* The parent is charged as well. */
	CHECK(reg_status(c, 9 * OFF) == (got ? 0 : 1));
	/* UNREG returns the budget. */
	CHECK_OK(unreg(c, 0, R_PAGES * PG));
	if (!got) {
		CHECK(child_reg(c, 10 * OFF) == 0);
		CHECK(child_reg(c, 11 * OFF) == 1);
	}
	/* close returns it too. */
	close(c);
	close(s);
	usleep(100000);
	REQUIRE(make_pair(&c, &s) == 0);
	CHECK(exec_reg(c, 0) == 0);
	CHECK(child_reg(c, OFF) == 1);
	close(c);
	close(s);
}

TEST(memlock_per_user_fork_exec)
{
	klog_marker();
	as_nobody(L_PAGES * PG, memlock_fork_body);
	klog_check();
}

/* Two unrelated processes of one user share the limit. */
TEST(memlock_per_user_unrelated)
{
	int a2p[2], p2a[2], b2p[2], p2b[2];
	char ch = 0;
	pid_t a, b;
	int st;

	klog_marker();
	REQUIRE(!pipe(a2p) && !pipe(p2a) && !pipe(b2p) && !pipe(p2b));
	a = fork();
	if (!a) {
		int c, s;

		drop_priv(L_PAGES * PG);
		REQUIRE(make_pair(&c, &s) == 0);
		ch = (char)reg_status(c, 0);
		write(a2p[1], &ch, 1);
		read(p2a[0], &ch, 1);
		_exit(0);
	}
	REQUIRE(read(a2p[0], &ch, 1) == 1);
	CHECK(ch == 0);
	b = fork();
	if (!b) {
		int c, s;

		drop_priv(L_PAGES * PG);
		REQUIRE(make_pair(&c, &s) == 0);
		ch = (char)reg_status(c, 0);
		write(b2p[1], &ch, 1);
		read(p2b[0], &ch, 1);
		ch = (char)reg_status(c, OFF);
		write(b2p[1], &ch, 1);
		_exit(0);
	}
	REQUIRE(read(b2p[0], &ch, 1) == 1);
	if (ch != 1)
		FAILF("second process of the same user: REG status %d, expected EAGAIN (1)",
		      ch);
	write(p2a[1], &ch, 1);		/* A exits: its pages are unpinned */
	REQUIRE(waitpid(a, &st, 0) == a);
	usleep(200000);
	write(p2b[1], &ch, 1);
	REQUIRE(read(b2p[0], &ch, 1) == 1);
	CHECK(ch == 0);
	REQUIRE(waitpid(b, &st, 0) == b);
	klog_check();
}

/* ---- finding 4: ACCEPTREQ's copy-out fault --------------------------- */

static struct scifioctl_accept *fault_acc_arg(int split)
{
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct scifioctl_accept *a;

	REQUIRE(p != MAP_FAILED);
	a = split ? (void *)(p + PG - offsetof(struct scifioctl_accept, endpt))
		  : (void *)p;
	a->flags = SCIF_ACCEPT_SYNC;
	REQUIRE(mprotect(split ? p + PG : p, PG, PROT_READ) == 0);
	return a;
}

/* Start a non-blocking connect to @port; returns the connector fd. */
static int start_connect(int port)
{
	int fd = ep_open();

	REQUIRE(fd >= 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	REQUIRE(ep_connect(fd, 0, port, NULL) < 0 && errno == EINPROGRESS);
	return fd;
}

/* Accept on @lfd (with @h a handle already taken, or 0) and check data. */
static int finish_accept(int lfd, int cfd, int port, uint64_t h)
{
	char x = 'x', y = 0;
	int afd;

	if (!h && ep_acceptreq(lfd, 0, NULL, &h) < 0) {
		FAILF("ACCEPTREQ: errno %d (%s)", errno, strerror(errno));
		return -1;
	}
	afd = ep_open();
	REQUIRE(afd >= 0);
	if (ep_acceptreg(afd, h) < 0) {
		FAILF("ACCEPTREG: errno %d (%s)", errno, strerror(errno));
		close(afd);
		return -1;
	}
	if (!(poll1(cfd, POLLOUT, 5000) & POLLOUT) ||
	    ep_connect(cfd, 0, port, NULL) != 0) {
		FAILF("connect did not complete: errno %d", errno);
		close(afd);
		return -1;
	}
	fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
	if (send_all(cfd, &x, 1) != 1 || !(poll1(afd, POLLIN, 5000) & POLLIN) ||
	    recv_all(afd, &y, 1) != 1 || y != 'x' || send_all(afd, &x, 1) != 1 ||
	    !(poll1(cfd, POLLIN, 5000) & POLLIN) || recv_all(cfd, &y, 1) != 1) {
		FAILF("no data over the accepted connection");
		close(afd);
		return -1;
	}
	close(afd);
	return 0;
}

static void acceptreq_fault_body(void)
{
	int port, lfd = make_listener(0, 8, &port);

	REQUIRE(lfd >= 0);
	for (int split = 0; split < 2; split++) {
		int cfd = start_connect(port);

		CHECK_ERR(ioctl(lfd, SCIF_ACCEPTREQ, fault_acc_arg(split)),
			  EFAULT);
		/* The request is still queued: a good ACCEPTREQ gets it. */
		CHECK(finish_accept(lfd, cfd, port, 0) == 0);
		close(cfd);
	}
	close(lfd);
}

TEST(acceptreq_fault_keeps_conn)
{
	klog_marker();
	as_nobody(1 * MiB, acceptreq_fault_body);
	klog_check();
}

/*
 * Listener A's ACCEPTREQ copy-out is held on a userfaultfd write-protected
 * page while its pending id is freed (claimed by a guess) and reused by
 * listener B's process; then the copy-out faults.  B's connection must
 * survive.  (Root: a kernel-mode fault needs a privileged userfaultfd.)
 */
struct uffd_acc {
	int lfd;
	struct scifioctl_accept *a;
	int ret, err;
};

static void *uffd_acc_thread(void *p)
{
	struct uffd_acc *u = p;

	u->ret = ioctl(u->lfd, SCIF_ACCEPTREQ, u->a);
	u->err = errno;
	return NULL;
}

TEST(acceptreq_fault_vs_other_listener)
{
	int aport = 0, bport = 0, alfd, blfd, uffd, cfd, bpipe[2], gpipe[2];
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffd_msg msg;
	struct uffd_acc u;
	uint64_t cookie, h;
	pthread_t th;
	pid_t pb;
	char *page, ch;
	int st, claimed = 0, tries = 0;

	klog_marker();
	alfd = make_listener(0, 8, &aport);
	blfd = make_listener(0, 8, &bport);
	REQUIRE(alfd >= 0 && blfd >= 0);
	/* Learn the cookie from one ordinary accept on A. */
	cfd = start_connect(aport);
	REQUIRE(ep_acceptreq(alfd, 0, NULL, &h) == 0);
	cookie = h >> 32;
	CHECK(finish_accept(alfd, cfd, aport, h) == 0);
	close(cfd);

	REQUIRE(!pipe(bpipe) && !pipe(gpipe));
	pb = fork();
	if (!pb) {
		/* B's process: accept one connection when told, then check it. */
		int bc;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(alfd);
		REQUIRE(read(gpipe[0], &ch, 1) == 1);
		bc = start_connect(bport);
		REQUIRE(ep_acceptreq(blfd, SCIF_ACCEPT_SYNC, NULL, &h) == 0);
		write(bpipe[1], &ch, 1);		/* pending now */
		REQUIRE(read(gpipe[0], &ch, 1) == 1);	/* A's copy-out failed */
		finish_accept(blfd, bc, bport, h);
		_exit(t_failed);
	}

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	REQUIRE(uffd >= 0);
	REQUIRE(ioctl(uffd, UFFDIO_API, &api) == 0);
	page = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(page != MAP_FAILED);
	memset(page, 0, PG);
	u.lfd = alfd;
	u.a = (void *)page;
	u.a->flags = SCIF_ACCEPT_SYNC;	/* before the page is write-protected */
	{
		struct uffdio_register r = {
			.range = { (uintptr_t)page, PG },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct uffdio_writeprotect wp = {
			.range = { (uintptr_t)page, PG },
			.mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		REQUIRE(ioctl(uffd, UFFDIO_REGISTER, &r) == 0);
		REQUIRE(ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0);
	}
	cfd = start_connect(aport);
	REQUIRE(pthread_create(&th, NULL, uffd_acc_thread, &u) == 0);
	/* Wait for the copy-out to block on the write-protected page. */
	if (poll1(uffd, POLLIN, 5000) & POLLIN) {
		REQUIRE(read(uffd, &msg, sizeof(msg)) == sizeof(msg));
		/* Claim the id A just published, as a guessing thread would. */
		for (uint32_t id = 0; id < 64 && !claimed; id++) {
			int fd = ep_open();

			tries++;
			if (ep_acceptreg(fd, cookie << 32 | id) == 0) {
				claimed = 1;
				fprintf(stderr, "#   claimed A's in-flight handle %u before it was delivered\n",
					id);
			}
			close(fd);
		}
	}
	/* B's process takes a pending id (the freed one, if any). */
	write(gpipe[1], &ch, 1);
	REQUIRE(read(bpipe[0], &ch, 1) == 1);
	/* Now fail A's copy-out. */
	REQUIRE(mprotect(page, PG, PROT_READ) == 0);
	{
		struct uffdio_writeprotect wp = {
			.range = { (uintptr_t)page, PG }, .mode = 0,
		};
		struct uffdio_range wr = { (uintptr_t)page, PG };

		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
			ioctl(uffd, UFFDIO_WAKE, &wr);
	}
	pthread_join(th, NULL);
	write(gpipe[1], &ch, 1);
	REQUIRE(waitpid(pb, &st, 0) == pb);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAILF("listener B's connection was destroyed by A's failed ACCEPTREQ");
	if (!claimed) {
		/* A's request is still there: EFAULT, then a good ACCEPTREQ. */
		CHECK(u.ret == -1 && u.err == EFAULT);
		CHECK(finish_accept(alfd, cfd, aport, 0) == 0);
	} else {
		FAILF("a handle was claimable before ACCEPTREQ delivered it");
	}
	close(cfd);
	close(uffd);
	close(alfd);
	close(blfd);
	klog_check();
}

/* ---- finding 5: REG of a huge length --------------------------------- */

struct huge {
	volatile int stop;
	long calls, bad;
	double total, max;
	long vmax;
};

static long vmalloc_used_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int huge_fd;
static char *huge_addr;

static void *huge_thread(void *p)
{
	struct huge *h = p;

	while (!h->stop) {
		double t = now(), d;
		long r = reg(huge_fd, huge_addr, 64 * GiB, 0,
			     SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
		int e = errno;

		d = now() - t;
		__atomic_add_fetch(&h->calls, 1, __ATOMIC_RELAXED);
		h->total += d;
		if (d > h->max)
			h->max = d;
		if (r >= 0 || (e != EAGAIN && e != EFAULT && e != ENOMEM)) {
			h->bad++;
			FAILF("64 GiB REG: ret %ld errno %d (%s)", r, e,
			      strerror(e));
			break;
		}
	}
	return NULL;
}

static void *vmalloc_sampler(void *p)
{
	struct huge *h = p;

	while (!h->stop) {
		long v = vmalloc_used_kb();

		if (v > h->vmax)
			h->vmax = v;
		usleep(500);
	}
	return NULL;
}

static void reg_huge_body(void)
{
	struct huge h[2] = {}, smp = {};
	pthread_t th[3];
	long base;
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	huge_fd = c;
	/* Mapped at the start only (PROT_NONE reserve, first page usable). */
	huge_addr = mmap(NULL, 64 * GiB, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(huge_addr != MAP_FAILED);
	REQUIRE(mprotect(huge_addr, PG, PROT_READ | PROT_WRITE) == 0);
	base = vmalloc_used_kb();
	smp.vmax = base;
	REQUIRE(pthread_create(&th[2], NULL, vmalloc_sampler, &smp) == 0);
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&th[i], NULL, huge_thread, &h[i]) == 0);
	sleep(2);
	h[0].stop = h[1].stop = 1;
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	smp.stop = 1;
	pthread_join(th[2], NULL);
	{
		long calls = h[0].calls + h[1].calls;
		double avg = calls ? (h[0].total + h[1].total) / calls : 0;
		double mx = h[0].max > h[1].max ? h[0].max : h[1].max;

		fprintf(stderr, "#   %ld calls, avg %.3f ms, max %.3f ms; VmallocUsed +%ld kB\n",
			calls, avg * 1e3, mx * 1e3, smp.vmax - base);
		if (smp.vmax - base > 4096)
			FAILF("VmallocUsed rose by %ld kB during failing REGs",
			      smp.vmax - base);
		if (avg > 0.005)
			FAILF("a failing 64 GiB REG takes %.1f ms on average",
			      avg * 1e3);
		CHECK(calls >= 100);
	}
	close(c);
	close(s);
}

TEST(reg_huge_no_alloc)
{
	klog_marker();
	as_nobody(64 * 1024, reg_huge_body);
	klog_check();
}

/* ---- finding 6: reaping a killed process with queued RMAs ------------- */

#define LOAD_PAIRS	16
#define LOAD_WIN	(16 * MiB)
#define VICTIM_WIN	(1 * MiB)
#define VICTIM_RMAS	60

static int load_fds[LOAD_PAIRS];

static void *load_thread(void *p)
{
	long k = (long)p;

	for (;;)
		for (int i = k; i < LOAD_PAIRS; i += 2)
			rma(load_fds[i], SCIF_WRITETO, 0, LOAD_WIN, 0, 0);
	return NULL;
}

/* Root: many endpoints keeping the 4 channels busy with large RMAs. */
static pid_t start_load(void)
{
	int ready[2];
	char ch = 0;
	pid_t pid;

	REQUIRE(!pipe(ready));
	pid = fork();
	if (!pid) {
		char *buf = palloc(LOAD_WIN);
		pthread_t th[2];

		for (int i = 0; i < LOAD_PAIRS; i++) {
			int c, s;

			REQUIRE(make_pair(&c, &s) == 0);
			REQUIRE(regf(c, buf, LOAD_WIN, 0, SCIF_PROT_READ) == 0);
			REQUIRE(regf(s, buf, LOAD_WIN, 0, SCIF_PROT_WRITE) == 0);
			load_fds[i] = c;
		}
		for (long i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, load_thread, (void *)i);
		sleep(2);		/* let the queues fill */
		write(ready[1], &ch, 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	REQUIRE(read(ready[0], &ch, 1) == 1);
	close(ready[0]);
	return pid;
}

TEST(kill_with_queued_rmas)
{
	int ready[2];
	char ch = 0;
	pid_t load, victim;
	double t, dt;
	int st;

	klog_marker();
	load = start_load();
	REQUIRE(!pipe(ready));
	victim = fork();
	if (!victim) {
		char *a, *b;
		int c, s, queued = 0;

		drop_priv(4 * MiB);
		a = palloc(VICTIM_WIN);
		b = palloc(VICTIM_WIN);
		REQUIRE(make_pair(&c, &s) == 0);
		REQUIRE(regf(c, a, VICTIM_WIN, 0, SCIF_PROT_READ) == 0);
		REQUIRE(regf(s, b, VICTIM_WIN, 0, SCIF_PROT_WRITE) == 0);
		for (int i = 0; i < VICTIM_RMAS; i++)
			queued += rma(c, SCIF_WRITETO, 0, VICTIM_WIN, 0, 0) == 0;
		ch = queued == VICTIM_RMAS;
		write(ready[1], &ch, 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	REQUIRE(read(ready[0], &ch, 1) == 1);
	CHECK(ch == 1);
	usleep(100000);
	t = now();
	kill(victim, SIGKILL);
	REQUIRE(waitpid(victim, &st, 0) == victim);
	dt = now() - t;
	fprintf(stderr, "#   killed process with %d queued RMAs reaped in %.2f s\n",
		VICTIM_RMAS, dt);
	if (dt > 2.0)
		FAILF("waitpid returned %.2f s after SIGKILL (limit 2 s)", dt);
	t = now();
	kill(load, SIGKILL);
	REQUIRE(waitpid(load, &st, 0) == load);
	fprintf(stderr, "#   load process reaped in %.2f s\n", now() - t);
	klog_check();
}

/* ---- finding 7: v* pins ---------------------------------------------- */

static void vpin_accounting_body(void)
{
	char *win = palloc(48 * PG), *buf = palloc(32 * PG);
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	/* 48 of the 64 pages of the budget in windows. */
	REQUIRE(regf(s, win, 32 * PG, 0,
		     SCIF_PROT_READ | SCIF_PROT_WRITE) == 0);
	REQUIRE(regf(s, win + 32 * PG, 16 * PG, OFF, SCIF_PROT_READ) == OFF);
	fill(buf, 32 * PG, 7);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, buf, 32 * PG, 0, SCIF_RMA_SYNC),
		  EAGAIN);
	CHECK_ERR(vrma(c, SCIF_VWRITETO, buf, 32 * PG, 0, 0), EAGAIN);
	CHECK_ERR(vrma(c, SCIF_VREADFROM, buf, 20 * PG, 0, SCIF_RMA_USECPU),
		  EAGAIN);
	/* Within what remains, they work. */
	CHECK_OK(vrma(c, SCIF_VWRITETO, buf, 8 * PG, 0, SCIF_RMA_SYNC));
	CHECK(!memcmp(win, buf, 8 * PG));
	CHECK_OK(vrma(c, SCIF_VREADFROM, buf + 8 * PG, 8 * PG, 0,
		      SCIF_RMA_USECPU));
	CHECK(!memcmp(win, buf + 8 * PG, 8 * PG));
	/* Unregistering returns budget to v* calls. */
	CHECK_OK(unreg(s, 0, 32 * PG));
	CHECK_OK(unreg(s, OFF, 16 * PG));
	REQUIRE(regf(s, win, 32 * PG, 0,
		     SCIF_PROT_READ | SCIF_PROT_WRITE) == 0);
	CHECK_OK(vrma(c, SCIF_VWRITETO, buf, 30 * PG, 0, SCIF_RMA_SYNC));
	close(c);
	close(s);
}

TEST(vpin_accounting)
{
	klog_marker();
	as_nobody(L_PAGES * PG, vpin_accounting_body);
	klog_check();
}

#define ALIAS_PAGES	4096	/* 16 MiB of virtual pages, one memfd page */
#define ALIAS_PROCS	4
#define ALIAS_EPS	4

static char *alias_map(int mfd)
{
	char *base = mmap(NULL, ALIAS_PAGES * PG, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	REQUIRE(base != MAP_FAILED);
	for (int i = 0; i < ALIAS_PAGES; i++)
		REQUIRE(mmap(base + i * PG, PG, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, mfd, 0) != MAP_FAILED);
	return base;
}

TEST(vpin_alias_storm)
{
	pid_t pids[ALIAS_PROCS];
	int mfd = memfd_create("scif-alias", MFD_CLOEXEC), st;
	int c, s;
	char *a, *b;

	klog_marker();
	REQUIRE(mfd >= 0 && ftruncate(mfd, PG) == 0);
	for (int p = 0; p < ALIAS_PROCS; p++) {
		pids[p] = fork();
		if (pids[p])
			continue;
		/* Root sets up the peer windows (one page aliased 4096 times). */
		char *al = alias_map(mfd);
		int fds[ALIAS_EPS];
		long n = 0, queued = 0, again = 0;
		double end;

		for (int i = 0; i < ALIAS_EPS; i++) {
			int cc, ss;

			REQUIRE(make_pair(&cc, &ss) == 0);
			REQUIRE(regf(ss, al, ALIAS_PAGES * PG, 0,
				     SCIF_PROT_READ | SCIF_PROT_WRITE) == 0);
			fds[i] = cc;
		}
		drop_priv(64 * 1024);
		end = now() + 3.0;
		while (now() < end) {
			int r = vrma(fds[n % ALIAS_EPS], SCIF_VWRITETO, al,
				     ALIAS_PAGES * PG, 0, 0);

			n++;
			if (!r)
				queued++;
			else if (errno == EAGAIN)
				again++;
			else {
				FAILF("aliased VWRITETO: errno %d (%s)", errno,
				      strerror(errno));
				break;
			}
		}
		fprintf(stderr, "#   pid %d: %ld v* calls, %ld queued, %ld EAGAIN\n",
			getpid(), n, queued, again);
		_exit(t_failed);
	}
	for (int p = 0; p < ALIAS_PROCS; p++) {
		REQUIRE(waitpid(pids[p], &st, 0) == pids[p]);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			FAILF("storm process %d failed (status 0x%x)", p, st);
	}
	close(mfd);
	/* Valid calls still work. */
	REQUIRE(make_pair(&c, &s) == 0);
	a = palloc(4 * PG);
	b = palloc(4 * PG);
	fill(a, 4 * PG, 99);
	CHECK(regf(s, b, 4 * PG, 0, SCIF_PROT_READ | SCIF_PROT_WRITE) == 0);
	CHECK_OK(vrma(c, SCIF_VWRITETO, a, 4 * PG, 0, SCIF_RMA_SYNC));
	CHECK(!memcmp(a, b, 4 * PG));
	close(c);
	close(s);
	klog_check();
}

/* ---- finding 8: read-only windows of untouched memory ----------------- */

static void ro_untouched_body(void)
{
	static const int flags[] = { 0, SCIF_RMA_USECPU, SCIF_RMA_SYNC };
	char *dst = palloc(16 * PG), *src, *want = palloc(16 * PG);
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	REQUIRE(regf(s, dst, 16 * PG, 0,
		     SCIF_PROT_READ | SCIF_PROT_WRITE) == 0);
	for (int v = 0; v < 4; v++) {
		int fl = flags[v % 3];

		if (v < 3) {
			/* Fresh anonymous memory, never touched. */
			src = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		} else {
			/* A MAP_PRIVATE file mapping (memfd, content 0x5a). */
			int mfd = memfd_create("scif-ro", MFD_CLOEXEC);

			REQUIRE(mfd >= 0);
			memset(want, 0x5a, 16 * PG);
			REQUIRE(write(mfd, want, 16 * PG) == (ssize_t)(16 * PG));
			src = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, mfd, 0);
			close(mfd);
		}
		REQUIRE(src != MAP_FAILED);
		REQUIRE(regf(c, src, 16 * PG, 0, SCIF_PROT_READ) == 0);
		fill(src, 16 * PG, 1000 + v);
		memcpy(want, src, 16 * PG);
		memset(dst, 0, 16 * PG);
		CHECK_OK(rma(c, SCIF_WRITETO, 0, 16 * PG, 0, fl));
		CHECK_OK(fence_self(c));
		if (memcmp(dst, want, 16 * PG))
			FAILF("%s, flags 0x%x: the peer got %s, not the bytes written after REG",
			      v < 3 ? "untouched anonymous memory" :
			      "MAP_PRIVATE file mapping", fl,
			      dst[0] == 0 && dst[PG] == 0 ? "zeros" :
			      (unsigned char)dst[0] == 0x5a ? "the file's bytes" :
			      "other bytes");
		CHECK_OK(unreg(c, 0, 16 * PG));
		munmap(src, 16 * PG);
	}
	close(c);
	close(s);
}

TEST(ro_window_untouched_memory)
{
	klog_marker();
	as_nobody(1 * MiB, ro_untouched_body);
	klog_check();
}

/* ---- pending handles belong to the accepting process ----------------- */

TEST(pending_handle_other_process)
{
	int port, lfd = make_listener(0, 8, &port), cfd, hp[2], st, fd;
	uint64_t h = 0;
	pid_t p;

	klog_marker();
	REQUIRE(lfd >= 0 && !pipe(hp));
	cfd = start_connect(port);
	p = fork();
	if (!p) {
		drop_priv(1 * MiB);
		REQUIRE(ep_acceptreq(lfd, SCIF_ACCEPT_SYNC, NULL, &h) == 0);
		write(hp[1], &h, sizeof(h));
		_exit(0);
	}
	REQUIRE(read(hp[0], &h, sizeof(h)) == sizeof(h));
	REQUIRE(waitpid(p, &st, 0) == p);
	/* The accepting process is gone; neither root nor another may claim. */
	fd = ep_open();
	CHECK_ERR(ep_acceptreg(fd, h), EINVAL);
	close(fd);
	p = fork();
	if (!p) {
		drop_priv(1 * MiB);
		fd = ep_open();
		CHECK_ERR(ep_acceptreg(fd, h), EINVAL);
		_exit(t_failed);
	}
	REQUIRE(waitpid(p, &st, 0) == p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(cfd);
	close(lfd);
	klog_check();
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		T(reg_fault_rollback, 30),
		T(reg_fault_vs_unreg, 60),
		T(reg_fault_vs_close, 60),
		T(reg_fault_vs_peer_mmap, 60),
		T(mmap_prot_enforced, 30),
		T(memlock_per_user_fork_exec, 60),
		T(memlock_per_user_unrelated, 60),
		T(acceptreq_fault_keeps_conn, 30),
		T(acceptreq_fault_vs_other_listener, 30),
		T(reg_huge_no_alloc, 60),
		T(kill_with_queued_rmas, 240),
		T(vpin_accounting, 30),
		T(vpin_alias_storm, 120),
		T(ro_window_untouched_memory, 30),
		T(pending_handle_other_process, 30),
	};

	if (argc == 4 && !strcmp(argv[1], "--reg-child"))
		return reg_status(atoi(argv[2]), atol(argv[3]));
	return run_tests("scif_harden", tests, sizeof(tests) / sizeof(tests[0]));
}

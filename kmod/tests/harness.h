/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * harness.h - a tiny TAP harness and SCIF helpers for the selftests.
 *
 * Every test runs in its own child process (so a crash or hang fails one
 * test only) under an alarm; after it, the harness waits for the scif
 * debugfs counters to drop back to their values before the test.
 */
#ifndef SCIF_HARNESS_H
#define SCIF_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/scif_ioctl.h>

#include "scif_test_api.h"

#define DEBUGFS_DIR "/sys/kernel/debug/scif"

static int t_failed;

#define FAILF(...) do {							\
	fprintf(stderr, "#   %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	__atomic_store_n(&t_failed, 1, __ATOMIC_SEQ_CST);		\
} while (0)

#define CHECK(cond) do {						\
	if (!(cond))							\
		FAILF("CHECK(%s) failed (errno %d: %s)", #cond, errno,	\
		      strerror(errno));					\
} while (0)

/* Expect a -1 return with errno @e. */
#define CHECK_ERR(expr, e) do {						\
	errno = 0;							\
	long _r = (long)(expr);						\
	int _e = errno;							\
	if (_r != -1 || _e != (e))					\
		FAILF("%s: expected errno %s, got ret %ld errno %d (%s)",\
		      #expr, #e, _r, _e, strerror(_e));			\
} while (0)

/* Expect success (0 or positive). */
#define CHECK_OK(expr) do {						\
	errno = 0;							\
	long _r = (long)(expr);						\
	if (_r < 0)							\
		FAILF("%s failed: errno %d (%s)", #expr, errno,		\
		      strerror(errno));					\
} while (0)

#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		FAILF("REQUIRE(%s) failed (errno %d: %s)", #cond, errno,\
		      strerror(errno));					\
		exit(1);						\
	}								\
} while (0)

static inline long dbg_counter(const char *name)
{
	char path[256], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Wait up to @ms for endpoints and connections to reach the given values
 * and for the RMA counters (windows, pinned_pages, rma_inflight) to be 0.
 */
static inline int wait_counters(long eps, long conns, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (dbg_counter("endpoints") == eps &&
		    dbg_counter("connections") == conns &&
		    dbg_counter("windows") == 0 &&
		    dbg_counter("pinned_pages") == 0 &&
		    dbg_counter("rma_inflight") == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

struct test {
	const char *name;
	void (*fn)(void);
	int timeout;
};

#define TEST(n) static void n(void)
#define T(n, secs) { #n, n, secs }

/* Run @tests; with @filter, only those whose name contains it. */
static inline int run_tests_filter(const char *prog, const struct test *tests,
				   int n, const char *filter)
{
	int failed = 0, count = 0, num = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < n; i++)
		count += !filter || strstr(tests[i].name, filter);
	printf("TAP version 13\n1..%d\n", count);
	for (int i = 0; i < n; i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		num++;
		long eps = dbg_counter("endpoints");
		long conns = dbg_counter("connections");
		int status = 0, ok;
		pid_t pid;

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0) {
			alarm(tests[i].timeout);
			t_failed = 0;
			tests[i].fn();
			fflush(stdout);
			_exit(t_failed ? 1 : 0);
		}
		waitpid(pid, &status, 0);
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!WIFEXITED(status))
			fprintf(stderr, "#   killed by signal %d%s\n",
				WTERMSIG(status),
				WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		if (wait_counters(eps, conns, 3000)) {
			fprintf(stderr, "#   leak: endpoints %ld (was %ld), connections %ld (was %ld), windows %ld, pinned_pages %ld, rma_inflight %ld\n",
				dbg_counter("endpoints"), eps,
				dbg_counter("connections"), conns,
				dbg_counter("windows"),
				dbg_counter("pinned_pages"),
				dbg_counter("rma_inflight"));
			ok = 0;
		}
		printf("%sok %d - %s.%s\n", ok ? "" : "not ", num, prog,
		       tests[i].name);
		failed += !ok;
	}
	return failed ? 1 : 0;
}

static inline int run_tests(const char *prog, const struct test *tests, int n)
{
	return run_tests_filter(prog, tests, n, getenv("SCIF_TEST_FILTER"));
}

/* ---- SCIF helpers ---------------------------------------------------- */

static inline int ep_open_node(int node)
{
	char path[32];

	if (node == 0)
		snprintf(path, sizeof(path), "/dev/scif");
	else
		snprintf(path, sizeof(path), "/dev/scif%d", node);
	return open(path, O_RDWR | O_CLOEXEC);
}

static inline int ep_open(void)
{
	return ep_open_node(0);
}

/* Returns the bound port or -1. */
static inline int ep_bind(int fd, int port)
{
	int p = port;

	if (ioctl(fd, SCIF_BIND, &p) < 0)
		return -1;
	return p;
}

static inline int ep_listen(int fd, int backlog)
{
	return ioctl(fd, SCIF_LISTEN, backlog);
}

static inline int ep_connect(int fd, int node, int port,
			     struct scif_port_id *self)
{
	struct scifioctl_connect c = { .peer = { .node = node, .port = port } };
	int r = ioctl(fd, SCIF_CONNECT, &c);

	if (r == 0 && self)
		*self = c.self;
	return r;
}

/* ACCEPTREQ; returns 0 and the handle, or -1. */
static inline int ep_acceptreq(int lfd, int flags, struct scif_port_id *peer,
			       uint64_t *handle)
{
	struct scifioctl_accept a = { .flags = flags };
	int r = ioctl(lfd, SCIF_ACCEPTREQ, &a);

	if (r == 0) {
		if (peer)
			*peer = a.peer;
		if (handle)
			*handle = a.endpt;
	}
	return r;
}

static inline int ep_acceptreg(int fd, uint64_t handle)
{
	uint64_t h = handle;

	return ioctl(fd, SCIF_ACCEPTREG, &h);
}

/* Full accept on node @node: returns the new connected fd, or -1. */
static inline int ep_accept_node(int lfd, int node, int flags,
				 struct scif_port_id *peer)
{
	uint64_t h = 0;
	int fd;

	if (ep_acceptreq(lfd, flags, peer, &h) < 0)
		return -1;
	fd = ep_open_node(node);
	if (fd < 0)
		return -1;
	if (ep_acceptreg(fd, h) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static inline int ep_accept(int lfd, int flags, struct scif_port_id *peer)
{
	return ep_accept_node(lfd, 0, flags, peer);
}

/* SEND/RECV: returns out_len or -1. */
static inline int ep_send(int fd, const void *buf, int len, int flags)
{
	struct scifioctl_msg m = {
		.msg = (uintptr_t)buf, .len = len, .flags = flags,
	};

	if (ioctl(fd, SCIF_SEND, &m) < 0)
		return -1;
	return m.out_len;
}

static inline int ep_recv(int fd, void *buf, int len, int flags)
{
	struct scifioctl_msg m = {
		.msg = (uintptr_t)buf, .len = len, .flags = flags,
	};

	if (ioctl(fd, SCIF_RECV, &m) < 0)
		return -1;
	return m.out_len;
}

static inline short poll1(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, ms);

	return r > 0 ? p.revents : (r == 0 ? 0 : -1);
}

/* A listener on an automatic port of @node; returns fd and sets *port. */
static inline int make_listener(int node, int backlog, int *port)
{
	int fd = ep_open_node(node), p;

	if (fd < 0)
		return -1;
	p = ep_bind(fd, 0);
	if (p < 0 || ep_listen(fd, backlog) < 0) {
		close(fd);
		return -1;
	}
	*port = p;
	return fd;
}

struct connect_arg {
	int fd, node, port, ret, err;
	struct scif_port_id self;
};

static inline void *connect_thread(void *p)
{
	struct connect_arg *a = p;

	a->ret = ep_connect(a->fd, a->node, a->port, &a->self);
	a->err = errno;
	return NULL;
}

/*
 * A connected pair: *c on @cnode (connector), *s on @lnode (accepted).
 * Uses a non-blocking connect so one thread is enough.
 */
static inline int make_pair_nodes(int cnode, int lnode, int *c, int *s)
{
	int port, lfd = make_listener(lnode, 4, &port), fd, afd, fl;

	if (lfd < 0)
		return -1;
	fd = ep_open_node(cnode);
	if (fd < 0)
		goto fail;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (ep_connect(fd, lnode, port, NULL) == 0 || errno != EINPROGRESS)
		goto fail_fd;
	afd = ep_accept_node(lfd, lnode, SCIF_ACCEPT_SYNC, NULL);
	if (afd < 0)
		goto fail_fd;
	if (!(poll1(fd, POLLOUT, 5000) & POLLOUT) ||
	    ep_connect(fd, lnode, port, NULL) != 0) {
		close(afd);
		goto fail_fd;
	}
	fcntl(fd, F_SETFL, fl);
	close(lfd);
	*c = fd;
	*s = afd;
	return 0;
fail_fd:
	close(fd);
fail:
	close(lfd);
	return -1;
}

static inline int make_pair(int *c, int *s)
{
	return make_pair_nodes(0, 0, c, s);
}

static inline int send_all(int fd, const void *buf, int len)
{
	return ep_send(fd, buf, len, SCIF_SEND_BLOCK);
}

static inline int recv_all(int fd, void *buf, int len)
{
	return ep_recv(fd, buf, len, SCIF_RECV_BLOCK);
}

static inline uint64_t xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void msleep(int ms)
{
	usleep(ms * 1000);
}

#endif

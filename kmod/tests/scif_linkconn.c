// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_linkconn - connections across a SCIF link (kmod/tests/link.sh).
 *
 *   scif_linkconn server          on node 0: the listeners below; exits when
 *                                 the client says it is done (or after 240 s)
 *   scif_linkconn client NODE [quick]
 *                                 on a card: the tests, against NODE's server
 *                                 (quick: a connection, an echo and "done")
 *   scif_linkconn kill-host PORT FILE [KILLED]
 *                                 on node 0: accept a stream on PORT, create
 *                                 FILE (the harness kills the card's qemu;
 *                                 with KILLED, once that file exists too),
 *                                 and check that the stream ends within 1 s
 *   scif_linkconn kill-card NODE PORT
 *                                 on the card: stream into NODE:PORT forever
 *   scif_linkconn churn NODE SECONDS
 *                                 on the card: 4 threads open, stream into,
 *                                 abandon and close connections to NODE's
 *                                 echo server for SECONDS (teardown races)
 *   scif_linkconn fuzz-host SECONDS
 *                                 on node 0 while node 1 is link-fuzz (a hostile
 *                                 card): connect to it and accept from it for
 *                                 SECONDS (and REG, RMA, mmap and fence on half
 *                                 of those connections, in children killed
 *                                 after 2 s), then check that its goodbye ends
 *                                 everything (counters incl. windows, pins,
 *                                 peer windows, RMAs) and that local
 *                                 connections work
 *   scif_linkconn limits-host [LIST]
 *                                 on node 0 while node 1 is link-fuzz --scenario
 *                                 LIST (limits: all): the host's side of the
 *                                 scenarios (the card's connections and windows,
 *                                 the flood's link drop), then counters back to 0
 *   scif_linkconn limits-go       on node 0 after limits-host and its checks:
 *                                 tell the card to start its random traffic
 *
 * Server ports: 3000 echo; 3001 sends 1000 bytes after the first byte it
 * receives, then closes; 3002 closes 1 s after accepting; 3003 backlog 1,
 * never accepts; 3099 "done".  Both sides print "ok - ..." / "not ok - ..."
 * lines and end with "N passed, N failed" (exit 1 on any failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <linux/scif_ioctl.h>

#include "scif_test_api.h"
#include "tap.h"


static int ep_open(int flags)
{
	return open("/dev/scif", O_RDWR | O_CLOEXEC | flags);
}

/* 0 or -errno; @self filled in on success */
static int ep_connect(int fd, int node, int port, struct scif_port_id *self)
{
	struct scifioctl_connect c = { .peer = { .node = node, .port = port } };

	if (ioctl(fd, SCIF_CONNECT, &c))
		return -errno;
	if (self)
		*self = c.self;
	return 0;
}

static int ep_listen(int port, int backlog)
{
	int fd = ep_open(0), p = port;

	if (fd < 0 || ioctl(fd, SCIF_BIND, &p) || ioctl(fd, SCIF_LISTEN, backlog)) {
		fprintf(stderr, "listen %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static int ep_accept(int lfd, struct scif_port_id *peer)
{
	struct scifioctl_accept a = { .flags = SCIF_ACCEPT_SYNC };
	int fd;

	if (ioctl(lfd, SCIF_ACCEPTREQ, &a))
		return -1;
	fd = ep_open(0);
	if (fd < 0 || ioctl(fd, SCIF_ACCEPTREG, &a.endpt)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (peer)
		*peer = a.peer;
	return fd;
}

/* Bytes moved, or -errno with nothing moved. */
static long ep_xfer(int fd, unsigned long cmd, void *buf, int len, int block)
{
	struct scifioctl_msg m = {
		.msg = (uintptr_t)buf, .len = len, .flags = block ? SCIF_SEND_BLOCK : 0,
	};

	if (ioctl(fd, cmd, &m))
		return -errno;
	return m.out_len;
}

static long ep_send(int fd, const void *buf, int len)
{
	return ep_xfer(fd, SCIF_SEND, (void *)buf, len, 1);
}

static long ep_recv(int fd, void *buf, int len)
{
	return ep_xfer(fd, SCIF_RECV, buf, len, 1);
}

static long counter(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/scif/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Wait up to @secs for the connection and endpoint counters to reach 0. */
static int counters_zero(double secs)
{
	double end = now() + secs;

	for (;;) {
		long c = counter("connections"), e = counter("endpoints");

		if (c == 0 && e == 0)
			return 1;
		if (now() > end) {
			fprintf(stderr, "# counters: connections %ld endpoints %ld\n", c, e);
			return 0;
		}
		usleep(50000);
	}
}

/* A deterministic byte stream: byte i of stream @seed. */
static uint8_t pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((i & 7) * 8));
}

/* ---------------------------------------------------------------- server */

static void *echo_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(256 << 10);
	long n, w, off;

	if (!buf)
		goto out;
	for (;;) {
		n = ep_xfer(fd, SCIF_RECV, buf, 256 << 10, 0);
		if (n == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 1000);
			continue;
		}
		if (n < 0)
			break;
		for (off = 0; off < n; off += w) {
			w = ep_send(fd, buf + off, n - off);
			if (w <= 0)
				goto out;
		}
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

struct srv {
	int port;
	int lfd;
};

static int client_node = -1;

static void *accept_thread(void *arg)
{
	struct srv *s = arg;
	struct scif_port_id peer;
	char buf[1000];
	pthread_t t;
	int fd;

	while ((fd = ep_accept(s->lfd, &peer)) >= 0) {
		if (client_node < 0) {
			client_node = peer.node;
			result(peer.node != 0 && peer.port != 0,
			       "ACCEPTREQ reports the card's endpoint as %u:%u",
			       peer.node, peer.port);
		}
		switch (s->port) {
		case 3000:
			pthread_create(&t, NULL, echo_thread, (void *)(intptr_t)fd);
			pthread_detach(t);
			break;
		case 3001:
			memset(buf, 'x', sizeof(buf));
			if (ep_recv(fd, buf, 1) == 1)
				ep_send(fd, buf, sizeof(buf));
			close(fd);
			break;
		case 3002:
			sleep(1);
			close(fd);
			break;
		}
	}
	return NULL;
}

static int server(void)
{
	static struct srv s[] = { { 3000 }, { 3001 }, { 3002 } };
	struct scif_port_id peer;
	int i, never, done, fd;
	pthread_t t;

	for (i = 0; i < 3; i++) {
		s[i].lfd = ep_listen(s[i].port, 64);
		pthread_create(&t, NULL, accept_thread, &s[i]);
		pthread_detach(t);
	}
	never = ep_listen(3003, 1);
	done = ep_listen(3099, 1);
	printf("# server listening\n");
	fflush(stdout);
	alarm(240);
	fd = ep_accept(done, &peer);
	result(fd >= 0, "the card said it is done");
	close(fd);
	/* the card's connections end; ours follow */
	for (i = 0; i < 3; i++)
		close(s[i].lfd);
	close(never);
	close(done);
	result(counters_zero(10), "host: connection and endpoint counters back to 0");
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* ---------------------------------------------------------------- client */

static int host;

static int connect_to(int port, struct scif_port_id *self)
{
	int fd = ep_open(0), ret;

	if (fd < 0)
		return -errno;
	ret = ep_connect(fd, host, port, self);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

struct stream {
	int fd;
	uint64_t seed;
	size_t bytes;
	long ret;
};

static void *send_stream(void *arg)
{
	struct stream *s = arg;
	const size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	size_t off = 0, n, i;
	long w;

	s->ret = -ENOMEM;
	if (!buf)
		return NULL;
	while (off < s->bytes) {
		n = s->bytes - off < chunk ? s->bytes - off : chunk;
		for (i = 0; i < n; i++)
			buf[i] = pattern(s->seed, off + i);
		w = ep_send(s->fd, buf, n);
		if (w != (long)n) {
			s->ret = w < 0 ? w : -EIO;
			free(buf);
			return NULL;
		}
		off += n;
	}
	s->ret = 0;
	free(buf);
	return NULL;
}

/* Receive @bytes and check them against the pattern; 0 or -errno/-EIO. */
static long recv_stream(int fd, uint64_t seed, size_t bytes)
{
	const size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	size_t off = 0, n, i;
	long r = 0;

	if (!buf)
		return -ENOMEM;
	while (off < bytes && !r) {
		n = bytes - off < chunk ? bytes - off : chunk;
		r = ep_recv(fd, buf, n);
		if (r != (long)n) {
			r = r < 0 ? r : -EIO;
			break;
		}
		r = 0;
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(seed, off + i)) {
				fprintf(stderr, "# byte %zu differs\n", off + i);
				r = -EILSEQ;
				break;
			}
		off += n;
	}
	free(buf);
	return r;
}

static void test_ids_and_echo(void)
{
	struct scif_port_id self;
	uint16_t ids[16], me = 0xffff;
	struct scifioctl_node_ids req = {
		.nodes = (uintptr_t)ids, .self = (uintptr_t)&me, .len = 16,
	};
	char buf[6] = { 0 };
	int fd = connect_to(3000, &self), listed = 0;

	result(fd >= 0, "connect to the host's port 3000 (%s)", fd < 0 ? strerror(-fd) : "0");
	if (fd < 0)
		return;
	if (ioctl(fd, SCIF_GET_NODEIDS, &req) == 0)
		for (int i = 0; i < req.len && i < 16; i++)
			listed |= ids[i] == host;
	result(listed && self.node == me && self.node != host && self.port,
	       "CONNECT reports self %u:%u on node %u, host listed", self.node,
	       self.port, me);
	result(ep_send(fd, "hello", 5) == 5 && ep_recv(fd, buf, 5) == 5 &&
	       !memcmp(buf, "hello", 5), "5 bytes echoed");
	close(fd);
}

static void test_duplex(void)
{
	const size_t bytes = 16 << 20;
	struct stream s;
	pthread_t t;
	double t0;
	long r;
	int fd = connect_to(3000, NULL);

	if (fd < 0) {
		result(0, "16 MiB both ways at once: connect %s", strerror(-fd));
		return;
	}
	s = (struct stream){ .fd = fd, .seed = 42, .bytes = bytes };
	t0 = now();
	pthread_create(&t, NULL, send_stream, &s);
	r = recv_stream(fd, 42, bytes);
	pthread_join(t, NULL);
	result(!r && !s.ret, "16 MiB both ways at once, bytes checked (%.0f MB/s each way)",
	       bytes / (now() - t0) / 1e6);
	close(fd);
}

static void *many_one(void *arg)
{
	struct stream *s = arg;
	pthread_t t;
	long r;

	pthread_create(&t, NULL, send_stream, s);
	r = recv_stream(s->fd, s->seed, s->bytes);
	pthread_join(t, NULL);
	if (!s->ret)
		s->ret = r;
	return NULL;
}

static void test_many(void)
{
	enum { N = 32 };
	static struct stream s[N];
	pthread_t t[N];
	int i, ok = 1, fd;

	for (i = 0; i < N; i++) {
		fd = connect_to(3000, NULL);
		if (fd < 0) {
			result(0, "%d connections: connect %d: %s", N, i, strerror(-fd));
			while (i--)
				close(s[i].fd);
			return;
		}
		s[i] = (struct stream){ .fd = fd, .seed = 1000 + i, .bytes = 256 << 10 };
	}
	for (i = 0; i < N; i++)
		pthread_create(&t[i], NULL, many_one, &s[i]);
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ok &= s[i].ret == 0;
		close(s[i].fd);
	}
	result(ok, "%d connections at once, 256 KiB echoed on each", N);
}

static void test_refused(void)
{
	int fd = connect_to(3050, NULL);

	result(fd == -ECONNREFUSED, "no listener: ECONNREFUSED (%s)",
	       fd < 0 ? strerror(-fd) : "connected");
	if (fd >= 0)
		close(fd);
	fd = connect_to(0, NULL);
	result(fd == -EINVAL, "port 0: EINVAL");
	fd = ep_open(0);
	result(ep_connect(fd, 7, 3000, NULL) == -ENODEV, "a node not on the link: ENODEV");
	close(fd);
}

static void test_drain_then_reset(void)
{
	char buf[1000];
	struct pollfd p;
	int fd = connect_to(3001, NULL);
	long r;

	if (fd < 0) {
		result(0, "drain: connect %s", strerror(-fd));
		return;
	}
	ep_send(fd, "x", 1);
	/* the host sends 1000 bytes and closes: let both arrive */
	usleep(500000);
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	poll(&p, 1, 5000);
	result((p.revents & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP) &&
	       !(p.revents & POLLOUT), "after the peer's close: POLLIN|POLLHUP, no POLLOUT (%#x)",
	       p.revents);
	r = ep_recv(fd, buf, sizeof(buf));
	result(r == 1000, "the queued 1000 bytes are read after the close (%ld)", r);
	r = ep_recv(fd, buf, 1);
	result(r == -ECONNRESET, "then recv: ECONNRESET (%ld)", r);
	r = ep_send(fd, buf, 1);
	result(r == -ECONNRESET, "and send: ECONNRESET (%ld)", r);
	close(fd);
}

static void test_blocked_wakes(void)
{
	char buf[4];
	double t0 = now();
	int fd = connect_to(3002, NULL);
	long r;

	if (fd < 0) {
		result(0, "blocked recv: connect %s", strerror(-fd));
		return;
	}
	r = ep_recv(fd, buf, sizeof(buf));
	result(r == -ECONNRESET && now() - t0 < 10,
	       "a blocked recv wakes with ECONNRESET when the host closes (%.2f s)",
	       now() - t0);
	close(fd);
}

static void test_nonblocking(void)
{
	struct pollfd p;
	int fd = ep_open(O_NONBLOCK), r;

	r = ep_connect(fd, host, 3000, NULL);
	result(r == -EINPROGRESS, "non-blocking connect: EINPROGRESS (%d)", r);
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	poll(&p, 1, 10000);
	r = ep_connect(fd, host, 3000, NULL);
	result((p.revents & POLLOUT) && r == 0, "then POLLOUT and CONNECT returns 0 (%d)", r);
	close(fd);
}

static void test_withdrawn(void)
{
	int a = ep_open(O_NONBLOCK), b = ep_open(O_NONBLOCK), c;
	struct pollfd p;
	int ra, rb, rc;

	/* 3003 has backlog 1 and never accepts */
	ra = ep_connect(a, host, 3003, NULL);
	usleep(300000);
	rb = ep_connect(b, host, 3003, NULL);
	p = (struct pollfd){ .fd = b, .events = POLLOUT };
	poll(&p, 1, 10000);
	rb = ep_connect(b, host, 3003, NULL);
	result(ra == -EINPROGRESS && rb == -ECONNREFUSED,
	       "backlog 1 full: the second request is refused (%d)", rb);
	close(b);
	close(a);		/* withdraws the first: the backlog is free again */
	usleep(500000);
	c = ep_open(O_NONBLOCK);
	rc = ep_connect(c, host, 3003, NULL);
	p = (struct pollfd){ .fd = c, .events = POLLOUT };
	poll(&p, 1, 1000);
	result(rc == -EINPROGRESS && !(p.revents & POLLOUT),
	       "a withdrawn request frees its backlog slot (still pending: %#x)", p.revents);
	close(c);
}

static void fd_done(void)
{
	int fd = connect_to(3099, NULL);

	result(fd >= 0, "told the host we are done");
	if (fd >= 0)
		close(fd);
}

static int client(int quick)
{
	test_ids_and_echo();
	if (quick)
		goto done;
	test_duplex();
	test_many();
	test_refused();
	test_drain_then_reset();
	test_blocked_wakes();
	test_nonblocking();
	test_withdrawn();
done:
	result(counters_zero(10), "card: connection and endpoint counters back to 0");
	fd_done();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* The host's side of a card killed mid-stream. */
static int kill_host(int port, const char *file, const char *wait_file)
{
	const int chunk = 1 << 20;
	char *buf = malloc(chunk);
	int lfd = ep_listen(port, 1), fd, f;
	long total = 0, r = 0;
	double t0;

	alarm(120);
	fd = ep_accept(lfd, NULL);
	close(lfd);
	result(fd >= 0, "the card's stream connected");
	while (fd >= 0 && total < (8 << 20) && (r = ep_recv(fd, buf, chunk)) > 0)
		total += r;
	result(total >= (8 << 20), "8 MiB of the card's stream arrived");
	f = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	close(f);
	/* another test may be the one that asks for the kill */
	while (wait_file && access(wait_file, F_OK))
		usleep(20000);
	t0 = now();
	while (fd >= 0 && (r = ep_xfer(fd, SCIF_RECV, buf, chunk, 1)) > 0)
		;
	result(r == -ECONNRESET && now() - t0 < 1.0,
	       "the card's qemu killed mid-stream: the host's recv ends with ECONNRESET %.2f s after the kill was asked for",
	       now() - t0);
	close(fd);
	result(counters_zero(5), "host: counters back to 0 after the dead card's connection");
	free(buf);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* The card's side: stream until killed. */
static int kill_card(int port)
{
	const int chunk = 1 << 20;
	char *buf = calloc(1, chunk);
	double end = now() + 60;
	int fd;

	while ((fd = connect_to(port, NULL)) < 0 && now() < end)
		usleep(200000);
	while (fd >= 0 && ep_send(fd, buf, chunk) == chunk)
		;
	fprintf(stderr, "kill-card: the stream ended before the kill\n");
	return 1;
}

static double churn_end;

static void *churn_thread(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	const int max = 512 << 10;
	char *buf = malloc(max);
	long cycles = 0;

	while (buf && now() < churn_end) {
		int how, fd, len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		how = x % 8;
		len = 1 + (x >> 8) % max;
		if (how == 0) {
			/* a request withdrawn at once */
			fd = ep_open(O_NONBLOCK);
			ep_connect(fd, host, 3000, NULL);
			close(fd);
			continue;
		}
		fd = connect_to(3000, NULL);
		if (fd < 0)
			continue;
		cycles++;
		memset(buf, (int)x, len);
		if (ep_send(fd, buf, len) != len) {
			close(fd);
			continue;
		}
		/* read all, some or none of the echo, then close with bytes in flight */
		if (how >= 4)
			ep_recv(fd, buf, len);
		else if (how >= 2)
			ep_recv(fd, buf, len / 2 + 1);
		close(fd);
	}
	free(buf);
	return (void *)cycles;
}

static int churn(double secs)
{
	pthread_t t[4];
	long total = 0;
	void *r;

	churn_end = now() + secs;
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn_thread, (void *)(i + 1));
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		total += (long)r;
	}
	result(total > 0, "churn: %ld connections opened, streamed into and torn down in %.0f s",
	       total, secs);
	test_ids_and_echo();
	result(counters_zero(20), "card: counters back to 0 after the churn");
	fd_done();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

static volatile int fuzz_stop;

/* Wait up to @secs for the RMA counters to reach 0. */
static int rma_counters_zero(double secs)
{
	static const char *const names[] = {
		"windows", "pinned_pages", "peer_windows", "rma_inflight",
	};
	double end = now() + secs;

	for (;;) {
		long v[4], bad = 0;

		for (int i = 0; i < 4; i++) {
			v[i] = counter(names[i]);
			bad |= v[i] != 0;
		}
		if (!bad)
			return 1;
		if (now() > end) {
			fprintf(stderr, "# counters: windows %ld pinned_pages %ld peer_windows %ld rma_inflight %ld\n",
				v[0], v[1], v[2], v[3]);
			return 0;
		}
		usleep(50000);
	}
}

/* What the RMA children did (exit status bits), and how they ended. */
#define RMA_REG		0x1	/* REG returned */
#define RMA_COPY	0x2	/* a readFrom/writeTo succeeded */
#define RMA_MMAP	0x4	/* an mmap of the card's window succeeded */
#define RMA_FENCE	0x8	/* a fence mark + wait returned 0 */
#define RMA_KERRNO	0x10	/* a call failed with a kernel-internal errno */

static pthread_mutex_t rma_lock = PTHREAD_MUTEX_INITIALIZER;
static long rma_runs, rma_bits[5], rma_killed, rma_signalled, rma_stuck;

static uint64_t child_rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Say which errno (in a child: no stdio). */
static int kerrno(const char *what, int e)
{
	char line[80];
	int n = snprintf(line, sizeof(line), "# %s failed with errno %d\n", what, e);

	if (write(2, line, n) < 0)
		return RMA_KERRNO;
	return RMA_KERRNO;
}

/*
 * In a child: REG a buffer on @fd (a connection with the hostile card: the
 * card may never answer), then RMAs, an mmap and fences against offsets
 * where the card puts its windows (id << 20).  Any errno is fine.
 */
static void __attribute__((noreturn)) rma_child(int fd, uint64_t x)
{
	size_t len = 4096UL << (child_rnd(&x) % 4);
	struct scifioctl_reg reg = {
		.len = len, .prot = SCIF_PROT_READ | SCIF_PROT_WRITE,
	};
	int bits = 0, mark = 0;
	char *buf;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(0);
	memset(buf, 0x5a, len);
	reg.addr = (uintptr_t)buf;
	if (!ioctl(fd, SCIF_REG, &reg))
		bits |= RMA_REG;
	else if (errno >= 512)	/* ERESTARTSYS..., or the card's number */
		bits |= kerrno("REG", errno);
	for (int i = 0; i < 6; i++) {
		struct scifioctl_copy c = {
			.loffset = reg.out_offset,
			.len = 4096UL << (child_rnd(&x) % 2),
			.roffset = (int64_t)((1 + child_rnd(&x) % 24) << 20) +
				   4096 * (int64_t)(child_rnd(&x) % 4),
			.addr = (uintptr_t)buf,
			.flags = (int)(child_rnd(&x) % 2 ? SCIF_RMA_SYNC : 0) |
				 (int)(child_rnd(&x) % 2 ? SCIF_RMA_USECPU : 0),
		};
		static const unsigned long cmds[] = {
			SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM, SCIF_VWRITETO,
		};

		if (c.len > len)
			c.len = len;
		if (!ioctl(fd, cmds[child_rnd(&x) % 4], &c))
			bits |= RMA_COPY;
		else if (errno >= 512)
			bits |= kerrno("an RMA", errno);
	}
	{
		/* the card's windows on a connection are at (1 + i) << 20 */
		volatile char *m = MAP_FAILED;

		for (int j = 0; j < 8 && m == MAP_FAILED; j++)
			m = mmap(NULL, 4096, j & 1 ? PROT_READ : PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, (off_t)(1 + j / 2) << 20);

		if (m != MAP_FAILED) {
			bits |= RMA_MMAP;
			(void)m[0];	/* SIGBUS once the card is gone: fine */
			if (child_rnd(&x) % 4 == 0)
				usleep(1500000);	/* across a restart of the card */
			munmap((void *)m, 4096);
		}
	}
	{
		struct scifioctl_fence_mark fm = {
			.flags = child_rnd(&x) % 2 ? SCIF_FENCE_INIT_PEER : SCIF_FENCE_INIT_SELF,
			.mark = (uintptr_t)&mark,
		};
		struct scifioctl_fence_signal sig = {
			.loff = reg.out_offset, .lval = 1,
			.roff = (int64_t)((1 + child_rnd(&x) % 24) << 20), .rval = 2,
			.flags = SCIF_FENCE_INIT_PEER | SCIF_SIGNAL_LOCAL |
				 (child_rnd(&x) % 2 ? SCIF_SIGNAL_REMOTE : 0),
		};

		if (!ioctl(fd, SCIF_FENCE_MARK, &fm) && !ioctl(fd, SCIF_FENCE_WAIT, &mark))
			bits |= RMA_FENCE;
		if (!(bits & RMA_REG))
			sig.flags &= ~SCIF_SIGNAL_LOCAL;
		ioctl(fd, SCIF_FENCE_SIGNAL, &sig);
	}
	if (bits & RMA_REG) {
		struct scifioctl_unreg u = { .offset = reg.out_offset, .len = len };

		ioctl(fd, SCIF_UNREG, &u);
	}
	_exit(bits);
}

/* Run rma_child() on @fd; kill it after 2 s; it must die within 5 s more. */
static void fuzz_rma(int fd)
{
	static uint64_t seq = 0x2545f4914f6cdd1dULL;
	double t = now();
	int st = 0, killed = 0;
	pid_t pid, w;

	pthread_mutex_lock(&rma_lock);
	seq = seq * 6364136223846793005ULL + 1442695040888963407ULL;
	pthread_mutex_unlock(&rma_lock);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0)
		rma_child(fd, seq | 1);
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (!killed && now() - t > 2) {
			kill(pid, SIGKILL);
			killed = 1;
			t = now();
		} else if (killed && now() - t > 5) {
			pthread_mutex_lock(&rma_lock);
			rma_stuck++;
			pthread_mutex_unlock(&rma_lock);
			fprintf(stderr, "# RMA child %d did not die within 5 s of SIGKILL\n", pid);
			return;
		}
		usleep(10000);
	}
	pthread_mutex_lock(&rma_lock);
	rma_runs++;
	if (killed)
		rma_killed++;
	else if (WIFSIGNALED(st))
		rma_signalled++;
	else
		for (int i = 0; i < 5; i++)
			rma_bits[i] += (WEXITSTATUS(st) >> i) & 1;
	pthread_mutex_unlock(&rma_lock);
}

/* Accept whatever the hostile card manages to connect; poke it; close. */
static void *fuzz_acceptor(void *arg)
{
	int lfd = *(int *)arg, fd;
	char buf[256];
	long accepted = 0;

	while (!fuzz_stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct scifioctl_accept a = { .flags = 0 };

		if (poll(&p, 1, 100) != 1 || ioctl(lfd, SCIF_ACCEPTREQ, &a))
			continue;
		fd = ep_open(0);
		if (fd < 0 || ioctl(fd, SCIF_ACCEPTREG, &a.endpt)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		ep_xfer(fd, SCIF_RECV, buf, sizeof(buf), 0);
		ep_xfer(fd, SCIF_SEND, buf, sizeof(buf), 0);
		if (++accepted % 2)
			fuzz_rma(fd);
		close(fd);
	}
	return NULL;
}

static int gone(int node)
{
	uint16_t ids[16], me;
	struct scifioctl_node_ids req = {
		.nodes = (uintptr_t)ids, .self = (uintptr_t)&me, .len = 16,
	};
	int fd = ep_open(0), found = 0;

	if (fd < 0 || ioctl(fd, SCIF_GET_NODEIDS, &req))
		return 0;
	close(fd);
	for (int i = 0; i < req.len && i < 16; i++)
		found |= ids[i] == node;
	return !found;
}

/*
 * This kernel still works: a local connection on its own node (@port), a
 * few bytes across.  Return: 0 or nonzero; *@me: the node.
 */
static int self_connect(int port, int *me)
{
	int lfd = ep_listen(port, 1), fd = ep_open(O_NONBLOCK), r;	/* completes at accept */
	struct scif_port_id self;
	char buf[8];

	*me = -1;
	{
		uint16_t ids[16], m = 0xffff;
		struct scifioctl_node_ids req = {
			.nodes = (uintptr_t)ids, .self = (uintptr_t)&m, .len = 16,
		};

		if (!ioctl(fd, SCIF_GET_NODEIDS, &req))
			*me = m;
	}
	r = ep_connect(fd, *me, port, &self);
	if (r == -EINPROGRESS) {
		int a = ep_accept(lfd, NULL);
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		poll(&p, 1, 10000);
		r = ep_connect(fd, *me, port, &self);
		r = r || a < 0 || ep_send(fd, "alive", 5) != 5 ||
		    ep_recv(a, buf, 5) != 5 || memcmp(buf, "alive", 5);
		if (a >= 0)
			close(a);
	}
	close(fd);
	close(lfd);
	return r;
}

/**
 * after_hostile() - the host's checks once a hostile card is done with it
 * @what: what the card did, for the messages ("the fuzz")
 * @port: a free local port for the self-connect
 *
 * Every connection, endpoint and RMA counter comes back to 0, the kernel
 * still connects to itself, and that connection leaves nothing behind.
 */
static void after_hostile(const char *what, int port)
{
	int r, me;

	result(counters_zero(20), "host: connections and endpoints back to 0 after %s", what);
	result(rma_counters_zero(20),
	       "host: windows, pinned_pages, peer_windows, rma_inflight back to 0 after %s", what);
	r = self_connect(port, &me);
	result(r == 0, "this kernel still connects to itself (node %d) after %s", me, what);
	result(counters_zero(10), "host: counters 0 again after that");
	result(rma_counters_zero(10), "host: RMA counters 0 again after that");
}

static int fuzz_host(double secs)
{
	long tries = 0, connected = 0, refused = 0, other = 0;
	double end = now() + secs, t;
	int lfd = ep_listen(3000, 64), fd, r;
	char buf[256] = "fuzz";
	pthread_t t_acc;

	alarm(secs + 240);
	pthread_create(&t_acc, NULL, fuzz_acceptor, &lfd);
	while (now() < end) {
		struct pollfd p;

		fd = ep_open(O_NONBLOCK);
		if (fd < 0)
			break;
		tries++;
		r = ep_connect(fd, 1, 2000 + tries % 4, NULL);
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (r == -EINPROGRESS && poll(&p, 1, 50) == 1)
			r = ep_connect(fd, 1, 2000 + tries % 4, NULL);
		if (r == 0) {
			connected++;
			ep_xfer(fd, SCIF_SEND, buf, sizeof(buf), 0);
			ep_xfer(fd, SCIF_RECV, buf, sizeof(buf), 0);
			p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
			poll(&p, 1, 0);
			if (connected % 2)
				fuzz_rma(fd);
		} else if (r == -ECONNREFUSED || r == -ENODEV) {
			refused++;
		} else {
			other++;
		}
		close(fd);
	}
	fuzz_stop = 1;
	pthread_join(t_acc, NULL);
	close(lfd);
	printf("# %ld connects: %ld connected, %ld refused/no node, %ld other\n", tries,
	       connected, refused, other);
	result(tries > 0, "the host kept connecting to the hostile card for %.0f s", secs);
	printf("# RMA children: %ld ran (%ld REG ok, %ld copy ok, %ld mmap ok, %ld fence ok), %ld killed after 2 s, %ld died of a signal\n",
	       rma_runs, rma_bits[0], rma_bits[1], rma_bits[2], rma_bits[3], rma_killed,
	       rma_signalled);
	result(rma_stuck == 0 && rma_runs > 0,
	       "%ld RMA children on connections with the card ended (%ld killed), none stuck",
	       rma_runs, rma_killed);
	result(rma_bits[0] > 0, "some REGs completed (the card's answers arrived): %ld",
	       rma_bits[0]);
	result(rma_bits[4] == 0, "no REG or RMA failed with an errno >= 512 (not user ABI): %ld did",
	       rma_bits[4]);
	t = now();
	while (!gone(1) && now() - t < 60)
		usleep(100000);
	result(gone(1), "node 1 left after the fuzzer's goodbye");
	after_hostile("the fuzz", 3100);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* ------------------------------------------------------------ limits-host */

/*
 * The host's side of link-fuzz --scenario (kmod/fabric/link-fuzz.c, "the
 * kernel's limits"): what this kernel shows of them.  The scenarios' records
 * are SCIF_REC bytes, a string.
 */
#define LIMITS_REC	32

/* Connect to the card's @port; while node 1 is not up (or, @retry, refuses), again. */
static int limits_connect(int port, double secs, int retry)
{
	double end = now() + secs;
	int fd, r;

	for (;;) {
		fd = ep_open(0);
		if (fd < 0)
			return -1;
		r = ep_connect(fd, 1, port, NULL);
		if (!r)
			return fd;
		close(fd);
		if ((r != -ENODEV && (r != -ECONNREFUSED || !retry)) || now() > end) {
			fprintf(stderr, "# connect to 1:%d: %s\n", port, strerror(-r));
			return -1;
		}
		usleep(200000);
	}
}

static int limits_recv(int fd, char *rec)
{
	long n = 0, r;

	while (n < LIMITS_REC) {
		r = ep_recv(fd, rec + n, LIMITS_REC - n);
		if (r <= 0)
			return -1;
		n += r;
	}
	rec[LIMITS_REC - 1] = 0;
	return 0;
}

static int limits_send(int fd, const char *text)
{
	char rec[LIMITS_REC] = { 0 };

	snprintf(rec, sizeof(rec), "%s", text);
	return ep_send(fd, rec, LIMITS_REC) == LIMITS_REC ? 0 : -1;
}

/* Wait up to @secs for debugfs @name to read @want. */
static long counter_is(const char *name, long want, double secs)
{
	double end = now() + secs;
	long v;

	while ((v = counter(name)) != want && now() < end)
		usleep(50000);
	return v;
}

/* The card's windows on a connection it grants: the kernel's count of them. */
static void limits_import(void)
{
	int fd = limits_connect(2100, 180, 1), n, steps = 0;
	char rec[LIMITS_REC] = "";	/* read below even if no record came */
	long v;

	result(fd >= 0, "limits/import: connected to the card's port 2100");
	if (fd < 0)
		return;
	while (!limits_recv(fd, rec)) {
		if (!strcmp(rec, "done"))
			break;
		if (sscanf(rec, "peer_windows %d", &n) != 1) {
			result(0, "limits/import: a record from the card: '%s'", rec);
			break;
		}
		v = counter_is("peer_windows", n, 5);
		result(v == n, "limits/import: this kernel holds %d windows of the card's (debugfs peer_windows: %ld)",
		       n, v);
		steps++;
		if (limits_send(fd, "ack"))
			break;
	}
	result(!strcmp(rec, "done") && steps == 3,
	       "limits/import: the card went through its steps (%d counts checked)", steps);
	close(fd);
}

/* A request the card leaves unanswered while it sends messages with src id 0. */
static void limits_src0(void)
{
	int fd = limits_connect(2101, 60, 0);
	char rec[LIMITS_REC];
	int ok;

	result(fd >= 0, "limits/src0: the request to the card's port 2101, answered after the card's src-0 messages, connected");
	if (fd < 0)
		return;
	ok = !limits_send(fd, "src0 hello") && !limits_recv(fd, rec) && !strcmp(rec, "src0 reply");
	result(ok, "limits/src0: bytes both ways on that connection");
	close(fd);
}

/* The card floods: node 1 must go down (the link dropped), then come back. */
static void limits_flood(void)
{
	double t = now();
	int down, up = 0;

	while (!(down = gone(1)) && now() - t < 60)
		usleep(50000);
	result(down, "limits/flood: node 1 went down (the kernel dropped the link) %.1f s after the src0 scenario",
	       now() - t);
	t = now();
	while (down && !(up = !gone(1)) && now() - t < 60)
		usleep(50000);
	result(up, "limits/flood: node 1 came back as a restarted card (%.1f s)", now() - t);
}

/* The host has looked: the card may start its random traffic (it refuses this request). */
static int limits_go(void)
{
	double end = now() + 60;
	int fd, r;

	do {
		fd = ep_open(0);
		r = fd < 0 ? -errno : ep_connect(fd, 1, 2102, NULL);
		if (fd >= 0)
			close(fd);
	} while (r == -ENODEV && now() < end && !usleep(200000));
	result(r == -ECONNREFUSED, "limits: the card refused our request to its port 2102: its random traffic starts (%s)",
	       r ? strerror(-r) : "connected");
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

static int limits_host(const char *list)
{
	int all = !strcmp(list, "limits");

	alarm(600);
	if (all || strstr(list, "import"))
		limits_import();
	if (all || strstr(list, "src0"))
		limits_src0();
	if (all || strstr(list, "flood"))
		limits_flood();
	after_hostile("the limits scenarios", 3101);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "churn")) {
		host = atoi(argv[2]);
		alarm(atof(argv[3]) + 240);
		return churn(atof(argv[3]));
	}
	if (argc == 3 && !strcmp(argv[1], "fuzz-host"))
		return fuzz_host(atof(argv[2]));
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "limits-host"))
		return limits_host(argc == 3 ? argv[2] : "limits");
	if (argc == 2 && !strcmp(argv[1], "limits-go")) {
		alarm(120);
		return limits_go();
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "kill-host"))
		return kill_host(atoi(argv[2]), argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 4 && !strcmp(argv[1], "kill-card")) {
		host = atoi(argv[2]);
		return kill_card(atoi(argv[3]));
	}
	if (argc == 2 && !strcmp(argv[1], "server"))
		return server();
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "client")) {
		host = atoi(argv[2]);
		alarm(240);
		return client(argc == 4 && !strcmp(argv[3], "quick"));
	}
	fprintf(stderr, "usage: scif_linkconn server | client NODE [quick] | kill-host PORT FILE | kill-card NODE PORT\n");
	return 2;
}

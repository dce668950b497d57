// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_msg.c - send/recv, poll, disconnect and concurrency.
 */
#include "harness.h"
#include <sys/epoll.h>
#include <sys/resource.h>

#define BADPTR ((void *)0x10)
#define KPTR ((void *)0xffffffff81000000UL)

TEST(nonblock_send_recv)
{
	static char big[256 * 1024], out[256 * 1024];
	int c, s, n, total = 0;
	char buf[16];

	REQUIRE(make_pair(&c, &s) == 0);
	CHECK(ep_recv(s, buf, sizeof(buf), 0) == 0);	/* would block */
	CHECK(ep_send(c, "", 0, 0) == 0);
	CHECK(ep_recv(s, buf, 0, 0) == 0);
	CHECK(ep_send(c, "ping", 4, 0) == 4);
	CHECK(poll1(s, POLLIN | POLLOUT, 0) == (POLLIN | POLLOUT));
	CHECK(ep_recv(s, buf, 2, 0) == 2 && !memcmp(buf, "pi", 2));
	CHECK(ep_recv(s, buf, sizeof(buf), 0) == 2 && !memcmp(buf, "ng", 2));
	CHECK(poll1(s, POLLIN | POLLOUT, 0) == POLLOUT);
	/* Fill the ring until a non-blocking send moves nothing. */
	for (int i = 0; i < 4096; i++) {
		n = ep_send(c, big, sizeof(big), 0);
		CHECK(n >= 0);
		if (n <= 0)
			break;
		total += n;
	}
	CHECK(n == 0);
	CHECK(total >= 4096);
	printf("# ring holds %d bytes\n", total);
	CHECK(poll1(c, POLLOUT, 0) == 0);
	CHECK(poll1(s, POLLIN, 0) == POLLIN);
	CHECK(ep_recv(s, out, 100, 0) == 100);
	CHECK(poll1(c, POLLOUT, 1000) == POLLOUT);
	CHECK(ep_send(c, big, sizeof(big), 0) == 100);
	/* Drain all of it. */
	n = 0;
	for (;;) {
		int r = ep_recv(s, out, sizeof(out), 0);

		if (r <= 0)
			break;
		n += r;
	}
	CHECK(n == total);
	close(c);
	close(s);
}

TEST(send_recv_errors)
{
	struct scifioctl_msg m = { 0 };
	int fd = ep_open(), c, s, port, l;
	char buf[8];

	REQUIRE(fd >= 0);
	CHECK_ERR(ep_send(fd, buf, 1, 0), ENOTCONN);
	CHECK_ERR(ep_recv(fd, buf, 1, 0), ENOTCONN);
	CHECK(ep_bind(fd, 0) > 0);
	CHECK_ERR(ep_send(fd, buf, 1, 0), ENOTCONN);
	l = make_listener(0, 1, &port);
	CHECK_ERR(ep_send(l, buf, 1, 0), ENOTCONN);
	CHECK_ERR(ep_recv(l, buf, 1, SCIF_RECV_BLOCK), ENOTCONN);
	close(l);
	REQUIRE(make_pair(&c, &s) == 0);
	CHECK_ERR(ep_send(c, buf, -1, 0), EINVAL);
	CHECK_ERR(ep_recv(c, buf, -5, 0), EINVAL);
	CHECK_ERR(ep_send(c, buf, 1, 2), EINVAL);
	CHECK_ERR(ep_recv(c, buf, 1, 0x100), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_SEND, BADPTR), EFAULT);
	CHECK_ERR(ioctl(c, SCIF_RECV, KPTR), EFAULT);
	CHECK_ERR(ep_send(c, BADPTR, 10, 0), EFAULT);
	CHECK_ERR(ep_send(c, KPTR, 10, SCIF_SEND_BLOCK), EFAULT);
	CHECK(ep_send(c, "abcd", 4, 0) == 4);
	CHECK_ERR(ep_recv(s, BADPTR, 4, 0), EFAULT);
	CHECK_ERR(ep_recv(s, KPTR, 4, 0), EFAULT);
	CHECK(ep_recv(s, buf, 8, 0) == 4 && !memcmp(buf, "abcd", 4));
	m.msg = (uintptr_t)buf;
	m.len = 1;
	m.out_len = 1234;
	CHECK(ioctl(s, SCIF_RECV, &m) == 0 && m.out_len == 0);
	close(c);
	close(s);
	close(fd);
}

struct big_arg { int fd; size_t len; uint64_t seed; int ret; };

static void *big_sender(void *p)
{
	struct big_arg *a = p;
	char *buf = malloc(a->len);
	uint64_t s = a->seed;

	for (size_t i = 0; i < a->len; i += 8) {
		uint64_t v = xs64(&s);

		memcpy(buf + i, &v, 8);
	}
	a->ret = send_all(a->fd, buf, a->len);
	free(buf);
	return NULL;
}

TEST(blocking_large)
{
	struct big_arg a = { .len = 8 << 20, .seed = 42 };
	char *buf = malloc(8 << 20);
	uint64_t s = 42;
	pthread_t th;
	int c, sfd, bad = 0;

	REQUIRE(make_pair(&c, &sfd) == 0);
	a.fd = c;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&th, NULL, big_sender, &a);
	CHECK(recv_all(sfd, buf, a.len) == (int)a.len);
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# 8 MiB blocking stream (incl. generating it): %.0f MB/s\n",
	       a.len / ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) * 1e3);
	CHECK(a.ret == (int)a.len);
	for (size_t i = 0; i < a.len; i += 8) {
		uint64_t v = xs64(&s);

		bad |= memcmp(buf + i, &v, 8) != 0;
	}
	CHECK(!bad);
	free(buf);
	close(c);
	close(sfd);
}

TEST(drain_then_reset)
{
	char buf[2000], in[2000];
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	for (int i = 0; i < 1000; i++)
		buf[i] = i * 7;
	CHECK(ep_send(c, buf, 1000, SCIF_SEND_BLOCK) == 1000);
	close(c);
	CHECK(poll1(s, POLLIN | POLLOUT, 1000) == (POLLIN | POLLHUP));
	CHECK(ep_recv(s, in, 600, 0) == 600);
	CHECK(ep_recv(s, in + 600, 1000, SCIF_RECV_BLOCK) == 400);
	CHECK(!memcmp(in, buf, 1000));
	CHECK_ERR(ep_recv(s, in, 10, 0), ECONNRESET);
	CHECK_ERR(ep_recv(s, in, 10, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK_ERR(ep_send(s, in, 10, 0), ECONNRESET);
	CHECK_ERR(ep_send(s, in, 10, SCIF_SEND_BLOCK), ECONNRESET);
	CHECK(poll1(s, POLLIN | POLLOUT, 0) == POLLHUP);
	CHECK_ERR(ep_connect(s, 0, 1234, NULL), EISCONN);
	close(s);
}

TEST(poll_states)
{
	int fd = ep_open(), port = 0, l, c, s, a;

	REQUIRE(fd >= 0);
	CHECK(poll1(fd, POLLIN | POLLOUT, 0) == POLLERR);	/* unbound */
	CHECK(ep_bind(fd, 0) > 0);
	CHECK(poll1(fd, POLLIN | POLLOUT, 0) == POLLERR);	/* bound */
	close(fd);
	l = make_listener(0, 4, &port);
	CHECK(poll1(l, POLLIN | POLLOUT, 0) == 0);
	a = ep_open();
	fcntl(a, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(a, 0, port, NULL), EINPROGRESS);
	CHECK(poll1(a, POLLIN | POLLOUT, 0) == 0);		/* connecting */
	CHECK(poll1(l, POLLIN | POLLOUT, 0) == POLLIN);
	close(a);
	close(l);
	REQUIRE(make_pair(&c, &s) == 0);
	CHECK(poll1(c, POLLIN | POLLOUT, 0) == POLLOUT);
	CHECK(ep_send(s, "x", 1, 0) == 1);
	CHECK(poll1(c, POLLIN | POLLOUT, 0) == (POLLIN | POLLOUT));
	close(s);
	CHECK(poll1(c, POLLIN | POLLOUT, 0) == (POLLIN | POLLHUP));
	close(c);
}

struct wake_arg { int fd, ret, err; char buf[64]; int len, flags; };

static void *recv_thread(void *p)
{
	struct wake_arg *a = p;

	a->ret = ep_recv(a->fd, a->buf, a->len, a->flags);
	a->err = errno;
	return NULL;
}

static void *poll_thread(void *p)
{
	struct wake_arg *a = p;

	a->ret = poll1(a->fd, POLLIN, 5000);
	return NULL;
}

static void on_sig(int s) { (void)s; }

TEST(wakeups)
{
	struct sigaction sa = { .sa_handler = on_sig };
	struct wake_arg a = { .len = 64, .flags = SCIF_RECV_BLOCK };
	pthread_t th;
	int c, s;

	sigaction(SIGUSR1, &sa, NULL);
	REQUIRE(make_pair(&c, &s) == 0);
	/* A blocked poll wakes on data. */
	a.fd = s;
	pthread_create(&th, NULL, poll_thread, &a);
	msleep(50);
	CHECK(ep_send(c, "abc", 3, 0) == 3);
	pthread_join(th, NULL);
	CHECK(a.ret == (POLLIN));
	/* A blocking recv returns the partial count when interrupted. */
	pthread_create(&th, NULL, recv_thread, &a);
	msleep(100);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK(a.ret == 3 && !memcmp(a.buf, "abc", 3));
	/* ... and EINTR when nothing moved. */
	pthread_create(&th, NULL, recv_thread, &a);
	msleep(100);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK(a.ret == -1 && a.err == EINTR);
	/* The peer closing wakes a blocked recv with its bytes, then reset. */
	pthread_create(&th, NULL, recv_thread, &a);
	msleep(50);
	CHECK(ep_send(c, "xy", 2, 0) == 2);
	msleep(50);
	close(c);
	pthread_join(th, NULL);
	CHECK(a.ret == 2 && !memcmp(a.buf, "xy", 2));
	pthread_create(&th, NULL, recv_thread, &a);
	pthread_join(th, NULL);
	CHECK(a.ret == -1 && a.err == ECONNRESET);
	close(s);
	/* Closing our own fd wakes our blocked recv (flush). */
	REQUIRE(make_pair(&c, &s) == 0);
	a.fd = c;
	pthread_create(&th, NULL, recv_thread, &a);
	msleep(100);
	close(c);
	pthread_join(th, NULL);
	CHECK(a.ret == -1);
	CHECK(poll1(s, POLLIN, 1000) == POLLHUP);
	close(s);
}

TEST(blocked_send_wakes)
{
	struct big_arg a = { .len = 16 << 20, .seed = 1 };
	pthread_t th;
	int c, s;

	REQUIRE(make_pair(&c, &s) == 0);
	a.fd = c;
	pthread_create(&th, NULL, big_sender, &a);
	msleep(300);
	close(s);		/* sender is blocked on a full ring */
	pthread_join(th, NULL);
	CHECK(a.ret > 0 && a.ret < (int)a.len);	/* partial count */
	close(c);
}

/* Several threads on one connection; each block carries its own checksum. */
#define BLK 4096
#define NTHR 4
static int mt_blocks = 512;	/* per thread: 2 MiB */

struct blk { uint32_t tid, seq; uint64_t sum; char data[BLK - 16]; };

static void *mt_sender(void *p)
{
	int fd = ((int *)p)[0], tid = ((int *)p)[1];
	struct blk b;

	for (int i = 0; i < mt_blocks; i++) {
		uint64_t s = (uint64_t)tid << 32 | i | 1, sum = 0;

		b.tid = tid;
		b.seq = i;
		for (size_t j = 0; j < sizeof(b.data); j += 8) {
			uint64_t v = xs64(&s);

			memcpy(b.data + j, &v, 8);
			sum += v;
		}
		b.sum = sum;
		if (send_all(fd, &b, BLK) != BLK) {
			FAILF("send failed");
			return NULL;
		}
	}
	return NULL;
}

struct mt_rx { int fd; int count[64]; int bad; int blocks; };

static void *mt_receiver(void *p)
{
	struct mt_rx *r = p;
	struct blk b;

	for (int i = 0; i < r->blocks; i++) {
		uint64_t sum = 0, v;

		if (recv_all(r->fd, &b, BLK) != BLK) {
			FAILF("recv failed");
			return NULL;
		}
		for (size_t j = 0; j < sizeof(b.data); j += 8) {
			memcpy(&v, b.data + j, 8);
			sum += v;
		}
		if (sum != b.sum || b.tid >= 64)
			r->bad++;
		else
			__atomic_fetch_add(&r->count[b.tid], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(multithread)
{
	pthread_t tx[2 * NTHR], rx[2 * NTHR];
	int args[2 * NTHR][2], c, s;
	struct mt_rx rs = { 0 }, rc = { 0 };

	REQUIRE(make_pair(&c, &s) == 0);
	rs.fd = s;
	rs.blocks = mt_blocks;	/* NTHR receivers share NTHR*blocks blocks */
	rc.fd = c;
	rc.blocks = mt_blocks;
	for (int i = 0; i < NTHR; i++) {
		/* c -> s on tids 0..NTHR-1, s -> c on tids NTHR.. */
		args[i][0] = c;
		args[i][1] = i;
		args[NTHR + i][0] = s;
		args[NTHR + i][1] = NTHR + i;
		pthread_create(&tx[i], NULL, mt_sender, args[i]);
		pthread_create(&tx[NTHR + i], NULL, mt_sender, args[NTHR + i]);
		pthread_create(&rx[i], NULL, mt_receiver, &rs);
		pthread_create(&rx[NTHR + i], NULL, mt_receiver, &rc);
	}
	for (int i = 0; i < 2 * NTHR; i++) {
		pthread_join(tx[i], NULL);
		pthread_join(rx[i], NULL);
	}
	CHECK(rs.bad == 0 && rc.bad == 0);
	for (int i = 0; i < NTHR; i++) {
		CHECK(rs.count[i] == mt_blocks);
		CHECK(rc.count[NTHR + i] == mt_blocks);
	}
	CHECK(ep_recv(c, &s, 1, 0) == 0);
	close(c);
	close(s);
}

static void set_ring_kb(const char *v)
{
	FILE *f = fopen("/sys/module/scif/parameters/ring_kb", "w");

	if (f) {
		fputs(v, f);
		fclose(f);
	}
}

static char saved_ring[32];

static void save_ring(void)
{
	FILE *f = fopen("/sys/module/scif/parameters/ring_kb", "r");

	saved_ring[0] = 0;
	if (f) {
		if (!fgets(saved_ring, sizeof(saved_ring), f))
			saved_ring[0] = 0;
		fclose(f);
	}
}

#define NCONN 500
TEST(many_connections)
{
	static int cs[NCONN], ss[NCONN];
	struct rlimit rl = { 4096, 4096 };
	long conns0 = dbg_counter("connections");
	int port, l, ok = 1;

	setrlimit(RLIMIT_NOFILE, &rl);
	save_ring();
	set_ring_kb("16");
	l = make_listener(0, 1024, &port);
	REQUIRE(l >= 0);
	for (int i = 0; i < NCONN; i++) {
		cs[i] = ep_open();
		fcntl(cs[i], F_SETFL, O_NONBLOCK);
		if (ep_connect(cs[i], 0, port, NULL) != -1 || errno != EINPROGRESS) {
			ok = 0;
			break;
		}
	}
	CHECK(ok);
	for (int i = 0; i < NCONN && ok; i++) {
		ss[i] = ep_accept(l, 0, NULL);
		if (ss[i] < 0)
			ok = 0;
	}
	CHECK(ok);
	if (saved_ring[0])
		set_ring_kb(saved_ring);
	REQUIRE(ok);
	CHECK(dbg_counter("connections") == conns0 + NCONN);
	for (int i = 0; i < NCONN; i++) {
		uint32_t v = i, w = 0;

		if (ep_connect(cs[i], 0, port, NULL) != 0)
			ok = 0;
		fcntl(cs[i], F_SETFL, 0);
		if (ep_send(cs[i], &v, 4, SCIF_SEND_BLOCK) != 4 ||
		    recv_all(ss[i], &w, 4) != 4 || w != v ||
		    ep_send(ss[i], &w, 4, 0) != 4 ||
		    recv_all(cs[i], &v, 4) != 4 || v != (uint32_t)i)
			ok = 0;
	}
	CHECK(ok);
	for (int i = 0; i < NCONN; i++) {
		close(cs[i]);
		close(ss[i]);
	}
	close(l);
	CHECK(dbg_counter("connections") == conns0);
}

TEST(epoll_level)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[2];
	int c, s, ep = epoll_create1(0);
	char buf[8];

	REQUIRE(make_pair(&c, &s) == 0);
	ev.data.fd = s;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
	CHECK(epoll_wait(ep, out, 2, 0) == 0);
	CHECK(ep_send(c, "ab", 2, 0) == 2);
	CHECK(epoll_wait(ep, out, 2, 1000) == 1 && out[0].events == EPOLLIN);
	CHECK(epoll_wait(ep, out, 2, 0) == 1);		/* level */
	CHECK(ep_recv(s, buf, 8, 0) == 2);
	CHECK(epoll_wait(ep, out, 2, 0) == 0);
	CHECK(ep_send(c, "cd", 2, 0) == 2);
	CHECK(epoll_wait(ep, out, 2, 1000) == 1);
	CHECK(ep_recv(s, buf, 8, 0) == 2);
	close(c);
	CHECK(epoll_wait(ep, out, 2, 1000) == 1 &&
	      (out[0].events & EPOLLHUP));
	close(s);
	close(ep);
}

TEST(pingpong)
{
	int c, s;
	struct timespec t0, t1;
	char b[8] = { 0 };
	int n = 2000, ok = 1;

	REQUIRE(make_pair(&c, &s) == 0);
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < n; i++)
			if (recv_all(s, b, 8) != 8 || send_all(s, b, 8) != 8)
				_exit(1);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n && ok; i++) {
		memcpy(b, &i, 4);
		if (send_all(c, b, 8) != 8 || recv_all(c, b, 8) != 8 ||
		    memcmp(b, &i, 4))
			ok = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(ok);
	int st;

	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* The same over a pair of pipes, as a baseline for this machine. */
	int p1[2], p2[2];
	struct timespec t2, t3;

	REQUIRE(pipe(p1) == 0 && pipe(p2) == 0);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < n; i++)
			if (read(p1[0], b, 8) != 8 || write(p2[1], b, 8) != 8)
				_exit(1);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	for (int i = 0; i < n; i++)
		if (write(p1[1], b, 8) != 8 || read(p2[0], b, 8) != 8)
			break;
	clock_gettime(CLOCK_MONOTONIC, &t3);
	waitpid(pid, &st, 0);
	printf("# ping-pong 8 B: scif %.1f us, pipe %.1f us round trip\n",
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n / 1e3,
	       ((t3.tv_sec - t2.tv_sec) * 1e9 + (t3.tv_nsec - t2.tv_nsec)) / n / 1e3);
	close(c);
	close(s);
}

/* Closing either side while other threads send, receive and poll. */
struct race { int fd; volatile int stop; };

static void *race_sender(void *p)
{
	static char buf[200000];
	struct race *r = p;

	while (!r->stop && ep_send(r->fd, buf, sizeof(buf), SCIF_SEND_BLOCK) > 0)
		;
	return NULL;
}

static void *race_receiver(void *p)
{
	static __thread char buf[70000];
	struct race *r = p;

	while (!r->stop && ep_recv(r->fd, buf, sizeof(buf), (rand() & 1)) >= 0)
		;
	return NULL;
}

static void *race_poller(void *p)
{
	struct race *r = p;

	while (!r->stop && !(poll1(r->fd, POLLIN | POLLOUT, 10) & (POLLHUP | POLLERR | POLLNVAL)))
		;
	return NULL;
}

TEST(close_races)
{
	for (int round = 0; round < 40; round++) {
		struct race a = { 0 }, b = { 0 };
		pthread_t th[6];
		int c, s;

		REQUIRE(make_pair(&c, &s) == 0);
		a.fd = c;
		b.fd = s;
		pthread_create(&th[0], NULL, race_sender, &a);
		pthread_create(&th[1], NULL, race_receiver, &a);
		pthread_create(&th[2], NULL, race_poller, &a);
		pthread_create(&th[3], NULL, race_sender, &b);
		pthread_create(&th[4], NULL, race_receiver, &b);
		pthread_create(&th[5], NULL, race_poller, &b);
		usleep((round % 8) * 2000);
		if (round & 1) {
			close(c);
			a.stop = 1;
		} else {
			close(s);
			b.stop = 1;
		}
		for (int i = 0; i < 6; i++)
			pthread_join(th[i], NULL);
		close(round & 1 ? s : c);
	}
}

/* A listener closed while connects and accepts race with it. */
static void *race_connector(void *p)
{
	int port = *(int *)p;

	for (int i = 0; i < 20; i++) {
		int fd = ep_open();

		if (i & 1)
			fcntl(fd, F_SETFL, O_NONBLOCK);
		ep_connect(fd, 0, port, NULL);
		close(fd);
	}
	return NULL;
}

static void *race_acceptor(void *p)
{
	int lfd = *(int *)p;

	for (int i = 0; i < 40; i++) {
		int fd = ep_accept(lfd, i & 1 ? SCIF_ACCEPT_SYNC : 0, NULL);

		if (fd >= 0)
			close(fd);
		else if (errno == EINVAL)
			break;
	}
	return NULL;
}

TEST(listener_races)
{
	for (int round = 0; round < 20; round++) {
		int port, l = make_listener(0, 4, &port);
		pthread_t th[4];

		REQUIRE(l >= 0);
		pthread_create(&th[0], NULL, race_connector, &port);
		pthread_create(&th[1], NULL, race_connector, &port);
		pthread_create(&th[2], NULL, race_acceptor, &l);
		pthread_create(&th[3], NULL, race_acceptor, &l);
		usleep((round % 5) * 3000);
		close(l);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		T(nonblock_send_recv, 20),
		T(send_recv_errors, 10),
		T(blocking_large, 60),
		T(drain_then_reset, 10),
		T(poll_states, 10),
		T(wakeups, 20),
		T(blocked_send_wakes, 20),
		T(multithread, 180),
		T(many_connections, 120),
		T(epoll_level, 10),
		T(pingpong, 60),
		T(close_races, 120),
		T(listener_races, 120),
	};

	if (argc > 1)
		mt_blocks = atoi(argv[1]);
	return run_tests("msg", tests, sizeof(tests) / sizeof(tests[0]));
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_basic.c - endpoint, bind, listen, connect, accept and misc ioctls.
 */
#include "harness.h"
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>

#define BADPTR ((void *)0x10)
#define KPTR ((void *)0xffffffff81000000UL)

TEST(open_close)
{
	long before = dbg_counter("endpoints");
	int fd = ep_open();

	REQUIRE(fd >= 0);
	CHECK(dbg_counter("endpoints") == before + 1);
	close(fd);
	CHECK(dbg_counter("endpoints") == before);
	CHECK(dbg_counter("windows") == 0);
	CHECK(dbg_counter("pinned_pages") == 0);
	CHECK(dbg_counter("rma_inflight") == 0);
}

TEST(bind_rules)
{
	int a = ep_open(), b = ep_open(), c = ep_open(), n1 = ep_open_node(1);
	int p, q;

	REQUIRE(a >= 0 && b >= 0 && c >= 0 && n1 >= 0);
	p = ep_bind(a, 0);
	CHECK(p > SCIF_PORT_RSVD && p <= 65535);
	CHECK_ERR(ep_bind(a, 0), EINVAL);		/* already bound */
	CHECK_ERR(ep_bind(b, p), EINVAL);		/* port in use */
	CHECK(ep_bind(n1, p) == p);			/* other node, own ports */
	q = ep_bind(b, 0);
	CHECK(q > SCIF_PORT_RSVD && q != p);
	CHECK(ep_bind(c, 1000) == 1000);		/* root may */
	close(c);
	c = ep_open();
	CHECK(ep_bind(c, 1000) == 1000);		/* released on close */
	close(c);
	c = ep_open();
	CHECK_ERR(ioctl(c, SCIF_BIND, BADPTR), EFAULT);
	CHECK_ERR(ioctl(c, SCIF_BIND, KPTR), EFAULT);
	/* Only the low 16 bits are the port. */
	{
		int v = 0x7fff0000 | 2000;

		CHECK(ioctl(c, SCIF_BIND, &v) == 0 && v == 2000);
	}
	close(a);
	close(b);
	close(c);
	close(n1);
}

TEST(bind_privileged)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(3);
		fd = ep_open();
		if (fd < 0)
			_exit(4);
		if (ep_bind(fd, 80) != -1 || errno != EACCES)
			_exit(5);
		if (ep_bind(fd, 1023) != -1 || errno != EACCES)
			_exit(6);
		if (ep_bind(fd, 1024) != 1024)	/* unprivileged from 1024 */
			_exit(7);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (WIFEXITED(status) && WEXITSTATUS(status))
		FAILF("child step %d failed", WEXITSTATUS(status));
}

TEST(bind_enospc)
{
	/* Exhaust the automatic range of node 1 (64447 ports). */
	static int fds[65536 - SCIF_PORT_RSVD];
	struct rlimit rl = { 70000, 70000 };
	int n = 0, fd = ep_open_node(1), p, enospc = 0;

	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	for (;;) {
		fd = ep_open_node(1);
		if (fd < 0)
			break;
		p = ep_bind(fd, 0);
		if (p < 0) {
			CHECK(errno == ENOSPC);
			enospc = 1;
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	printf("# %d automatic ports bound before ENOSPC\n", n);
	CHECK(enospc && n == 65535 - SCIF_PORT_RSVD);
	/* Explicit ports still work, and a freed one is handed out again. */
	fd = ep_open_node(1);
	CHECK(ep_bind(fd, 5) == 5);
	close(fd);
	close(fds[100]);
	fd = ep_open_node(1);
	CHECK(ep_bind(fd, 0) > SCIF_PORT_RSVD);
	close(fd);
	fds[100] = -1;
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

TEST(listen_rules)
{
	int a = ep_open(), p;

	REQUIRE(a >= 0);
	CHECK_ERR(ep_listen(a, 5), EINVAL);		/* not bound */
	p = ep_bind(a, 0);
	REQUIRE(p > 0);
	CHECK_ERR(ep_listen(a, 0), EINVAL);
	CHECK_ERR(ep_listen(a, -1), EINVAL);
	CHECK_OK(ep_listen(a, 100000));			/* capped */
	CHECK_ERR(ep_listen(a, 5), EISCONN);
	CHECK_ERR(ep_bind(a, 0), EINVAL);
	CHECK_ERR(ep_connect(a, 0, p, NULL), EOPNOTSUPP);
	close(a);
}

TEST(connect_errors)
{
	int a = ep_open(), lfd, port, c, s;

	REQUIRE(a >= 0);
	CHECK_ERR(ep_connect(a, dbg_counter("nodes"), 3000, NULL), ENODEV);
	CHECK_ERR(ep_connect(a, 65535, 3000, NULL), ENODEV);
	CHECK_ERR(ep_connect(a, 200, 3000, NULL), ENODEV);
	CHECK_ERR(ep_connect(a, 0, 0, NULL), EINVAL);
	CHECK_ERR(ioctl(a, SCIF_CONNECT, BADPTR), EFAULT);
	CHECK_ERR(ep_connect(a, 0, 65000, NULL), ECONNREFUSED);
	/* A bound, non-listening port refuses too. */
	lfd = ep_open();
	port = ep_bind(lfd, 0);
	CHECK_ERR(ep_connect(a, 0, port, NULL), ECONNREFUSED);
	close(lfd);
	close(a);
	REQUIRE(make_pair(&c, &s) == 0);
	CHECK_ERR(ep_connect(c, 0, 5000, NULL), EISCONN);
	CHECK_ERR(ep_connect(s, 0, 5000, NULL), EISCONN);
	CHECK_ERR(ep_bind(c, 0), EISCONN);
	CHECK_ERR(ep_listen(c, 1), EISCONN);
	close(c);
	close(s);
}

TEST(connect_accept_blocking)
{
	struct connect_arg ca = { 0 };
	struct scif_port_id peer = { 0 };
	pthread_t th;
	int port, lfd = make_listener(0, 8, &port), afd;
	char buf[16];

	REQUIRE(lfd >= 0);
	ca.fd = ep_open();
	ca.node = 0;
	ca.port = port;
	REQUIRE(ca.fd >= 0);
	pthread_create(&th, NULL, connect_thread, &ca);
	afd = ep_accept(lfd, SCIF_ACCEPT_SYNC, &peer);
	CHECK(afd >= 0);
	pthread_join(th, NULL);
	CHECK(ca.ret == 0);
	CHECK(ca.self.node == 0 && ca.self.port > SCIF_PORT_RSVD);
	CHECK(peer.node == 0 && peer.port == ca.self.port);
	CHECK(ep_send(ca.fd, "hello", 5, 0) == 5);
	CHECK(recv_all(afd, buf, 5) == 5 && !memcmp(buf, "hello", 5));
	CHECK(ep_send(afd, "world", 5, SCIF_SEND_BLOCK) == 5);
	CHECK(recv_all(ca.fd, buf, 5) == 5 && !memcmp(buf, "world", 5));
	close(afd);
	close(ca.fd);
	close(lfd);
}

TEST(connect_accept_ids)
{
	struct scif_port_id peer = { 0 }, self = { 0 };
	int port, lfd = make_listener(0, 8, &port), c = ep_open(), afd, fl;
	char buf[8];

	REQUIRE(lfd >= 0 && c >= 0);
	CHECK(ep_bind(c, 4321) == 4321);
	fl = fcntl(c, F_GETFL);
	fcntl(c, F_SETFL, fl | O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EINPROGRESS);
	afd = ep_accept(lfd, 0, &peer);
	REQUIRE(afd >= 0);
	CHECK(peer.node == 0 && peer.port == 4321);
	CHECK(poll1(c, POLLOUT, 2000) & POLLOUT);
	CHECK(ep_connect(c, 0, port, &self) == 0);
	CHECK(self.node == 0 && self.port == 4321);
	/* Data in both directions, before and after. */
	CHECK(ep_send(afd, "abc", 3, 0) == 3);
	CHECK(ep_recv(c, buf, 8, 0) == 3 && !memcmp(buf, "abc", 3));
	close(afd);
	close(c);
	close(lfd);
}

TEST(accept_errors)
{
	struct scifioctl_accept a = { 0 };
	int port, lfd = make_listener(0, 8, &port), b = ep_open();

	REQUIRE(lfd >= 0 && b >= 0);
	CHECK_ERR(ep_acceptreq(lfd, 0, NULL, NULL), EAGAIN);
	CHECK_ERR(ep_acceptreq(lfd, 2, NULL, NULL), EINVAL);
	CHECK_ERR(ep_acceptreq(lfd, -1, NULL, NULL), EINVAL);
	CHECK_ERR(ep_acceptreq(b, 0, NULL, NULL), EINVAL);	/* unbound */
	CHECK(ep_bind(b, 0) > 0);
	CHECK_ERR(ep_acceptreq(b, 0, NULL, NULL), EINVAL);	/* bound */
	CHECK_ERR(ioctl(lfd, SCIF_ACCEPTREQ, BADPTR), EFAULT);
	a.flags = 0;
	CHECK_ERR(ioctl(lfd, SCIF_ACCEPTREQ, &a), EAGAIN);
	close(b);
	close(lfd);
}

static volatile int got_sig;
static void on_sig(int s) { (void)s; got_sig = 1; }

struct acc_arg { int lfd, ret, err; };
static void *accept_sync_thread(void *p)
{
	struct acc_arg *a = p;

	a->ret = ep_acceptreq(a->lfd, SCIF_ACCEPT_SYNC, NULL, NULL);
	a->err = errno;
	return NULL;
}

TEST(accept_sync_interrupt_and_close)
{
	struct sigaction sa = { .sa_handler = on_sig };	/* no SA_RESTART */
	int port, lfd = make_listener(0, 8, &port);
	struct acc_arg a = { .lfd = lfd };
	pthread_t th;

	REQUIRE(lfd >= 0);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&th, NULL, accept_sync_thread, &a);
	msleep(100);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK(a.ret == -1 && a.err == EINTR);

	/* Closing the listener wakes a thread blocked in ACCEPT_SYNC. */
	pthread_create(&th, NULL, accept_sync_thread, &a);
	msleep(100);
	close(lfd);
	pthread_join(th, NULL);
	CHECK(a.ret == -1 && a.err == EINVAL);
}

TEST(acceptreg_rules)
{
	struct connect_arg ca = { 0 };
	int port, lfd = make_listener(0, 8, &port), f, g, status;
	uint64_t h = 0;
	pthread_t th;
	pid_t pid;

	REQUIRE(lfd >= 0);
	f = ep_open();
	CHECK_ERR(ep_acceptreg(f, 0), EINVAL);
	CHECK_ERR(ep_acceptreg(f, ~0ULL), EINVAL);
	CHECK_ERR(ep_acceptreg(f, 0x123456789ULL), EINVAL);
	CHECK_ERR(ioctl(f, SCIF_ACCEPTREG, BADPTR), EFAULT);

	ca.fd = ep_open();
	ca.port = port;
	pthread_create(&th, NULL, connect_thread, &ca);
	REQUIRE(ep_acceptreq(lfd, SCIF_ACCEPT_SYNC, NULL, &h) == 0);
	pthread_join(th, NULL);
	CHECK(ca.ret == 0);
	/* The handle is not a kernel address. */
	CHECK(h < 0xffff800000000000ULL || (h >> 32) != 0xffffffff);

	/* Another process may not claim it. */
	pid = fork();
	if (pid == 0) {
		int fd = ep_open();

		_exit(ep_acceptreg(fd, h) == -1 && errno == EINVAL ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A used endpoint may not take it; nor one of another node. */
	g = ep_open();
	CHECK(ep_bind(g, 0) > 0);
	CHECK_ERR(ep_acceptreg(g, h), EINVAL);
	close(g);
	g = ep_open_node(1);
	CHECK_ERR(ep_acceptreg(g, h), EINVAL);
	close(g);
	CHECK_ERR(ep_acceptreg(lfd, h), EINVAL);

	CHECK(ep_acceptreg(f, h) == 0);
	g = ep_open();
	CHECK_ERR(ep_acceptreg(g, h), EINVAL);		/* already claimed */
	CHECK_ERR(ep_acceptreg(f, h), EINVAL);
	close(g);
	CHECK(ep_send(f, "x", 1, SCIF_SEND_BLOCK) == 1);
	{
		char c;

		CHECK(recv_all(ca.fd, &c, 1) == 1 && c == 'x');
	}
	close(f);
	close(ca.fd);
	close(lfd);
}

TEST(nonblock_connect)
{
	int port, lfd = make_listener(0, 8, &port), c = ep_open(), afd;
	struct scif_port_id self;

	REQUIRE(lfd >= 0 && c >= 0);
	fcntl(c, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EINPROGRESS);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EALREADY);
	CHECK(poll1(c, POLLOUT | POLLIN, 50) == 0);
	CHECK(poll1(lfd, POLLIN, 1000) == POLLIN);
	CHECK_ERR(ep_send(c, "x", 1, 0), ENOTCONN);
	afd = ep_accept(lfd, 0, NULL);
	CHECK(afd >= 0);
	CHECK(poll1(c, POLLOUT, 2000) & POLLOUT);
	self.port = 0;
	CHECK(ep_connect(c, 0, port, &self) == 0);
	CHECK(self.node == 0 && self.port > SCIF_PORT_RSVD);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EISCONN);
	close(afd);
	close(c);
	close(lfd);
}

TEST(nonblock_connect_refused)
{
	int c = ep_open();

	REQUIRE(c >= 0);
	fcntl(c, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, 64999, NULL), EINPROGRESS);
	CHECK(poll1(c, POLLOUT, 2000) == POLLOUT);
	CHECK_ERR(ep_connect(c, 0, 64999, NULL), ECONNREFUSED);
	CHECK(poll1(c, POLLOUT | POLLIN, 0) == POLLERR);	/* bound */
	/* It can try again. */
	CHECK_ERR(ep_connect(c, 0, 64999, NULL), EINPROGRESS);
	CHECK_ERR(ep_connect(c, 0, 64999, NULL), ECONNREFUSED);
	close(c);
}

TEST(backlog_full)
{
	int port, lfd = make_listener(0, 1, &port), a = ep_open(), b = ep_open();

	REQUIRE(lfd >= 0 && a >= 0 && b >= 0);
	fcntl(a, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(a, 0, port, NULL), EINPROGRESS);
	CHECK_ERR(ep_connect(b, 0, port, NULL), ECONNREFUSED);
	/* Once taken off the queue there is room again. */
	{
		int afd = ep_accept(lfd, 0, NULL), bfd;

		CHECK(afd >= 0);
		fcntl(b, F_SETFL, O_NONBLOCK);
		CHECK_ERR(ep_connect(b, 0, port, NULL), EINPROGRESS);
		bfd = ep_accept(lfd, 0, NULL);
		CHECK(bfd >= 0);
		CHECK(ep_connect(b, 0, port, NULL) == 0);
		close(bfd);
		close(afd);
	}
	close(a);
	close(b);
	close(lfd);
}

TEST(listener_close_refuses)
{
	int port, lfd = make_listener(0, 8, &port), a = ep_open();
	struct connect_arg ca = { .node = 0 };
	pthread_t th;

	REQUIRE(lfd >= 0 && a >= 0);
	ca.fd = ep_open();
	ca.port = port;
	fcntl(a, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(a, 0, port, NULL), EINPROGRESS);
	pthread_create(&th, NULL, connect_thread, &ca);
	msleep(100);
	close(lfd);
	pthread_join(th, NULL);
	CHECK(ca.ret == -1 && ca.err == ECONNREFUSED);
	CHECK(poll1(a, POLLOUT, 2000) == POLLOUT);
	CHECK_ERR(ep_connect(a, 0, port, NULL), ECONNREFUSED);
	close(a);
	close(ca.fd);
}

TEST(listener_close_pending)
{
	int port, lfd = make_listener(0, 8, &port), a = ep_open();
	uint64_t h = 0;
	char c;

	REQUIRE(lfd >= 0 && a >= 0);
	fcntl(a, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(a, 0, port, NULL), EINPROGRESS);
	CHECK(ep_acceptreq(lfd, 0, NULL, &h) == 0);
	CHECK(ep_connect(a, 0, port, NULL) == 0);
	CHECK(ep_send(a, "x", 1, 0) == 1);	/* queues before ACCEPTREG */
	long eps = dbg_counter("endpoints");
	close(lfd);
	CHECK(dbg_counter("endpoints") == eps - 2);	/* listener + pending */
	CHECK(poll1(a, POLLIN | POLLOUT, 1000) == POLLHUP);
	CHECK_ERR(ep_recv(a, &c, 1, 0), ECONNRESET);
	CHECK_ERR(ep_send(a, &c, 1, 0), ECONNRESET);
	{
		int f = ep_open();

		CHECK_ERR(ep_acceptreg(f, h), EINVAL);	/* gone */
		close(f);
	}
	close(a);
}

TEST(connecting_close_cancels)
{
	int port, lfd = make_listener(0, 8, &port), a = ep_open();

	REQUIRE(lfd >= 0 && a >= 0);
	fcntl(a, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(a, 0, port, NULL), EINPROGRESS);
	CHECK(poll1(lfd, POLLIN, 1000) == POLLIN);
	close(a);
	CHECK(poll1(lfd, POLLIN, 0) == 0);		/* request withdrawn */
	CHECK_ERR(ep_acceptreq(lfd, 0, NULL, NULL), EAGAIN);
	close(lfd);
}

TEST(nodeids)
{
	struct scifioctl_node_ids ni;
	uint16_t ids[8], self = 0xffff;
	int fd = ep_open(), fd1 = ep_open_node(1);

	REQUIRE(fd >= 0 && fd1 >= 0);
	memset(&ni, 0, sizeof(ni));
	ni.self = (uintptr_t)&self;
	ni.len = 0;
	CHECK(ioctl(fd, SCIF_GET_NODEIDS, &ni) == 0);
	CHECK(ni.len >= 2 && self == 0);
	int total = ni.len;

	for (int i = 0; i < 8; i++)
		ids[i] = 0xabcd;
	ni.nodes = (uintptr_t)ids;
	ni.len = 1;
	CHECK(ioctl(fd1, SCIF_GET_NODEIDS, &ni) == 0);
	CHECK(ni.len == total && self == 1);
	CHECK(ids[0] == 0 && ids[1] == 0xabcd);		/* never past len */
	ni.len = 8;
	CHECK(ioctl(fd, SCIF_GET_NODEIDS, &ni) == 0);
	CHECK(ni.len == total);
	for (int i = 0; i < 8; i++)
		CHECK(ids[i] == (i < total ? i : 0xabcd));
	ni.len = -1;
	CHECK_ERR(ioctl(fd, SCIF_GET_NODEIDS, &ni), EINVAL);
	ni.len = 2;
	ni.nodes = (uintptr_t)BADPTR;
	CHECK_ERR(ioctl(fd, SCIF_GET_NODEIDS, &ni), EFAULT);
	ni.nodes = (uintptr_t)ids;
	ni.self = (uintptr_t)KPTR;
	CHECK_ERR(ioctl(fd, SCIF_GET_NODEIDS, &ni), EFAULT);
	CHECK_ERR(ioctl(fd, SCIF_GET_NODEIDS, BADPTR), EFAULT);
	close(fd);
	close(fd1);
}

TEST(unknown_and_rma_ioctls)
{
	int fd = ep_open(), c, s;
	char buf[64] = { 0 };

	REQUIRE(fd >= 0);
	CHECK_ERR(ioctl(fd, _IO('s', 99), 0), EINVAL);
	CHECK_ERR(ioctl(fd, _IOWR('s', 18, int), buf), EINVAL);
	CHECK_ERR(ioctl(fd, 0x1234, buf), EINVAL);
	CHECK_ERR(ioctl(fd, TCGETS, buf), EINVAL);
	REQUIRE(make_pair(&c, &s) == 0);
	/* All-zero arguments: zero lengths and flags (scif_rma.c goes deeper). */
	CHECK_ERR(ioctl(c, SCIF_REG, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_UNREG, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_READFROM, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_WRITETO, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_VREADFROM, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_VWRITETO, buf), EINVAL);
	CHECK_ERR(ioctl(c, SCIF_FENCE_MARK, buf), EINVAL);
	CHECK_OK(ioctl(c, SCIF_FENCE_WAIT, 0));
	CHECK_ERR(ioctl(c, SCIF_FENCE_SIGNAL, buf), EINVAL);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, c, 0) == MAP_FAILED);
	CHECK(errno == ENXIO);
	CHECK_ERR(lseek(c, 0, SEEK_SET), ESPIPE);
	close(c);
	close(s);
	close(fd);
}

TEST(two_nodes)
{
	struct scif_port_id self = { 0 }, peer = { 0 };
	int port, l0 = make_listener(0, 8, &port), l1, port1, c, a, fl;
	char buf[4];

	REQUIRE(l0 >= 0);
	/* node 1 -> node 0 */
	c = ep_open_node(1);
	fl = fcntl(c, F_GETFL);
	fcntl(c, F_SETFL, fl | O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EINPROGRESS);
	a = ep_accept(l0, SCIF_ACCEPT_SYNC, &peer);
	CHECK(a >= 0);
	CHECK(peer.node == 1);
	CHECK(poll1(c, POLLOUT, 2000) & POLLOUT);
	CHECK(ep_connect(c, 0, port, &self) == 0);
	CHECK(self.node == 1 && self.port == peer.port);
	CHECK(ep_send(c, "n1", 2, SCIF_SEND_BLOCK) == 2);
	CHECK(recv_all(a, buf, 2) == 2 && !memcmp(buf, "n1", 2));
	close(a);
	close(c);
	/* node 0 -> node 1, on the same port number as node 0's listener */
	l1 = ep_open_node(1);
	port1 = ep_bind(l1, port);
	CHECK(port1 == port);
	CHECK_OK(ep_listen(l1, 4));
	c = ep_open();
	fcntl(c, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 1, port, NULL), EINPROGRESS);
	a = ep_accept_node(l1, 1, 0, &peer);
	CHECK(a >= 0);
	CHECK(peer.node == 0);
	CHECK(poll1(c, POLLOUT, 2000) & POLLOUT);
	CHECK(ep_connect(c, 1, port, &self) == 0);
	CHECK(self.node == 0);
	CHECK(ep_send(a, "n0", 2, SCIF_SEND_BLOCK) == 2);
	CHECK(recv_all(c, buf, 2) == 2 && !memcmp(buf, "n0", 2));
	/* Nothing arrived at node 0's listener. */
	CHECK_ERR(ep_acceptreq(l0, 0, NULL, NULL), EAGAIN);
	close(a);
	close(c);
	close(l1);
	close(l0);
}

TEST(port_shared_by_accepted)
{
	/* The listener's port stays in use while an accepted endpoint lives. */
	int port, lfd = make_listener(0, 8, &port), c, s, x;

	REQUIRE(lfd >= 0);
	c = ep_open();
	fcntl(c, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, port, NULL), EINPROGRESS);
	s = ep_accept(lfd, 0, NULL);
	CHECK(s >= 0);
	close(lfd);
	x = ep_open();
	CHECK_ERR(ep_bind(x, port), EINVAL);
	close(s);
	CHECK(ep_bind(x, port) == port);
	close(x);
	close(c);
}

TEST(connect_interrupted)
{
	struct sigaction sa = { .sa_handler = on_sig };	/* no SA_RESTART */
	int port, lfd = make_listener(0, 8, &port);
	struct connect_arg ca = { .node = 0 };
	pthread_t th;

	REQUIRE(lfd >= 0);
	sigaction(SIGUSR1, &sa, NULL);
	ca.fd = ep_open();
	ca.port = port;
	pthread_create(&th, NULL, connect_thread, &ca);
	CHECK(poll1(lfd, POLLIN, 2000) == POLLIN);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK(ca.ret == -1 && ca.err == EINTR);
	CHECK(poll1(lfd, POLLIN, 0) == 0);		/* request withdrawn */
	CHECK_ERR(ep_acceptreq(lfd, 0, NULL, NULL), EAGAIN);
	/* The endpoint stays bound and can connect again. */
	fcntl(ca.fd, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(ca.fd, 0, port, NULL), EINPROGRESS);
	{
		int a = ep_accept(lfd, 0, NULL);

		CHECK(a >= 0);
		CHECK(ep_connect(ca.fd, 0, port, NULL) == 0);
		close(a);
	}
	close(ca.fd);
	close(lfd);
}

/* The highest node of the platform talks to node 0 and to itself. */
TEST(highest_node)
{
	struct scifioctl_node_ids ni = { 0 };
	uint16_t self = 0xffff, ids[200];
	int n = dbg_counter("nodes"), c, s;
	char b[4];

	REQUIRE(n >= 1);
	c = ep_open_node(n - 1);
	REQUIRE(c >= 0);
	ni.nodes = (uintptr_t)ids;
	ni.self = (uintptr_t)&self;
	ni.len = 200;
	CHECK(ioctl(c, SCIF_GET_NODEIDS, &ni) == 0);
	CHECK(ni.len == n && self == n - 1 && ids[n - 1] == n - 1);
	close(c);
	CHECK(ep_open_node(n) < 0);
	REQUIRE(make_pair_nodes(n - 1, 0, &c, &s) == 0);
	CHECK(ep_send(c, "hi", 2, 0) == 2 && recv_all(s, b, 2) == 2);
	close(c);
	close(s);
	REQUIRE(make_pair_nodes(0, n - 1, &c, &s) == 0);
	CHECK(ep_send(s, "hi", 2, 0) == 2 && recv_all(c, b, 2) == 2);
	close(c);
	close(s);
	REQUIRE(make_pair_nodes(n - 1, n - 1, &c, &s) == 0);
	CHECK(ep_send(s, "hi", 2, 0) == 2 && recv_all(c, b, 2) == 2);
	close(c);
	close(s);
}

int main(void)
{
	static const struct test tests[] = {
		T(open_close, 10),
		T(bind_rules, 10),
		T(bind_privileged, 10),
		T(bind_enospc, 120),
		T(listen_rules, 10),
		T(connect_errors, 10),
		T(connect_accept_blocking, 10),
		T(connect_accept_ids, 10),
		T(accept_errors, 10),
		T(accept_sync_interrupt_and_close, 10),
		T(acceptreg_rules, 10),
		T(nonblock_connect, 10),
		T(nonblock_connect_refused, 10),
		T(backlog_full, 10),
		T(listener_close_refuses, 10),
		T(listener_close_pending, 10),
		T(connecting_close_cancels, 10),
		T(nodeids, 10),
		T(unknown_and_rma_ioctls, 10),
		T(two_nodes, 10),
		T(port_shared_by_accepted, 10),
		T(connect_interrupted, 10),
		T(highest_node, 10),
	};

	return run_tests("basic", tests, sizeof(tests) / sizeof(tests[0]));
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_kill.c - processes killed with SIGKILL while holding endpoints in
 * every state; the peers see the disconnect and the counters return.
 */
#include "harness.h"

static void *block_accept(void *p)
{
	ep_acceptreq(*(int *)p, SCIF_ACCEPT_SYNC, NULL, NULL);
	return NULL;
}

static void *block_recv(void *p)
{
	char b[16];

	ep_recv(*(int *)p, b, sizeof(b), SCIF_RECV_BLOCK);
	return NULL;
}

static void *block_send(void *p)
{
	static char big[4 << 20];

	ep_send(*(int *)p, big, sizeof(big), SCIF_SEND_BLOCK);
	return NULL;
}

static void *block_connect(void *p)
{
	int *a = p;

	ep_connect(a[0], 0, a[1], NULL);
	return NULL;
}

/*
 * The child holds: a listener with queued requests and an accepted,
 * unregistered endpoint; a connected endpoint with a blocked receiver; one
 * with a blocked sender; a non-blocking connect in progress; a thread in
 * blocking connect; a thread in ACCEPT_SYNC; an unbound and a bound
 * endpoint; endpoints on node 1.
 */
TEST(kill_holding_everything)
{
	int ready[2], plport, pl = make_listener(0, 16, &plport), status;
	int port_pipe[2];
	pid_t pid;

	REQUIRE(pl >= 0);
	REQUIRE(pipe(ready) == 0 && pipe(port_pipe) == 0);
	pid = fork();
	if (pid == 0) {
		pthread_t th;
		int cport, l = make_listener(0, 16, &cport), l2, port2;
		int c1, s1, c2, s2, x, y;
		static int bc[2];
		uint64_t h;

		if (l < 0 || write(port_pipe[1], &cport, 4) != 4)
			_exit(1);
		/* An accepted but unregistered endpoint. */
		x = ep_open();
		fcntl(x, F_SETFL, O_NONBLOCK);
		ep_connect(x, 0, cport, NULL);
		ep_acceptreq(l, SCIF_ACCEPT_SYNC, NULL, &h);
		/* Queued requests from the child itself. */
		y = ep_open();
		fcntl(y, F_SETFL, O_NONBLOCK);
		ep_connect(y, 0, cport, NULL);
		/* Blocked receiver and sender. */
		if (make_pair(&c1, &s1) || make_pair_nodes(1, 0, &c2, &s2))
			_exit(2);
		pthread_create(&th, NULL, block_recv, &c1);
		pthread_create(&th, NULL, block_send, &c2);
		/* A thread in ACCEPT_SYNC on a second listener (node 1). */
		l2 = make_listener(1, 4, &port2);
		pthread_create(&th, NULL, block_accept, &l2);
		/* Blocking connect to the parent's listener (never accepted). */
		bc[0] = ep_open();
		bc[1] = plport;
		pthread_create(&th, NULL, block_connect, bc);
		/* Non-blocking connect in progress to the parent's listener. */
		x = ep_open_node(1);
		fcntl(x, F_SETFL, O_NONBLOCK);
		ep_connect(x, 0, plport, NULL);
		x = ep_open();
		ep_bind(ep_open(), 0);
		ep_open_node(1);
		msleep(200);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	int cport = 0;
	char r;

	CHECK(read(port_pipe[0], &cport, 4) == 4);
	CHECK(read(ready[0], &r, 1) == 1);
	/* Parent-side requests queued with the child's listener. */
	int pc = ep_open(), pc2 = ep_open();

	fcntl(pc, F_SETFL, O_NONBLOCK);
	fcntl(pc2, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(pc, 0, cport, NULL), EINPROGRESS);
	CHECK_ERR(ep_connect(pc2, 0, cport, NULL), EINPROGRESS);
	CHECK(poll1(pl, POLLIN, 2000) == POLLIN);
	msleep(100);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status));
	/* The parent's pending connects were refused. */
	CHECK(poll1(pc, POLLOUT, 2000) == POLLOUT);
	CHECK_ERR(ep_connect(pc, 0, cport, NULL), ECONNREFUSED);
	CHECK(poll1(pc2, POLLOUT, 2000) == POLLOUT);
	CHECK_ERR(ep_connect(pc2, 0, cport, NULL), ECONNREFUSED);
	/* The child's requests to our listener were withdrawn. */
	CHECK(poll1(pl, POLLIN, 0) == 0);
	CHECK_ERR(ep_acceptreq(pl, 0, NULL, NULL), EAGAIN);
	close(pc);
	close(pc2);
	close(pl);
}

/* The child is killed right after accepting; the connector sees reset. */
TEST(kill_mid_accept)
{
	int port, l = make_listener(0, 4, &port), c = ep_open(), st;
	int ready[2];
	pid_t pid;
	char b;

	REQUIRE(l >= 0 && c >= 0 && pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		int lc, p2;

		close(l);	/* not the owner: does nothing */
		lc = make_listener(0, 4, &p2);
		if (write(ready[1], &p2, 4) != 4)
			_exit(1);
		ep_acceptreq(lc, SCIF_ACCEPT_SYNC, NULL, NULL);
		if (write(ready[1], &p2, 4) != 4)
			_exit(1);
		pause();
		_exit(0);
	}
	int p2;

	CHECK(read(ready[0], &p2, 4) == 4);
	fcntl(c, F_SETFL, O_NONBLOCK);
	CHECK_ERR(ep_connect(c, 0, p2, NULL), EINPROGRESS);
	CHECK(read(ready[0], &p2, 4) == 4);
	CHECK(poll1(c, POLLOUT, 2000) & POLLOUT);
	CHECK(ep_connect(c, 0, p2, NULL) == 0);
	CHECK(ep_send(c, "hi", 2, 0) == 2);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	CHECK(poll1(c, POLLIN, 2000) == POLLHUP);
	CHECK_ERR(ep_recv(c, &b, 1, 0), ECONNRESET);
	close(c);
	close(l);
}

/* Many rounds of random kills while children are busy. */
TEST(kill_storm)
{
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();

		if (pid == 0) {
			int c, s;
			static char buf[65536];

			for (;;) {
				if (make_pair(&c, &s))
					_exit(1);
				ep_send(c, buf, sizeof(buf), 0);
				ep_recv(s, buf, sizeof(buf) / 2, 0);
				if (rand() & 1)
					close(c);
				if (rand() & 1)
					close(s);
			}
		}
		msleep(20 + (round % 5) * 20);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

int main(void)
{
	static const struct test tests[] = {
		T(kill_holding_everything, 30),
		T(kill_mid_accept, 20),
		T(kill_storm, 60),
	};
	int r = run_tests("kill", tests, sizeof(tests) / sizeof(tests[0]));

	return r;
}

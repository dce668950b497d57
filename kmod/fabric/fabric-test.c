// SPDX-License-Identifier: GPL-2.0-only
/*
 * fabric-test - scif-fabric against fake ivshmem clients (no qemu): the
 * protocol messages, the node table, departures and re-joins, doorbells.
 * Usage: fabric-test PATH-TO-scif-fabric.  Prints "N passed, N failed".
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../scif_wire.h"
#include "ivshmem_client.h"

static int passed, failed;

#define CHECK(c, ...) do {						\
	if (c) {							\
		passed++;						\
	} else {							\
		failed++;						\
		fprintf(stderr, "not ok: %s:%d: ", __FILE__, __LINE__);\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static char dir[] = "/tmp/fabric-test.XXXXXX";

/* One number (and an fd or -1); 1 s timeout.  0 or -1. */
static int recv_msg(int s, int64_t *val, int *fd)
{
	return ivshmem_recv(s, 1000, val, fd) == 1 ? 0 : -1;
}

static int connect_node(int id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/node%d.sock", dir, id);
	for (int i = 0; i < 200; i++) {
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			return s;
		usleep(10000);
	}
	return -1;
}

struct client {
	int sock, shm, own[2], peer_efd;
	int64_t id;
};

/* The greeting of a new client: version, id, shm, peers, own eventfds. */
static void greet(struct client *c, int node, int myid, int npeers, int peer)
{
	int64_t v;
	int fd, ok;

	c->sock = connect_node(node);
	CHECK(c->sock >= 0, "connect to node %d", node);
	ok = !recv_msg(c->sock, &v, &fd) && v == 0 && fd < 0;
	CHECK(ok, "protocol version 0 (got %lld)", (long long)v);
	ok = !recv_msg(c->sock, &c->id, &fd) && c->id == myid && fd < 0;
	CHECK(ok, "id %d (got %lld)", myid, (long long)c->id);
	ok = !recv_msg(c->sock, &v, &c->shm) && v == -1 && c->shm >= 0;
	CHECK(ok, "-1 with the shm fd");
	c->peer_efd = -1;
	for (int i = 0; i < npeers; i++) {
		ok = !recv_msg(c->sock, &v, &fd) && v == peer && fd >= 0;
		CHECK(ok, "peer %d's eventfd (got %lld fd %d)", peer, (long long)v, fd);
		c->peer_efd = fd;
	}
	ok = !recv_msg(c->sock, &v, &c->own[0]) && v == myid && c->own[0] >= 0;
	CHECK(ok, "own eventfd");
}

static int readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1;
}

int main(int argc, char **argv)
{
	char shm[128], n0[160], n1[160];
	struct client a, b, b2;
	struct scif_wire_hdr *h;
	uint64_t cnt;
	int64_t v;
	int fd, st, dup;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: fabric-test PATH-TO-scif-fabric\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(shm, sizeof(shm), "%s/ctl", dir);
	snprintf(n0, sizeof(n0), "0:%s/node0.sock", dir);
	snprintf(n1, sizeof(n1), "1:%s/node1.sock:00:05.0:0x40000000", dir);
	pid = fork();
	if (!pid) {
		execl(argv[1], argv[1], "--shm", shm, "--node", n0, "--node", n1,
		      (char *)NULL);
		_exit(127);
	}

	greet(&a, 0, 0, 0, -1);
	h = mmap(NULL, SCIF_WIRE_REGION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, a.shm, 0);
	CHECK(h != MAP_FAILED, "mmap of the control region");
	if (h == MAP_FAILED)
		goto out;
	CHECK(le64toh(h->magic) == SCIF_WIRE_MAGIC, "magic");
	CHECK(le16toh(h->version) == SCIF_WIRE_VERSION, "version");
	CHECK(le16toh(h->max_nodes) == SCIF_WIRE_MAX_NODES, "max_nodes");
	CHECK(le32toh(h->region_bytes) == SCIF_WIRE_REGION_BYTES, "region_bytes");
	CHECK(le32toh(h->node[0].fabric_state) == SCIF_WIRE_NODE_PRESENT, "node 0 present");
	CHECK(le16toh(h->node[0].doorbell_id) == 0, "node 0 peer id 0");
	CHECK(le32toh(h->node[0].incarnation) == 1, "node 0 incarnation 1");
	CHECK(le32toh(h->node[0].aperture_pci) == SCIF_WIRE_NO_APERTURE, "node 0 no aperture");
	CHECK(le32toh(h->node[1].fabric_state) == SCIF_WIRE_NODE_ABSENT, "node 1 absent");
	CHECK(le32toh(h->node[1].aperture_pci) == (5 << 3), "node 1 aperture 00:05.0");
	CHECK(le64toh(h->node[1].aperture_bytes) == 0x40000000, "node 1 aperture size");

	/* a queue entry written by 0 survives while 1 is absent; 1's join zeroes it */
	((uint8_t *)h)[SCIF_WIRE_QUEUE_OFF + SCIF_WIRE_QUEUE_STRIDE] = 0x5a;

	greet(&b, 1, 1, 1, 0);
	CHECK(!recv_msg(a.sock, &v, &fd) && v == 1 && fd >= 0, "node 0 told of node 1's eventfd");
	CHECK(readable(a.own[0], 1000), "node 0's doorbell rang on the join");
	CHECK(read(a.own[0], &cnt, 8) == 8, "read the doorbell");
	CHECK(le32toh(h->node[1].fabric_state) == SCIF_WIRE_NODE_PRESENT, "node 1 present");
	CHECK(((uint8_t *)h)[SCIF_WIRE_QUEUE_OFF + SCIF_WIRE_QUEUE_STRIDE] == 0, "queue 0->1 zeroed");

	/* a second qemu for node 1 is refused */
	dup = connect_node(1);
	CHECK(dup >= 0 && (recv_msg(dup, &v, &fd) || v != 0), "second client of node 1 refused");
	close(dup);

	/* node 1 rings node 0 through the eventfd it was given */
	cnt = 1;
	CHECK(write(b.peer_efd, &cnt, 8) == 8 && readable(a.own[0], 1000) &&
	      read(a.own[0], &cnt, 8) == 8, "node 1 rings node 0");

	/* node 1 leaves: node 0 gets its id without an fd, the state, a doorbell */
	h->node[1].kmod_state = htole32(SCIF_WIRE_KMOD_UP);
	close(b.sock);
	CHECK(!recv_msg(a.sock, &v, &fd) && v == 1 && fd < 0, "departure of node 1 announced");
	CHECK(readable(a.own[0], 1000) && read(a.own[0], &cnt, 8) == 8, "doorbell on departure");
	CHECK(le32toh(h->node[1].fabric_state) == SCIF_WIRE_NODE_ABSENT, "node 1 absent again");
	CHECK(le32toh(h->node[1].kmod_state) == SCIF_WIRE_KMOD_DOWN, "node 1 kmod down");

	/* and comes back with a new incarnation */
	greet(&b2, 1, 2, 1, 0);
	CHECK(le32toh(h->node[1].incarnation) == 2, "node 1 incarnation 2");
	CHECK(le16toh(h->node[1].doorbell_id) == 2, "node 1's new peer id in the table");
	CHECK(!recv_msg(a.sock, &v, &fd) && v == 2 && fd >= 0, "node 0 told of the new node 1 (peer id 2)");
	close(b2.sock);
	close(a.sock);
out:
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fabric exits 0 on SIGTERM (status %d)", st);
	CHECK(access(n0 + 2, F_OK) != 0, "sockets removed");
	unlink(shm);
	rmdir(dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

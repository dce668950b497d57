// SPDX-License-Identifier: GPL-2.0-only
/*
 * link-fuzz - a hostile card: a userspace node of a SCIF link that speaks
 * the wire protocol (scif_wire.h) to a real scif.ko, mostly correctly and
 * often not, to show that nothing the other side writes hurts that kernel.
 *
 * It joins the fabric as an ivshmem client (like a qemu would), maps the
 * control region, its own "RAM" (the file the kernel's aperture onto this
 * node shows) and the kernel's RAM (the file behind the kernel's guest RAM:
 * this node's aperture onto it).  Then, for SECONDS, it answers the
 * kernel's connection requests (grants with rings in its own RAM, rejects,
 * silence), sends requests of its own to port 3000, writes into the rings
 * it was given, and mixes in garbage: random message types and arguments,
 * wrong src/dst, stale incarnations, queue and ring indices out of range,
 * ring descriptors outside the aperture, random src_waiting words, random
 * bytes in its queue slots.  When the kernel drops the link (it should, at
 * the first violation), the fuzzer plays a restarted card: it bumps its own
 * incarnation in the node table, zeroes its queues and says NODE_UP again.
 * At the end it says NODE_DOWN and exits 0; the kernel's side checks dmesg,
 * its counters and that it still works (kmod/tests/link-fuzz.sh).
 *
 * Usage: link-fuzz --sock FABRIC_SOCKET --self-ram FILE --peer-ram FILE
 *                  [--seconds N] [--seed N]
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../scif_wire.h"
#include "ivshmem_client.h"

#define SELF	1	/* we play node 1, the card */
#define HOST	0

static struct scif_wire_hdr *hdr;
static uint8_t *region, *self_ram, *peer_ram;
static uint64_t self_bytes, peer_bytes;
static int sock, host_efd = -1;
static int64_t host_peer_id = -1;
static uint32_t incarnation, tx_head, rx_tail;
static uint64_t rng;
static long sent, received, breaks;
static int clean;	/* no mutations (the goodbye) */

static void die(const char *what)
{
	fprintf(stderr, "link-fuzz: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int chance(int percent)
{
	return (int)(rnd() % 100) < percent;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One number (and maybe an fd) from the fabric; -1 if none waiting. */
static int recv_msg(int ms, int64_t *val, int *fd)
{
	int r = ivshmem_recv(sock, ms, val, fd);

	if (r < 0) {
		fprintf(stderr, "link-fuzz: the fabric went away\n");
		exit(1);
	}
	return r ? 0 : -1;
}

/* Fabric messages after the greeting: peers' eventfds (we keep the host's). */
static void fabric_poll(int ms)
{
	int64_t v;
	int fd;

	while (!recv_msg(ms, &v, &fd)) {
		ms = 0;
		if (v == le16toh(hdr->node[HOST].doorbell_id) && fd >= 0) {
			if (host_efd >= 0)
				close(host_efd);
			host_efd = fd;
			host_peer_id = v;
		} else if (fd >= 0) {
			close(fd);
		}
	}
}

static void *map_file(const char *path, uint64_t *bytes)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st))
		die(path);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die(path);
	close(fd);
	*bytes = st.st_size;
	return p;
}

static volatile struct scif_wire_queue *queue(int src, int dst)
{
	return (void *)(region + le32toh(hdr->queue_off) +
			(src * le16toh(hdr->max_nodes) + dst) * le32toh(hdr->queue_stride));
}

static struct scif_wire_msg *slot(volatile struct scif_wire_queue *q, uint32_t i)
{
	return (struct scif_wire_msg *)((uint8_t *)q + SCIF_WIRE_QUEUE_SLOT_OFF +
					(i % SCIF_WIRE_QUEUE_SLOTS) * sizeof(struct scif_wire_msg));
}

static void ring_host(void)
{
	uint64_t one = 1;

	if (host_efd >= 0 && write(host_efd, &one, sizeof(one)) < 0)
		perror("link-fuzz: doorbell");
}

/* Post a message in queue[SELF][HOST] (if there is room); header mostly right. */
static void post(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		 uint64_t a4, uint16_t flags)
{
	volatile struct scif_wire_queue *q = queue(SELF, HOST);
	struct scif_wire_msg m = {
		.type = htole16(type), .flags = htole16(flags),
		.src = htole16(SELF), .dst = htole16(HOST),
		.src_incarnation = htole32(incarnation),
		.arg = { htole64(a0), htole64(a1), htole64(a2), htole64(a3), htole64(a4) },
	};

	if (tx_head - le32toh(q->tail) >= SCIF_WIRE_QUEUE_SLOTS)
		return;
	if (clean)
		goto write;
	if (chance(1))
		m.src = htole16(rnd() % 9);
	if (chance(1))
		m.dst = htole16(rnd() % 9);
	if (chance(3))
		m.src_incarnation = htole32(incarnation - 1);
	if (chance(1))
		for (size_t i = 0; i < sizeof(m); i++)
			((uint8_t *)&m)[i] ^= (uint8_t)rnd();
write:
	memcpy(slot(q, tx_head), &m, sizeof(m));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	tx_head++;
	q->head = htole32(!clean && chance(1) ? (uint32_t)rnd() : tx_head);
	sent++;
}

/* A ring in our RAM for a connection: index page then data (offset, bytes). */
struct ring {
	uint64_t ctl, data, bytes;
};

static struct ring our_ring(void)
{
	/* somewhere in the upper half of our RAM, page-aligned, 4..64 KiB */
	struct ring r;

	r.bytes = 4096ULL << (rnd() % 5);
	r.ctl = (self_bytes / 2 + (rnd() % (self_bytes / 4))) & ~4095ULL;
	r.data = r.ctl + 4096;
	memset(self_ram + r.ctl, 0, 4096);
	if (chance(5))
		r.ctl = rnd() % (self_bytes * 2);	/* out of the aperture */
	if (chance(5))
		r.bytes = rnd();
	return r;
}

/* Scribble into a ring the kernel described (in its RAM), as its writer. */
static void scribble(uint64_t ctl, uint64_t data, uint64_t bytes)
{
	struct scif_wire_ring *wr;
	uint32_t head;

	if (ctl >= peer_bytes || ctl + 4096 > peer_bytes || data >= peer_bytes ||
	    bytes > peer_bytes - data || !bytes || (bytes & (bytes - 1)))
		return;
	wr = (struct scif_wire_ring *)(peer_ram + ctl);
	head = le32toh(wr->head);
	for (int i = 0; i < 64; i++)
		peer_ram[data + ((head + i) & (bytes - 1))] = (uint8_t)rnd();
	wr->head = htole32(chance(10) ? (uint32_t)rnd() : head + 64);
}

/* Handle what the kernel sent us; answer some of it. */
static void drain(void)
{
	volatile struct scif_wire_queue *q = queue(HOST, SELF);
	uint32_t head = le32toh(q->head);
	struct scif_wire_msg m;
	static uint32_t next_id = 1;

	if (head - rx_tail > SCIF_WIRE_QUEUE_SLOTS)
		rx_tail = head - SCIF_WIRE_QUEUE_SLOTS;	/* (it is the kernel's) */
	while (rx_tail != head) {
		memcpy(&m, slot(q, rx_tail), sizeof(m));
		rx_tail++;
		received++;
		uint16_t type = le16toh(m.type);
		uint64_t a0 = le64toh(m.arg[0]), a1 = le64toh(m.arg[1]);

		if (type == SCIF_WIRE_MSG_NODE_UP && (le16toh(m.flags) & SCIF_WIRE_F_WANT_REPLY))
			post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0);
		if (type == SCIF_WIRE_MSG_CONNECT_REQ) {
			struct ring r = our_ring();
			int what = rnd() % 4;

			if (what == 0)
				post(SCIF_WIRE_MSG_CONNECT_REJECT, a1, next_id++, 0, 0, 0, 0);
			else if (what < 3)
				post(SCIF_WIRE_MSG_CONNECT_GRANT, a1, next_id++, r.ctl, r.data,
				     r.bytes, 0);
			/* and write into its ring at once */
			scribble(le64toh(m.arg[2]), le64toh(m.arg[3]), le64toh(m.arg[4]));
			if (chance(50))
				post(SCIF_WIRE_MSG_WAKE, a1, next_id - 1, SCIF_WIRE_WAKE_DATA, 0, 0, 0);
			if (chance(30))
				post(SCIF_WIRE_MSG_DISCONNECT, a1, next_id - 1, 0, 0, 0, 0);
		} else if (type == SCIF_WIRE_MSG_CONNECT_GRANT) {
			scribble(le64toh(m.arg[2]), le64toh(m.arg[3]), le64toh(m.arg[4]));
			post(SCIF_WIRE_MSG_WAKE, a1, a0, rnd() % 4, 0, 0, 0);
			if (chance(50))
				post(SCIF_WIRE_MSG_DISCONNECT, a1, a0, 0, 0, 0, 0);
		} else if (type == SCIF_WIRE_MSG_DISCONNECT && chance(80)) {
			post(SCIF_WIRE_MSG_DISCONNECT, a1, a0, 0, 0, 0, 0);
		}
	}
	q->tail = htole32(chance(1) ? (uint32_t)rnd() : rx_tail);
	if (chance(2))
		q->src_waiting = htole32((uint32_t)rnd());
	else if (le32toh(q->src_waiting)) {
		q->src_waiting = 0;
		ring_host();
	}
}

/* Our own traffic: requests to the kernel's port 3000, garbage, and more. */
static void act(void)
{
	static uint32_t my_id = 1000;
	struct ring r;

	switch (rnd() % 16) {
	case 0:
	case 1:
	case 8:
	case 9:
	case 10:
		r = our_ring();
		post(SCIF_WIRE_MSG_CONNECT_REQ, 2000 | (chance(80) ? 3000ULL : rnd() % 65536) << 16,
		     my_id++, r.ctl, r.data, r.bytes, 0);
		break;
	case 2:
		post(rnd() % 12, rnd() % 64, rnd() % 64, rnd(), rnd(), rnd(), rnd());
		break;
	case 3:
	case 11:
		post(SCIF_WIRE_MSG_WAKE, rnd() % 64, rnd() % 2048, rnd() % 8, 0, 0, 0);
		break;
	case 4:
	case 12:
		post(SCIF_WIRE_MSG_DISCONNECT, rnd() % 64, rnd() % 2048, 0, 0, 0, 0);
		break;
	case 5:
		post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, chance(50));
		break;
	case 6:
		if (chance(20))
			((uint8_t *)queue(SELF, HOST))[rnd() % SCIF_WIRE_QUEUE_STRIDE] = (uint8_t)rnd();
		break;
	default:
		post(SCIF_WIRE_MSG_CONNECT_GRANT, rnd() % 64, rnd() % 2048, rnd(), rnd(), rnd(), 0);
		break;
	}
}

/* Play a restarted card: new incarnation, empty queues, hello again. */
static void restart(void)
{
	memset((void *)queue(SELF, HOST), 0, SCIF_WIRE_QUEUE_STRIDE);
	memset((void *)queue(HOST, SELF), 0, SCIF_WIRE_QUEUE_STRIDE);
	tx_head = rx_tail = 0;
	incarnation++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	hdr->node[SELF].incarnation = htole32(incarnation);
	hdr->fabric_gen = htole32(le32toh(hdr->fabric_gen) + 1);
	breaks++;
	post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY);
	ring_host();
}

int main(int argc, char **argv)
{
	const char *path = NULL, *self_path = NULL, *peer_path = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double seconds = 30, end, next_restart;
	int64_t v;
	int fd, shm = -1;

	rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--sock"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--self-ram"))
			self_path = argv[i + 1];
		else if (!strcmp(argv[i], "--peer-ram"))
			peer_path = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			rng ^= strtoull(argv[i + 1], NULL, 0) * 0xff51afd7ed558ccdULL;
	}
	if (!path || !self_path || !peer_path) {
		fprintf(stderr, "usage: link-fuzz --sock S --self-ram F --peer-ram F [--seconds N] [--seed N]\n");
		return 2;
	}
	self_ram = map_file(self_path, &self_bytes);
	peer_ram = map_file(peer_path, &peer_bytes);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
		die(path);
	/* the greeting: version, our id, the shm fd, the peers' and our eventfds */
	if (recv_msg(5000, &v, &fd) || v != 0 || recv_msg(5000, &v, &fd) ||
	    recv_msg(5000, &v, &shm) || v != -1 || shm < 0) {
		fprintf(stderr, "link-fuzz: bad greeting from the fabric\n");
		return 1;
	}
	region = mmap(NULL, SCIF_WIRE_REGION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
	if (region == MAP_FAILED)
		die("mmap the control region");
	hdr = (struct scif_wire_hdr *)region;
	incarnation = le32toh(hdr->node[SELF].incarnation);

	/* wait for the kernel (node 0) to be up: its kmod_state */
	end = now() + 300;
	while (le32toh(hdr->node[HOST].kmod_state) != SCIF_WIRE_KMOD_UP || host_efd < 0) {
		fabric_poll(100);
		if (now() > end) {
			fprintf(stderr, "link-fuzz: node 0's kernel never came up\n");
			return 1;
		}
	}
	printf("link-fuzz: node 0 is up; fuzzing for %.0f s\n", seconds);
	fflush(stdout);
	post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY);
	ring_host();
	end = now() + seconds;
	next_restart = now() + 2;
	while (now() < end) {
		fabric_poll(0);
		drain();
		for (int i = rnd() % 4; i >= 0; i--)
			act();
		ring_host();
		usleep(rnd() % 3000);
		/* the kernel has most likely dropped us by now: come back */
		if (now() > next_restart) {
			restart();
			next_restart = now() + 0.3 + (rnd() % 700) / 1000.0;
		}
	}
	/* a clean goodbye so the kernel can check its counters */
	clean = 1;
	restart();
	usleep(300000);
	drain();
	post(SCIF_WIRE_MSG_NODE_DOWN, 0, 0, 0, 0, 0, 0);
	ring_host();
	printf("link-fuzz: sent %ld messages, received %ld, %ld restarts\n", sent, received, breaks);
	printf("ok - link-fuzz: %.0f s of hostile traffic\n1 passed, 0 failed\n", seconds);
	return 0;
}

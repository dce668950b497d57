// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif-fabric - the fabric of a SCIF link: an ivshmem server for the
 * ivshmem-doorbell devices of the nodes, and the keeper of the control
 * region (kmod/scif_wire.h).
 *
 * Each node has its own unix socket; the qemu that connects to node N's
 * socket is node N.  Its ivshmem peer id (written to node[N].doorbell_id)
 * is new at every connection: ids are never reused.  The server side of qemu's
 * ivshmem protocol (docs/specs/ivshmem-spec in qemu): every message is an
 * 8-byte little-endian number, optionally with one fd by SCM_RIGHTS.  To a
 * new client: 0 (protocol version), its id, -1 with the shared-memory fd,
 * then for every other connected peer one message per vector (peer id with
 * one eventfd), then its own id with each of its own eventfds.  To the
 * others: the new id with each of its eventfds.  When a client goes: its
 * id without an fd, to every survivor.
 *
 * The fabric also writes the node table (state, incarnation, aperture) and
 * rings SCIF_WIRE_VEC_MSG of every survivor after a change, because qemu
 * never tells a guest that a peer went away.
 *
 * Usage: scif-fabric --shm PATH [--vectors N] [--verbose]
 *                    --node ID:SOCKET[:APERTURE_PCI:APERTURE_BYTES]...
 *   APERTURE_PCI is "BB:DD.F" (hex, domain 0): where the other guests see
 *   node ID's RAM.  SIGTERM/SIGINT: remove the sockets and exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../scif_wire.h"

#define MAX_VEC 16

struct node {
	int configured;
	char sock_path[108];
	int lfd;			/* listening socket */
	int cfd;			/* connected qemu, -1 if none */
	int peer_id;			/* its ivshmem peer id (doorbell id) */
	int efd[MAX_VEC];		/* its eventfds */
	uint32_t aperture_pci;
	uint64_t aperture_bytes;
};

static struct node nodes[SCIF_WIRE_MAX_NODES];
static int nvec = SCIF_WIRE_NR_VECTORS;
static int verbose;
static int shm_fd = -1;
static struct scif_wire_hdr *hdr;
static uint8_t *region;
static volatile sig_atomic_t stop;
/*
 * ivshmem peer ids are never reused: qemu (7.2) frees a departed peer's
 * eventfd array and would write into freed memory if the same id came back.
 */
static int next_peer_id;

static void say(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "scif-fabric: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "scif-fabric: error: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Send one 8-byte LE number, with @fd (>= 0) attached. */
static int send_msg(int sock, int64_t val, int fd)
{
	uint64_t le = htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == sizeof(le) ? 0 : -1;
}

static void ring(int id, int vec)
{
	uint64_t one = 1;

	if (nodes[id].cfd >= 0 &&
	    write(nodes[id].efd[vec], &one, sizeof(one)) != sizeof(one))
		say("doorbell of node %d: %s", id, strerror(errno));
}

static void bump_gen(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	hdr->fabric_gen = htole32(le32toh(hdr->fabric_gen) + 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void ring_others(int except)
{
	for (int j = 0; j < SCIF_WIRE_MAX_NODES; j++)
		if (j != except && nodes[j].cfd >= 0)
			ring(j, SCIF_WIRE_VEC_MSG);
}

/* Zero every queue from and to @id (see scif_wire.h). */
static void reset_queues(int id)
{
	for (int j = 0; j < SCIF_WIRE_MAX_NODES; j++) {
		size_t a = SCIF_WIRE_QUEUE_OFF +
			   ((size_t)id * SCIF_WIRE_MAX_NODES + j) * SCIF_WIRE_QUEUE_STRIDE;
		size_t b = SCIF_WIRE_QUEUE_OFF +
			   ((size_t)j * SCIF_WIRE_MAX_NODES + id) * SCIF_WIRE_QUEUE_STRIDE;

		memset(region + a, 0, SCIF_WIRE_QUEUE_STRIDE);
		memset(region + b, 0, SCIF_WIRE_QUEUE_STRIDE);
	}
}

static void drop_client(int id)
{
	struct node *n = &nodes[id];
	struct scif_wire_node *e = &hdr->node[id];

	close(n->cfd);
	n->cfd = -1;
	for (int v = 0; v < nvec; v++) {
		close(n->efd[v]);
		n->efd[v] = -1;
	}
	e->fabric_state = htole32(SCIF_WIRE_NODE_ABSENT);
	e->kmod_state = htole32(SCIF_WIRE_KMOD_DOWN);
	bump_gen();
	for (int j = 0; j < SCIF_WIRE_MAX_NODES; j++)
		if (nodes[j].cfd >= 0 && send_msg(nodes[j].cfd, n->peer_id, -1))
			say("telling node %d that %d left failed", j, id);
	ring_others(id);
	say("node %d left", id);
}

static void accept_client(int id)
{
	struct node *n = &nodes[id];
	struct scif_wire_node *e = &hdr->node[id];
	int fd = accept4(n->lfd, NULL, NULL, SOCK_CLOEXEC);
	int ok = 1;

	if (fd < 0)
		return;
	if (n->cfd >= 0) {
		say("node %d is already connected: refusing a second client", id);
		close(fd);
		return;
	}
	for (int v = 0; v < nvec; v++) {
		n->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->efd[v] < 0)
			die("eventfd: %s", strerror(errno));
	}
	if (next_peer_id > 0xffff)
		die("out of ivshmem peer ids");
	n->cfd = fd;
	n->peer_id = next_peer_id++;
	e->doorbell_id = htole16(n->peer_id);
	/* a fresh incarnation: queues restart at 0, the kernel is not up yet */
	reset_queues(id);
	e->kmod_state = htole32(SCIF_WIRE_KMOD_DOWN);
	e->kmod_incarnation = 0;
	e->incarnation = htole32(le32toh(e->incarnation) + 1);
	e->fabric_state = htole32(SCIF_WIRE_NODE_PRESENT);
	bump_gen();

	ok &= !send_msg(fd, 0, -1);		/* protocol version */
	ok &= !send_msg(fd, n->peer_id, -1);	/* its id */
	ok &= !send_msg(fd, -1, shm_fd);	/* the shared memory */
	for (int j = 0; j < SCIF_WIRE_MAX_NODES; j++) {
		if (j == id || nodes[j].cfd < 0)
			continue;
		for (int v = 0; v < nvec; v++)
			ok &= !send_msg(fd, nodes[j].peer_id, nodes[j].efd[v]);
		for (int v = 0; v < nvec; v++)
			if (send_msg(nodes[j].cfd, n->peer_id, n->efd[v]))
				say("telling node %d about %d failed", j, id);
	}
	for (int v = 0; v < nvec; v++)
		ok &= !send_msg(fd, n->peer_id, n->efd[v]);
	if (!ok) {
		say("node %d: setup messages failed", id);
		drop_client(id);
		return;
	}
	ring_others(id);
	say("node %d joined (incarnation %u, peer id %d)", id,
	    le32toh(e->incarnation), n->peer_id);
}

static uint32_t parse_pci(const char *s)
{
	unsigned int bus, dev, fn;
	char end;

	if (sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &end) != 3 ||
	    bus > 255 || dev > 31 || fn > 7)
		die("bad PCI address '%s' (want BB:DD.F)", s);
	return bus << 8 | dev << 3 | fn;
}

static void add_node(char *spec)
{
	char *id_s = strtok(spec, ":");
	char *sock = strtok(NULL, ":");
	char *bus = strtok(NULL, ":");
	char *devfn = strtok(NULL, ":");
	char *bytes = strtok(NULL, ":");
	char *end;
	long id;
	struct node *n;

	if (!id_s || !sock)
		die("--node wants ID:SOCKET[:BB:DD.F:BYTES]");
	id = strtol(id_s, &end, 10);
	if (*end || id < 0 || id >= SCIF_WIRE_MAX_NODES)
		die("node id '%s' out of range 0..%d", id_s, SCIF_WIRE_MAX_NODES - 1);
	n = &nodes[id];
	if (n->configured)
		die("node %ld given twice", id);
	if (strlen(sock) >= sizeof(n->sock_path))
		die("socket path too long: %s", sock);
	n->configured = 1;
	strcpy(n->sock_path, sock);
	n->aperture_pci = SCIF_WIRE_NO_APERTURE;
	if (bus) {
		char pci[32];

		if (!devfn || !bytes)
			die("--node %ld: the aperture wants BB:DD.F:BYTES", id);
		snprintf(pci, sizeof(pci), "%s:%s", bus, devfn);
		n->aperture_pci = parse_pci(pci);
		n->aperture_bytes = strtoull(bytes, &end, 0);
		if (*end || !n->aperture_bytes)
			die("bad aperture size '%s'", bytes);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void setup_region(const char *path)
{
	shm_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (shm_fd < 0)
		die("%s: %s", path, strerror(errno));
	if (ftruncate(shm_fd, SCIF_WIRE_REGION_BYTES))
		die("ftruncate %s: %s", path, strerror(errno));
	region = mmap(NULL, SCIF_WIRE_REGION_BYTES, PROT_READ | PROT_WRITE,
		      MAP_SHARED, shm_fd, 0);
	if (region == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	hdr = (struct scif_wire_hdr *)region;
	memset(region, 0, SCIF_WIRE_REGION_BYTES);
	hdr->version = htole16(SCIF_WIRE_VERSION);
	hdr->hdr_bytes = htole16(SCIF_WIRE_HDR_BYTES);
	hdr->max_nodes = htole16(SCIF_WIRE_MAX_NODES);
	hdr->nr_vectors = htole16(nvec);
	hdr->region_bytes = htole32(SCIF_WIRE_REGION_BYTES);
	hdr->queue_off = htole32(SCIF_WIRE_QUEUE_OFF);
	hdr->queue_stride = htole32(SCIF_WIRE_QUEUE_STRIDE);
	hdr->queue_slots = htole32(SCIF_WIRE_QUEUE_SLOTS);
	for (int i = 0; i < SCIF_WIRE_MAX_NODES; i++) {
		struct scif_wire_node *e = &hdr->node[i];

		e->node_id = htole16(i);
		e->doorbell_id = htole16(0xffff);	/* set at each connection */
		e->fabric_state = htole32(SCIF_WIRE_NODE_ABSENT);
		e->aperture_pci = htole32(nodes[i].configured ?
					  nodes[i].aperture_pci : SCIF_WIRE_NO_APERTURE);
		e->aperture_bytes = htole64(nodes[i].aperture_bytes);
	}
	/* the signature last: a reader that sees it sees the rest */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	hdr->magic = htole64(SCIF_WIRE_MAGIC);
}

static void listen_node(struct node *n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	n->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n->lfd < 0)
		die("socket: %s", strerror(errno));
	strcpy(sa.sun_path, n->sock_path);
	unlink(n->sock_path);
	if (bind(n->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(n->lfd, 4))
		die("%s: %s", n->sock_path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *shm = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int nconf = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shm") && i + 1 < argc) {
			shm = argv[++i];
		} else if (!strcmp(argv[i], "--vectors") && i + 1 < argc) {
			nvec = atoi(argv[++i]);
			if (nvec < 1 || nvec > MAX_VEC)
				die("--vectors must be 1..%d", MAX_VEC);
		} else if (!strcmp(argv[i], "--node") && i + 1 < argc) {
			add_node(argv[++i]);
			nconf++;
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = 1;
		} else {
			fprintf(stderr, "usage: scif-fabric --shm PATH [--vectors N] [--verbose] --node ID:SOCKET[:BB:DD.F:BYTES]...\n");
			return 2;
		}
	}
	if (!shm || !nconf)
		die("need --shm and at least one --node");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	setup_region(shm);
	for (int i = 0; i < SCIF_WIRE_MAX_NODES; i++) {
		nodes[i].cfd = -1;
		nodes[i].lfd = -1;
		for (int v = 0; v < MAX_VEC; v++)
			nodes[i].efd[v] = -1;
		if (nodes[i].configured)
			listen_node(&nodes[i]);
	}
	say("ready: %d nodes, %d vectors, region %s", nconf, nvec, shm);

	while (!stop) {
		struct pollfd pfd[2 * SCIF_WIRE_MAX_NODES];
		int who[2 * SCIF_WIRE_MAX_NODES], nfd = 0;

		for (int i = 0; i < SCIF_WIRE_MAX_NODES; i++) {
			if (nodes[i].lfd >= 0) {
				pfd[nfd] = (struct pollfd){ nodes[i].lfd, POLLIN, 0 };
				who[nfd++] = i;
			}
			if (nodes[i].cfd >= 0) {
				pfd[nfd] = (struct pollfd){ nodes[i].cfd, POLLIN, 0 };
				who[nfd++] = i | 0x100;
			}
		}
		if (poll(pfd, nfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (int k = 0; k < nfd; k++) {
			int id = who[k] & 0xff;

			if (!pfd[k].revents)
				continue;
			if (!(who[k] & 0x100)) {
				accept_client(id);
			} else if (nodes[id].cfd == pfd[k].fd) {
				char buf[64];
				ssize_t r = read(pfd[k].fd, buf, sizeof(buf));

				/* clients never send: data is ignored, EOF is a departure */
				if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
					drop_client(id);
			}
		}
	}
	for (int i = 0; i < SCIF_WIRE_MAX_NODES; i++)
		if (nodes[i].configured)
			unlink(nodes[i].sock_path);
	say("stopped");
	return 0;
}

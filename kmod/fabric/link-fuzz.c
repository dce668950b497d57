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
 * bytes in its queue slots.  On the connections it holds it also attacks
 * the window protocol: WINDOW_ADDs with real page lists in its own RAM and
 * broken ones (lists and entries out of the aperture or unaligned, nr_pages
 * 0 or huge, bad offsets, duplicate ids, overlaps, prot garbage, unknown or
 * closed connections), lists changed after they were sent, answers to the
 * kernel's own ADDs in order, out of order, twice, never or with non-errno
 * values, stray ADDED/DEL/DELETED/FREE, WAKE_RMA, and random fence numbers
 * in the rings' index pages.  An incarnation is hostile throughout, or
 * calm (keeps to the protocol, so windows live long enough for the kernel's
 * RMAs and mmaps), or calm but for the window protocol.  When the kernel drops the link (it should, at
 * the first violation), the fuzzer plays a restarted card: it bumps its own
 * incarnation in the node table, zeroes its queues and says NODE_UP again.
 * At the end it says NODE_DOWN and exits 0; the kernel's side checks dmesg,
 * its counters and that it still works (kmod/tests/link-fuzz.sh).
 *
 * Usage: link-fuzz --sock FABRIC_SOCKET --self-ram FILE --peer-ram FILE
 *                  [--seconds N] [--seed N] [--calm 1] [--trace 1] [--keep-ids 1]
 *                  [--scenario limits|flood,import,src0]
 *
 * --scenario LIST: first, deterministic scenarios that drive the kernel to
 * its limits against a peer and check its answers (see "the kernel's
 * limits" below; the host's side is scif_linkconn limits-host); then the
 * random traffic for --seconds.  Exit status 1 if a scenario failed.
 * --calm 1: keep to the protocol in every incarnation (the kernel must then
 * never drop the link) and leave the fabric before each restart.  --trace 1:
 * the window messages, each way, and the restarts on stderr.  --keep-ids 1:
 * window ids go on across restarts (by default they restart at 1, as a
 * rebooted card's would).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
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
static long sent, received, breaks, calms, evils;
static int clean;	/* no mutations (the goodbye) */
static int calm;	/* this incarnation keeps to the protocol (long-lived windows) */
static int rma_evil;	/* ... except for the window protocol (calm must be set too) */
static int all_calm;	/* --calm 1: every incarnation; restarts leave the fabric first */
static int trace;	/* --trace 1: window messages and restarts on stderr */
static int keep_ids;	/* --keep-ids 1: window ids go on across restarts */
static double t0;

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
static void post6(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, uint16_t flags)
{
	volatile struct scif_wire_queue *q = queue(SELF, HOST);
	struct scif_wire_msg m = {
		.type = htole16(type), .flags = htole16(flags),
		.src = htole16(SELF), .dst = htole16(HOST),
		.src_incarnation = htole32(incarnation),
		.arg = { htole64(a0), htole64(a1), htole64(a2), htole64(a3), htole64(a4),
			 htole64(a5) },
	};

	if (tx_head - le32toh(q->tail) >= SCIF_WIRE_QUEUE_SLOTS)
		return;
	if (clean || calm)
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
	if (trace && type >= SCIF_WIRE_MSG_WINDOW_ADD && type <= SCIF_WIRE_MSG_WINDOW_FREE)
		fprintf(stderr, "%.4f > %u inc %u: %#llx %#llx %#llx %#llx %#llx %#llx%s\n",
			now() - t0, type, incarnation, (unsigned long long)a0,
			(unsigned long long)a1, (unsigned long long)a2, (unsigned long long)a3,
			(unsigned long long)a4, (unsigned long long)a5,
			memcmp(&m.arg[0], (uint64_t[]){ htole64(a0) }, 8) ? " (mangled)" : "");
	memcpy(slot(q, tx_head), &m, sizeof(m));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	tx_head++;
	q->head = htole32(!clean && !calm && chance(1) ? (uint32_t)rnd() : tx_head);
	sent++;
}

static void post(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		 uint64_t a4, uint16_t flags)
{
	post6(type, a0, a1, a2, a3, a4, 0, flags);
}

/* A ring in our RAM for a connection: index page then data (offset, bytes). */
struct ring {
	uint64_t ctl, data, bytes;
};

static struct ring our_ring(void)
{
	/*
	 * In the third quarter of our RAM, one after the other (rings that
	 * overlapped would corrupt each other's indices: our fault, not the
	 * kernel's), page-aligned, 4..64 KiB.
	 */
	static uint64_t next;
	struct ring r;

	r.bytes = 4096ULL << (rnd() % 5);
	if (next < self_bytes / 2 || next + 4096 + r.bytes > self_bytes / 4 * 3)
		next = self_bytes / 2;
	r.ctl = next;
	next += 4096 + r.bytes;
	r.data = r.ctl + 4096;
	memset(self_ram + r.ctl, 0, 4096);
	if (calm)
		return r;
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
	wr->head = htole32(!calm && chance(10) ? (uint32_t)rnd() : head + 64);
}

/* ---- RMA: windows on the connections we hold ------------------------------ */

/*
 * The connections we hold, as far as we know (the kernel may have dropped
 * them, or the link): both ids and both receive rings' index pages (ours in
 * self_ram, the kernel's in peer_ram; ~0 when unknown).  host_id 0: our
 * request, not granted yet; our_id 0: a request of the kernel's that we
 * left unanswered.  All forgotten at each restart.
 */
#define NCONNS	256
#define NO_CTL	(~0ULL)

struct conn {
	uint32_t our_id, host_id;
	uint64_t our_ctl, host_ctl;
	int closed;		/* we said DISCONNECT */
	int host_closed;	/* it said DISCONNECT */
	unsigned int nwin;	/* our windows on it: offsets (1 + i) << 20 */
};

static struct conn conns[NCONNS];
static unsigned int nconns, conn_next;

/* Our windows (we own them, the kernel imports them). */
enum { W_SENT, W_LIVE, W_REFUSED, W_DEL, W_DELETED, W_FREED };

#define NWINS	64

struct win {
	uint32_t id, our_id, host_id;
	uint64_t off, pages, l1, nl2;
	int state;
};

static struct win wins[NWINS];
static unsigned int nwins;
static uint32_t next_wid = 1;

/* The kernel's windows on connections with us (we import them). */
enum { H_HELD, H_NEVER, H_LIVE, H_REFUSED, H_DEL, H_DELETED, H_FREED };

#define NHWINS	64

struct hwin {
	uint32_t id, our_id, host_id;
	int state;
};

static struct hwin hwins[NHWINS];
static unsigned int nhwins;

static long st_add_good, st_add_bad, st_added_ok, st_added_err, st_toctou;
static long st_host_add, st_host_never, st_host_list_bad, st_host_del, st_host_free;

/* The kernel's limits (scif.h), to aim just beyond them. */
#define K_OFFSET_END	(1ULL << 62)
#define K_MAX_PAGES	((1ULL << 36) >> 12)
#define K_MAX_ERRNO	4095

static void rma_forget(void)
{
	nconns = conn_next = nwins = nhwins = 0;
	if (!keep_ids)
		next_wid = 1;	/* a rebooted card numbers from 1 again */
}

static struct conn *conn_add(uint32_t our_id, uint32_t host_id, uint64_t our_ctl,
			     uint64_t host_ctl)
{
	struct conn *c;

	if (nconns < NCONNS)
		c = &conns[nconns++];
	else
		c = &conns[conn_next++ % NCONNS];
	*c = (struct conn){ our_id, host_id, our_ctl, host_ctl, 0, 0, 0 };
	return c;
}

static struct conn *conn_by_ours(uint32_t our_id)
{
	for (unsigned int i = 0; i < nconns; i++)
		if (conns[i].our_id == our_id)
			return &conns[i];
	return NULL;
}

/* A connection to name: mostly an established, open one. */
static struct conn *conn_pick(int open_only)
{
	for (int tries = 0; nconns && tries < 8; tries++) {
		struct conn *c = &conns[rnd() % nconns];

		if (!c->our_id || !c->host_id)
			continue;
		if (open_only && c->closed)
			continue;
		return c;
	}
	return NULL;
}

/* A page in the lower half of our RAM (the rings live in the upper half). */
static uint64_t data_page(void)
{
	uint64_t lo = self_bytes / 8, pages = (self_bytes / 2 - lo) >> 12;

	return lo + (rnd() % pages) * 4096;
}

/* Pages for page lists: a ring of them below data_page()'s range. */
static uint64_t list_pages(uint64_t n)
{
	static uint64_t next;
	uint64_t lo = 4096 * 16, hi = self_bytes / 8, p;

	if (next < lo || next + n * 4096 > hi)
		next = lo;
	p = next;
	next += n * 4096;
	return p;
}

/* A bad page address for a list entry. */
static uint64_t bad_addr(void)
{
	switch (rnd() % 7) {
	case 5:
		return 0;				/* the first page: never named */
	case 0:
		return self_bytes;			/* just past the aperture */
	case 1:
		return self_bytes - 4096 + 8;		/* unaligned, last page */
	case 2:
		return data_page() | (1 + rnd() % 4095);	/* unaligned */
	case 3:
		return ~0ULL & ~4095ULL;		/* wraps */
	case 4:
		return (rnd() | 1ULL << 63) & ~4095ULL;
	default:
		return rnd();
	}
}

/*
 * Write a two-level page list for @nr pages at @l1 (nl2 contiguous u64).
 * @bad: 0 well-formed; 1 a data page entry bad; 2 a second-level pointer
 * bad; 3 every entry the same page (valid: a big window from little RAM).
 */
static void write_list(uint64_t l1, uint64_t nr, int bad)
{
	uint64_t nl2 = (nr + SCIF_WIRE_PLIST_PER_PAGE - 1) / SCIF_WIRE_PLIST_PER_PAGE;
	uint64_t *v1 = (uint64_t *)(self_ram + l1), pg = 0, same = data_page();
	uint64_t l2s = bad == 3 ? list_pages(1) : 0;

	for (uint64_t i = 0; i < nl2; i++) {
		uint64_t l2 = bad == 3 ? l2s : list_pages(1);
		uint64_t *v2 = (uint64_t *)(self_ram + l2);

		v1[i] = htole64(l2);
		for (int j = 0; j < SCIF_WIRE_PLIST_PER_PAGE && pg < nr; j++, pg++)
			v2[j] = htole64(bad == 3 ? same : data_page());
		if (bad == 3)
			break;
	}
	for (uint64_t i = 1; bad == 3 && i < nl2; i++)
		v1[i] = v1[0];
	if (bad == 1) {
		pg = rnd() % nr;
		((uint64_t *)(self_ram + le64toh(v1[pg / 512])))[pg % 512] = htole64(bad_addr());
	} else if (bad == 2) {
		v1[rnd() % nl2] = htole64(chance(50) ? bad_addr() : self_bytes - 2048);
	}
}

/* Change a list under the kernel (after the ADD went out): TOCTOU. */
static void rewrite_list(const struct win *w)
{
	uint64_t *v1 = (uint64_t *)(self_ram + w->l1), l2;

	st_toctou++;
	if (!w->nl2 || w->l1 + w->nl2 * 8 > self_bytes)
		return;
	if (chance(30)) {
		v1[rnd() % w->nl2] = htole64(bad_addr());
		return;
	}
	l2 = le64toh(v1[rnd() % w->nl2]);
	if (l2 + 4096 > self_bytes || l2 & 4095)
		return;
	for (int i = rnd() % 8; i >= 0; i--)
		((uint64_t *)(self_ram + l2))[rnd() % 512] =
			htole64(chance(50) ? bad_addr() : data_page());
}

static struct win *win_new(struct conn *c, uint32_t id, uint64_t off, uint64_t pages,
			   uint64_t l1)
{
	struct win *w = &wins[nwins < NWINS ? nwins++ : rnd() % NWINS];

	*w = (struct win){ id, c ? c->our_id : 0, c ? c->host_id : 0, off, pages, l1,
			   (pages + 511) / 512, W_SENT };
	return w;
}

static struct win *win_pick(int state)
{
	for (int tries = 0; nwins && tries < 8; tries++) {
		struct win *w = &wins[rnd() % nwins];

		if (state < 0 || w->state == state)
			return w;
	}
	return NULL;
}

static struct win *win_find(uint32_t id, uint32_t our_id)
{
	for (unsigned int i = 0; i < nwins; i++)
		if (wins[i].id == id && wins[i].our_id == our_id)
			return &wins[i];
	return NULL;
}

/*
 * WINDOW_ADD on @c: well-formed (@bad 0) or broken in one way.  The i-th
 * window on a connection at offset (1 + i) << 20 (the kernel's side
 * guesses those offsets).
 */
static void win_add(struct conn *c, int bad)
{
	uint64_t a0 = c ? c->host_id : rnd() % 64, a1 = c ? c->our_id : rnd() % 2048;
	uint64_t id = next_wid++, off = (1 + (c ? c->nwin++ : rnd() % 24)) << 20;
	uint64_t nr, l1, prot = rnd() % 4;
	int list_bad = 0;
	struct win *w, *o;

	if (calm || chance(70))
		nr = (calm ? 4 : 1) + rnd() % 13;
	else if (chance(70))
		nr = 17 + rnd() % 1200;		/* two or three list pages */
	else
		nr = 1 + rnd() % 256;
	switch (bad) {
	case 0:
		break;
	case 1:		/* nr_pages 0 or beyond the kernel's limit */
		nr = chance(30) ? 0 : chance(50) ? K_MAX_PAGES + 1 : rnd();
		break;
	case 2:		/* offset unaligned */
		off |= 1 + rnd() % 4095;
		break;
	case 3:		/* offset at or beyond the end of the space, or wrapping */
		if (nr < 2)
			nr = 2;
		switch (rnd() % 3) {
		case 0:
			off = K_OFFSET_END;
			break;
		case 1:		/* starts inside, ends beyond */
			off = K_OFFSET_END - 4096 * (nr / 2);
			break;
		default:
			off = (rnd() | 1ULL << 63) & ~4095ULL;
			break;
		}
		break;
	case 4:		/* a duplicate of a window id of ours */
		o = win_pick(-1);
		if (o)
			id = o->id;
		break;
	case 5:		/* overlapping one of our windows on this connection */
		o = win_pick(W_LIVE);
		if (o && c && o->our_id == c->our_id)
			off = o->off + 4096 * (rnd() % o->pages);
		else
			off -= (1 << 20) - 4096;	/* maybe the previous one */
		break;
	case 6:		/* prot garbage above bit 1 (list bits 2..11) */
		prot = rnd() & 4095;
		break;
	case 7:		/* a bad data page entry */
		list_bad = 1;
		break;
	case 8:		/* a bad second-level pointer */
		list_bad = 2;
		break;
	case 9:		/* window id 0 or beyond u32 */
		id = chance(50) ? 0 : rnd() | 1ULL << 32;
		break;
	case 10:	/* a big window (every entry the same page): valid */
		nr = 4096 + rnd() % 65536;
		list_bad = 3;
		break;
	}
	/* where the list goes: our RAM, or (bad 11) somewhere it is not */
	if (nr && nr <= 1U << 21) {
		l1 = list_pages((nr + 511) / 512 * 8 / 4096 + 1);
		write_list(l1, nr, list_bad);
	} else {
		l1 = list_pages(1);	/* (not read: nr is refused first) */
	}
	if (bad == 11) {
		switch (rnd() % 3) {
		case 0:
			l1 = self_bytes;
			break;
		case 1:		/* the list runs off the end of the aperture */
			l1 = self_bytes - 4096;
			nr = 600 * 512;
			break;
		default:
			l1 = bad_addr() & ~4095ULL;
			break;
		}
	}
	w = win_new(c, id, off, nr, l1);
	post6(SCIF_WIRE_MSG_WINDOW_ADD, a0, a1, id, off, nr, l1 | prot, 0);
	if (bad)
		st_add_bad++;
	else
		st_add_good++;
	/* TOCTOU: the list changes after it was sent, before or while it is read */
	if ((!calm || rma_evil) && chance(15)) {
		ring_host();
		usleep(rnd() % 400);
		rewrite_list(w);
	}
}

/* Look at the page list of a WINDOW_ADD of the kernel's (in its RAM). */
static void check_host_list(uint64_t list, uint64_t nr)
{
	uint64_t l1 = list & ~4095ULL, nl2 = (nr + 511) / 512;

	if (!nr || l1 >= peer_bytes || peer_bytes - l1 < nl2 * 8)
		goto bad;
	for (uint64_t i = 0, pg = 0; i < nl2; i++) {
		uint64_t l2 = le64toh(((uint64_t *)(peer_ram + l1))[i]);

		if (l2 & 4095 || l2 >= peer_bytes || peer_bytes - l2 < 4096)
			goto bad;
		for (int j = 0; j < 512 && pg < nr; j++, pg++) {
			uint64_t e = le64toh(((uint64_t *)(peer_ram + l2))[j]);

			if (e & 4095 || e >= peer_bytes || peer_bytes - e < 4096)
				goto bad;
		}
	}
	return;
bad:
	st_host_list_bad++;	/* (or the kernel freed it: it dropped us) */
}

static void hwin_answer(struct hwin *h, uint64_t err)
{
	post(SCIF_WIRE_MSG_WINDOW_ADDED, h->host_id, h->our_id, h->id, err, 0, 0);
	h->state = err ? H_REFUSED : H_LIVE;
}

/* The kernel registered a window on a connection with us. */
static void rx_host_add(const struct scif_wire_msg *m)
{
	struct hwin *h = &hwins[nhwins < NHWINS ? nhwins++ : rnd() % NHWINS];
	int what = rnd() % 100;

	st_host_add++;
	*h = (struct hwin){ (uint32_t)le64toh(m->arg[2]), (uint32_t)le64toh(m->arg[0]),
			    (uint32_t)le64toh(m->arg[1]), H_HELD };
	check_host_list(le64toh(m->arg[5]), le64toh(m->arg[4]));
	if (calm && !rma_evil) {
		struct conn *c = conn_by_ours(h->our_id);

		if (what < 75) {
			hwin_answer(h, 0);
		} else if (what < 85) {
			hwin_answer(h, 1 + rnd() % 133);
		} else {
			h->state = H_NEVER;
			st_host_never++;
		}
		/* it holds this connection: give it windows of ours to use */
		for (int i = rnd() % 3; c && !c->closed && i >= 0; i--)
			win_add(c, 0);
		return;
	}
	if (what < 50) {
		hwin_answer(h, 0);
	} else if (what < 55) {
		hwin_answer(h, 1 + rnd() % 133);	/* refused: REG fails */
	} else if (what < 60) {
		/* errnos of the kernel's own (ERESTARTSYS...) or none at all */
		hwin_answer(h, chance(80) ? 512 + rnd() % 5 : K_MAX_ERRNO);
	} else if (what < 75) {
		;	/* answered later, out of order (rma_act) */
	} else if (what < 90) {
		h->state = H_NEVER;	/* the kernel's REG must stay killable */
		st_host_never++;
	} else if (what < 95) {
		hwin_answer(h, 0);
		hwin_answer(h, rnd() % 2 ? 0 : 5);	/* twice */
	} else {
		hwin_answer(h, K_MAX_ERRNO + 1 + rnd() % 100000);	/* not an errno */
	}
}

static struct hwin *hwin_find(uint32_t id)
{
	for (unsigned int i = 0; i < nhwins; i++)
		if (hwins[i].id == id)
			return &hwins[i];
	return NULL;
}

/* The kernel unregisters one of its windows: answer (mostly) DELETED. */
static void rx_host_del(const struct scif_wire_msg *m)
{
	struct hwin *h = hwin_find(le64toh(m->arg[2]));
	int what = rnd() % 10;

	st_host_del++;
	if (!h)
		return;
	if (calm && !rma_evil && h->state == H_LIVE) {
		post(SCIF_WIRE_MSG_WINDOW_DELETED, h->host_id, h->our_id, h->id, 0, 0, 0);
		h->state = H_DELETED;
		return;
	}
	if (calm && !rma_evil)
		return;
	if (what < 6) {
		post(SCIF_WIRE_MSG_WINDOW_DELETED, h->host_id, h->our_id, h->id, 0, 0, 0);
		h->state = H_DELETED;
	} else if (what < 8) {
		post(SCIF_WIRE_MSG_WINDOW_DELETED, h->host_id, h->our_id, h->id, 0, 0, 0);
		post(SCIF_WIRE_MSG_WINDOW_FREE, h->host_id, h->our_id, h->id, 0, 0, 0);
		h->state = H_FREED;
		st_host_free++;
	} else if (what < 9) {
		h->state = H_DEL;	/* never: the kernel's UNREG waits (killably) */
	} else {
		post(SCIF_WIRE_MSG_WINDOW_DELETED, h->host_id, h->our_id, h->id, 0, 0, 0);
		post(SCIF_WIRE_MSG_WINDOW_DELETED, h->host_id, h->our_id, h->id, 0, 0, 0);
		h->state = H_DELETED;
	}
}

/* The kernel answered one of our window messages. */
static void rx_host_answer(uint16_t type, const struct scif_wire_msg *m)
{
	struct win *w = win_find(le64toh(m->arg[2]), le64toh(m->arg[0]));

	if (type == SCIF_WIRE_MSG_WINDOW_ADDED) {
		if (le64toh(m->arg[3]))
			st_added_err++;
		else
			st_added_ok++;
	}
	if (!w)
		return;
	if (type == SCIF_WIRE_MSG_WINDOW_ADDED)
		w->state = le64toh(m->arg[3]) ? W_REFUSED : W_LIVE;
	else if (type == SCIF_WIRE_MSG_WINDOW_DELETED)
		w->state = W_DELETED;
	else if (type == SCIF_WIRE_MSG_WINDOW_FREE)
		w->state = W_FREED;
}

/* Scribble the RMA fields of both index pages of a connection. */
static void scribble_rma(const struct conn *c)
{
	static const uint64_t odd[] = { 0, 1, ~0ULL, 1ULL << 63, 0x7fffffffffffffffULL };
	struct scif_wire_ring *r;

	if (c->our_ctl != NO_CTL && !(c->our_ctl & 4095) && c->our_ctl + 4096 <= self_bytes) {
		/* what we publish: the kernel's INIT_PEER fences read it */
		uint64_t issued;

		r = (struct scif_wire_ring *)(self_ram + c->our_ctl);
		issued = chance(50) ? le64toh(r->rma_issued) + rnd() % 4 : odd[rnd() % 5];
		r->rma_issued = htole64(issued);
		r->rma_lowest = htole64(chance(50) ? issued + 1 : chance(50) ? issued :
					odd[rnd() % 5]);
		if (chance(20))
			r->rma_cancelled = htole32(chance(50) ? 1 : (uint32_t)rnd());
		if (chance(20))
			r->rma_want = htole32((uint32_t)rnd());	/* the kernel's to write */
	}
	/*
	 * The kernel's page only while it surely has it: when calm (it had no
	 * reason to drop us) and before either DISCONNECT.  Else it may have
	 * freed the page: writing there would be ours to blame.
	 */
	if (calm && !rma_evil && !c->closed && !c->host_closed && c->host_ctl != NO_CTL &&
	    !(c->host_ctl & 4095) && c->host_ctl + 4096 <= peer_bytes) {
		/* our want (ours to write), and the kernel's own numbers (not) */
		r = (struct scif_wire_ring *)(peer_ram + c->host_ctl);
		r->rma_want = htole32(chance(50) ? (uint32_t)chance(50) : (uint32_t)rnd());
		if (chance(10)) {
			r->rma_issued = htole64(odd[rnd() % 5]);
			r->rma_lowest = htole64(odd[rnd() % 5]);
			r->rma_cancelled = htole32((uint32_t)rnd());
		}
	}
}

static uint16_t win_type(void)
{
	return SCIF_WIRE_MSG_WINDOW_ADD + rnd() % 5;
}

/* One step of window traffic that keeps to the protocol. */
static void rma_act_calm(void)
{
	struct conn *c = conn_pick(1);
	struct win *w;
	struct hwin *h;

	switch (rnd() % 10) {
	case 0:
	case 1:
	case 2:
		if (c && c->nwin < 24)
			win_add(c, 0);
		break;
	case 3:
		w = win_pick(W_LIVE);
		if (w) {
			post(SCIF_WIRE_MSG_WINDOW_DEL, w->host_id, w->our_id, w->id, 0, 0, 0);
			w->state = W_DEL;
		}
		break;
	case 4:
	case 5:
		h = nhwins ? &hwins[rnd() % nhwins] : NULL;
		if (h && h->state == H_HELD) {
			hwin_answer(h, chance(90) ? 0 : 1 + rnd() % 133);
		} else if (h && (h->state == H_LIVE || h->state == H_DELETED) && chance(30)) {
			post(SCIF_WIRE_MSG_WINDOW_FREE, h->host_id, h->our_id, h->id, 0, 0, 0);
			h->state = H_FREED;
			st_host_free++;
		}
		break;
	case 6:
	case 7:
		if (c)
			post(SCIF_WIRE_MSG_WAKE, c->host_id, c->our_id, SCIF_WIRE_WAKE_RMA, 0, 0, 0);
		break;
	default:
		if (c)
			scribble_rma(c);
		break;
	}
}

/* One step of window traffic. */
static void rma_act(void)
{
	struct conn *c = conn_pick(1), *any = conn_pick(0);
	struct win *w;
	struct hwin *h;
	uint64_t id;

	switch (rnd() % 16) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		if (c)
			win_add(c, 0);
		break;
	case 5:
	case 6:
		if (c)
			win_add(c, 1 + rnd() % 11);
		break;
	case 7:		/* ADD on a closed, unknown or ungranted connection */
		if (chance(40) && any) {
			win_add(any, 0);
		} else if (chance(50)) {
			win_add(NULL, rnd() % 12);
		} else {
			for (unsigned int i = 0; i < nconns; i++) {
				struct conn *p = &conns[i];

				if (p->our_id)
					continue;
				/* src id 0 names a request of the kernel's we never answered */
				id = next_wid++;
				w = win_new(p, id, id << 20, 1, list_pages(1));
				write_list(w->l1, 1, 0);
				post6(SCIF_WIRE_MSG_WINDOW_ADD, p->host_id, 0, id, id << 20, 1,
				      w->l1 | 3, 0);
				break;
			}
		}
		break;
	case 8:		/* DEL of one of ours: live, twice, or any */
		w = win_pick(chance(70) ? W_LIVE : -1);
		if (!w)
			break;
		post(SCIF_WIRE_MSG_WINDOW_DEL, w->host_id, w->our_id, w->id, 0, 0, 0);
		if (chance(10))
			post(SCIF_WIRE_MSG_WINDOW_DEL, w->host_id, w->our_id, w->id, 0, 0, 0);
		if (w->state == W_LIVE)
			w->state = W_DEL;
		break;
	case 9:		/* answers to the kernel's ADDs, out of order */
	case 10:
		h = nhwins ? &hwins[rnd() % nhwins] : NULL;
		if (!h)
			break;
		if (h->state == H_HELD)
			hwin_answer(h, chance(80) ? 0 : 1 + rnd() % 133);
		else if (h->state == H_LIVE && chance(50)) {
			post(SCIF_WIRE_MSG_WINDOW_FREE, h->host_id, h->our_id, h->id, 0, 0, 0);
			h->state = H_FREED;
			st_host_free++;
		} else if (chance(20)) {	/* a wrong answer for the state it is in */
			post(win_type(), h->host_id, h->our_id, h->id,
			     chance(50) ? 0 : rnd() % 8192, 0, 0);
		}
		break;
	case 11:	/* a window message with random or real ids */
		id = chance(50) && nwins ? wins[rnd() % nwins].id :
		     chance(50) && nhwins ? hwins[rnd() % nhwins].id : rnd() % 64;
		if (any && chance(70))
			post6(win_type(), any->host_id, any->our_id, id,
			      chance(50) ? 0 : rnd() % 8192, rnd() % 64, rnd(), 0);
		else
			post6(win_type(), rnd() % 64, rnd() % 2048, chance(80) ? id : rnd(),
			      rnd(), rnd(), rnd(), 0);
		break;
	case 12:	/* WAKE_RMA */
	case 13:
		if (any)
			post(SCIF_WIRE_MSG_WAKE, any->host_id, any->our_id,
			     SCIF_WIRE_WAKE_RMA | (chance(20) ? rnd() % 4 : 0), 0, 0, 0);
		else
			post(SCIF_WIRE_MSG_WAKE, rnd() % 64, rnd() % 2048, SCIF_WIRE_WAKE_RMA, 0, 0, 0);
		break;
	case 14:	/* scribble the fence numbers, then say so */
		if (any) {
			scribble_rma(any);
			if (chance(70))
				post(SCIF_WIRE_MSG_WAKE, any->host_id, any->our_id,
				     SCIF_WIRE_WAKE_RMA, 0, 0, 0);
		}
		break;
	default:	/* TOCTOU on a window already sent */
		w = win_pick(-1);
		if (w)
			rewrite_list(w);
		break;
	}
}

/* Handle what the kernel sent us; answer some of it. */
static void drain(void)
{
	volatile struct scif_wire_queue *q = queue(HOST, SELF);
	uint32_t head = le32toh(q->head);
	struct scif_wire_msg m;
	static uint32_t next_id = 1;
	struct conn *c;

	if (head - rx_tail > SCIF_WIRE_QUEUE_SLOTS)
		rx_tail = head - SCIF_WIRE_QUEUE_SLOTS;	/* (it is the kernel's) */
	while (rx_tail != head) {
		memcpy(&m, slot(q, rx_tail), sizeof(m));
		rx_tail++;
		received++;
		uint16_t type = le16toh(m.type);
		uint64_t a0 = le64toh(m.arg[0]), a1 = le64toh(m.arg[1]);

		if (trace && type >= SCIF_WIRE_MSG_WINDOW_ADD && type <= SCIF_WIRE_MSG_WINDOW_FREE)
			fprintf(stderr, "%.4f < %u: %#llx %#llx %#llx %#llx %#llx\n", now() - t0, type,
				(unsigned long long)a0, (unsigned long long)a1,
				(unsigned long long)le64toh(m.arg[2]),
				(unsigned long long)le64toh(m.arg[3]),
				(unsigned long long)le64toh(m.arg[4]));

		if (type == SCIF_WIRE_MSG_NODE_UP && (le16toh(m.flags) & SCIF_WIRE_F_WANT_REPLY))
			post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0);
		if (type == SCIF_WIRE_MSG_CONNECT_REQ) {
			struct ring r = our_ring();
			int what = rnd() % 4;

			if (what == 0) {
				post(SCIF_WIRE_MSG_CONNECT_REJECT, a1, next_id++, 0, 0, 0, 0);
			} else if (what < 3) {
				conn_add(next_id, a1, r.ctl, le64toh(m.arg[2]));
				post(SCIF_WIRE_MSG_CONNECT_GRANT, a1, next_id++, r.ctl, r.data,
				     r.bytes, 0);
			} else {
				conn_add(0, a1, NO_CTL, le64toh(m.arg[2]));	/* silence */
			}
			/* and write into its ring at once */
			scribble(le64toh(m.arg[2]), le64toh(m.arg[3]), le64toh(m.arg[4]));
			if (chance(50))
				post(SCIF_WIRE_MSG_WAKE, a1, next_id - 1, SCIF_WIRE_WAKE_DATA, 0, 0, 0);
			if (chance(30)) {
				post(SCIF_WIRE_MSG_DISCONNECT, a1, next_id - 1, 0, 0, 0, 0);
				c = conn_by_ours(next_id - 1);
				if (c)
					c->closed = 1;
			}
		} else if (type == SCIF_WIRE_MSG_CONNECT_GRANT) {
			c = conn_by_ours(a0);
			if (!c)
				c = conn_add(a0, a1, NO_CTL, NO_CTL);
			c->host_id = a1;
			c->host_ctl = le64toh(m.arg[2]);
			scribble(le64toh(m.arg[2]), le64toh(m.arg[3]), le64toh(m.arg[4]));
			post(SCIF_WIRE_MSG_WAKE, a1, a0, rnd() % 4, 0, 0, 0);
			if (chance(50)) {
				post(SCIF_WIRE_MSG_DISCONNECT, a1, a0, 0, 0, 0, 0);
				c->closed = 1;
			}
		} else if (type == SCIF_WIRE_MSG_DISCONNECT) {
			c = conn_by_ours(a0);
			if (c)
				c->host_closed = 1;
			/* when calm, exactly one DISCONNECT of ours per connection */
			if (calm ? c && !c->closed : chance(80)) {
				post(SCIF_WIRE_MSG_DISCONNECT, a1, a0, 0, 0, 0, 0);
				if (c)
					c->closed = 1;
			}
		} else if (type == SCIF_WIRE_MSG_WINDOW_ADD) {
			rx_host_add(&m);
		} else if (type == SCIF_WIRE_MSG_WINDOW_DEL) {
			rx_host_del(&m);
		} else if (type >= SCIF_WIRE_MSG_WINDOW_ADDED && type <= SCIF_WIRE_MSG_WINDOW_FREE) {
			rx_host_answer(type, &m);
		}
	}
	q->tail = htole32(!calm && chance(1) ? (uint32_t)rnd() : rx_tail);
	if (!calm && chance(2))
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

	if (calm && chance(70)) {
		if (rma_evil)
			rma_act();
		else
			rma_act_calm();
		return;
	}
	if (calm) {
		r = our_ring();
		conn_add(my_id, 0, r.ctl, NO_CTL);
		post(SCIF_WIRE_MSG_CONNECT_REQ, 2000 | 3000ULL << 16, my_id++, r.ctl, r.data,
		     r.bytes, 0);
		return;
	}
	if (chance(35)) {
		rma_act();
		return;
	}
	switch (rnd() % 16) {
	case 0:
	case 1:
	case 8:
	case 9:
	case 10:
		r = our_ring();
		conn_add(my_id, 0, r.ctl, NO_CTL);
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
	if (all_calm) {
		/* leave the fabric, as a qemu would, so the kernel stops draining */
		hdr->node[SELF].fabric_state = htole32(SCIF_WIRE_NODE_ABSENT);
		hdr->fabric_gen = htole32(le32toh(hdr->fabric_gen) + 1);
		ring_host();
		usleep(200000);
	}
	memset((void *)queue(SELF, HOST), 0, SCIF_WIRE_QUEUE_STRIDE);
	memset((void *)queue(HOST, SELF), 0, SCIF_WIRE_QUEUE_STRIDE);
	/*
	 * The kernel may still be draining the old session: it would write an
	 * old tail into the zeroed queue, and no message of the new one would
	 * fit.  Zero again once that drain is over (the empty queue makes the
	 * next one stop at "bad head").  The fabric zeroes after a qemu left.
	 */
	usleep(30000);
	memset((void *)queue(SELF, HOST), 0, SCIF_WIRE_QUEUE_STRIDE);
	memset((void *)queue(HOST, SELF), 0, SCIF_WIRE_QUEUE_STRIDE);
	tx_head = rx_tail = 0;
	rma_forget();	/* the kernel ends every connection and window with us */
	incarnation++;
	calm = all_calm || (!clean && chance(65));
	rma_evil = !all_calm && !clean && calm && chance(50);
	if (trace)
		fprintf(stderr, "%.4f restart: incarnation %u%s\n", now() - t0, incarnation,
			rma_evil ? " (window attacks only)" : calm ? " (calm)" : "");
	calms += calm && !rma_evil;
	evils += rma_evil;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	hdr->node[SELF].incarnation = htole32(incarnation);
	/* back with the new incarnation only, its queues zeroed (as the fabric does) */
	if (all_calm)
		hdr->node[SELF].fabric_state = htole32(SCIF_WIRE_NODE_PRESENT);
	hdr->fabric_gen = htole32(le32toh(hdr->fabric_gen) + 1);
	breaks++;
	post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY);
	ring_host();
}

/* ---- deterministic scenarios: the kernel's limits (--scenario) ---------- */

/*
 * Each scenario drives the kernel to one of its limits against a peer,
 * with otherwise valid protocol, and checks the kernel's answers from here
 * ("ok - " / "not ok - limits/NAME: ..." lines).  The host's side is
 * `scif_linkconn limits-host` (kmod/tests/link-fuzz.sh runs it when
 * SCIF_LINK_FUZZ_SCENARIOS is set): it opens the connections, checks the
 * debugfs counters and waits out the flood.  They run in this order,
 * before the random traffic:
 *  import: on a connection the host opens to our port 2100, windows of as
 *	many pages as our RAM: 4 are taken (SCIF_LINK_IMPORT_RAMS), the 5th
 *	and a 1-page one are refused (ENOMEM); a DEL gives its pages back (a
 *	window fits again, then the budget is full again).  The host checks
 *	debugfs peer_windows between the steps (records over the connection);
 *  src0: the host connects to our port 2101 and we leave the request
 *	unanswered; a WINDOW_ADD, DISCONNECTs and WAKEs with src id 0 naming
 *	it must leave it alone (the ADD refused with ECONNRESET, the others
 *	dropped, the link up); then we grant it and bytes go both ways;
 *  flood: we stop draining the kernel's queue to us and send WINDOW_ADDs
 *	that name no connection (each answered ECONNRESET): 32 answers fill
 *	the queue, 8192 more may wait (SCIF_LINK_MAX_MSGS) with the link up;
 *	at one more the kernel must drop the link (it stops reading our
 *	queue).  Then we come back as a restarted card.
 * A scenario that fails restarts the card too, so the next one starts
 * from a clean session.  The random traffic waits for the host's request
 * to our port 2102 (limits-go: it has checked dmesg and its counters).
 */
#define K_MAX_MSGS	8192	/* SCIF_LINK_MAX_MSGS, link.h */
#define K_IMPORT_RAMS	4	/* SCIF_LINK_IMPORT_RAMS, link.h */
#define SC_PORT_IMPORT	2100
#define SC_PORT_SRC0	2101
#define SC_PORT_GO	2102	/* the host is done looking: random traffic now */
#define SC_REC		32	/* bytes of a record between us and limits-host */
#define SC_INBOX	256
#define ANY		(~0ULL)

static int sc_flood, sc_import, sc_src0;
static int sc_passed, sc_failed;
static struct scif_wire_msg sc_inbox[SC_INBOX];
static unsigned int sc_nin;
static long sc_pongs;		/* NODE_UP replies received */
static int sc_keep_wakes;	/* keep the kernel's WAKEs in sc_inbox (else dropped) */
static uint32_t sc_next_cid = 5000;

static void __attribute__((format(printf, 2, 3))) sc_result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		sc_passed++;
	else
		sc_failed++;
}

static void __attribute__((format(printf, 1, 2))) sc_note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Wait up to @secs for room for one message in our queue: 0 or -1. */
static int sc_room(double secs)
{
	volatile struct scif_wire_queue *q = queue(SELF, HOST);
	double end = now() + secs, rung = 0;

	while (tx_head - le32toh(q->tail) >= SCIF_WIRE_QUEUE_SLOTS) {
		if (now() > end)
			return -1;
		if (now() - rung > 0.01) {
			ring_host();
			rung = now();
		}
		usleep(100);
	}
	return 0;
}

/* Post one message as it should be, waiting for room; the caller rings. */
static int sc_post(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5, uint16_t flags)
{
	if (sc_room(10)) {
		sc_note("our queue to the kernel stayed full for 10 s (a message of type %u)",
			type);
		return -1;
	}
	post6(type, a0, a1, a2, a3, a4, a5, flags);
	return 0;
}

static int sc_send(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5)
{
	int r = sc_post(type, a0, a1, a2, a3, a4, a5, 0);

	ring_host();
	return r;
}

/* Has the kernel consumed everything we posted, within @secs? */
static int sc_consumed(double secs)
{
	volatile struct scif_wire_queue *q = queue(SELF, HOST);
	double end = now() + secs, rung = 0;

	while (le32toh(q->tail) != tx_head) {
		if (now() > end)
			return 0;
		if (now() - rung > 0.05) {
			ring_host();
			rung = now();
		}
		usleep(200);
	}
	return 1;
}

/* Take the kernel's messages into sc_inbox; answer its NODE_UP requests. */
static void sc_rx(void)
{
	volatile struct scif_wire_queue *q = queue(HOST, SELF);
	struct scif_wire_msg m;
	uint32_t head;

	fabric_poll(0);
	head = le32toh(q->head);
	if (head == rx_tail)
		return;
	if (head - rx_tail > SCIF_WIRE_QUEUE_SLOTS) {
		sc_note("the kernel's head is %u ahead of our tail", head - rx_tail);
		rx_tail = head - SCIF_WIRE_QUEUE_SLOTS;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	while (rx_tail != head) {
		memcpy(&m, slot(q, rx_tail), sizeof(m));
		rx_tail++;
		received++;
		if (trace)
			fprintf(stderr, "%.4f < %u: %#llx %#llx %#llx %#llx\n", now() - t0,
				le16toh(m.type), (unsigned long long)le64toh(m.arg[0]),
				(unsigned long long)le64toh(m.arg[1]),
				(unsigned long long)le64toh(m.arg[2]),
				(unsigned long long)le64toh(m.arg[3]));
		if (le16toh(m.type) == SCIF_WIRE_MSG_NODE_UP) {
			if (le16toh(m.flags) & SCIF_WIRE_F_WANT_REPLY)
				sc_post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0, 0);
			else
				sc_pongs++;
			continue;
		}
		if (le16toh(m.type) == SCIF_WIRE_MSG_WAKE && !sc_keep_wakes)
			continue;
		if (sc_nin < SC_INBOX)
			sc_inbox[sc_nin++] = m;
		else
			sc_note("inbox full: a message of type %u dropped", le16toh(m.type));
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->tail = htole32(rx_tail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (le32toh(q->src_waiting))
		q->src_waiting = 0;
	ring_host();
}

static uint64_t arg(const struct scif_wire_msg *m, int i)
{
	return le64toh(m->arg[i]);
}

/*
 * Wait up to @secs for a message of @type whose args 0..2 are @a0..@a2
 * (ANY: whatever) and take it out of the inbox (into @out).  0 or -1.
 */
static int sc_wait(uint16_t type, uint64_t a0, uint64_t a1, uint64_t a2, double secs,
		   struct scif_wire_msg *out)
{
	double end = now() + secs;

	for (;;) {
		sc_rx();
		for (unsigned int i = 0; i < sc_nin; i++) {
			struct scif_wire_msg *m = &sc_inbox[i];

			if (le16toh(m->type) != type || (a0 != ANY && arg(m, 0) != a0) ||
			    (a1 != ANY && arg(m, 1) != a1) || (a2 != ANY && arg(m, 2) != a2))
				continue;
			if (out)
				*out = *m;
			memmove(m, m + 1, (sc_nin - i - 1) * sizeof(*m));
			sc_nin--;
			return 0;
		}
		if (now() > end)
			return -1;
		usleep(500);
	}
}

/*
 * A NODE_UP asking for a reply: once the reply is here the kernel has
 * handled all we sent before it and still reads our queue (it never
 * answers a peer whose link it dropped).  0, or -1 after @secs.
 */
static int sc_sync(double secs)
{
	long before = sc_pongs;
	double end = now() + secs;

	if (sc_post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY))
		return -1;
	ring_host();
	while (sc_pongs == before) {
		if (now() > end)
			return -1;
		sc_rx();
		usleep(500);
	}
	return 0;
}

/* Come back as a restarted card, up for the kernel again. */
static int sc_restart(void)
{
	restart();
	calm = 1;
	sc_nin = 0;
	if (sc_sync(30)) {
		sc_note("the kernel did not answer our NODE_UP after the restart");
		return -1;
	}
	return 0;
}

static const char *sc_msg_name(uint16_t type)
{
	static const char *const names[] = {
		"?", "NODE_UP", "NODE_DOWN", "CONNECT_REQ", "CONNECT_GRANT", "CONNECT_REJECT",
		"DISCONNECT", "?", "WAKE", "WINDOW_ADD", "WINDOW_ADDED", "WINDOW_DEL",
		"WINDOW_DELETED", "WINDOW_FREE",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* A connection the host opened to one of our ports. */
struct sc_conn {
	uint32_t kid, cid;		/* the kernel's id, ours */
	uint64_t kctl, kdata, kbytes;	/* its receive ring, in its RAM */
	struct ring our;		/* ours, in our RAM */
	uint32_t khead, tail;		/* what we wrote into its ring, read from ours */
};

/* The host's request to @port, within @secs; requests to other ports are refused. */
static int sc_accept(struct sc_conn *c, unsigned int port, double secs, int grant)
{
	double end = now() + secs;
	struct scif_wire_msg m;

	for (;;) {
		if (sc_wait(SCIF_WIRE_MSG_CONNECT_REQ, ANY, ANY, ANY, end - now(), &m))
			return -1;
		if ((arg(&m, 0) >> 16) == port)
			break;
		sc_note("a request to our port %llu: refused",
			(unsigned long long)(arg(&m, 0) >> 16));
		sc_send(SCIF_WIRE_MSG_CONNECT_REJECT, arg(&m, 1), sc_next_cid++, 0, 0, 0, 0);
	}
	*c = (struct sc_conn){ .kid = (uint32_t)arg(&m, 1), .cid = sc_next_cid++,
			       .kctl = arg(&m, 2), .kdata = arg(&m, 3), .kbytes = arg(&m, 4) };
	if (c->kctl < 4096 || c->kctl + 4096 > peer_bytes || c->kdata < 4096 ||
	    c->kbytes < 4096 || c->kbytes & (c->kbytes - 1) || c->kdata > peer_bytes ||
	    c->kbytes > peer_bytes - c->kdata) {
		sc_note("the kernel's ring %#llx %#llx %#llx is not in its RAM",
			(unsigned long long)c->kctl, (unsigned long long)c->kdata,
			(unsigned long long)c->kbytes);
		return -1;
	}
	c->our = our_ring();
	if (grant)
		return sc_send(SCIF_WIRE_MSG_CONNECT_GRANT, c->kid, c->cid, c->our.ctl,
			       c->our.data, c->our.bytes, 0);
	return 0;
}

/* A record of SC_REC bytes into the kernel's ring; then a WAKE. */
static int sc_write(struct sc_conn *c, const char *text, double secs)
{
	struct scif_wire_ring *wr = (struct scif_wire_ring *)(peer_ram + c->kctl);
	double end = now() + secs;
	char rec[SC_REC] = { 0 };

	snprintf(rec, sizeof(rec), "%s", text);
	while (c->khead + SC_REC - le32toh(__atomic_load_n(&wr->tail, __ATOMIC_ACQUIRE)) >
	       c->kbytes) {
		if (now() > end)
			return -1;
		sc_rx();
		usleep(1000);
	}
	for (int i = 0; i < SC_REC; i++)
		peer_ram[c->kdata + ((c->khead + i) & (c->kbytes - 1))] = (uint8_t)rec[i];
	c->khead += SC_REC;
	__atomic_store_n(&wr->head, htole32(c->khead), __ATOMIC_RELEASE);
	return sc_send(SCIF_WIRE_MSG_WAKE, c->kid, c->cid, SCIF_WIRE_WAKE_DATA, 0, 0, 0);
}

/* A record from our ring, within @secs: 0 or -1. */
static int sc_read(struct sc_conn *c, char *rec, double secs)
{
	struct scif_wire_ring *r = (struct scif_wire_ring *)(self_ram + c->our.ctl);
	double end = now() + secs;

	while (le32toh(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE)) - c->tail < SC_REC) {
		if (now() > end)
			return -1;
		sc_rx();
		usleep(1000);
	}
	for (int i = 0; i < SC_REC; i++)
		rec[i] = (char)self_ram[c->our.data + ((c->tail + i) & (c->our.bytes - 1))];
	rec[SC_REC - 1] = 0;
	c->tail += SC_REC;
	__atomic_store_n(&r->tail, htole32(c->tail), __ATOMIC_RELEASE);
	return 0;
}

/* The host closed: the kernel's DISCONNECT, then ours.  0 or -1. */
static int sc_close(struct sc_conn *c, double secs)
{
	if (sc_wait(SCIF_WIRE_MSG_DISCONNECT, c->cid, c->kid, ANY, secs, NULL))
		return -1;
	return sc_send(SCIF_WIRE_MSG_DISCONNECT, c->kid, c->cid, 0, 0, 0, 0);
}

/*
 * A page list in our RAM for @nr pages, all of them one page (valid: the
 * kernel takes a window of more pages than it has reason to believe).
 */
static uint64_t sc_list(uint64_t nr)
{
	uint64_t nl2 = (nr + SCIF_WIRE_PLIST_PER_PAGE - 1) / SCIF_WIRE_PLIST_PER_PAGE;
	uint64_t l1 = list_pages((nl2 * 8 + 4095) / 4096), l2 = list_pages(1);
	uint64_t pg = data_page();

	for (uint64_t i = 0; i < nl2; i++)
		((uint64_t *)(self_ram + l1))[i] = htole64(l2);
	for (int j = 0; j < SCIF_WIRE_PLIST_PER_PAGE; j++)
		((uint64_t *)(self_ram + l2))[j] = htole64(pg);
	return l1;
}

/* WINDOW_ADD on @c and its answer: the errno (0 taken), or -1 (no answer). */
static long sc_add(struct sc_conn *c, uint32_t id, uint64_t off, uint64_t nr)
{
	struct scif_wire_msg m;

	if (sc_send(SCIF_WIRE_MSG_WINDOW_ADD, c->kid, c->cid, id, off, nr,
		    sc_list(nr) | 3))
		return -1;
	if (sc_wait(SCIF_WIRE_MSG_WINDOW_ADDED, c->cid, c->kid, id, 30, &m)) {
		sc_note("no WINDOW_ADDED for our window %u (%llu pages) within 30 s", id,
			(unsigned long long)nr);
		return -1;
	}
	return (long)arg(&m, 3);
}

/* WINDOW_DEL of a window the kernel took: DELETED and FREE.  0 or -1. */
static int sc_del(struct sc_conn *c, uint32_t id)
{
	if (sc_send(SCIF_WIRE_MSG_WINDOW_DEL, c->kid, c->cid, id, 0, 0, 0) ||
	    sc_wait(SCIF_WIRE_MSG_WINDOW_DELETED, c->cid, c->kid, id, 30, NULL) ||
	    sc_wait(SCIF_WIRE_MSG_WINDOW_FREE, c->cid, c->kid, id, 30, NULL)) {
		sc_note("no WINDOW_DELETED and WINDOW_FREE for our window %u within 30 s", id);
		return -1;
	}
	return 0;
}

/* Tell limits-host how many of our windows the kernel should hold; its ack. */
static int sc_tell(struct sc_conn *c, const char *what)
{
	char rec[SC_REC];

	if (sc_write(c, what, 10) || sc_read(c, rec, 60) || strcmp(rec, "ack")) {
		sc_note("limits-host did not acknowledge '%s'", what);
		return -1;
	}
	return 0;
}

static int sc_run_import(void)
{
	uint64_t ram = le64toh(hdr->node[SELF].aperture_bytes) >> 12, off = 1ULL << 31;
	uint32_t id = 100, ids[K_IMPORT_RAMS + 4];
	unsigned int taken = 0, i;
	struct sc_conn c;
	char what[SC_REC];
	long err;
	int ok;

	if (sc_accept(&c, SC_PORT_IMPORT, 180, 1)) {
		sc_result(0, "limits/import: limits-host's connection to our port %u (none within 180 s)",
			  SC_PORT_IMPORT);
		return -1;
	}
	sc_result(1, "limits/import: granted limits-host's connection (our RAM: %llu pages)",
		  (unsigned long long)ram);
	/* a window of more pages than our RAM: refused before the budget */
	err = sc_add(&c, id++, off, ram + 1);
	sc_result(err == ENOMEM, "limits/import: a window of RAM + 1 pages is refused with ENOMEM (got %ld)",
		  err);
	if (err < 0)
		return -1;
	/* windows of RAM pages until one is refused: 4 fit */
	for (i = 0; i < K_IMPORT_RAMS + 2; i++) {
		err = sc_add(&c, id, off * (2 + i), ram);
		if (err < 0)
			return -1;
		if (err)
			break;
		ids[taken++] = id++;
	}
	sc_result(taken == K_IMPORT_RAMS && err == ENOMEM,
		  "limits/import: %u windows of RAM pages are taken, the next is refused with ENOMEM (%u taken, then %ld)",
		  K_IMPORT_RAMS, taken, err);
	if (taken != K_IMPORT_RAMS)
		return -1;
	err = sc_add(&c, id++, off * 10, 1);
	sc_result(err == ENOMEM, "limits/import: with the budget full, a 1-page window is refused with ENOMEM too (got %ld)",
		  err);
	snprintf(what, sizeof(what), "peer_windows %u", taken);
	if (sc_tell(&c, what))
		return -1;
	/* a DEL gives the pages back: one window of RAM pages fits again, no more */
	if (sc_del(&c, ids[1]))
		return -1;
	err = sc_add(&c, id, off * 3, ram);
	ok = err == 0;
	if (!err)
		ids[1] = id++;
	else
		taken--;
	err = sc_add(&c, id++, off * 11, 1);
	sc_result(ok && err == ENOMEM,
		  "limits/import: after a WINDOW_DEL its pages are given back: a window of RAM pages is taken again, then a 1-page one refused (%s, then %ld)",
		  ok ? "taken" : "refused", err);
	snprintf(what, sizeof(what), "peer_windows %u", taken);
	if (sc_tell(&c, what))
		return -1;
	for (i = 0; i < K_IMPORT_RAMS; i++)
		if ((i != 1 || ok) && sc_del(&c, ids[i]))
			return -1;
	/* the whole budget is back: 4 windows again */
	for (i = taken = 0; i < K_IMPORT_RAMS; i++) {
		err = sc_add(&c, id, off * (2 + i), ram);
		if (err)
			break;
		ids[taken++] = id++;
	}
	sc_result(taken == K_IMPORT_RAMS,
		  "limits/import: once all are deleted the whole budget is back: %u windows of RAM pages taken again (%u)",
		  K_IMPORT_RAMS, taken);
	for (i = 0; i < taken; i++)
		if (sc_del(&c, ids[i]))
			return -1;
	if (sc_tell(&c, "peer_windows 0") || sc_write(&c, "done", 10))
		return -1;
	ok = !sc_close(&c, 30);
	sc_result(ok, "limits/import: limits-host closed the connection (DISCONNECT each way)");
	return ok ? 0 : -1;
}

static int sc_run_src0(void)
{
	struct scif_wire_msg m;
	struct sc_conn c;
	uint32_t wid = 900;
	char rec[SC_REC];
	int ok, drop;

	if (sc_accept(&c, SC_PORT_SRC0, 60, 0)) {
		sc_result(0, "limits/src0: limits-host's request to our port %u (none within 60 s)",
			  SC_PORT_SRC0);
		return -1;
	}
	/* the kernel's request is unanswered: messages with src id 0 name it */
	sc_keep_wakes = 1;	/* anything about the request, until the grant */
	sc_send(SCIF_WIRE_MSG_WINDOW_ADD, c.kid, 0, wid, 1ULL << 20, 1, sc_list(1) | 3);
	ok = !sc_wait(SCIF_WIRE_MSG_WINDOW_ADDED, 0, c.kid, wid, 30, &m);
	sc_result(ok && arg(&m, 3) == ECONNRESET,
		  "limits/src0: a WINDOW_ADD with src id 0 naming the kernel's unanswered request %u is refused with ECONNRESET (%s %lld)",
		  c.kid, ok ? "answered" : "no answer", ok ? (long long)arg(&m, 3) : -1LL);
	/* then one at a time, each followed by a NODE_UP that must be answered */
	for (int step = 0; step < 5; step++) {
		static const struct {
			uint16_t type;
			int dst0;	/* dst id 0 (a withdrawal), else the request's */
			uint64_t a2;
			const char *what;
		} steps[] = {
			{ SCIF_WIRE_MSG_DISCONNECT, 1, 0,
			  "a withdrawal (DISCONNECT, dst id 0) with src id 0 is dropped" },
			{ SCIF_WIRE_MSG_DISCONNECT, 0, 0,
			  "a DISCONNECT with src id 0 naming the request is dropped" },
			{ SCIF_WIRE_MSG_DISCONNECT, 0, 0,
			  "a second DISCONNECT with src id 0 naming the request is dropped too" },
			{ SCIF_WIRE_MSG_WAKE, 0, SCIF_WIRE_WAKE_DATA | SCIF_WIRE_WAKE_SPACE |
			  SCIF_WIRE_WAKE_RMA,
			  "a WAKE (DATA|SPACE|RMA) with src id 0 naming the request is dropped" },
			{ SCIF_WIRE_MSG_WAKE, 0, 0x8,
			  "a WAKE with src id 0 and an unknown bit is dropped, not a violation: it names no connection" },
		};

		sc_send(steps[step].type, steps[step].dst0 ? 0 : c.kid, 0, steps[step].a2, 0, 0, 0);
		drop = sc_sync(30);
		if (!drop && steps[step].type == SCIF_WIRE_MSG_DISCONNECT) {
			/* a DISCONNECT of the kernel's would come one grace period after the close */
			usleep(300000);
			sc_rx();
		}
		ok = !drop && !sc_nin;
		for (unsigned int i = 0; i < sc_nin; i++)
			sc_note("the kernel sent %s %#llx %#llx %#llx",
				sc_msg_name(le16toh(sc_inbox[i].type)),
				(unsigned long long)arg(&sc_inbox[i], 0),
				(unsigned long long)arg(&sc_inbox[i], 1),
				(unsigned long long)arg(&sc_inbox[i], 2));
		sc_nin = 0;
		sc_result(ok, "limits/src0: %s (%s)", steps[step].what,
			  drop ? "the link was dropped: no answer to our NODE_UP" :
			  ok ? "the link is up, nothing from the kernel about the request" :
			  "the kernel sent something about the request");
		if (drop) {
			sc_keep_wakes = 0;
			return -1;
		}
	}
	sc_keep_wakes = 0;
	/* now the request is answered, and the connection works */
	if (sc_send(SCIF_WIRE_MSG_CONNECT_GRANT, c.kid, c.cid, c.our.ctl, c.our.data,
		    c.our.bytes, 0))
		return -1;
	ok = !sc_read(&c, rec, 30);
	sc_result(ok && !strcmp(rec, "src0 hello"),
		  "limits/src0: granted after them, the request is a connection: limits-host's bytes arrived ('%s')",
		  ok ? rec : "nothing within 30 s");
	if (!ok || sc_write(&c, "src0 reply", 10))
		return -1;
	ok = !sc_close(&c, 30);
	sc_result(ok, "limits/src0: limits-host closed the connection (DISCONNECT each way)");
	return ok ? 0 : -1;
}

static int sc_run_flood(void)
{
	volatile struct scif_wire_queue *in = queue(HOST, SELF);
	const uint32_t held = SCIF_WIRE_QUEUE_SLOTS + K_MAX_MSGS;
	uint64_t l1 = sc_list(1);
	uint32_t base, i, n, bad = 0;
	double t = now();
	int alive;

	/* start from a quiet link: everything the kernel sent is read */
	if (sc_sync(30)) {
		sc_result(0, "limits/flood: the kernel answers our NODE_UP before the flood");
		return -1;
	}
	usleep(200000);
	sc_rx();
	if (sc_nin)
		sc_note("%u messages of the kernel's unread before the flood", sc_nin);
	sc_nin = 0;
	base = rx_tail;
	/* answers: 32 in our queue, then K_MAX_MSGS waiting; we read none */
	for (i = 1; i <= held; i++) {
		if (sc_post(SCIF_WIRE_MSG_WINDOW_ADD, 0x7ffffff0, 1, i, 1ULL << 20, 1, l1 | 3, 0))
			break;
		if (i % SCIF_WIRE_QUEUE_SLOTS == 0)
			ring_host();
	}
	ring_host();
	alive = i > held && sc_consumed(30);
	if (alive) {
		/* a NODE_UP without the flag: read, and answered by nothing */
		sc_post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0, 0);
		alive = sc_consumed(30);
	}
	sc_result(alive, "limits/flood: with our queue full and %u answers waiting, the kernel still reads our queue (%u of %u ADDs sent, %.1f s)",
		  K_MAX_MSGS, i - 1, held, now() - t);
	if (!alive)
		return -1;
	/* one answer more than may wait: the link must go */
	sc_post(SCIF_WIRE_MSG_WINDOW_ADD, 0x7ffffff0, 1, held + 1, 1ULL << 20, 1, l1 | 3, 0);
	ring_host();
	if (!sc_consumed(30)) {
		sc_result(0, "limits/flood: the kernel reads our ADD number %u (not within 30 s)",
			  held + 1);
		return -1;
	}
	/* read alone (the probe after it is not in its batch), then the drop */
	usleep(300000);
	sc_post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY);
	alive = sc_consumed(3);
	sc_result(!alive, "limits/flood: at %u answers waiting for a card that does not drain its queue, the kernel dropped the link (it stopped reading our queue)",
		  K_MAX_MSGS + 1);
	/* what it had posted: the answers to our first 32 ADDs, in order */
	n = le32toh(in->head) - base;
	for (i = 0; i < n && i < SCIF_WIRE_QUEUE_SLOTS; i++) {
		struct scif_wire_msg *m = slot(in, base + i);

		if (le16toh(m->type) != SCIF_WIRE_MSG_WINDOW_ADDED || arg(m, 0) != 1 ||
		    arg(m, 1) != 0x7ffffff0 || arg(m, 2) != i + 1 || arg(m, 3) != ECONNRESET)
			bad++;
	}
	sc_result(n == SCIF_WIRE_QUEUE_SLOTS && !bad,
		  "limits/flood: our queue holds the answers to the first %u ADDs (ECONNRESET, in order): %u messages, %u unexpected",
		  SCIF_WIRE_QUEUE_SLOTS, n, bad);
	return alive ? -1 : 0;
}

/* --scenario LIST: the scenarios named (comma-separated; "limits": all). */
static int sc_parse(const char *list)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "limits"))
			sc_flood = sc_import = sc_src0 = 1;
		else if (!strcmp(tok, "flood"))
			sc_flood = 1;
		else if (!strcmp(tok, "import"))
			sc_import = 1;
		else if (!strcmp(tok, "src0"))
			sc_src0 = 1;
		else
			return -1;
	}
	return 0;
}

/* Run the scenarios asked for (calm and clean set: no mutations). */
static void sc_run(void)
{
	struct sc_conn c;
	double t = now();

	sc_note("scenarios:%s%s%s", sc_import ? " import" : "", sc_src0 ? " src0" : "",
		sc_flood ? " flood" : "");
	if (sc_sync(30))
		sc_note("the kernel did not answer our first NODE_UP within 30 s");
	if (sc_import && sc_run_import())
		sc_restart();
	if (sc_src0 && sc_run_src0())
		sc_restart();
	/* after a flood, as after every drop: a restarted card */
	if (sc_flood) {
		sc_run_flood();
		sc_result(!sc_restart(), "limits/flood: back as a restarted card, the kernel answers our NODE_UP");
	}
	sc_note("scenarios: %d passed, %d failed in %.1f s", sc_passed, sc_failed, now() - t);
	/*
	 * The host looks at what its kernel shows of them (dmesg, counters)
	 * before our random traffic starts: it says when with a request to
	 * our port 2102, which we refuse.
	 */
	if (!sc_accept(&c, SC_PORT_GO, 180, 0))
		sc_send(SCIF_WIRE_MSG_CONNECT_REJECT, c.kid, c.cid, 0, 0, 0, 0);
	else
		sc_note("no request to our port %u within 180 s: the random traffic starts",
			SC_PORT_GO);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *self_path = NULL, *peer_path = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double seconds = 30, end, next_restart;
	int64_t v;
	unsigned long long seed = 0;
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
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--calm"))
			all_calm = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--trace"))
			trace = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--keep-ids"))
			keep_ids = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--scenario") && sc_parse(argv[i + 1])) {
			fprintf(stderr, "link-fuzz: unknown scenario in '%s' (flood, import, src0, limits)\n",
				argv[i + 1]);
			return 2;
		}
	}
	rng ^= seed * 0xff51afd7ed558ccdULL;
	printf("link-fuzz: seed %llu (--seed %llu replays the same choices; timing differs)\n",
	       seed, seed);
	calm = all_calm;
	t0 = now();
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
	printf("link-fuzz: node 0 is up; %sfuzzing for %.0f s\n",
	       sc_flood || sc_import || sc_src0 ? "scenarios, then " : "", seconds);
	fflush(stdout);
	if (sc_flood || sc_import || sc_src0)
		calm = clean = 1;	/* the scenarios keep to the protocol */
	post(SCIF_WIRE_MSG_NODE_UP, 0, 0, 0, 0, 0, SCIF_WIRE_F_WANT_REPLY);
	ring_host();
	if (sc_flood || sc_import || sc_src0) {
		sc_run();
		clean = 0;
		calm = all_calm;
	}
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
			next_restart = now() + (rma_evil ? 0.5 + (rnd() % 1000) / 1000.0 :
						calm ? 2 + (rnd() % 1500) / 1000.0 :
						0.3 + (rnd() % 700) / 1000.0);
		}
	}
	/* a clean goodbye so the kernel can check its counters */
	clean = 1;
	restart();
	usleep(300000);
	drain();
	post(SCIF_WIRE_MSG_NODE_DOWN, 0, 0, 0, 0, 0, 0);
	ring_host();
	printf("link-fuzz: sent %ld messages, received %ld, %ld restarts (%ld calm, %ld attacking windows only)\n",
	       sent, received, breaks, calms, evils);
	printf("link-fuzz: windows: %ld good ADDs, %ld bad, answers %ld ok / %ld errors, %ld list rewrites\n",
	       st_add_good, st_add_bad, st_added_ok, st_added_err, st_toctou);
	printf("link-fuzz: the kernel's windows: %ld ADDs (%ld never answered), %ld bad lists, %ld DELs, %ld FREEs sent\n",
	       st_host_add, st_host_never, st_host_list_bad, st_host_del, st_host_free);
	printf("ok - link-fuzz: %.0f s of hostile traffic\n%d passed, %d failed\n", seconds,
	       sc_passed + 1, sc_failed);
	return sc_failed != 0;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_linkrma - RMA across a SCIF link (kmod/tests/link.sh).
 *
 *   scif_linkrma server           on node 0: serves port 3100 (below) until a
 *                                 client says "done" (or 240 s)
 *   scif_linkrma client NODE      on a card: the tests, against NODE's server
 *   scif_linkrma kill-host READY FILE
 *                                 on node 0: accept on port 3101, copy from
 *                                 and into the card's window in a loop; once
 *                                 READY exists (another test is ready too),
 *                                 create FILE (the harness kills the card's
 *                                 qemu) and check that the copies end within
 *                                 1 s and every window and pinned page is
 *                                 released
 *   scif_linkrma kill-card NODE   on the card: register a window, copy into
 *                                 the host's forever
 *
 * The server runs what the client asks over the connection's stream
 * (struct cmd -> struct reply): register windows with a pattern, check
 * them, copy into the client's windows, fence, unregister, and report its
 * counters, so each test sees both sides.  Lines "ok - ..." / "not ok - ...",
 * then "N passed, N failed" (exit 1 on any failure).
 */
#include "harness.h"
#include "rma_util.h"
#include "tap.h"

#include <sys/mman.h>

#define PAGE		4096
#define WPAGES		16	/* pages of the main windows */
#define WBYTES		(WPAGES * PAGE)
#define BIG		(4 << 20)
#define MAXW		8

enum op {
	OP_REG = 1,	/* a: pages, b: seed, c: prot -> v: offset */
	OP_CHECK,	/* a: idx, b: seed, c: bytes -> r: 0, or 1 + first bad */
	OP_FILL,	/* a: idx, b: seed */
	OP_UNREG,	/* a: idx -> r: 0 or -errno, v: microseconds */
	OP_WRITETO,	/* a: idx, b: remote offset, c: bytes, d: flags */
	OP_READFROM,	/* a: idx, b: remote offset, c: bytes, d: flags */
	OP_SIGNAL,	/* a: remote offset, b: value (INIT_SELF, remote) */
	OP_READ64,	/* a: idx, b: byte offset -> v */
	OP_COUNTERS,	/* -> v: windows, r: pinned pages */
	OP_BYE,
};

struct cmd {
	int64_t op, a, b, c, d;
};

struct reply {
	int64_t r, v;
};


static uint8_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL ^ (seed * 0xd1b54a32d192ed03ULL);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((i & 7) * 8));
}

static void fill(uint8_t *p, uint64_t seed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(seed, i);
}

/* 0 if p[0..n) is pattern @seed from byte @from, else 1 + first bad byte. */
static long check(const uint8_t *p, uint64_t seed, size_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(seed, from + i))
			return 1 + i;
	return 0;
}

static int fence_mark(int fd, int flags, int *mark)
{
	struct scifioctl_fence_mark m = { .flags = flags, .mark = (uintptr_t)mark };

	return ioctl(fd, SCIF_FENCE_MARK, &m);
}

static int fence_signal(int fd, int flags, long loff, uint64_t lval, long roff,
			uint64_t rval)
{
	struct scifioctl_fence_signal s = {
		.loff = loff, .lval = lval, .roff = roff, .rval = rval,
		.flags = flags,
	};

	return ioctl(fd, SCIF_FENCE_SIGNAL, &s);
}

/* ---------------------------------------------------------------- server */

struct swin {
	uint8_t *buf;
	size_t len;
	long off;
};

static void serve(int fd)
{
	struct swin w[MAXW] = { 0 };
	int nw = 0, i;
	struct cmd c;
	struct reply r;
	double t;

	while (recv_all(fd, &c, sizeof(c)) == sizeof(c)) {
		memset(&r, 0, sizeof(r));
		i = c.a >= 0 && c.a < nw ? (int)c.a : 0;
		errno = 0;
		switch (c.op) {
		case OP_REG:
			if (nw == MAXW) {
				r.r = -ENOSPC;
				break;
			}
			w[nw].len = c.a * PAGE;
			w[nw].buf = palloc(w[nw].len);
			fill(w[nw].buf, c.b, w[nw].len);
			w[nw].off = reg(fd, w[nw].buf, w[nw].len, 0, c.c, 0);
			r.r = w[nw].off < 0 ? -errno : nw;
			r.v = w[nw].off;
			nw++;
			break;
		case OP_CHECK:
			r.r = check(w[i].buf, c.b, 0, c.c);
			break;
		case OP_FILL:
			fill(w[i].buf, c.b, w[i].len);
			break;
		case OP_UNREG:
			t = now();
			r.r = unreg(fd, w[i].off, w[i].len) ? -errno : 0;
			r.v = (now() - t) * 1e6;
			break;
		case OP_WRITETO:
			r.r = rma(fd, SCIF_WRITETO, w[i].off, c.c, c.b, c.d) ? -errno : 0;
			break;
		case OP_READFROM:
			r.r = rma(fd, SCIF_READFROM, w[i].off, c.c, c.b, c.d) ? -errno : 0;
			break;
		case OP_SIGNAL:
			r.r = fence_signal(fd, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE,
					   0, 0, c.a, c.b) ? -errno : 0;
			break;
		case OP_READ64:
			memcpy(&r.v, w[i].buf + c.b, 8);
			break;
		case OP_COUNTERS:
			r.v = dbg_counter("windows");
			r.r = dbg_counter("pinned_pages");
			break;
		case OP_BYE:
			r.r = 0;
			break;
		}
		if (send_all(fd, &r, sizeof(r)) != sizeof(r) || c.op == OP_BYE)
			break;
	}
	close(fd);
	for (i = 0; i < nw; i++)
		munmap(w[i].buf, w[i].len);
}

static int server(void)
{
	int lfd = ep_open(), fd;
	struct scif_port_id peer;

	REQUIRE(lfd >= 0 && ep_bind(lfd, 3100) == 3100 && !ep_listen(lfd, 4));
	printf("# rma server listening\n");
	fflush(stdout);
	alarm(240);
	/* one connection at a time; a connection that says "done" ends it */
	while ((fd = ep_accept(lfd, SCIF_ACCEPT_SYNC, &peer)) >= 0) {
		char first;

		if (recv_all(fd, &first, 1) != 1) {
			close(fd);
			continue;
		}
		if (first == 'D') {
			close(fd);
			break;
		}
		serve(fd);
	}
	close(lfd);
	result(wait_counters(0, 0, 10000) == 0,
	       "host: windows, pinned pages, endpoints back to 0 (windows %ld pinned %ld)",
	       dbg_counter("windows"), dbg_counter("pinned_pages"));
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* ---------------------------------------------------------------- client */

static int sfd;

static struct reply call(int64_t op, int64_t a, int64_t b, int64_t c, int64_t d)
{
	struct cmd cm = { op, a, b, c, d };
	struct reply r = { -EPIPE, 0 };

	if (send_all(sfd, &cm, sizeof(cm)) != sizeof(cm) ||
	    recv_all(sfd, &r, sizeof(r)) != sizeof(r))
		r.r = -EPIPE;
	return r;
}

static int connect_server(int node, int port)
{
	int fd = ep_open();

	if (fd < 0 || ep_connect(fd, node, port, NULL)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int err_of(int rc)
{
	return rc ? errno : 0;
}

static int client(int node)
{
	uint8_t *mine = palloc(WBYTES), *sig = palloc(PAGE), *big = palloc(BIG);
	long cw, csig, cbig, sw, ssig, sro, sbig, n;
	struct reply r;
	uint64_t v;
	int mark, e;
	uint8_t *m, *u;
	double t;

	sfd = connect_server(node, 3100);
	REQUIRE(sfd >= 0);
	REQUIRE(send_all(sfd, "R", 1) == 1);

	/* windows on both sides */
	r = call(OP_REG, WPAGES, 1, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	sw = r.v;
	result(r.r == 0 && sw >= 0, "host REG of a 64 KiB window (offset %ld)", sw);
	r = call(OP_REG, 1, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	ssig = r.v;
	r = call(OP_REG, 1, 9, SCIF_PROT_READ, 0);
	sro = r.v;
	r = call(OP_REG, BIG / PAGE, 7, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	sbig = r.v;
	result(ssig >= 0 && sro >= 0 && sbig >= 0, "host REG of three more windows");
	cw = reg(sfd, mine, WBYTES, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	csig = reg(sfd, sig, PAGE, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	cbig = reg(sfd, big, BIG, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	result(cw >= 0 && csig >= 0 && cbig >= 0, "card REG of three windows");
	result(dbg_counter("peer_windows") == 4,
	       "the card knows the host's 4 windows (peer_windows %ld)",
	       dbg_counter("peer_windows"));

	/* copies the card makes */
	e = err_of(rma(sfd, SCIF_READFROM, cw, WBYTES, sw, SCIF_RMA_SYNC));
	result(!e && !check(mine, 1, 0, WBYTES), "readFrom 64 KiB, SYNC: the host's bytes (%d)", e);
	memset(mine, 0, WBYTES);
	e = err_of(rma(sfd, SCIF_READFROM, cw, WBYTES, sw, 0));
	if (!e)
		e = err_of(fence_mark(sfd, SCIF_FENCE_INIT_SELF, &mark));
	if (!e)
		e = err_of(ioctl(sfd, SCIF_FENCE_WAIT, mark));
	result(!e && !check(mine, 1, 0, WBYTES),
	       "readFrom 64 KiB async, then mark and wait: the host's bytes (%d)", e);
	memset(mine, 0, WBYTES);
	e = err_of(rma(sfd, SCIF_READFROM, cw + 13, 10000, sw + 7, SCIF_RMA_USECPU));
	result(!e && !check(mine + 13, 1, 7, 10000) && mine[12] == 0 && mine[10013] == 0,
	       "readFrom at unaligned offsets, 10000 bytes, across pages (%d)", e);
	fill(mine, 2, WBYTES);
	e = err_of(rma(sfd, SCIF_WRITETO, cw, WBYTES, sw, SCIF_RMA_SYNC));
	r = call(OP_CHECK, 0, 2, WBYTES, 0);
	result(!e && r.r == 0, "writeTo 64 KiB, SYNC: the host's window holds it (%d, %ld)", e, (long)r.r);
	fill(mine, 3, WBYTES);
	e = err_of(rma(sfd, SCIF_WRITETO, cw, WBYTES, sw, 0));
	v = 0x5eed0001;
	if (!e)
		e = err_of(fence_signal(sfd, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE |
					SCIF_SIGNAL_LOCAL, csig + 8, v, ssig + 16, v + 1));
	t = now();
	while (!e && *(volatile uint64_t *)(sig + 8) != v && now() - t < 5)
		usleep(1000);
	r = call(OP_READ64, 1, 16, 0, 0);
	result(!e && r.v == (int64_t)(v + 1) && *(uint64_t *)(sig + 8) == v &&
	       call(OP_CHECK, 0, 3, WBYTES, 0).r == 0,
	       "writeTo async + fenceSignal(self, local and remote): both values, after the data (%d)",
	       e);

	/* v* calls, unaligned user buffers */
	u = malloc(20000 + 3);
	e = err_of(vrma(sfd, SCIF_VREADFROM, u + 3, 20000, sw + 100, 0));
	result(!e && !check(u + 3, 3, 100, 20000), "vreadfrom 20000 bytes into an unaligned buffer (%d)", e);
	fill(u + 3, 4, 20000);
	e = err_of(vrma(sfd, SCIF_VWRITETO, u + 3, 20000, sw, SCIF_RMA_SYNC));
	result(!e && call(OP_CHECK, 0, 4, 20000, 0).r == 0, "vwriteto 20000 bytes (%d)", e);
	free(u);

	/* errors */
	/* the host's windows are adjacent (automatic offsets): a range may span them */
	e = err_of(rma(sfd, SCIF_READFROM, cw, 2 * PAGE, sw + WBYTES - PAGE, SCIF_RMA_SYNC));
	result(!e && !check(mine, 3, WBYTES - PAGE, PAGE) && !check(mine + PAGE + 24, 0, 24, PAGE - 24),
	       "readFrom across two adjacent windows of the host (%d)", e);
	result(err_of(rma(sfd, SCIF_READFROM, cw, 2 * PAGE, sbig + BIG - PAGE, 0)) == ENXIO,
	       "readFrom past the end of the host's last window: ENXIO");
	result(err_of(rma(sfd, SCIF_WRITETO, cw, PAGE, sro, 0)) == EACCES,
	       "writeTo a read-only window of the host: EACCES");
	result(err_of(rma(sfd, SCIF_READFROM, cw, PAGE, 1L << 40, 0)) == ENXIO,
	       "readFrom an offset the host never registered: ENXIO");
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, sro);
	result(m == MAP_FAILED && errno == EACCES, "mmap PROT_WRITE of a read-only window: EACCES");

	/* mmap of the host's window through the aperture */
	m = mmap(NULL, WBYTES, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, sw);
	result(m != MAP_FAILED, "mmap of the host's 64 KiB window (%s)", m == MAP_FAILED ? strerror(errno) : "ok");
	if (m != MAP_FAILED) {
		call(OP_FILL, 0, 5, 0, 0);
		result(!check(m, 5, 0, WBYTES), "the mapping shows the host's bytes");
		fill(m, 6, WBYTES);
		result(call(OP_CHECK, 0, 6, WBYTES, 0).r == 0, "bytes stored in the mapping land in the host's window");
	}

	/* copies the host makes into the card's windows */
	call(OP_FILL, 0, 8, 0, 0);
	r = call(OP_WRITETO, 0, cw, WBYTES, SCIF_RMA_SYNC);
	result(r.r == 0 && !check(mine, 8, 0, WBYTES), "the host's writeTo lands in the card's window (%ld)", (long)r.r);
	fill(mine, 10, WBYTES);
	r = call(OP_READFROM, 0, cw, WBYTES, SCIF_RMA_SYNC);
	result(r.r == 0 && call(OP_CHECK, 0, 10, WBYTES, 0).r == 0,
	       "the host's readFrom of the card's window (%ld)", (long)r.r);
	call(OP_FILL, 0, 11, 0, 0);
	r = call(OP_WRITETO, 0, cw, WBYTES, 0);
	e = r.r ? (int)-r.r : err_of(fence_mark(sfd, SCIF_FENCE_INIT_PEER, &mark));
	if (!e)
		e = err_of(ioctl(sfd, SCIF_FENCE_WAIT, mark));
	result(!e && mark < 0 && !check(mine, 11, 0, WBYTES),
	       "the host's async writeTo, our INIT_PEER mark (%d) and wait: the data is here (%d)", mark, e);
	call(OP_FILL, 0, 12, 0, 0);
	r = call(OP_WRITETO, 0, cw, WBYTES, 0);
	e = r.r ? (int)-r.r : err_of(fence_signal(sfd, SCIF_FENCE_INIT_PEER | SCIF_SIGNAL_LOCAL,
						  csig, 77, 0, 0));
	t = now();
	while (!e && *(volatile uint64_t *)sig != 77 && now() - t < 5)
		usleep(1000);
	result(!e && *(uint64_t *)sig == 77 && !check(mine, 12, 0, WBYTES),
	       "fenceSignal(peer, local) after the host's async writeTo: value, then data (%d)", e);
	call(OP_FILL, 0, 13, 0, 0);
	*(volatile uint64_t *)(sig + 24) = 0;
	r = call(OP_WRITETO, 0, cw, WBYTES, 0);
	if (!r.r)
		r = call(OP_SIGNAL, csig + 24, 0xabcdef, 0, 0);
	t = now();
	while (!r.r && *(volatile uint64_t *)(sig + 24) != 0xabcdef && now() - t < 5)
		usleep(1000);
	result(!r.r && *(uint64_t *)(sig + 24) == 0xabcdef && !check(mine, 13, 0, WBYTES),
	       "the host's writeTo + fenceSignal(remote) into the card: value, then data (%ld)", (long)r.r);

	/* 4 MiB both ways, timed (informative) */
	fill(big, 14, BIG);
	t = now();
	e = err_of(rma(sfd, SCIF_WRITETO, cbig, BIG, sbig, SCIF_RMA_SYNC));
	t = now() - t;
	result(!e && call(OP_CHECK, 3, 14, BIG, 0).r == 0,
	       "writeTo 4 MiB: %.0f MB/s (%d)", BIG / t / 1e6, e);
	memset(big, 0, BIG);
	t = now();
	e = err_of(rma(sfd, SCIF_READFROM, cbig, BIG, sbig, SCIF_RMA_SYNC));
	t = now() - t;
	result(!e && !check(big, 14, 0, BIG), "readFrom 4 MiB: %.0f MB/s (%d)", BIG / t / 1e6, e);

	/* the host unregisters a window we have mapped */
	r = call(OP_COUNTERS, 0, 0, 0, 0);
	n = r.r;
	r = call(OP_UNREG, 0, 0, 0, 0);
	result(r.r == 0, "the host's UNREG of a window the card maps: %ld us", (long)r.v);
	result(err_of(rma(sfd, SCIF_READFROM, cw, PAGE, sw, 0)) == ENXIO,
	       "readFrom the unregistered window: ENXIO");
	result(call(OP_COUNTERS, 0, 0, 0, 0).r == n,
	       "the host keeps its pages pinned while the card maps them (%ld)", n);
	if (m != MAP_FAILED) {
		result(!check(m, 13, 0, WBYTES),
		       "the mapping still reads after the UNREG");
		munmap(m, WBYTES);
	}
	t = now();
	while (call(OP_COUNTERS, 0, 0, 0, 0).r != n - WPAGES && now() - t < 5)
		usleep(10000);
	result(call(OP_COUNTERS, 0, 0, 0, 0).r == n - WPAGES,
	       "munmap: the host unpins the window's %d pages", WPAGES);

	/* we unregister ours: the host's copies fail */
	e = err_of(unreg(sfd, cw, WBYTES));
	r = call(OP_WRITETO, 1, cw, PAGE, SCIF_RMA_SYNC);
	result(!e && r.r == -ENXIO, "card UNREG; the host's writeTo into it: ENXIO (%ld)", (long)r.r);

	/* close: everything goes on both sides */
	call(OP_BYE, 0, 0, 0, 0);
	close(sfd);
	e = wait_counters(0, 0, 10000) == 0 && dbg_counter("peer_windows") == 0;
	result(e, "card: windows, pinned pages, peer windows, endpoints back to 0 (%ld %ld %ld)",
	       dbg_counter("windows"), dbg_counter("pinned_pages"),
	       dbg_counter("peer_windows"));

	sfd = connect_server(node, 3100);
	result(sfd >= 0 && send_all(sfd, "D", 1) == 1, "told the host we are done");
	if (sfd >= 0)
		close(sfd);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

/* ------------------------------------------------------------ kill tests */

static volatile int kill_stop;
static volatile double kill_end;

struct kill_arg {
	int fd;
	long mine, theirs;
	int cmd;
	int err;
};

static void *kill_copier(void *p)
{
	struct kill_arg *a = p;

	while (!kill_stop) {
		if (rma(a->fd, a->cmd, a->mine, BIG, a->theirs, SCIF_RMA_SYNC)) {
			a->err = errno;
			break;
		}
	}
	kill_end = now();
	return NULL;
}

static int kill_host(const char *ready, const char *file)
{
	uint8_t *buf = palloc(BIG), *buf2 = palloc(BIG);
	struct kill_arg a, b;
	pthread_t ta, tb;
	long theirs = -1, mine, mine2;
	int lfd = ep_open(), fd, f;
	double t0;

	REQUIRE(lfd >= 0 && ep_bind(lfd, 3101) == 3101 && !ep_listen(lfd, 1));
	fd = ep_accept(lfd, SCIF_ACCEPT_SYNC, NULL);
	REQUIRE(fd >= 0);
	mine = reg(fd, buf, BIG, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	mine2 = reg(fd, buf2, BIG, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	REQUIRE(mine >= 0 && mine2 >= 0);
	REQUIRE(send_all(fd, &mine, sizeof(mine)) == sizeof(mine));
	REQUIRE(recv_all(fd, &theirs, sizeof(theirs)) == sizeof(theirs));
	a = (struct kill_arg){ fd, mine, theirs, SCIF_READFROM, 0 };
	b = (struct kill_arg){ fd, mine2, theirs, SCIF_WRITETO, 0 };
	pthread_create(&ta, NULL, kill_copier, &a);
	pthread_create(&tb, NULL, kill_copier, &b);
	sleep(2);
	result(!a.err && !b.err, "host copies from and into the card's window, the card into ours");
	for (f = 0; access(ready, F_OK) && f < 3000; f++)
		usleep(20000);
	t0 = now();
	f = open(file, O_CREAT | O_WRONLY, 0644);
	if (f >= 0)
		close(f);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	result(a.err == ECONNRESET && b.err == ECONNRESET && kill_end - t0 < 1.5,
	       "card's qemu killed mid-RMA: both copies end with ECONNRESET in %.2f s (%s, %s)",
	       kill_end - t0, strerror(a.err), strerror(b.err));
	close(fd);
	close(lfd);
	f = wait_counters(0, 0, 5000) == 0 && dbg_counter("peer_windows") == 0;
	result(f,
	       "host: windows, pinned pages, peer windows back to 0 (%ld %ld %ld)",
	       dbg_counter("windows"), dbg_counter("pinned_pages"),
	       dbg_counter("peer_windows"));
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

static int kill_card(int node)
{
	uint8_t *buf = palloc(BIG);
	long mine, theirs;
	double end = now() + 60;
	int fd;

	/* the host starts its side once it is done with the last phase: it may not listen yet */
	while ((fd = connect_server(node, 3101)) < 0 && now() < end)
		usleep(200000);
	REQUIRE(fd >= 0);
	mine = reg(fd, buf, BIG, 0, SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	REQUIRE(mine >= 0);
	REQUIRE(recv_all(fd, &theirs, sizeof(theirs)) == sizeof(theirs));
	REQUIRE(send_all(fd, &mine, sizeof(mine)) == sizeof(mine));
	for (;;)
		if (rma(fd, SCIF_WRITETO, mine, BIG, theirs, SCIF_RMA_SYNC))
			break;
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "server"))
		return server();
	if (argc == 3 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "kill-host"))
		return kill_host(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "kill-card"))
		return kill_card(atoi(argv[2]));
	fprintf(stderr, "usage: %s server | client NODE | kill-host READY FILE | kill-card NODE\n",
		argv[0]);
	return 2;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_compat32.c - the ABI from a 32-bit (i386) process, through the
 * module's compat_ioctl.  Freestanding (no 32-bit libc needed): raw int $0x80
 * system calls.  Built with gcc -m32 -nostdlib -static.
 */
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/scif_ioctl.h>
#include <linux/fcntl.h>

#include "scif_test_api.h"

#define NR_exit		1
#define NR_write	4
#define NR_open		5
#define NR_close	6
#define NR_ioctl	54
#define NR_fcntl	55

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static int slen(const char *s)
{
	int n = 0;

	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys3(NR_write, 1, (long)s, slen(s));
}

static int failed, num;

static void check(int ok, const char *what)
{
	num++;
	say(ok ? "ok - compat32." : "not ok - compat32.");
	say(what);
	say("\n");
	failed |= !ok;
}

static int xmemeq(const char *a, const char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static char win_a[2 * 4096] __attribute__((aligned(4096)));
static char win_c[4096] __attribute__((aligned(4096)));
static char vbuf[100];

/* Windows, RMA, fences through compat_ioctl; @a and @c are connected. */
static void rma(long a, long c)
{
	struct scifioctl_reg ra = { 0 }, rc = { 0 };
	struct scifioctl_copy cp = { 0 };
	struct scifioctl_fence_mark fm = { 0 };
	struct scifioctl_fence_signal fs = { 0 };
	struct scifioctl_unreg ur = { 0 };
	__s32 mark = 12345;
	int i, ok;

	ra.addr = (unsigned long)win_a;
	ra.len = sizeof(win_a);
	ra.offset = 0x10000;
	ra.prot = SCIF_PROT_READ | SCIF_PROT_WRITE;
	ra.flags = SCIF_MAP_FIXED;
	check(sizeof(ra) == 40 && sys3(NR_ioctl, a, SCIF_REG, (long)&ra) == 0 &&
	      ra.out_offset == 0x10000, "reg");
	rc.addr = (unsigned long)win_c;
	rc.len = sizeof(win_c);
	rc.prot = SCIF_PROT_READ | SCIF_PROT_WRITE;
	check(sys3(NR_ioctl, c, SCIF_REG, (long)&rc) == 0 && rc.out_offset >= 0,
	      "reg_auto");
	for (i = 0; i < 4096; i++)
		win_c[i] = (char)(i * 7 + 1);
	cp.loffset = rc.out_offset + 5;
	cp.len = 3000;
	cp.roffset = 0x10000 + 4000;
	cp.flags = SCIF_RMA_SYNC;
	check(sizeof(cp) == 36 && sys3(NR_ioctl, c, SCIF_WRITETO, (long)&cp) == 0 &&
	      xmemeq(win_a + 4000, win_c + 5, 3000), "writeto");
	cp.addr = (unsigned long)vbuf;
	cp.len = sizeof(vbuf);
	cp.roffset = 0x10000 + 4000;
	cp.flags = SCIF_RMA_USECPU;
	check(sys3(NR_ioctl, c, SCIF_VREADFROM, (long)&cp) == 0 &&
	      xmemeq(vbuf, win_c + 5, sizeof(vbuf)), "vreadfrom");
	cp.flags = 0x100;
	check(sys3(NR_ioctl, c, SCIF_VREADFROM, (long)&cp) == -22, "copy_flags_einval");
	fm.flags = SCIF_FENCE_INIT_SELF;
	fm.mark = (unsigned long)&mark;
	check(sizeof(fm) == 12 && sys3(NR_ioctl, c, SCIF_FENCE_MARK, (long)&fm) == 0 &&
	      mark >= 2, "fence_mark");
	check(sys3(NR_ioctl, c, SCIF_FENCE_WAIT, mark) == 0, "fence_wait");
	fm.flags = SCIF_FENCE_INIT_PEER;
	check(sys3(NR_ioctl, a, SCIF_FENCE_MARK, (long)&fm) == 0 && mark < 0,
	      "fence_mark_peer");
	check(sys3(NR_ioctl, a, SCIF_FENCE_WAIT, mark) == 0, "fence_wait_peer");
	fm.flags = 3;
	check(sys3(NR_ioctl, a, SCIF_FENCE_MARK, (long)&fm) == -22, "fence_mark_einval");
	fs.loff = 0x10000 + 8;
	fs.lval = 0x1122334455667788ULL;
	fs.roff = rc.out_offset + 4092;
	fs.rval = 0x0102030405060708ULL;
	fs.flags = SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL;
	ok = sizeof(fs) == 36 && sys3(NR_ioctl, a, SCIF_FENCE_SIGNAL, (long)&fs) == 0 &&
	     *(volatile __u64 *)(win_a + 8) == 0x1122334455667788ULL;
	check(ok, "fence_signal");
	fs.flags = SCIF_FENCE_INIT_PEER | SCIF_SIGNAL_REMOTE;
	check(sys3(NR_ioctl, a, SCIF_FENCE_SIGNAL, (long)&fs) == -6, "fence_signal_enxio");
	ur.offset = 0x10000;
	ur.len = 4096;
	check(sys3(NR_ioctl, a, SCIF_UNREG, (long)&ur) == -22, "unreg_partial_einval");
	ur.len = 2 * 4096;
	check(sys3(NR_ioctl, a, SCIF_UNREG, (long)&ur) == 0, "unreg");
}

static void run(void)
{
	long l = sys3(NR_open, (long)"/dev/scif", O_RDWR, 0);
	long c = sys3(NR_open, (long)"/dev/scif", O_RDWR, 0);
	long a = sys3(NR_open, (long)"/dev/scif", O_RDWR, 0);
	struct scifioctl_node_ids ni = { 0 };
	struct scifioctl_connect cc = { 0 };
	struct scifioctl_accept ac = { 0 };
	struct scifioctl_msg m = { 0 };
	__u16 ids[4] = { 7, 7, 7, 7 }, self = 9;
	char buf[16];
	__u64 h;
	int port = 0;

	check(l >= 0 && c >= 0 && a >= 0, "open");
	if (l < 0 || c < 0 || a < 0)
		return;

	ni.nodes = (unsigned long)ids;
	ni.self = (unsigned long)&self;
	ni.len = 1;
	check(sizeof(ni) == 20 && sys3(NR_ioctl, c, SCIF_GET_NODEIDS, (long)&ni) == 0 &&
	      ni.len >= 1 && self == 0 && ids[0] == 0 && ids[1] == 7, "get_nodeids");
	check(sys3(NR_ioctl, l, SCIF_BIND, (long)&port) == 0 && port > SCIF_PORT_RSVD,
	      "bind");
	check(sys3(NR_ioctl, l, SCIF_LISTEN, 0) == -22, "listen_zero_einval");
	check(sys3(NR_ioctl, l, SCIF_LISTEN, 4) == 0, "listen");
	sys3(NR_fcntl, c, F_SETFL, O_NONBLOCK);
	cc.peer.node = 0;
	cc.peer.port = port;
	check(sys3(NR_ioctl, c, SCIF_CONNECT, (long)&cc) == -115, "connect_einprogress");
	check(sys3(NR_ioctl, l, SCIF_ACCEPTREQ, (long)&ac) == 0 && ac.endpt != 0,
	      "acceptreq");
	h = ac.endpt;
	check(sys3(NR_ioctl, a, SCIF_ACCEPTREG, (long)&h) == 0, "acceptreg");
	check(sys3(NR_ioctl, c, SCIF_CONNECT, (long)&cc) == 0 && cc.self.port > 0,
	      "connect_collect");
	m.msg = (unsigned long)"hello32";
	m.len = 7;
	m.flags = SCIF_SEND_BLOCK;
	check(sizeof(m) == 20 && sys3(NR_ioctl, c, SCIF_SEND, (long)&m) == 0 &&
	      m.out_len == 7, "send");
	m.msg = (unsigned long)buf;
	m.len = 16;
	m.flags = 0;
	check(sys3(NR_ioctl, a, SCIF_RECV, (long)&m) == 0 && m.out_len == 7 &&
	      xmemeq(buf, "hello32", 7), "recv");
	m.len = -1;
	check(sys3(NR_ioctl, a, SCIF_RECV, (long)&m) == -22, "recv_einval");
	check(sys3(NR_ioctl, a, SCIF_FENCE_WAIT, 1) == -22, "fence_wait_unissued_einval");
	check(sys3(NR_ioctl, a, SCIF_FENCE_WAIT, 0) == 0, "fence_wait_zero");
	rma(a, c);
	check(sys3(NR_ioctl, a, _IO('s', 99), 0) == -22, "unknown_einval");
	sys3(NR_close, l, 0, 0);
	sys3(NR_close, c, 0, 0);
	sys3(NR_close, a, 0, 0);
}

void __attribute__((noreturn, used)) cmain(void)
{
	run();
	sys3(NR_exit, failed, 0, 0);
	__builtin_unreachable();
}

__asm__(".globl _start\n_start:\n\tand $-16, %esp\n\tcall cmain\n");

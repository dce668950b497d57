/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rma_util.h - small wrappers of the RMA ioctls shared by the selftests.
 * Each returns what the ioctl returns (-1 with errno on failure).
 */
#ifndef SCIF_RMA_UTIL_H
#define SCIF_RMA_UTIL_H

#include <sys/mman.h>

#include "harness.h"

static inline void *palloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED);
	memset(p, 0, n);
	return p;
}

/* REG: returns out_offset, or -1 with errno. */
static inline long reg(int fd, void *addr, size_t len, long off, int prot, int flags)
{
	struct scifioctl_reg r = {
		.addr = (uintptr_t)addr, .len = len, .offset = off,
		.prot = prot, .flags = flags, .out_offset = -7,
	};

	if (ioctl(fd, SCIF_REG, &r) < 0)
		return -1;
	return r.out_offset;
}

static inline long regf(int fd, void *addr, size_t len, long off, int prot)
{
	return reg(fd, addr, len, off, prot, SCIF_MAP_FIXED);
}

static inline int unreg(int fd, long off, size_t len)
{
	struct scifioctl_unreg u = { .offset = off, .len = len };

	return ioctl(fd, SCIF_UNREG, &u);
}

static inline int rma(int fd, unsigned long cmd, long loff, size_t len, long roff,
	       int flags)
{
	struct scifioctl_copy c = {
		.loffset = loff, .len = len, .roffset = roff, .flags = flags,
	};

	return ioctl(fd, cmd, &c);
}

static inline int vrma(int fd, unsigned long cmd, void *addr, size_t len, long roff,
		int flags)
{
	struct scifioctl_copy c = {
		.addr = (uintptr_t)addr, .len = len, .roffset = roff,
		.flags = flags,
	};

	return ioctl(fd, cmd, &c);
}

#endif /* SCIF_RMA_UTIL_H */

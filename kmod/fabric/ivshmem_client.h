/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ivshmem_client.h - the client side of qemu's ivshmem server protocol, for
 * programs that join our fabric as a qemu would (fabric-test, link-fuzz).
 */
#ifndef IVSHMEM_CLIENT_H
#define IVSHMEM_CLIENT_H

#include <endian.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Receive one 8-byte little-endian number, and the fd sent with it (or -1),
 * waiting up to @ms.  Return: 1, 0 on timeout, -1 on EOF or error.
 */
static inline int ivshmem_recv(int s, int ms, int64_t *val, int *fd)
{
	uint64_t le;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct pollfd p = { s, POLLIN, 0 };
	struct cmsghdr *cm;

	*fd = -1;
	if (poll(&p, 1, ms) != 1)
		return 0;
	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != sizeof(le))
		return -1;
	*val = (int64_t)le64toh(le);
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 1;
}

#endif /* IVSHMEM_CLIENT_H */

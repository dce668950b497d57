// SPDX-License-Identifier: GPL-2.0-only
/*
 * scif_link - GET_NODEIDS probes for the link tests (kmod/tests/link.sh).
 *
 *   scif_link self                   print this node's id
 *   scif_link wait-peer NODE SECS    exit 0 once NODE is listed (prints secs)
 *   scif_link wait-gone NODE SECS    exit 0 once NODE is not listed
 *
 * /dev/scif is opened and closed per poll, so the module can be removed
 * between polls.  Exit 1 on timeout, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/scif_ioctl.h>

/* 0/1: NODE listed or not; -1: no /dev/scif (module not loaded) */
static int listed(int node, int *self)
{
	uint16_t ids[64], me = 0xffff;
	struct scifioctl_node_ids req = {
		.nodes = (uintptr_t)ids, .self = (uintptr_t)&me, .len = 64,
	};
	int fd = open("/dev/scif", O_RDWR | O_CLOEXEC), found = 0;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SCIF_GET_NODEIDS, &req)) {
		perror("SCIF_GET_NODEIDS");
		close(fd);
		return -1;
	}
	close(fd);
	for (int i = 0; i < req.len && i < 64; i++)
		found |= ids[i] == node;
	if (self)
		*self = me;
	return found;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double t0 = now(), limit;
	int node, want, self = -1;

	if (argc == 2 && !strcmp(argv[1], "self")) {
		if (listed(0, &self) < 0)
			return 1;
		printf("%d\n", self);
		return 0;
	}
	if (argc != 4 || (strcmp(argv[1], "wait-peer") && strcmp(argv[1], "wait-gone"))) {
		fprintf(stderr, "usage: scif_link self | wait-peer|wait-gone NODE SECS\n");
		return 2;
	}
	want = !strcmp(argv[1], "wait-peer");
	node = atoi(argv[2]);
	limit = atof(argv[3]);
	for (;;) {
		int l = listed(node, NULL);

		if (l >= 0 && l == want) {
			printf("%.2f\n", now() - t0);
			return 0;
		}
		if (now() - t0 > limit)
			return 1;
		usleep(20000);
	}
}

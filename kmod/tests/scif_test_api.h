/* SPDX-License-Identifier: GPL-2.0-only */
/* SCIF API flag values (not in <linux/scif_ioctl.h>), for the selftests. */
#ifndef SCIF_TEST_API_H
#define SCIF_TEST_API_H

#define SCIF_ACCEPT_SYNC	1
#define SCIF_SEND_BLOCK		1
#define SCIF_RECV_BLOCK		1
#define SCIF_PROT_READ		0x1
#define SCIF_PROT_WRITE		0x2
#define SCIF_MAP_FIXED		0x10
#define SCIF_FENCE_INIT_SELF	0x1
#define SCIF_FENCE_INIT_PEER	0x2
#define SCIF_SIGNAL_LOCAL	0x10
#define SCIF_SIGNAL_REMOTE	0x20
#define SCIF_RMA_USECPU		0x1
#define SCIF_RMA_USECACHE	0x2
#define SCIF_RMA_SYNC		0x4
#define SCIF_RMA_ORDERED	0x8
#define SCIF_ADMIN_PORT_END	1024
#define SCIF_PORT_RSVD		1088

#endif

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scif_api.h - SCIF API constants that the uapi header leaves out.
 *
 * <linux/scif_ioctl.h> carries the ioctl numbers and structures only; the flag
 * values below belong to the SCIF API (scif.h) and are shared with user space
 * libraries by convention.
 */
#ifndef _SCIF_API_H
#define _SCIF_API_H

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

/* Ports below this need CAP_SYS_ADMIN. */
#define SCIF_ADMIN_PORT_END	1024
/* Ports up to this one are never handed out automatically. */
#define SCIF_PORT_RSVD		1088
#define SCIF_PORT_MAX		65535

/* Platform limits. */
#define SCIF_MAX_NODES		129
#define SCIF_MAX_BACKLOG	1024

#endif /* _SCIF_API_H */

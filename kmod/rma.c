// SPDX-License-Identifier: GPL-2.0-only
/*
 * rma.c - the RMA copy engine (SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM,
 * SCIF_VWRITETO).
 *
 * Not implemented yet: CPU copies and asynchronous worker "DMA channels",
 * counted in debugfs "rma_inflight".
 */
#include "scif.h"

/**
 * scif_ioctl_copy() - the four RMA copy ioctls
 * @ep: the endpoint
 * @cmd: SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM or SCIF_VWRITETO
 * @arg: user &struct scifioctl_copy
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_copy(struct scif_endpt *ep, unsigned int cmd,
		    struct scifioctl_copy __user *arg)
{
	return -EOPNOTSUPP;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * fence.c - RMA fences (SCIF_FENCE_MARK, SCIF_FENCE_WAIT, SCIF_FENCE_SIGNAL).
 *
 * Not implemented yet.
 */
#include "scif.h"

/**
 * scif_ioctl_fence_mark() - SCIF_FENCE_MARK
 * @ep: the endpoint
 * @arg: user &struct scifioctl_fence_mark
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_fence_mark(struct scif_endpt *ep,
			  struct scifioctl_fence_mark __user *arg)
{
	return -EOPNOTSUPP;
}

/**
 * scif_ioctl_fence_wait() - SCIF_FENCE_WAIT
 * @ep: the endpoint
 * @mark: the mark, passed by value
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_fence_wait(struct scif_endpt *ep, int mark)
{
	return -EOPNOTSUPP;
}

/**
 * scif_ioctl_fence_signal() - SCIF_FENCE_SIGNAL
 * @ep: the endpoint
 * @arg: user &struct scifioctl_fence_signal
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_fence_signal(struct scif_endpt *ep,
			    struct scifioctl_fence_signal __user *arg)
{
	return -EOPNOTSUPP;
}

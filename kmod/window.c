// SPDX-License-Identifier: GPL-2.0-only
/*
 * window.c - registered windows (SCIF_REG, SCIF_UNREG).
 *
 * Not implemented yet: windows pin user pages under RLIMIT_MEMLOCK and are
 * counted in debugfs "windows" and "pinned_pages".
 */
#include "scif.h"

/**
 * scif_ioctl_reg() - SCIF_REG
 * @ep: the endpoint
 * @arg: user &struct scifioctl_reg
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_reg(struct scif_endpt *ep, struct scifioctl_reg __user *arg)
{
	return -EOPNOTSUPP;
}

/**
 * scif_ioctl_unreg() - SCIF_UNREG
 * @ep: the endpoint
 * @arg: user &struct scifioctl_unreg
 *
 * Return: -EOPNOTSUPP for now.
 */
int scif_ioctl_unreg(struct scif_endpt *ep, struct scifioctl_unreg __user *arg)
{
	return -EOPNOTSUPP;
}

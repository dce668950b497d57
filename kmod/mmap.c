// SPDX-License-Identifier: GPL-2.0-only
/*
 * mmap.c - mmap of the peer's registered windows on the endpoint fd.
 *
 * Not implemented yet: the file offset is an offset in the peer's
 * registered address space.
 */
#include <linux/mm.h>

#include "scif.h"

/**
 * scif_mmap() - map a range of the peer's windows
 * @ep: the endpoint
 * @vma: the new mapping
 *
 * Return: -ENODEV for now.
 */
int scif_mmap(struct scif_endpt *ep, struct vm_area_struct *vma)
{
	return -ENODEV;
}

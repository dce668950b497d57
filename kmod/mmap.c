// SPDX-License-Identifier: GPL-2.0-only
/*
 * mmap.c - mmap of the peer's registered windows on the endpoint fd.
 *
 * The file offset (vm_pgoff << PAGE_SHIFT) is an offset in the peer's
 * registered address space; the whole mapping must lie in the peer's
 * windows (adjacent windows may be spanned).  Every window must allow
 * SCIF_PROT_READ, whatever the mapping's own protection (even PROT_NONE,
 * which mprotect() could upgrade later): a page table entry that can be
 * written can be read on x86, so a write-only window cannot be mapped.
 * PROT_WRITE needs SCIF_PROT_WRITE on every window, and a mapping of a
 * window without it can never be made writable (VM_MAYWRITE is cleared).
 * Mappings are never executable.  Only MAP_SHARED mappings are allowed, and
 * they are not inherited by fork() (VM_DONTCOPY).
 *
 * The pinned pages are mapped with remap_pfn_range() (they are usually
 * anonymous pages, which vm_insert_page() refuses).  The mapping holds a
 * reference on each window until the last VMA using it is unmapped, so the
 * memory stays valid after UNREG or the peer's close.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/version.h>

#include "scif.h"

/**
 * struct scif_mapping - the windows behind one mmap() (shared by the VMAs
 * split from it)
 * @ref: VMAs using it
 * @range: the peer's windows, referenced
 */
struct scif_mapping {
	struct kref ref;
	struct scif_range range;
};

static void scif_mapping_release(struct kref *ref)
{
	struct scif_mapping *map = container_of(ref, struct scif_mapping, ref);

	scif_range_put(&map->range);
	kfree(map);
}

static void scif_vma_open(struct vm_area_struct *vma)
{
	struct scif_mapping *map = vma->vm_private_data;

	kref_get(&map->ref);
}

static void scif_vma_close(struct vm_area_struct *vma)
{
	struct scif_mapping *map = vma->vm_private_data;

	kref_put(&map->ref, scif_mapping_release);
}

static const struct vm_operations_struct scif_vm_ops = {
	.open = scif_vma_open,
	.close = scif_vma_close,
};

static void scif_vma_flags(struct vm_area_struct *vma, vm_flags_t set,
			   vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/* Map every page of @r into @vma. */
static int scif_vma_fill(struct vm_area_struct *vma, const struct scif_range *r)
{
	unsigned long addr = vma->vm_start;
	unsigned int wi = 0;
	u64 pg = r->off >> PAGE_SHIFT;
	int ret;

	for (; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct scif_window *w = r->wins[wi];

		ret = remap_pfn_range(vma, addr, page_to_pfn(w->pages[pg]),
				      PAGE_SIZE, vma->vm_page_prot);
		if (ret)
			return ret;
		if (++pg == w->nr_pages) {
			wi++;
			pg = 0;
		}
	}
	return 0;
}

/**
 * scif_mmap() - map a range of the peer's windows
 * @ep: the endpoint
 * @vma: the new mapping
 *
 * Return: 0 or -EINVAL (MAP_PRIVATE), -ENOTCONN, -ECONNRESET, -ENXIO (not
 * registered by the peer), -EACCES (protection), -ENOMEM.
 */
int scif_mmap(struct scif_endpt *ep, struct vm_area_struct *vma)
{
	u64 len = vma->vm_end - vma->vm_start;
	struct scif_mapping *map;
	struct scif_conn *conn;
	struct scif_endpt *peer;
	vm_flags_t clear = VM_MAYEXEC;
	unsigned int i;
	int prot, ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EACCES;
	if (vma->vm_pgoff >= SCIF_OFFSET_END >> PAGE_SHIFT)
		return -ENXIO;
	prot = SCIF_PROT_READ;	/* for every mapping: see the top */
	if (vma->vm_flags & VM_WRITE)
		prot |= SCIF_PROT_WRITE;
	ret = scif_ep_live_conn(ep, &conn);
	if (ret)
		return ret;
	peer = scif_ep_peer_get(ep, conn);
	if (!peer)
		return smp_load_acquire(&conn->closed) ? -ECONNRESET : -ENXIO;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map) {
		scif_ep_put(peer);
		return -ENOMEM;
	}
	kref_init(&map->ref);
	ret = scif_range_get(peer, (s64)vma->vm_pgoff << PAGE_SHIFT, len, prot,
			     &map->range);
	scif_ep_put(peer);
	if (ret)
		goto fail;

	for (i = 0; i < map->range.nwins; i++)
		if (!(map->range.wins[i]->prot & SCIF_PROT_WRITE))
			clear |= VM_MAYWRITE;
	scif_vma_flags(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP, clear);
	ret = scif_vma_fill(vma, &map->range);
	if (ret) {
		/* No PTE may outlive the window references. */
		zap_vma_ptes(vma, vma->vm_start, len);
		scif_range_put(&map->range);
		goto fail;
	}
	vma->vm_private_data = map;
	vma->vm_ops = &scif_vm_ops;
	return 0;
fail:
	kfree(map);
	return ret;
}

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
 *
 * A peer in another kernel: its window's pages are mapped through our
 * aperture onto its RAM.  They stay valid after its UNREG or close (it
 * keeps them pinned until our WINDOW_FREE), but not after its death: then
 * scif_mmap_zap_node() removes the page table entries (later accesses get
 * SIGBUS).  Such mappings cannot be moved by mremap(), so every VMA of one
 * stays inside the range it was created at.
 */
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/version.h>

#include "scif.h"

/**
 * struct scif_mapping - the windows behind one mmap() (shared by the VMAs
 * split from it)
 * @ref: VMAs using it (and a zap in progress)
 * @range: the peer's windows, referenced
 * @mm: a mapping across the link: the address space (mmgrab'ed), else NULL
 * @start: a mapping across the link: where it was created ...
 * @end: ... and its end
 * @node: a mapping across the link: the peer's node
 * @link: entry in scif_link_maps
 * @zap: entry in a zapper's private list
 */
struct scif_mapping {
	struct kref ref;
	struct scif_range range;
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	u16 node;
	struct list_head link;
	struct list_head zap;
};

/* Mappings across the link (scif_link_maps_lock, taken inside mmap_lock). */
static LIST_HEAD(scif_link_maps);
static DEFINE_MUTEX(scif_link_maps_lock);

static void scif_mapping_release(struct kref *ref)
{
	struct scif_mapping *map = container_of(ref, struct scif_mapping, ref);

	if (map->mm) {
		mutex_lock(&scif_link_maps_lock);
		list_del(&map->link);
		mutex_unlock(&scif_link_maps_lock);
		mmdrop(map->mm);
	}
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

static int scif_vma_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;	/* see the top of this file */
}

static const struct vm_operations_struct scif_link_vm_ops = {
	.open = scif_vma_open,
	.close = scif_vma_close,
	.mremap = scif_vma_mremap,
};

/**
 * scif_mmap_zap_node() - unmap every page of node @node's windows
 * @node: a peer in another kernel that went down
 *
 * The VMAs stay (and keep their window references until munmap); their
 * pages are gone.  Context: may sleep; takes mmap locks, so no lock that
 * an mmap() or munmap() path takes may be held.
 */
void scif_mmap_zap_node(u16 node)
{
	struct scif_mapping *map, *tmp;
	struct vm_area_struct *vma;
	LIST_HEAD(zap);

	mutex_lock(&scif_link_maps_lock);
	list_for_each_entry(map, &scif_link_maps, link) {
		if (map->node != node || !kref_get_unless_zero(&map->ref))
			continue;
		list_add_tail(&map->zap, &zap);
	}
	mutex_unlock(&scif_link_maps_lock);

	list_for_each_entry_safe(map, tmp, &zap, zap) {
		list_del(&map->zap);
		if (mmget_not_zero(map->mm)) {
			mmap_read_lock(map->mm);
			for (vma = find_vma(map->mm, map->start);
			     vma && vma->vm_start < map->end;
			     vma = find_vma(map->mm, vma->vm_end))
				if (vma->vm_private_data == map &&
				    vma->vm_ops == &scif_link_vm_ops)
					zap_vma_ptes(vma, vma->vm_start,
						     vma->vm_end - vma->vm_start);
			mmap_read_unlock(map->mm);
			mmput(map->mm);
		}
		kref_put(&map->ref, scif_mapping_release);
	}
}

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
		unsigned long pfn;

		pfn = w->pa ? scif_link_win_pfn(w, pg) : page_to_pfn(w->pages[pg]);
		if (!pfn)
			return -ECONNRESET;	/* the peer went down */
		ret = remap_pfn_range(vma, addr, pfn, PAGE_SIZE,
				      vma->vm_page_prot);
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
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	kref_init(&map->ref);
	INIT_LIST_HEAD(&map->link);
	INIT_LIST_HEAD(&map->zap);
	if (conn->lc) {
		ret = scif_link_range_get(conn, (s64)vma->vm_pgoff << PAGE_SHIFT,
					  len, prot, false, &map->range);
	} else {
		peer = scif_ep_peer_get(ep, conn);
		ret = -ENXIO;
		if (peer) {
			ret = scif_range_get(peer, (s64)vma->vm_pgoff << PAGE_SHIFT,
					     len, prot, &map->range);
			scif_ep_put(peer);
		}
	}
	if (ret == -ENXIO && smp_load_acquire(&conn->closed))
		ret = -ECONNRESET;
	if (ret)
		goto fail;

	for (i = 0; i < map->range.nwins; i++)
		if (!(map->range.wins[i]->prot & SCIF_PROT_WRITE))
			clear |= VM_MAYWRITE;
	scif_vma_flags(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP, clear);
	if (conn->lc) {
		/* registered before the pages are mapped: a zap sees it */
		map->mm = vma->vm_mm;
		mmgrab(map->mm);
		map->start = vma->vm_start;
		map->end = vma->vm_end;
		map->node = scif_link_win_node(map->range.wins[0]);
		mutex_lock(&scif_link_maps_lock);
		list_add_tail(&map->link, &scif_link_maps);
		mutex_unlock(&scif_link_maps_lock);
	}
	ret = scif_vma_fill(vma, &map->range);
	if (ret) {
		/* No PTE may outlive the window references. */
		zap_vma_ptes(vma, vma->vm_start, len);
		kref_put(&map->ref, scif_mapping_release);
		return ret;
	}
	vma->vm_private_data = map;
	vma->vm_ops = map->mm ? &scif_link_vm_ops : &scif_vm_ops;
	return 0;
fail:
	kfree(map);
	return ret;
}

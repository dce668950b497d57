// SPDX-License-Identifier: GPL-2.0-only
/*
 * fops.c - file operations of the node devices: one endpoint per open().
 *
 * flush: when the process that opened the endpoint closes its descriptor
 * (or exits), the endpoint is shut down even if another thread still holds
 * the file in a blocking call, so that thread wakes up.  Descriptors
 * inherited by a child or passed to another process do not keep the
 * connection of an owner that closed it.  release frees what is left.
 */
#include <linux/fs.h>
#include <linux/compat.h>
#include <linux/poll.h>
#include <linux/sched.h>

#include "scif.h"

static int scif_open(struct inode *inode, struct file *file)
{
	struct scif_node *node = container_of(inode->i_cdev, struct scif_node,
					      cdev);
	struct scif_endpt *ep;

	ep = scif_ep_alloc(node);
	if (!ep)
		return -ENOMEM;
	ep->owner = current->files;
	file->private_data = ep;
	return stream_open(inode, file);
}

static int scif_release(struct inode *inode, struct file *file)
{
	scif_ep_release(file->private_data);
	return 0;
}

static int scif_flush(struct file *file, fl_owner_t id)
{
	struct scif_endpt *ep = file->private_data;

	if (ep->owner == id)
		scif_ep_shutdown(ep);
	return 0;
}

static __poll_t scif_poll(struct file *file, poll_table *wait)
{
	struct scif_endpt *ep = file->private_data;

	poll_wait(file, &ep->wq, wait);
	return scif_ep_poll(ep);
}

static long scif_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct scif_endpt *ep = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SCIF_BIND:
		return scif_bind(ep, argp);
	case SCIF_LISTEN:
		return scif_listen(ep, (int)arg);	/* by value */
	case SCIF_CONNECT:
		return scif_connect(ep, argp, file->f_flags & O_NONBLOCK);
	case SCIF_ACCEPTREQ:
		return scif_accept_req(ep, argp);
	case SCIF_ACCEPTREG:
		return scif_accept_reg(ep, argp);
	case SCIF_SEND:
		return scif_send(ep, argp);
	case SCIF_RECV:
		return scif_recv(ep, argp);
	case SCIF_GET_NODEIDS:
		return scif_get_nodeids(ep, argp);
	case SCIF_REG:
		return scif_ioctl_reg(ep, argp);
	case SCIF_UNREG:
		return scif_ioctl_unreg(ep, argp);
	case SCIF_READFROM:
	case SCIF_WRITETO:
	case SCIF_VREADFROM:
	case SCIF_VWRITETO:
		return scif_ioctl_copy(ep, cmd, argp);
	case SCIF_FENCE_MARK:
		return scif_ioctl_fence_mark(ep, argp);
	case SCIF_FENCE_WAIT:
		return scif_ioctl_fence_wait(ep, (int)arg);	/* by value */
	case SCIF_FENCE_SIGNAL:
		return scif_ioctl_fence_signal(ep, argp);
	default:
		return -EINVAL;
	}
}

#ifdef CONFIG_COMPAT
/*
 * 32-bit callers: structures ending in an s32 after u64 members lose their
 * tail padding on i386, which changes the size encoded in the command.  The
 * handlers only touch the bytes up to the last member, so those commands map
 * onto the native ones.  struct scifioctl_fence_mark also changes layout
 * (the u64 is 4-byte aligned on i386): it is translated.
 */
#define SCIF_COMPAT_CMD(nr, size)	_IOC(_IOC_READ | _IOC_WRITE, 's', nr, size)
#define SCIF_COMPAT_SEND	SCIF_COMPAT_CMD(6, 20)
#define SCIF_COMPAT_RECV	SCIF_COMPAT_CMD(7, 20)
#define SCIF_COMPAT_READFROM	SCIF_COMPAT_CMD(10, 36)
#define SCIF_COMPAT_WRITETO	SCIF_COMPAT_CMD(11, 36)
#define SCIF_COMPAT_VREADFROM	SCIF_COMPAT_CMD(12, 36)
#define SCIF_COMPAT_VWRITETO	SCIF_COMPAT_CMD(13, 36)
#define SCIF_COMPAT_GET_NODEIDS	SCIF_COMPAT_CMD(14, 20)
#define SCIF_COMPAT_FENCE_MARK	SCIF_COMPAT_CMD(15, 12)
#define SCIF_COMPAT_FENCE_SIGNAL SCIF_COMPAT_CMD(17, 36)

/* struct scifioctl_fence_mark as i386 lays it out (12 bytes). */
struct scif_compat_fence_mark {
	__s32 flags;
	compat_u64 mark;
};

static long scif_compat_fence_mark(struct file *file, unsigned long arg)
{
	struct scif_compat_fence_mark m;

	if (copy_from_user(&m, compat_ptr(arg), sizeof(m)))
		return -EFAULT;
	if (m.mark > U32_MAX)
		return -EFAULT;
	return scif_fence_mark(file->private_data, m.flags,
			       compat_ptr((compat_uptr_t)m.mark));
}

static long scif_compat_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	switch (cmd) {
	case SCIF_LISTEN:
	case SCIF_FENCE_WAIT:
		return scif_ioctl(file, cmd, arg);	/* by value */
	case SCIF_COMPAT_SEND:
		cmd = SCIF_SEND;
		break;
	case SCIF_COMPAT_RECV:
		cmd = SCIF_RECV;
		break;
	case SCIF_COMPAT_READFROM:
		cmd = SCIF_READFROM;
		break;
	case SCIF_COMPAT_WRITETO:
		cmd = SCIF_WRITETO;
		break;
	case SCIF_COMPAT_VREADFROM:
		cmd = SCIF_VREADFROM;
		break;
	case SCIF_COMPAT_VWRITETO:
		cmd = SCIF_VWRITETO;
		break;
	case SCIF_COMPAT_GET_NODEIDS:
		cmd = SCIF_GET_NODEIDS;
		break;
	case SCIF_COMPAT_FENCE_MARK:
		return scif_compat_fence_mark(file, arg);
	case SCIF_COMPAT_FENCE_SIGNAL:
		cmd = SCIF_FENCE_SIGNAL;
		break;
	default:
		break;
	}
	return scif_ioctl(file, cmd, (unsigned long)compat_ptr(arg));
}
#endif

static int scif_fop_mmap(struct file *file, struct vm_area_struct *vma)
{
	return scif_mmap(file->private_data, vma);
}

const struct file_operations scif_fops = {
	.owner = THIS_MODULE,
	.open = scif_open,
	.release = scif_release,
	.flush = scif_flush,
	.poll = scif_poll,
	.unlocked_ioctl = scif_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl = scif_compat_ioctl,
#endif
	.mmap = scif_fop_mmap,
};

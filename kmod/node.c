// SPDX-License-Identifier: GPL-2.0-only
/*
 * node.c - SCIF nodes, their device files and their port tables.
 *
 * Every node is a character device of the "scif" class: node 0 is /dev/scif,
 * node N is /dev/scifN.  The devices are world-accessible, like a socket
 * family; privileged ports are checked by capability at bind time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/version.h>

#include "scif.h"

unsigned int scif_nr_nodes;
struct scif_node *scif_nodes;
static dev_t scif_devt;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static char *scif_devnode(const struct device *dev, umode_t *mode)
#else
static char *scif_devnode(struct device *dev, umode_t *mode)
#endif
{
	if (mode)
		*mode = 0666;
	return NULL;
}

static struct class scif_class = {
	.name = "scif",
	.devnode = scif_devnode,
};

static void scif_node_destroy(struct scif_node *node)
{
	device_destroy(&scif_class, node->dev->devt);
	cdev_del(&node->cdev);
	WARN_ON(!xa_empty(&node->ports));
	xa_destroy(&node->ports);
}

/**
 * scif_nodes_init() - create @nr nodes and their devices
 * @nr: number of nodes, 1..SCIF_MAX_NODES
 *
 * Return: 0 or a negative errno.
 */
int scif_nodes_init(unsigned int nr)
{
	unsigned int i;
	int ret;

	scif_nodes = kcalloc(nr, sizeof(*scif_nodes), GFP_KERNEL);
	if (!scif_nodes)
		return -ENOMEM;
	ret = alloc_chrdev_region(&scif_devt, 0, nr, "scif");
	if (ret)
		goto free_nodes;
	ret = class_register(&scif_class);
	if (ret)
		goto free_region;

	for (i = 0; i < nr; i++) {
		struct scif_node *node = &scif_nodes[i];
		dev_t devt = MKDEV(MAJOR(scif_devt), MINOR(scif_devt) + i);

		node->id = i;
		mutex_init(&node->port_lock);
		xa_init_flags(&node->ports, XA_FLAGS_ALLOC);
		cdev_init(&node->cdev, &scif_fops);
		node->cdev.owner = THIS_MODULE;
		ret = cdev_add(&node->cdev, devt, 1);
		if (ret)
			goto unwind;
		if (i == 0)
			node->dev = device_create(&scif_class, NULL, devt, node,
						  "scif");
		else
			node->dev = device_create(&scif_class, NULL, devt, node,
						  "scif%u", i);
		if (IS_ERR(node->dev)) {
			ret = PTR_ERR(node->dev);
			cdev_del(&node->cdev);
			goto unwind;
		}
	}
	scif_nr_nodes = nr;
	return 0;

unwind:
	while (i--)
		scif_node_destroy(&scif_nodes[i]);
	class_unregister(&scif_class);
free_region:
	unregister_chrdev_region(scif_devt, nr);
free_nodes:
	kfree(scif_nodes);
	scif_nodes = NULL;
	return ret;
}

/**
 * scif_nodes_exit() - remove all nodes (every file is closed by now)
 */
void scif_nodes_exit(void)
{
	unsigned int i;

	for (i = 0; i < scif_nr_nodes; i++)
		scif_node_destroy(&scif_nodes[i]);
	class_unregister(&scif_class);
	unregister_chrdev_region(scif_devt, scif_nr_nodes);
	kfree(scif_nodes);
	scif_nodes = NULL;
	scif_nr_nodes = 0;
}

/**
 * scif_port_bind() - reserve a port on @node
 * @node: the node
 * @port: in: the wanted port, 0 for any; out: the port reserved
 *
 * The caller has checked the privilege rules.  The reservation holds one
 * reference.
 *
 * Return: 0, -EINVAL if the port is in use, -ENOSPC if no port is free,
 * -ENOMEM.
 */
int scif_port_bind(struct scif_node *node, u16 *port)
{
	struct scif_port *p;
	u32 id;
	int ret;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	p->refs = 1;

	mutex_lock(&node->port_lock);
	if (*port) {
		ret = xa_insert(&node->ports, *port, p, GFP_KERNEL);
		if (ret == -EBUSY)
			ret = -EINVAL;
		id = *port;
	} else {
		ret = xa_alloc_cyclic(&node->ports, &id, p,
				      XA_LIMIT(SCIF_PORT_RSVD + 1, SCIF_PORT_MAX),
				      &node->port_next, GFP_KERNEL);
		if (ret == -EBUSY)
			ret = -ENOSPC;
		else if (ret > 0)
			ret = 0;
	}
	mutex_unlock(&node->port_lock);

	if (ret) {
		kfree(p);
		return ret;
	}
	*port = id;
	return 0;
}

/**
 * scif_port_get() - take one more reference on a bound port
 * @node: the node
 * @port: a port the caller already holds a reference on
 */
void scif_port_get(struct scif_node *node, u16 port)
{
	struct scif_port *p;

	mutex_lock(&node->port_lock);
	p = xa_load(&node->ports, port);
	if (!WARN_ON(!p))
		p->refs++;
	mutex_unlock(&node->port_lock);
}

/**
 * scif_port_put() - drop a port reference; the last one frees the port
 * @node: the node
 * @port: the port
 */
void scif_port_put(struct scif_node *node, u16 port)
{
	struct scif_port *p;

	mutex_lock(&node->port_lock);
	p = xa_load(&node->ports, port);
	if (!WARN_ON(!p) && --p->refs == 0) {
		xa_erase(&node->ports, port);
		kfree(p);
	}
	mutex_unlock(&node->port_lock);
}

/**
 * scif_port_set_listener() - make @ep the listener of @port, or clear it
 * @node: the node
 * @port: a port @ep holds a reference on
 * @ep: the listener, or NULL
 *
 * Return: 0 or -EINVAL if the port is unknown.
 */
int scif_port_set_listener(struct scif_node *node, u16 port,
			   struct scif_endpt *ep)
{
	struct scif_port *p;
	int ret = -EINVAL;

	mutex_lock(&node->port_lock);
	p = xa_load(&node->ports, port);
	if (p) {
		p->listener = ep;
		ret = 0;
	}
	mutex_unlock(&node->port_lock);
	return ret;
}

/**
 * scif_port_find_listener() - look up the listener of a port
 * @node: the node
 * @port: the port
 *
 * Return: the listening endpoint with a reference taken, or NULL.
 */
struct scif_endpt *scif_port_find_listener(struct scif_node *node, u16 port)
{
	struct scif_endpt *ep = NULL;
	struct scif_port *p;

	mutex_lock(&node->port_lock);
	p = xa_load(&node->ports, port);
	if (p && p->listener) {
		ep = p->listener;
		scif_ep_get(ep);
	}
	mutex_unlock(&node->port_lock);
	return ep;
}

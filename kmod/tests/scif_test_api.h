/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SCIF API flag values for the selftests: the module's own definitions
 * (not in <linux/scif_ioctl.h>), shared so the two can never disagree.
 */
#ifndef SCIF_TEST_API_H
#define SCIF_TEST_API_H

#include "../scif_api.h"

#endif

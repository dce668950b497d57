#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The host's side of the link fuzzer: run in the host guest by
# `test/guest/link.sh --fuzz-card SECS -- bash kmod/tests/link-fuzz.sh` while node 1 is
# kmod/fabric/build/link-fuzz, a hostile userspace card. run.sh checks dmesg (no WARNING,
# BUG, KFENCE...), taint and the debugfs counters afterwards. Ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/build/scif_linkconn" fuzz-host "${SCIF_LINK_FUZZ:?run me with link.sh --fuzz-card}"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The host's side of the link fuzzer: run in the host guest by
# `test/guest/link.sh --fuzz-card SECS -- bash kmod/tests/link-fuzz.sh` while node 1 is
# kmod/fabric/build/link-fuzz, a hostile userspace card. scif_linkconn fuzz-host connects and
# accepts, REGs windows and tries RMAs, mmaps and fences on those connections (in children it
# kills after 2 s), then checks node 1's departure and the debugfs counters (connections,
# endpoints, windows, pinned_pages, peer_windows, rma_inflight). This script then checks
# dmesg itself; run.sh checks it again (WARNING, BUG, KFENCE...), with taint and all the
# counters. Ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$("$here/build/scif_linkconn" fuzz-host "${SCIF_LINK_FUZZ:?run me with link.sh --fuzz-card}")
rc=$?
printf '%s\n' "$out" | grep -avE '^[0-9]+ passed, [0-9]+ failed$'
read -r p _ f _ <<<"$(printf '%s\n' "$out" | grep -aE '^[0-9]+ passed, [0-9]+ failed$' | tail -n1 | tr -d ,)"
p=${p:-0} f=${f:-1}
((rc == 0)) || ((f > 0)) || f=1
bad=$(dmesg | grep -E 'BUG|WARNING|KASAN|KFENCE|Oops|general protection|Call Trace' || true)
if [[ -z $bad ]]; then
    echo "ok - dmesg has no BUG/WARNING/KASAN/KFENCE lines"; p=$((p + 1))
else
    echo "not ok - dmesg has kernel errors:"; printf '%s\n' "$bad" | head -n 20 | sed 's/^/# /'; f=$((f + 1))
fi
echo "# link drops: $(dmesg | grep -o 'broke the link protocol ([^)]*)' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
echo "$p passed, $f failed"
((f == 0))

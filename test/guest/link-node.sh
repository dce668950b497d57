#!/usr/bin/env bash
# The Node conformance suite's two-process cases with the two processes in two kernels: run
# by test/guest/link.sh in both guests. The host (node 0) runs test/guest/fixture-agent.js on
# the virtio-net link; the card (node 1) runs the vitest files given as arguments, whose peer
# fixtures (SCIF_NODE=1) the agent spawns on the host. Ends with "N passed, N failed".
# Usage (inside link.sh): bash test/guest/link-node.sh TEST_FILE...
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export SCIF_PROVIDER=kernel SCIF_NODE=0
done_file=${SCIF_LINK_DIR:?}/node-suite-done
modprobe virtio_net && ip link set eth0 up || { echo "not ok - eth0 up"; echo "0 passed, 1 failed"; exit 1; }

if [[ ${SCIF_LINK_NODE:?} == 0 ]]; then
    node test/guest/fixture-agent.js 7700 &
    agent=$!
    for _ in $(seq 3000); do [[ -e $done_file ]] && break; sleep 0.5; done
    if [[ -e $done_file ]] && kill -0 "$agent" 2>/dev/null; then
        echo "ok - the fixture agent served the card's suite"; r="1 passed, 0 failed"
    else
        echo "not ok - the fixture agent died or the card's suite never finished"; r="0 passed, 1 failed"
    fi
    kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null
    echo "$r"
    [[ $r == "1 passed, 0 failed" ]]
    exit
fi

export SCIF_LINK_AGENT='[fe80::5054:ff:fe00:1%eth0]:7700'
# the host's agent answers once IPv6 duplicate address detection is over
for t in $(seq 60); do
    node -e "require('net').connect({ host: 'fe80::5054:ff:fe00:1%eth0', port: 7700 }).on('connect', () => process.exit(0)).on('error', () => process.exit(1))" 2>/dev/null && break
    sleep 1
done
node scripts/vitest-run.js "link-$SCIF_GUEST_KVER" "$@"
rc=$?
: >"$done_file"
exit $rc

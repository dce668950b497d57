#!/usr/bin/env bash
# The demo across two kernels: the host (node 0) pipes a file to the card (node 1) over SCIF,
# with examples/file-pipe.js in its two roles. Run in both guests by test/guest/link.sh:
#   test/guest/link.sh --kernel 6.12 -- bash examples/link-file-pipe.sh [MIB]
# Both print the file's SHA-256; the card compares them. Ends with "N passed, N failed".
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SCIF_PROVIDER=kernel SCIF_NODE=0    # each kernel's own /dev/scif
mib=${1:-64} port=2000 dir=${SCIF_LINK_DIR:?run me with test/guest/link.sh}
if [[ ${SCIF_LINK_NODE:?} == 1 ]]; then
    # the card: receive, then check the host's hash
    out=$(FILE_PIPE_ROLE=receiver timeout 600 node examples/file-pipe.js "$port")
    echo "$out"
    got=$(sed -n 's/.*received sha256 \([0-9a-f]*\).*/\1/p' <<<"$out")
    want=$(cat "$dir/file-pipe.sha256" 2>/dev/null)
    if [[ -n $got && $got == "$want" ]]; then
        echo "ok - the card received the host's $mib MiB file: SHA-256 match"; echo "1 passed, 0 failed"
    else
        echo "not ok - SHA-256: card '$got', host '$want'"; echo "0 passed, 1 failed"; exit 1
    fi
    exit 0
fi
# the host: a file of pseudo-random bytes, its hash for the card, then send it
file=/tmp/file-pipe.bin
head -c $((mib << 20)) /dev/urandom >"$file"
sha256sum "$file" | cut -d' ' -f1 >"$dir/file-pipe.sha256"
for _ in $(seq 120); do
    FILE_PIPE_ROLE=sender node examples/file-pipe.js "$file" 1 "$port" 2>/dev/null && {
        echo "ok - the host sent $mib MiB to node 1"; echo "1 passed, 0 failed"; exit 0; }
    sleep 1    # the card's receiver is not listening yet
done
echo "not ok - the host could not send to node 1:$port"; echo "0 passed, 1 failed"; exit 1

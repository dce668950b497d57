#!/usr/bin/env bash
# Print the two guest KVERs (6.1 first, then 6.12), one per line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kver_61
kver_612

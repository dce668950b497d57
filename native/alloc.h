// SPDX-License-Identifier: MIT
// Shareable memory for windows: scif.alloc() maps whole pages of a memfd,
// so that a peer can map a window over them too (the user provider's mmap).
// A process-wide registry remembers which memfd backs which address range.
#ifndef SCIF_NATIVE_ALLOC_H_
#define SCIF_NATIVE_ALLOC_H_

#include <stddef.h>
#include <stdint.h>

namespace scif {

// Maps |len| bytes (a whole number of pages) of a new memfd. Returns 0 and
// the address, or -errno.
int AllocShared(size_t len, void** out);
// Unmaps and forgets a region made by AllocShared.
void FreeShared(void* addr, size_t len);
// If [addr, addr + len) lies in one AllocShared region, sets its memfd and
// the offset of |addr| in it and returns true.
bool FindShared(const void* addr, size_t len, int* fd, uint64_t* offset);

}  // namespace scif

#endif  // SCIF_NATIVE_ALLOC_H_

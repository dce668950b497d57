// SPDX-License-Identifier: MIT
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace scif {
namespace {

struct Region {
  size_t len;
  int fd;
};

std::mutex& RegistryLock() {
  static std::mutex mu;
  return mu;
}

// Keyed by start address.
std::map<uintptr_t, Region>& Registry() {
  static auto* regions = new std::map<uintptr_t, Region>();
  return *regions;
}

}  // namespace

int AllocShared(size_t len, void** out) {
  int fd = memfd_create("scif-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  // A peer maps it to copy into (user provider): it must never shrink
  // under that mapping.
  if (ftruncate(fd, static_cast<off_t>(len)) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd);
    return -err;
  }
  std::lock_guard<std::mutex> lock(RegistryLock());
  Registry()[reinterpret_cast<uintptr_t>(p)] = Region{len, fd};
  *out = p;
  return 0;
}

void FreeShared(void* addr, size_t len) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(RegistryLock());
    auto it = Registry().find(reinterpret_cast<uintptr_t>(addr));
    if (it != Registry().end()) {
      fd = it->second.fd;
      Registry().erase(it);
    }
  }
  munmap(addr, len);
  if (fd >= 0) close(fd);
}

bool FindShared(const void* addr, size_t len, int* fd, uint64_t* offset) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(RegistryLock());
  auto& regions = Registry();
  auto it = regions.upper_bound(a);
  if (it == regions.begin()) return false;
  --it;
  if (a + len > it->first + it->second.len) return false;
  *fd = it->second.fd;
  *offset = a - it->first;
  return true;
}

}  // namespace scif

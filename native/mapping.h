// SPDX-License-Identifier: MIT
// Mappings as ArrayBuffers: memory that the addon maps (a peer's window
// through mmap, or shareable memory from scif.alloc) is handed to JS as an
// external ArrayBuffer. It is released by unmap() (which detaches the
// ArrayBuffer, so nothing can touch it afterwards), when the ArrayBuffer is
// collected, or when the environment goes away — whichever comes first.
#ifndef SCIF_NATIVE_MAPPING_H_
#define SCIF_NATIVE_MAPPING_H_

#include <napi.h>

#include <stddef.h>

namespace scif {

struct AddonData;

enum class MappingKind { kPeerWindow, kShared };

struct Mapping {
  void* addr;
  size_t len;
  MappingKind kind;
  AddonData* data;
};

// Releases the memory of |m| (idempotent: addr becomes null).
void ReleaseMapping(Mapping* m);

Napi::Value NewMapping(Napi::Env env, AddonData* data, void* addr, size_t len,
                       MappingKind kind);

// JS: unmap(arrayBuffer) -> true if it was a live mapping.
Napi::Value UnmapArrayBuffer(const Napi::CallbackInfo& info);
// JS: alloc(length) -> ArrayBuffer of shareable pages, or -errno.
Napi::Value AllocArrayBuffer(const Napi::CallbackInfo& info);

}  // namespace scif

#endif  // SCIF_NATIVE_MAPPING_H_

// SPDX-License-Identifier: MIT
// ReadSlabs: recycled memory for the stream's reads (lib/pool.ts).
//
// A read lands in a Buffer the user gets and may keep, so its memory can
// only be reused once no view of it is left. A fresh Buffer each time means
// fresh pages: on this kind of VM a page fault costs far more than the copy
// into the page (a memcpy into freshly mapped memory runs ~100x below one
// into warm memory), and whether malloc hands back warm memory or newly
// mapped pages (after it trimmed its heap) changes from run to run. So the
// reads' memory comes from here instead: slabs of a few fixed sizes, handed
// out as external Buffers whose finalizer (run on the JS thread once V8 has
// freed the last view) puts the slab back on its free list, warm.
//
// Finalizers run between turns of the event loop, so the pool has to hold
// what is read between a GC and the next (lib/pool.ts bounds what one turn
// reads): it grows to what is needed and gives back, once a second, what was
// not needed in the second before (each free list's low-water mark), down to
// kKeepBytes a size, so that the next burst starts on warm memory.
// The slabs are reported to V8 as external memory, so GC still sees them.
//
// One pool per environment (AddonData). Slabs out when the environment goes
// come back through their finalizers after the pool is closed: the pool is
// freed when the last of them has.
#ifndef SCIF_NATIVE_READ_SLABS_H_
#define SCIF_NATIVE_READ_SLABS_H_

#include <napi.h>
#include <stddef.h>
#include <uv.h>

#include <vector>

namespace scif {

struct AddonData;

class ReadSlabs {
 public:
  // Slab sizes: 256 KiB (small reads share one) and 1 MiB (large ones).
  static constexpr int kClasses = 2;
  static constexpr size_t kSizes[kClasses] = {256 * 1024, 1024 * 1024};
  // Free slabs of each size kept however long they go unused: about what
  // is read between two young-generation GCs.
  static constexpr size_t kKeepBytes = 32 * 1024 * 1024;
  static constexpr uint64_t kTrimIntervalMs = 1000;

  ReadSlabs(AddonData* data, uv_loop_t* loop);
  ReadSlabs(const ReadSlabs&) = delete;
  ReadSlabs& operator=(const ReadSlabs&) = delete;

  // A Buffer of exactly |size| bytes (one of the slab sizes), or undefined
  // (not a slab size, out of memory, external buffers not allowed here).
  Napi::Value Take(Napi::Env env, size_t size);
  // The environment is going: closes the timer, frees the free lists.
  // |this| is deleted now, or by the finalizer of the last slab still out.
  void Close();

  struct Stats {
    size_t out = 0;      // slabs held by Buffers now
    size_t free = 0;     // slabs on the free lists
    size_t made = 0;     // slabs ever allocated
    size_t reused = 0;   // takes served from a free list
    size_t trimmed = 0;  // slabs freed by the trim
  };
  Stats GetStats() const;

 private:
  ~ReadSlabs();
  static void OnFinalize(napi_env env, void* data, void* hint);
  void Give(int cls, void* base);
  void Trim();
  void ArmTrim();

  struct Header;  // in front of each slab's bytes
  struct Timer {
    uv_timer_t timer;
    ReadSlabs* pool;  // null once closed
    AddonData* data;
  };
  static void OnTimer(uv_timer_t* timer);
  static void OnTimerClose(uv_handle_t* handle);

  napi_env env_ = nullptr;  // for the external memory reports
  std::vector<void*> free_[kClasses];
  size_t low_water_[kClasses] = {};  // least free slabs of a size since the last trim
  Timer* timer_ = nullptr;
  Stats stats_;
  bool closed_ = false;
};

}  // namespace scif

#endif  // SCIF_NATIVE_READ_SLABS_H_

// SPDX-License-Identifier: MIT
#include "read_slabs.h"

#include <stdint.h>
#include <stdlib.h>

#include <algorithm>

#include "addon_data.h"

namespace scif {

struct ReadSlabs::Header {
  ReadSlabs* pool;
  int cls;
};

namespace {
// The bytes start this far into the allocation (the header is in front).
constexpr size_t kHeaderRoom = 64;
static_assert(kHeaderRoom >= sizeof(void*) + sizeof(int), "header fits");

int ClassOf(size_t size) {
  for (int c = 0; c < ReadSlabs::kClasses; c++)
    if (size == ReadSlabs::kSizes[c]) return c;
  return -1;
}
}  // namespace

ReadSlabs::ReadSlabs(AddonData* data, uv_loop_t* loop) {
  auto* t = new Timer();
  if (uv_timer_init(loop, &t->timer) != 0) {
    delete t;
    return;  // no trim: the pool keeps what it made
  }
  t->pool = this;
  t->data = data;
  t->timer.data = t;
  uv_unref(reinterpret_cast<uv_handle_t*>(&t->timer));  // never what keeps a process alive
  data->open_handles++;
  timer_ = t;
}

ReadSlabs::~ReadSlabs() {
  for (auto& list : free_)
    for (void* base : list) free(base);
}

Napi::Value ReadSlabs::Take(Napi::Env env, size_t size) {
  int cls = closed_ ? -1 : ClassOf(size);
  if (cls < 0) return env.Undefined();
  env_ = env;
  void* base;
  bool fresh = free_[cls].empty();
  if (fresh) {
    base = malloc(kHeaderRoom + size);
    if (base == nullptr) return env.Undefined();
  } else {
    base = free_[cls].back();
    free_[cls].pop_back();
    low_water_[cls] = std::min(low_water_[cls], free_[cls].size());
  }
  auto* h = static_cast<Header*>(base);
  h->pool = this;
  h->cls = cls;
  uint8_t* bytes = static_cast<uint8_t*>(base) + kHeaderRoom;
  napi_value buf;
  if (napi_create_external_buffer(env, size, bytes, OnFinalize, base, &buf) != napi_ok) {
    // Not here (e.g. a runtime without external buffers): the caller allocates.
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    if (fresh) {
      free(base);
    } else {
      free_[cls].push_back(base);
    }
    return env.Undefined();
  }
  if (fresh) {
    int64_t ignored;
    napi_adjust_external_memory(env, static_cast<int64_t>(size), &ignored);
    stats_.made++;
  } else {
    stats_.reused++;
  }
  stats_.out++;
  return Napi::Value(env, buf);
}

// Runs on the JS thread once V8 has freed the slab's last view (or when the
// environment is torn down).
void ReadSlabs::OnFinalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  auto* h = static_cast<Header*>(hint);
  h->pool->Give(h->cls, hint);
}

void ReadSlabs::Give(int cls, void* base) {
  stats_.out--;
  if (closed_) {
    free(base);
    if (stats_.out == 0) delete this;
    return;
  }
  free_[cls].push_back(base);
  ArmTrim();
}

void ReadSlabs::ArmTrim() {
  if (timer_ == nullptr) return;
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_->timer))) return;
  bool spare = false;
  for (int c = 0; c < kClasses; c++) {
    low_water_[c] = free_[c].size();
    spare = spare || free_[c].size() * kSizes[c] > kKeepBytes;
  }
  if (spare) uv_timer_start(&timer_->timer, OnTimer, kTrimIntervalMs, 0);
}

void ReadSlabs::OnTimer(uv_timer_t* timer) {
  auto* t = static_cast<Timer*>(timer->data);
  if (t->pool != nullptr) t->pool->Trim();
}

// Frees, of each size, what stayed unused since the last trim (down to
// kKeepBytes).
void ReadSlabs::Trim() {
  size_t freed = 0;
  for (int c = 0; c < kClasses; c++) {
    size_t keep = kKeepBytes / kSizes[c];
    size_t spare = free_[c].size() > keep ? free_[c].size() - keep : 0;
    for (size_t n = std::min(spare, low_water_[c]); n > 0; n--) {
      free(free_[c].back());
      free_[c].pop_back();
      freed += kSizes[c];
      stats_.trimmed++;
    }
  }
  if (freed > 0 && env_ != nullptr) {
    int64_t ignored;
    napi_adjust_external_memory(env_, -static_cast<int64_t>(freed), &ignored);
  }
  ArmTrim();
}

ReadSlabs::Stats ReadSlabs::GetStats() const {
  Stats st = stats_;
  for (const auto& list : free_) st.free += list.size();
  return st;
}

void ReadSlabs::OnTimerClose(uv_handle_t* handle) {
  auto* t = static_cast<Timer*>(handle->data);
  AddonData* data = t->data;
  delete t;
  data->HandleClosed();
}

void ReadSlabs::Close() {
  closed_ = true;
  if (timer_ != nullptr) {
    Timer* t = timer_;
    timer_ = nullptr;
    t->pool = nullptr;
    uv_timer_stop(&t->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&t->timer), OnTimerClose);
  }
  for (auto& list : free_) {
    for (void* base : list) free(base);
    list.clear();
  }
  if (stats_.out == 0) delete this;
}

}  // namespace scif

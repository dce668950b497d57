// SPDX-License-Identifier: MIT
#include "mapping.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addon_data.h"
#include "alloc.h"

namespace scif {

namespace {

void Finalize(Napi::Env, void*, Mapping* m) {
  ReleaseMapping(m);
  if (m->data != nullptr) m->data->mappings.erase(m);
  delete m;
}

}  // namespace

void ReleaseMapping(Mapping* m) {
  if (m->addr == nullptr) return;
  if (m->kind == MappingKind::kShared)
    FreeShared(m->addr, m->len);
  else
    munmap(m->addr, m->len);
  m->addr = nullptr;
}

Napi::Value NewMapping(Napi::Env env, AddonData* data, void* addr, size_t len,
                       MappingKind kind) {
  auto* m = new Mapping{addr, len, kind, data};
  data->mappings.insert(m);
  return Napi::ArrayBuffer::New(env, addr, len, Finalize, m);
}

Napi::Value UnmapArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "unmap(arrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto ab = info[0].As<Napi::ArrayBuffer>();
  auto* data = env.GetInstanceData<AddonData>();
  void* addr = ab.Data();
  for (Mapping* m : data->mappings) {
    if (m->addr != nullptr && m->addr == addr && m->len == ab.ByteLength()) {
      // Detach first: from here on no JS can reach the pages.
      ab.Detach();
      ReleaseMapping(m);
      return Napi::Boolean::New(env, true);
    }
  }
  return Napi::Boolean::New(env, false);
}

Napi::Value AllocArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "alloc(length)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double d = info[0].As<Napi::Number>().DoubleValue();
  long page = sysconf(_SC_PAGESIZE);
  if (!(d > 0) || d > 1e15 || d != static_cast<double>(static_cast<int64_t>(d)))
    return Napi::Number::New(env, -EINVAL);
  size_t len = static_cast<size_t>(d);
  len = (len + page - 1) / page * page;
  void* addr = nullptr;
  int rc = AllocShared(len, &addr);
  if (rc < 0) return Napi::Number::New(env, rc);
  return NewMapping(env, env.GetInstanceData<AddonData>(), addr, len, MappingKind::kShared);
}

}  // namespace scif

// SPDX-License-Identifier: MIT
// Module entry: per-environment state, the Endpoint class, node enumeration.
#include <napi.h>

#include "addon_data.h"
#include "endpoint.h"
#include "mapping.h"
#include "provider.h"

namespace scif {

void AddonData::HandleClosed() {
  open_handles--;
  if (tearing_down && open_handles == 0 && cleanup_hook != nullptr) {
    napi_async_cleanup_hook_handle hook = cleanup_hook;
    cleanup_hook = nullptr;
    napi_remove_async_cleanup_hook(hook);
  }
}

void AddonData::ArmBusyPoll(napi_env env, uint32_t at_least_us) {
  if (busy_poll_us == 0 || tearing_down) return;
  if (!busy_poll) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return;
    busy_poll = std::make_unique<BusyPoll>(this, loop);
  }
  busy_poll->Arm(busy_poll_us > at_least_us ? busy_poll_us : at_least_us);
}

namespace {

// Environment teardown (worker exit, process exit): close every endpoint,
// then keep the environment alive until libuv has called back for every
// poll handle, so that no handle outlives its loop.
void OnEnvTeardown(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  data->tearing_down = true;
  data->cleanup_hook = hook;
  // CloseNow does not erase from the set; copy first all the same.
  std::vector<Endpoint*> live(data->endpoints.begin(), data->endpoints.end());
  for (Endpoint* ep : live) ep->CloseNow();
  data->busy_poll.reset();
  if (data->read_slabs != nullptr) {
    data->read_slabs->Close();
    data->read_slabs = nullptr;
  }
  // Mappings go with the environment; their ArrayBuffers may outlive it
  // only as detached husks.
  for (Mapping* m : data->mappings) {
    ReleaseMapping(m);
    m->data = nullptr;
  }
  data->mappings.clear();
  if (data->open_handles == 0) {
    data->cleanup_hook = nullptr;
    napi_remove_async_cleanup_hook(hook);
  }
}

bool ReadU16(const Napi::Value& v, uint16_t* out) {
  if (!v.IsNumber()) return false;
  int64_t n = v.As<Napi::Number>().Int64Value();
  if (n < 0 || n > 0xffff) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

// getNodeIds(provider, node, nodes) -> { self, nodes } or -errno
Napi::Value GetNodeIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlatformConfig config;
  if (!info[0].IsString() || !ReadU16(info[1], &config.node) ||
      !ReadU16(info[2], &config.nodes)) {
    Napi::TypeError::New(env, "getNodeIds(provider, node, nodes)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto provider = MakeProvider(info[0].As<Napi::String>().Utf8Value(), config);
  if (!provider) {
    Napi::TypeError::New(env, "unknown provider").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint16_t> nodes;
  uint16_t self = 0;
  int rc = provider->GetNodeIds(&nodes, &self);
  if (rc < 0) return Napi::Number::New(env, rc);
  auto arr = Napi::Array::New(env, nodes.size());
  for (size_t i = 0; i < nodes.size(); i++)
    arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, nodes[i]));
  auto result = Napi::Object::New(env);
  result.Set("self", Napi::Number::New(env, self));
  result.Set("nodes", arr);
  return result;
}

// setBusyPoll(microseconds): the window for every endpoint of this
// environment (0 turns busy polling off).
Napi::Value SetBusyPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "setBusyPoll(microseconds)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t us = info[0].As<Napi::Number>().Int64Value();
  if (us < 0 || us > 1000000) {
    Napi::RangeError::New(env, "setBusyPoll: 0 to 1000000 microseconds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  data->busy_poll_us = static_cast<uint32_t>(us);
  if (us == 0) data->busy_poll.reset();
  return env.Undefined();
}

// readSlab(size) -> a Buffer of |size| bytes of recycled read memory, or
// undefined (not a slab size; the caller allocates).
Napi::Value ReadSlab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "readSlab(size)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t size = info[0].As<Napi::Number>().Int64Value();
  if (data->tearing_down || size <= 0) return env.Undefined();
  if (data->read_slabs == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return env.Undefined();
    data->read_slabs = new ReadSlabs(data, loop);
  }
  return data->read_slabs->Take(env, static_cast<size_t>(size));
}

// readSlabStats() -> { out, free, made, reused, trimmed }
Napi::Value ReadSlabStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  ReadSlabs::Stats s;
  if (data->read_slabs != nullptr) s = data->read_slabs->GetStats();
  auto result = Napi::Object::New(env);
  result.Set("out", Napi::Number::New(env, static_cast<double>(s.out)));
  result.Set("free", Napi::Number::New(env, static_cast<double>(s.free)));
  result.Set("made", Napi::Number::New(env, static_cast<double>(s.made)));
  result.Set("reused", Napi::Number::New(env, static_cast<double>(s.reused)));
  result.Set("trimmed", Napi::Number::New(env, static_cast<double>(s.trimmed)));
  return result;
}

// helpedBytes() -> bytes of shared copies (user_stream.h) on this
// environment's endpoints, closed and open: copied by writers for our
// reads, and by us for our readers.
Napi::Value HelpedBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  uint64_t n = data->helped_bytes;
  for (Endpoint* e : data->endpoints) n += e->HelpedBytes();
  return Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted with the environment
  napi_async_cleanup_hook_handle hook = nullptr;
  napi_add_async_cleanup_hook(env, OnEnvTeardown, data, &hook);
  data->cleanup_hook = hook;

  Napi::Function ctor = Endpoint::Init(env, data);
  data->endpoint_ctor = Napi::Persistent(ctor);
  exports.Set("Endpoint", ctor);
  exports.Set("getNodeIds", Napi::Function::New(env, GetNodeIds));
  exports.Set("alloc", Napi::Function::New(env, AllocArrayBuffer));
  exports.Set("unmap", Napi::Function::New(env, UnmapArrayBuffer));
  exports.Set("setBusyPoll", Napi::Function::New(env, SetBusyPoll));
  exports.Set("readSlab", Napi::Function::New(env, ReadSlab));
  exports.Set("readSlabStats", Napi::Function::New(env, ReadSlabStats));
  exports.Set("helpedBytes", Napi::Function::New(env, HelpedBytes));
  return exports;
}

}  // namespace scif

static Napi::Object InitScif(Napi::Env env, Napi::Object exports) {
  return scif::Init(env, exports);
}

NODE_API_MODULE(scif, InitScif)

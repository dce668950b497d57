// SPDX-License-Identifier: MIT
// Endpoint: the JS handle of one SCIF endpoint. It owns the provider
// endpoint (and so the fd) and a Poller; everything it returns is a number
// (>= 0 success, negative errno failure) so that lib/ owns the semantics.
#ifndef SCIF_NATIVE_ENDPOINT_H_
#define SCIF_NATIVE_ENDPOINT_H_

#include <napi.h>

#include <memory>

#include "poller.h"
#include "provider.h"

namespace scif {

struct AddonData;

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Init(Napi::Env env, AddonData* data);
  explicit Endpoint(const Napi::CallbackInfo& info);
  ~Endpoint() override;

  // Wraps an endpoint made natively (an accepted connection).
  static Napi::Value Wrap(Napi::Env env, AddonData* data,
                          std::unique_ptr<ProviderEndpoint> ep);
  // Closes the endpoint: poll handle first, then the fd. Idempotent.
  void CloseNow();

 private:
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value FinishConnect(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendV(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value SetPoll(const Napi::CallbackInfo& info);
  Napi::Value SetCallback(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Local(const Napi::CallbackInfo& info);
  Napi::Value Remote(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);

  static void OnPoll(void* context, int status, int events);
  bool CheckOpen(Napi::Env env);

  AddonData* data_ = nullptr;
  std::unique_ptr<ProviderEndpoint> ep_;
  // Declared after ep_ so it is destroyed (stopped, closed) before the fd.
  std::unique_ptr<Poller> poller_;
  Napi::FunctionReference callback_;
  bool ref_ = true;
};

}  // namespace scif

#endif  // SCIF_NATIVE_ENDPOINT_H_

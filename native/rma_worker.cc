// SPDX-License-Identifier: MIT
#include "rma_worker.h"

#include <errno.h>

namespace scif {

struct RmaWorker::Op {
  Work work;
  Napi::Promise::Deferred deferred;
  Napi::Reference<Napi::Value> keep;
  int64_t result = 0;

  explicit Op(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

RmaWorker::RmaWorker(Napi::Env env, std::shared_ptr<ProviderEndpoint> ep)
    : ep_(std::move(ep)) {
  tsfn_ = Tsfn::New(env, "scif-rma", 0, 1, this);
  // Only pending calls keep the event loop alive.
  tsfn_.Unref(env);
  thread_ = std::thread([this] { Run(); });
}

RmaWorker::~RmaWorker() { Stop(); }

Napi::Promise RmaWorker::Submit(Napi::Env env, Work work, Napi::Value keep) {
  auto* op = new Op(env);
  op->work = std::move(work);
  if (!keep.IsEmpty() && !keep.IsUndefined()) op->keep = Napi::Persistent(keep);
  Napi::Promise promise = op->deferred.Promise();
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = stopping_;
    if (!stopped) {
      if (queue_.empty()) tsfn_.Ref(env);
      queue_.push_back(op);
    }
  }
  if (stopped) {
    op->deferred.Resolve(Napi::Number::New(env, -ECONNRESET));
    delete op;
  } else {
    cv_.notify_one();
  }
  return promise;
}

void RmaWorker::Run() {
  for (;;) {
    Op* op;
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      op = queue_.front();
      queue_.pop_front();
      stopping = stopping_;
    }
    op->result = stopping ? -ECONNRESET : op->work(ep_.get());
    // Blocking call: completions are never dropped while the queue has room.
    tsfn_.BlockingCall(op);
  }
}

void RmaWorker::Complete(Napi::Env env, Napi::Function, void* context, Op* op) {
  if (op == nullptr) return;
  if (env == nullptr) {
    // The environment is gone: its references went with it.
    op->keep.SuppressDestruct();
    delete op;
    return;
  }
  {
    auto* self = static_cast<RmaWorker*>(context);
    op->deferred.Resolve(Napi::Number::New(env, static_cast<double>(op->result)));
    bool idle;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      idle = self->queue_.empty();
    }
    if (idle) self->tsfn_.Unref(env);
  }
  delete op;
}

void RmaWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  ep_->Shutdown();
  if (thread_.joinable()) thread_.join();
  tsfn_.Release();
}

}  // namespace scif

// SPDX-License-Identifier: MIT
#include "endpoint.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include <vector>

#include "addon_data.h"
#include "mapping.h"

namespace scif {

namespace {

bool ReadU16(const Napi::Value& v, uint16_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 65535) || d != static_cast<double>(static_cast<int>(d)))
    return false;
  *out = static_cast<uint16_t>(d);
  return true;
}

Napi::Value PortIdValue(Napi::Env env, PortId id) {
  auto arr = Napi::Array::New(env, 2);
  arr.Set(0u, Napi::Number::New(env, id.node));
  arr.Set(1u, Napi::Number::New(env, id.port));
  return arr;
}

Napi::Value Fail(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

Napi::Function Endpoint::Init(Napi::Env env, AddonData* data) {
  return DefineClass(
      env, "Endpoint",
      {
          InstanceMethod<&Endpoint::Bind>("bind"),
          InstanceMethod<&Endpoint::Listen>("listen"),
          InstanceMethod<&Endpoint::Connect>("connect"),
          InstanceMethod<&Endpoint::FinishConnect>("finishConnect"),
          InstanceMethod<&Endpoint::Accept>("accept"),
          InstanceMethod<&Endpoint::Send>("send"),
          InstanceMethod<&Endpoint::SendV>("sendv"),
          InstanceMethod<&Endpoint::Recv>("recv"),
          InstanceMethod<&Endpoint::SetPoll>("poll"),
          InstanceMethod<&Endpoint::SetCallback>("onPoll"),
          InstanceMethod<&Endpoint::Ref>("ref"),
          InstanceMethod<&Endpoint::Unref>("unref"),
          InstanceMethod<&Endpoint::Local>("local"),
          InstanceMethod<&Endpoint::Remote>("remote"),
          InstanceMethod<&Endpoint::Close>("close"),
          InstanceAccessor<&Endpoint::GetFd>("fd"),
          InstanceMethod<&Endpoint::Register>("register"),
          InstanceMethod<&Endpoint::Unregister>("unregister"),
          InstanceMethod<&Endpoint::Copy>("copy"),
          InstanceMethod<&Endpoint::VCopy>("vcopy"),
          InstanceMethod<&Endpoint::FenceMark>("fenceMark"),
          InstanceMethod<&Endpoint::FenceWait>("fenceWait"),
          InstanceMethod<&Endpoint::FenceSignal>("fenceSignal"),
          InstanceMethod<&Endpoint::Mmap>("mmap"),
      },
      data);
}

// new Endpoint(provider: 'user' | 'kernel', node, nodes)
// Throws a TypeError for bad arguments; an open that fails at the OS level
// leaves a closed endpoint and reports -errno through `openError`.
Endpoint::Endpoint(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Endpoint>(info) {
  Napi::Env env = info.Env();
  data_ = static_cast<AddonData*>(info.Data());
  data_->endpoints.insert(this);
  if (info.Length() == 1 && info[0].IsExternal()) {
    auto* ep = info[0].As<Napi::External<ProviderEndpoint>>().Data();
    ep_.reset(ep);
    return;
  }
  std::unique_ptr<ProviderEndpoint> opened;
  PlatformConfig config;
  uint16_t segments = PlatformConfig::kSegmentsAuto;
  uint16_t lane = 1;
  if (info.Length() < 3 || !info[0].IsString() || !ReadU16(info[1], &config.node) ||
      !ReadU16(info[2], &config.nodes) ||
      (info.Length() > 3 && (!ReadU16(info[3], &segments) || segments > PlatformConfig::kSegmentsOff)) ||
      (info.Length() > 4 && (!ReadU16(info[4], &lane) || lane > 1))) {
    Fail(env, "Endpoint(provider, node, nodes[, segments[, lane]]): bad arguments");
    return;
  }
  config.lane = lane != 0;
  config.segments = static_cast<PlatformConfig::Segments>(segments);
  auto provider = MakeProvider(info[0].As<Napi::String>().Utf8Value(), config);
  if (!provider) {
    Fail(env, "Endpoint: unknown provider");
    return;
  }
  int rc = provider->Open(&opened);
  if (rc < 0) {
    Value().Set("openError", Napi::Number::New(env, rc));
    return;
  }
  ep_ = std::move(opened);
}

Endpoint::~Endpoint() {
  CloseNow();
  if (data_ != nullptr) data_->endpoints.erase(this);
}

bool Endpoint::LaneReady() const {
  return ep_ && want_read_ && !callback_.IsEmpty() && ep_->LaneReadable();
}

void Endpoint::DispatchLane() { OnPoll(this, 0, UV_READABLE); }

void Endpoint::SetSpinning(bool spinning) {
  if (!ep_) return;
  ep_->SetSpinning(spinning);
  // Bytes that came while we spun, unannounced: the bell must say so now.
  if (!spinning && want_read_ && ep_->LaneReadable()) ep_->KickReadBell();
}

void AddonData::PollLanes() {
  if (lane_readers.empty()) return;
  std::vector<Endpoint*> ready;
  for (Endpoint* e : lane_readers)
    if (e->LaneReady()) ready.push_back(e);
  // A callback may close (or, through GC, free) another endpoint.
  for (Endpoint* e : ready)
    if (lane_readers.count(e) != 0 && e->LaneReady()) e->DispatchLane();
}

void AddonData::SetLanesSpinning(bool spinning) {
  for (Endpoint* e : lane_readers) e->SetSpinning(spinning);
}

void AddonData::ServeHelp() {
  for (Endpoint* e : helpers) e->Help();  // no JS runs in there
}

void AddonData::SetHelpersSpinning(bool spinning) {
  for (Endpoint* e : helpers) e->SetHelping(spinning);
}

void Endpoint::Help() {
  if (ep_) ep_->Help();
}

void Endpoint::SetHelping(bool spinning) {
  if (ep_) ep_->SetHelping(spinning);
}

Napi::Value Endpoint::Wrap(Napi::Env env, AddonData* data,
                           std::unique_ptr<ProviderEndpoint> ep) {
  auto ext = Napi::External<ProviderEndpoint>::New(env, ep.release());
  Napi::Object obj = data->endpoint_ctor.New({ext});
  return obj;
}

void Endpoint::CloseNow() {
  if (data_ != nullptr) {
    data_->lane_readers.erase(this);
    data_->helpers.erase(this);
    if (ep_) data_->helped_bytes += ep_->HelpedBytes();
  }
  poller_.reset();  // stop + uv_close before the fd goes
  wait_poller_.reset();
  bell_poller_.reset();
  bell_polled_ = false;
  rma_.reset();     // pending RMA calls fail; the running one finishes
  ep_.reset();      // closes the fd
  callback_.Reset();
}

Napi::Value Endpoint::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ReadU16(info[0], &port)) return Fail(env, "bind(port)");
  if (!ep_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, ep_->Bind(port));
}

Napi::Value Endpoint::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return Fail(env, "listen(backlog)");
  if (!ep_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env,
                           ep_->Listen(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value Endpoint::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PortId peer;
  if (!ReadU16(info[0], &peer.node) || !ReadU16(info[1], &peer.port))
    return Fail(env, "connect(node, port)");
  if (!ep_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, ep_->Connect(peer));
}

Napi::Value Endpoint::FinishConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ep_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, ep_->FinishConnect());
}

Napi::Value Endpoint::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ep_) return Napi::Number::New(env, -EBADF);
  std::unique_ptr<ProviderEndpoint> conn;
  int rc = ep_->Accept(&conn);
  if (rc < 0) return Napi::Number::New(env, rc);
  return Wrap(env, data_, std::move(conn));
}

// send(buffer: Uint8Array) -> bytes moved (0: would block) or -errno
Napi::Value Endpoint::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) return Fail(env, "send(buffer)");
  auto buf = info[0].As<Napi::Uint8Array>();
  if (!ep_) return Napi::Number::New(env, -EBADF);
  long n = AfterSend(env, ep_->Send(buf.Data(), buf.ByteLength()));
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendv(buffers: Uint8Array[]) -> bytes moved or -errno
Napi::Value Endpoint::SendV(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) return Fail(env, "sendv(buffers)");
  auto arr = info[0].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > 1024) n = 1024;  // IOV_MAX
  std::vector<struct iovec> iov(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsTypedArray()) return Fail(env, "sendv(buffers)");
    auto b = v.As<Napi::Uint8Array>();
    iov[i].iov_base = b.Data();
    iov[i].iov_len = b.ByteLength();
  }
  if (!ep_) return Napi::Number::New(env, -EBADF);
  long sent = AfterSend(env, ep_->SendV(iov.data(), static_cast<int>(n)));
  return Napi::Number::New(env, static_cast<double>(sent));
}

// recv(buffer: Uint8Array, offset, length) -> bytes (0: would block),
// -ECONNRESET at end of stream, or -errno
Napi::Value Endpoint::Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber())
    return Fail(env, "recv(buffer, offset, length)");
  auto buf = info[0].As<Napi::Uint8Array>();
  int64_t off = info[1].As<Napi::Number>().Int64Value();
  int64_t len = info[2].As<Napi::Number>().Int64Value();
  if (off < 0 || len < 0 || static_cast<uint64_t>(off + len) > buf.ByteLength())
    return Fail(env, "recv: range outside the buffer");
  if (!ep_) return Napi::Number::New(env, -EBADF);
  long n = ep_->Recv(buf.Data() + off, static_cast<size_t>(len));
  // The peer's lane arrived with these bytes: poll its bell too.
  if (want_read_ && (ep_->ReadWaitFd() >= 0) != bell_polled_) {
    int rc = ApplyPoll(env);
    if (rc < 0 && n >= 0) n = rc;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// poll(readable: boolean, writable: boolean) -> 0 or a negative uv error
Napi::Value Endpoint::SetPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ep_) return Napi::Number::New(env, -EBADF);
  want_read_ = info[0].ToBoolean();
  want_write_ = info[1].ToBoolean();
  return Napi::Number::New(env, ApplyPoll(env));
}

// After a send: if a write now waits on another fd (or no longer does),
// poll there; keep the loop polling, as a reply may be on its way, or the
// peer is taking a posted write (about as long as its copy, so polling
// through it beats a sleep and a wake-up). Returns |sent|, or a poll error.
long Endpoint::AfterSend(Napi::Env env, long sent) {
  bool waits = ep_->WriteWaitFd() >= 0;
  if (waits != write_waits_) {
    int rc = ApplyPoll(env);
    if (rc < 0 && sent >= 0) sent = rc;
  }
  if (ep_->BusyPollUseful()) {
    if (waits)
      data_->ArmBusyPoll(env, kWriteWaitPollUs);
    else if (sent > 0)
      data_->ArmBusyPoll(env);
  }
  // A write waits while we spin: its reader may ask us to copy a part.
  bool helps = waits && data_->busy_poll != nullptr && data_->busy_poll->Active();
  if (helps) {
    data_->helpers.insert(this);
    ep_->SetHelping(true);
  } else if (data_->helpers.erase(this) != 0) {
    ep_->SetHelping(false);
  }
  return sent;
}

// Makes (or reuses) a poller on |fd|. 0 or a libuv error.
int Endpoint::EnsurePoller(Napi::Env env, std::unique_ptr<Poller>* poller, int fd,
                           Poller::Callback cb) {
  if (*poller) return 0;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  *poller = std::make_unique<Poller>(data_, loop, fd, cb, this);
  int rc = (*poller)->Status();
  if (rc != 0) {
    poller->reset();
    return rc;
  }
  (*poller)->Ref(ref_);
  return 0;
}

// Polls for what JS asked: readable on the endpoint's fd; writable there
// too, or, while the provider has a write waiting on something else, on
// that fd (readable). 0 or a negative libuv error.
int Endpoint::ApplyPoll(Napi::Env env) {
  if (!ep_) return 0;
  int wait_fd = ep_->WriteWaitFd();
  write_waits_ = wait_fd >= 0;
  int events = 0;
  bool grant = want_write_ && ep_->ConnectWaitsReadable();
  if (want_read_ || grant) events |= UV_READABLE;
  if (want_write_ && wait_fd < 0 && !grant) events |= UV_WRITABLE;
  if (want_read_ || want_write_) events |= UV_DISCONNECT;
  int wait_events = want_write_ && wait_fd >= 0 ? UV_READABLE : 0;
  if (wait_poller_ && wait_events != 0 && wait_fd_ != wait_fd) {
    wait_poller_.reset();  // stopped and closed; the provider owns the fd
    wait_fd_ = -1;
  }
  if (wait_poller_ && wait_events == 0) {
    int rc = wait_poller_->Set(0);  // kept for the next wait
    if (rc != 0) return rc;
  } else if (wait_events != 0) {
    int rc = EnsurePoller(env, &wait_poller_, wait_fd, OnWaitPoll);
    if (rc != 0) return rc;
    wait_fd_ = wait_fd;
    rc = wait_poller_->Set(wait_events);
    if (rc != 0) return rc;
  }
  // The lane's read bell, while reading.
  int bell_fd = ep_->ReadWaitFd();
  bool bell = want_read_ && bell_fd >= 0;
  if (bell) {
    int rc = EnsurePoller(env, &bell_poller_, bell_fd, OnBellPoll);
    if (rc == 0) rc = bell_poller_->Set(UV_READABLE);
    if (rc != 0) return rc;
    if (data_->lane_readers.insert(this).second) {
      // Spinning now or not; bytes already there are announced.
      SetSpinning(data_->busy_poll != nullptr && data_->busy_poll->Active());
    }
  } else {
    if (bell_poller_) {
      int rc = bell_poller_->Set(0);
      if (rc != 0) return rc;
    }
    data_->lane_readers.erase(this);
  }
  bell_polled_ = bell;
  if (!poller_ && events == 0) return 0;
  int rc = EnsurePoller(env, &poller_, ep_->Fd(), OnPoll);
  if (rc != 0) return rc;
  return poller_->Set(events);
}

// The lane's read bell rang: to JS, the endpoint is readable.
void Endpoint::OnBellPoll(void* context, int status, int events) {
  (void)events;
  auto* self = static_cast<Endpoint*>(context);
  if (self->ep_) self->ep_->AckReadBell();
  OnPoll(context, status, UV_READABLE);
}

// The fd a write waits on is ready: to JS, the endpoint is writable.
void Endpoint::OnWaitPoll(void* context, int status, int events) {
  (void)events;
  OnPoll(context, status, UV_WRITABLE);
}

Napi::Value Endpoint::SetCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) return Fail(env, "onPoll(callback)");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

void Endpoint::OnPoll(void* context, int status, int events) {
  auto* self = static_cast<Endpoint*>(context);
  if (self->callback_.IsEmpty()) return;
  Napi::Env env = self->callback_.Env();
  if (self->ep_ && self->ep_->BusyPollUseful()) self->data_->ArmBusyPoll(env);
  Napi::HandleScope scope(env);
  int flags = 0;
  if (events & UV_READABLE) flags |= 1;
  if (events & UV_WRITABLE) flags |= 2;
  if (events & UV_DISCONNECT) flags |= 4;
  // A write waiting elsewhere learns of a hang-up by trying again.
  if ((events & UV_DISCONNECT) && self->ep_ && self->ep_->WriteWaitFd() >= 0) flags |= 2;
  // MakeCallback so that microtasks and nextTicks run afterwards, as they
  // do after any libuv callback in Node.
  napi_value argv[2] = {Napi::Number::New(env, status), Napi::Number::New(env, flags)};
  napi_value result;
  napi_status rc = napi_make_callback(env, nullptr, self->Value(), self->callback_.Value(), 2,
                                      argv, &result);
  if (rc == napi_pending_exception) {
    // A listener threw: report it as Node reports any exception thrown from
    // an I/O callback ('uncaughtException'). If the environment is going
    // away there is nothing to report to.
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) {
      bool is_undefined = false;
      napi_valuetype type;
      if (napi_typeof(env, err, &type) == napi_ok) is_undefined = type == napi_undefined;
      if (!is_undefined) napi_fatal_exception(env, err);
    }
  }
}

Napi::Value Endpoint::Ref(const Napi::CallbackInfo& info) {
  ref_ = true;
  if (poller_) poller_->Ref(true);
  if (wait_poller_) wait_poller_->Ref(true);
  if (bell_poller_) bell_poller_->Ref(true);
  return info.Env().Undefined();
}

Napi::Value Endpoint::Unref(const Napi::CallbackInfo& info) {
  ref_ = false;
  if (poller_) poller_->Ref(false);
  if (wait_poller_) wait_poller_->Ref(false);
  if (bell_poller_) bell_poller_->Ref(false);
  return info.Env().Undefined();
}

Napi::Value Endpoint::Local(const Napi::CallbackInfo& info) {
  if (!ep_) return info.Env().Null();
  return PortIdValue(info.Env(), ep_->Local());
}

Napi::Value Endpoint::Remote(const Napi::CallbackInfo& info) {
  if (!ep_) return info.Env().Null();
  return PortIdValue(info.Env(), ep_->Remote());
}

Napi::Value Endpoint::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

Napi::Value Endpoint::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ep_ ? ep_->Fd() : -1);
}

}  // namespace scif

namespace scif {

namespace {

bool ReadI64(const Napi::Value& v, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) ||
      d != static_cast<double>(static_cast<int64_t>(d)))
    return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool ReadU64(const Napi::Value& v, uint64_t* out) {
  if (v.IsBigInt()) {
    bool lossless = false;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    return lossless;
  }
  int64_t n;
  if (!ReadI64(v, &n) || n < 0) return false;
  *out = static_cast<uint64_t>(n);
  return true;
}

bool ReadI32(const Napi::Value& v, int32_t* out) {
  int64_t n;
  if (!ReadI64(v, &n) || n < INT32_MIN || n > INT32_MAX) return false;
  *out = static_cast<int32_t>(n);
  return true;
}

}  // namespace

Napi::Value Endpoint::Submit(Napi::Env env, RmaWorker::Work work, Napi::Value keep) {
  if (!ep_) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(Napi::Number::New(env, -EBADF));
    return d.Promise();
  }
  if (!rma_) rma_ = std::make_unique<RmaWorker>(env, ep_);
  return rma_->Submit(env, std::move(work), keep);
}

// register(buffer, offset, prot, flags)
Napi::Value Endpoint::Register(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t offset;
  int32_t prot, flags;
  if (!info[0].IsTypedArray() || !ReadI64(info[1], &offset) || !ReadI32(info[2], &prot) ||
      !ReadI32(info[3], &flags))
    return Fail(env, "register(buffer, offset, prot, flags)");
  auto buf = info[0].As<Napi::Uint8Array>();
  void* addr = buf.Data();
  uint64_t len = buf.ByteLength();
  return Submit(env, [=](ProviderEndpoint* ep) {
    return ep->Register(addr, len, offset, prot, flags);
  }, info[0]);
}

// unregister(offset, length)
Napi::Value Endpoint::Unregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t offset;
  uint64_t len;
  if (!ReadI64(info[0], &offset) || !ReadU64(info[1], &len))
    return Fail(env, "unregister(offset, length)");
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    return ep->Unregister(offset, len);
  }, Napi::Value());
}

// copy(toPeer, loffset, length, roffset, flags)
Napi::Value Endpoint::Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t loffset, roffset;
  uint64_t len;
  int32_t flags;
  if (!ReadI64(info[1], &loffset) || !ReadU64(info[2], &len) || !ReadI64(info[3], &roffset) ||
      !ReadI32(info[4], &flags))
    return Fail(env, "copy(toPeer, loffset, length, roffset, flags)");
  bool to_peer = info[0].ToBoolean();
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    return ep->Copy(to_peer, loffset, len, roffset, flags);
  }, Napi::Value());
}

// vcopy(toPeer, buffer, roffset, flags)
Napi::Value Endpoint::VCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t roffset;
  int32_t flags;
  if (!info[1].IsTypedArray() || !ReadI64(info[2], &roffset) || !ReadI32(info[3], &flags))
    return Fail(env, "vcopy(toPeer, buffer, roffset, flags)");
  bool to_peer = info[0].ToBoolean();
  auto buf = info[1].As<Napi::Uint8Array>();
  void* addr = buf.Data();
  uint64_t len = buf.ByteLength();
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    return ep->VCopy(to_peer, addr, len, roffset, flags);
  }, info[1]);
}

// fenceMark(flags) -> mark
Napi::Value Endpoint::FenceMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t flags;
  if (!ReadI32(info[0], &flags)) return Fail(env, "fenceMark(flags)");
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    // Marks are opaque 32-bit values and may be negative (SCIF sets bit 31
    // on marks of the peer's RMAs): pass them as their unsigned 32-bit
    // pattern so that they cannot be mistaken for -errno.
    int mark = 0;
    int rc = ep->FenceMark(flags, &mark);
    return rc < 0 ? rc : static_cast<int64_t>(static_cast<uint32_t>(mark));
  }, Napi::Value());
}

// fenceWait(mark)
Napi::Value Endpoint::FenceWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t mark;
  if (!ReadI32(info[0], &mark)) return Fail(env, "fenceWait(mark)");
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    return ep->FenceWait(mark);
  }, Napi::Value());
}

// fenceSignal(loff, lval, roff, rval, flags); values are BigInts or numbers
Napi::Value Endpoint::FenceSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t loff, roff;
  uint64_t lval, rval;
  int32_t flags;
  if (!ReadI64(info[0], &loff) || !ReadU64(info[1], &lval) || !ReadI64(info[2], &roff) ||
      !ReadU64(info[3], &rval) || !ReadI32(info[4], &flags))
    return Fail(env, "fenceSignal(loff, lval, roff, rval, flags)");
  return Submit(env, [=](ProviderEndpoint* ep) -> int64_t {
    return ep->FenceSignal(loff, lval, roff, rval, flags);
  }, Napi::Value());
}

Napi::Value Endpoint::Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t roffset;
  uint64_t len;
  int32_t prot;
  if (!ReadI64(info[0], &roffset) || !ReadU64(info[1], &len) || !ReadI32(info[2], &prot))
    return Fail(env, "mmap(roffset, length, prot)");
  if (!ep_) return Napi::Number::New(env, -EBADF);
  void* addr = nullptr;
  int rc = ep_->Mmap(roffset, len, prot, &addr);
  if (rc < 0) return Napi::Number::New(env, rc);
  return NewMapping(env, data_, addr, static_cast<size_t>(len), MappingKind::kPeerWindow);
}

}  // namespace scif

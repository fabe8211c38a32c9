// Sees an endpoint's RST without reading from it. After an endpoint sent its FIN, faultline reads
// nothing more from it, so an RST that its kernel sends in answer to later bytes (it had closed,
// not only half-closed) would go unnoticed until the next write. A poll for errors on a duplicate
// of the socket sees the RST at once, so it can be mirrored to the other endpoint as promptly as
// a direct connection would show it.
#pragma once

#include <uv.h>

#include "proxy/uv_handle.hpp"

namespace faultline::proxy {

class ResetWatch {
  public:
    // Called with the socket's error as a libuv code (EPIPE reads as UV_ECONNRESET).
    using Callback = void (*)(void* owner, int error);

    ResetWatch() = default;
    ResetWatch(const ResetWatch&) = delete;
    ResetWatch& operator=(const ResetWatch&) = delete;
    ~ResetWatch() { stop(); }

    // Watches the socket of `tcp`; does nothing when already watching, or when no descriptor is
    // left (the reset is then seen at the next write instead).
    void start(uv_loop_t* loop, uv_tcp_t* tcp, Callback callback, void* owner);
    // Must run before the socket is closed: the duplicate keeps the socket open, and a close
    // would then send neither FIN nor RST.
    void stop();

  private:
    static void on_poll(uv_poll_t* handle, int status, int events);

    UvHandle<uv_poll_t> poll_;
    int fd_ = -1;
    uv_tcp_t* tcp_ = nullptr;
    Callback callback_ = nullptr;
    void* owner_ = nullptr;
};

}  // namespace faultline::proxy

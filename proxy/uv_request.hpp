// Ownership of libuv requests (writes, shutdowns, connects, name lookups). A request must live
// from its submission until its callback, and often carries what it works on (a write's bytes).
// UvRequest<T, Payload> is that object: the libuv request and its payload in one allocation.
// `submit` hands it to libuv only if the submission succeeds (otherwise it is freed at once), and
// the callback's first line `adopt`s it back, so it is freed when the callback returns, whatever
// path it takes. No raw new or delete of a request appears anywhere else.
#pragma once

#include <memory>
#include <utility>

namespace faultline::proxy {

struct NoPayload {};

template <typename T, typename Payload = NoPayload>
class UvRequest {
  public:
    explicit UvRequest(Payload payload = {}) : payload_(std::move(payload)) { req_.data = this; }
    UvRequest(const UvRequest&) = delete;
    UvRequest& operator=(const UvRequest&) = delete;

    [[nodiscard]] T* get() { return &req_; }
    [[nodiscard]] Payload& payload() { return payload_; }

    // Submits the request: `start(T*)` calls the libuv function and returns its error code. On
    // success libuv holds the request until its callback adopts it; on failure it is freed here
    // and the error returned.
    template <typename Start>
    [[nodiscard]] static int submit(std::unique_ptr<UvRequest> request, Start&& start) {
        int err = std::forward<Start>(start)(request->get());
        if (err == 0) (void)request.release();
        return err;
    }

    // The first line of a callback: the request is owned again, and freed when the callback
    // returns.
    [[nodiscard]] static std::unique_ptr<UvRequest> adopt(T* req) {
        return std::unique_ptr<UvRequest>(static_cast<UvRequest*>(req->data));
    }

  private:
    T req_{};
    Payload payload_;
};

}  // namespace faultline::proxy

// Ownership of libuv handles. libuv frees nothing itself: a handle's memory may be released only
// in its close callback. UvHandle<T> is the one owner of one handle: it allocates it, points
// `data` at the C++ object that wants the callbacks, and on destruction clears `data` (so no
// callback reaches a dead owner) and closes the handle, freeing it in the close callback.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cassert>
#include <string>
#include <utility>

namespace faultline::proxy {

template <typename T>
class UvHandle {
  public:
    UvHandle() = default;
    // The handle is allocated but not yet initialised: call the matching uv_*_init on get(),
    // then mark_initialised(). Until then destruction only frees the memory.
    explicit UvHandle(void* owner) : handle_(new T{}) { handle_->data = owner; }

    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;
    UvHandle(UvHandle&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          initialised_(std::exchange(other.initialised_, false)) {}
    UvHandle& operator=(UvHandle&& other) noexcept {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
            initialised_ = std::exchange(other.initialised_, false);
        }
        return *this;
    }
    ~UvHandle() { close(); }

    [[nodiscard]] T* get() const { return handle_; }
    [[nodiscard]] uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
    [[nodiscard]] uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }
    [[nodiscard]] explicit operator bool() const { return handle_ != nullptr; }
    void mark_initialised() { initialised_ = true; }

    // Closes gracefully as far as the kernel is concerned: a TCP socket sends FIN, unless its
    // receive buffer still holds unread bytes (then the kernel sends RST: drain first).
    void close() {
        if (!handle_) return;
        T* handle = std::exchange(handle_, nullptr);
        handle->data = nullptr;
        if (!std::exchange(initialised_, false)) {
            delete handle;
            return;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(handle), on_close);
    }

    // For TCP handles: closes with RST (SO_LINGER {1, 0}), discarding whatever is queued. Unlike
    // uv_tcp_close_reset this is allowed while a shutdown request is pending.
    void close_with_reset() {
        if (handle_ && initialised_) {
            uv_os_fd_t fd = -1;
            if (uv_fileno(base(), &fd) == 0) {
                linger abort{1, 0};
                (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
            }
        }
        close();
    }

  private:
    static void on_close(uv_handle_t* handle) { delete reinterpret_cast<T*>(handle); }

    T* handle_ = nullptr;
    bool initialised_ = false;
};

// libuv error name and message, for log lines: "ECONNREFUSED (connection refused)".
inline std::string uv_error_text(int status) {
    std::string text = uv_err_name(status);
    text += " (";
    text += uv_strerror(status);
    text += ")";
    return text;
}

}  // namespace faultline::proxy

// One endpoint's socket: reading, queued writes, the FIN, the reset watch and the close.
#include "proxy/leg.hpp"

#include <algorithm>

#include "proxy/address.hpp"
#include "proxy/uv_request.hpp"

namespace faultline::proxy {
namespace {

using teardown::EndpointState;

// A queued write and the bytes it holds, counted against the direction's limit.
struct QueuedWrite {
    HeldBytes bytes;
    std::size_t length = 0;  // bytes this request writes
    std::size_t held = 0;    // memory it holds
};
using WriteRequest = UvRequest<uv_write_t, QueuedWrite>;
using ShutdownRequest = UvRequest<uv_shutdown_t>;
using ConnectRequest = UvRequest<uv_connect_t>;

}  // namespace

Leg::Leg(LegEvents& events, teardown::Side side, uv_loop_t* loop, BufferPool& buffers)
    : events_(events), side_(side), loop_(loop), buffers_(buffers) {}

Leg::~Leg() {
    // The watch's duplicate descriptor would keep the socket open past its close.
    reset_watch_.stop();
}

void Leg::adopt(UvHandle<uv_tcp_t> tcp) {
    tcp_ = std::move(tcp);
    tcp_.get()->data = this;
    set_connected();
}

int Leg::connect(const sockaddr& address) {
    tcp_ = UvHandle<uv_tcp_t>(this);
    int err = uv_tcp_init(loop_, tcp_.get());
    if (err != 0) return err;
    tcp_.mark_initialised();
    return ConnectRequest::submit(std::make_unique<ConnectRequest>(), [&](uv_connect_t* req) {
        return uv_tcp_connect(req, tcp_.get(), &address, on_connect);
    });
}

void Leg::on_connect(uv_connect_t* req, int status) {
    auto request = ConnectRequest::adopt(req);
    auto* self = static_cast<Leg*>(req->handle->data);
    if (!self || status == UV_ECANCELED) return;
    self->events_.on_leg_connected(*self, status);
}

void Leg::set_connected() {
    is_connected_ = true;
    (void)uv_tcp_nodelay(tcp_.get(), 1);
}

// ---------------------------------------------------------------------------------------------
// Reading.

void Leg::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Leg*>(handle->data);
    if (!self) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    // libuv hands the buffer back to on_read, which gives it to the session or the pool.
    *buf = uv_buf_init(self->buffers_.take(),  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks)
                       BufferPool::buffer_size);
}

void Leg::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Leg*>(stream->data);
    if (!self) {
        delete[] buf->base;
        return;
    }
    if (nread > 0) {
        self->events_.on_leg_read(*self, buf->base, static_cast<std::size_t>(nread));
        return;
    }
    self->buffers_.give(buf->base);
    if (nread == 0) return;  // EAGAIN
    if (nread != UV_EOF) {
        self->events_.on_leg_failed(*self, static_cast<int>(nread));
        return;
    }
    self->has_eof_ = true;
    self->is_reading_ = false;  // libuv stops reading at EOF
    self->history_.sent_fin = true;
    self->history_.state = EndpointState::fin_received;
    self->events_.on_leg_eof(*self);
}

void Leg::start_reading() {
    if (is_reading_ || has_eof_ || closing_ || is_closed_) return;
    if (int err = uv_read_start(tcp_.stream(), on_alloc, on_read); err != 0) {
        events_.on_leg_failed(*this, err);
        return;
    }
    is_reading_ = true;
}

void Leg::stop_reading() {
    if (!is_reading_) return;
    (void)uv_read_stop(tcp_.stream());
    is_reading_ = false;
}

void Leg::pause() {
    if (!is_reading_) return;
    stop_reading();
    is_paused_ = true;
    // Nothing reads it now, so an RST it sends meanwhile is noticed by the watch instead.
    watch_for_reset();
}

void Leg::resume() {
    if (!is_paused_ || closing_) return;
    is_paused_ = false;
    reset_watch_.stop();
    start_reading();
}

void Leg::end_input() {
    has_eof_ = true;
    stop_reading();
}

void Leg::watch_for_reset() {
    reset_watch_.start(loop_, tcp_.get(), on_reset_seen, this);
}

void Leg::on_reset_seen(void* owner, int error) {
    auto* self = static_cast<Leg*>(owner);
    self->events_.on_leg_failed(*self, error);
}

// ---------------------------------------------------------------------------------------------
// Writing.

void Leg::write(const char* data, std::size_t length, char* pooled) {
    if (is_closed_ || closing_ || is_shutdown_requested_) {
        buffers_.give(pooled);
        return;
    }
    std::size_t offset = 0;
    if (queued_bytes_ == 0) {
        // Fast path: the kernel usually takes the whole chunk at once.
        uv_buf_t chunk = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(length));
        int written = uv_try_write(tcp_.stream(), &chunk, 1);
        if (written >= 0) {
            offset = static_cast<std::size_t>(written);
            delivered_bytes_ += offset;
            if (offset == length) {
                buffers_.give(pooled);
                return;
            }
        } else if (written != UV_EAGAIN) {
            buffers_.give(pooled);
            events_.on_leg_failed(*this, written);
            return;
        }
    }
    QueuedWrite queued;
    queued.length = length - offset;
    const char* rest = data + offset;
    char* start = nullptr;
    if (!pooled || queued.length <= small_write_bytes) {
        queued.bytes = HeldBytes::copy_of(rest, queued.length);
        // Many tiny writes (a slicer's pieces) cost their bookkeeping too.
        queued.held = std::max(queued.length, min_write_charge);
        buffers_.give(pooled);
        start = queued.bytes.data();
    } else {
        queued.bytes = HeldBytes::pooled(buffers_, pooled);
        queued.held = BufferPool::buffer_size;
        start = const_cast<char*>(rest);
    }
    const std::size_t held = queued.held;
    uv_buf_t buf = uv_buf_init(start, static_cast<unsigned>(queued.length));
    int err = WriteRequest::submit(
        std::make_unique<WriteRequest>(std::move(queued)),
        [&](uv_write_t* req) { return uv_write(req, tcp_.stream(), &buf, 1, on_write); });
    if (err != 0) {
        events_.on_leg_failed(*this, err);
        return;
    }
    queued_bytes_ += held;
}

void Leg::on_write(uv_write_t* req, int status) {
    auto request = WriteRequest::adopt(req);
    auto* self = static_cast<Leg*>(req->handle->data);
    if (!self || status == UV_ECANCELED) return;
    const QueuedWrite& queued = request->payload();
    self->on_written(queued.length, queued.held, status);
}

void Leg::on_written(std::size_t length, std::size_t held, int status) {
    if (is_closed_) return;
    queued_bytes_ -= held;
    if (status < 0) {
        events_.on_leg_failed(*this, status);
        return;
    }
    delivered_bytes_ += length;
    if (closing_) {
        check_closing(true);
        return;
    }
    events_.on_leg_written(*this);
}

// The FIN goes out after every byte queued before it: libuv runs the shutdown after the pending
// writes.
void Leg::shutdown_write() {
    if (is_shutdown_requested_ || is_closed_) return;
    int err = ShutdownRequest::submit(std::make_unique<ShutdownRequest>(), [&](uv_shutdown_t* req) {
        return uv_shutdown(req, tcp_.stream(), on_shutdown);
    });
    if (err != 0) {
        events_.on_leg_failed(*this, err);
        return;
    }
    is_shutdown_requested_ = true;
}

void Leg::on_shutdown(uv_shutdown_t* req, int status) {
    auto request = ShutdownRequest::adopt(req);
    auto* self = static_cast<Leg*>(req->handle->data);
    if (!self || status == UV_ECANCELED) return;
    self->on_shut_down(status);
}

void Leg::on_shut_down(int status) {
    if (is_closed_) return;
    if (status < 0) {
        events_.on_leg_failed(*this, status);
        return;
    }
    is_shut_down_ = true;
    if (history_.state == EndpointState::open) history_.state = EndpointState::fin_sent;
    if (closing_) {
        check_closing(true);
        return;
    }
    events_.on_leg_shut_down(*this);
}

// ---------------------------------------------------------------------------------------------
// Closing.

bool Leg::close(CloseType type, EndpointState state) {
    if (is_closed_) return true;
    if (closing_ && type <= *closing_) return false;  // a milder ending changes nothing
    closing_state_ = state;
    if (!tcp_ || !is_connected_ || type == CloseType::reset) {
        release(type == CloseType::reset);
        return true;
    }
    if (type == CloseType::close_now || (type == CloseType::graceful && queued_bytes_ == 0)) {
        // Nothing waits in faultline (or what waits is given up): the kernel sends what it
        // holds, then the FIN.
        release(false);
        return true;
    }
    if (!closing_) closing_deadline_ms_ = uv_now(loop_) + flush_limit_ms;
    closing_ = type;
    pause();  // nothing more is read; an RST meanwhile is seen by the watch
    if (type == CloseType::graceful && !is_shutdown_requested_) {
        int err = ShutdownRequest::submit(
            std::make_unique<ShutdownRequest>(),
            [&](uv_shutdown_t* req) { return uv_shutdown(req, tcp_.stream(), on_shutdown); });
        if (err == 0) {
            is_shutdown_requested_ = true;
        } else {
            is_shut_down_ = true;  // nothing more can be sent on it: close it as it is
        }
    }
    check_closing(false);
    return is_closed_;
}

void Leg::check_closing(bool is_async) {
    if (is_closed_ || !closing_) return;
    bool is_done = *closing_ == CloseType::graceful
                       ? is_shut_down_
                       : queued_bytes_ == 0 && unsent_bytes(tcp_.get()) == 0;
    std::uint64_t now = uv_now(loop_);
    if (is_done || now >= closing_deadline_ms_) {
        // An endpoint that does not read would keep the close waiting for ever: past the limit,
        // it is reset.
        if (!is_done) closing_state_ = EndpointState::rst_sent;
        release(*closing_ == CloseType::flush_then_reset || !is_done);
        if (is_async) events_.on_leg_closed(*this);
        return;
    }
    if (!close_timer_) {
        close_timer_ = UvHandle<uv_timer_t>(this);
        if (uv_timer_init(loop_, close_timer_.get()) != 0) {
            // No timer: stop waiting now.
            close_timer_ = {};
            closing_deadline_ms_ = now;
            check_closing(is_async);
            return;
        }
        close_timer_.mark_initialised();
    }
    // A FIN's completion is reported by libuv; a flush out of the kernel is looked at every
    // millisecond.
    std::uint64_t delay = *closing_ == CloseType::graceful ? closing_deadline_ms_ - now : 1;
    (void)uv_timer_start(close_timer_.get(), on_close_timer, delay, 0);
}

void Leg::on_close_timer(uv_timer_t* handle) {
    auto* self = static_cast<Leg*>(handle->data);
    if (self) self->check_closing(true);
}

void Leg::release(bool with_reset) {
    EndpointState state = closing_state_;
    bool is_graceful_state = state == EndpointState::fin_sent || state == EndpointState::closed;
    if (is_graceful_state && !with_reset && unread_bytes(tcp_.get()) > 0) {
        // Closing a socket whose input was not read makes the kernel send RST.
        state = EndpointState::rst_sent;
    } else if (state == EndpointState::fin_sent && history_.sent_fin) {
        // A FIN toward an endpoint that had sent its own ends both directions.
        state = EndpointState::closed;
    }
    history_.state = state;
    // The watch's duplicate descriptor goes first, or the close sends nothing.
    reset_watch_.stop();
    close_timer_.close();
    is_reading_ = false;
    is_closed_ = true;
    if (with_reset) {
        tcp_.close_with_reset();
    } else {
        tcp_.close();
    }
}

}  // namespace faultline::proxy

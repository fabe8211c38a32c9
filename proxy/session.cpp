// The data path of one connection, its timers and its endings. See session.hpp for the picture.
#include "proxy/session.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "proxy/address.hpp"
#include "proxy/deadlines.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"

namespace faultline::proxy {

// A queued write owns its bytes: a pool buffer, or for a small remainder an exact-size copy, so
// that many small queued chunks do not each hold a whole pool buffer.
struct Session::WriteRequest {
    uv_write_t req{};
    char* buffer = nullptr;
    std::size_t length = 0;      // bytes this request writes
    std::size_t held = 0;        // memory it holds: counted against the direction's limit
    BufferPool* pool = nullptr;  // the buffer's pool; nullptr for a copy

    ~WriteRequest() {
        if (pool) {
            pool->give(buffer);
        } else {
            delete[] buffer;
        }
    }
};

Session::Session(Runtime& runtime, Proxy& proxy, std::uint64_t id)
    : runtime_(runtime),
      proxy_(proxy),
      id_(id),
      random_(runtime.session_seed(proxy.name(), proxy.next_connection_index())),
      timer_(this),
      rules_(*this, runtime.clock(), random_) {
    client_.session = this;
    client_.side = Side::client;
    server_.session = this;
    server_.side = Side::server;
    server_.history.address = proxy_.config().upstream.text();
    int err = uv_timer_init(runtime_.loop(), timer_.get());
    if (err == 0) timer_.mark_initialised();
    started_at_ = uv_now(runtime_.loop());
    last_activity_ = started_at_;
}

Session::~Session() {
    client_.reset_watch.stop();
    server_.reset_watch.stop();
}

const rules::ProxySettings& Session::settings() const {
    return proxy_.config().settings;
}

// ---------------------------------------------------------------------------------------------
// Data path.

void Session::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* leg = static_cast<Leg*>(handle->data);
    if (!leg) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(leg->session->runtime_.buffers().take(), BufferPool::buffer_size);
}

void Session::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* leg = static_cast<Leg*>(stream->data);
    if (!leg) {
        delete[] buf->base;
        return;
    }
    Session& self = *leg->session;
    if (nread > 0) {
        self.forward(self.other(*leg), buf->base, static_cast<std::size_t>(nread));
        return;
    }
    self.runtime_.buffers().give(buf->base);
    if (nread == 0) return;  // EAGAIN
    if (nread == UV_EOF) {
        self.on_eof(*leg);
    } else {
        self.on_leg_failed(*leg, static_cast<int>(nread));
    }
}

void Session::start_reading(Leg& leg) {
    if (leg.is_reading || leg.has_eof || finished_) return;
    int err = uv_read_start(leg.tcp.stream(), on_alloc, on_read);
    if (err != 0) {
        on_leg_failed(leg, err);
        return;
    }
    leg.is_reading = true;
}

void Session::stop_reading(Leg& leg) {
    if (!leg.is_reading) return;
    (void)uv_read_stop(leg.tcp.stream());
    leg.is_reading = false;
}

void Session::pause_reading(Leg& leg) {
    if (!leg.is_reading) return;
    stop_reading(leg);
    leg.is_paused = true;
    // Nothing reads it now, so an RST it sends meanwhile is noticed by the watch instead.
    leg.reset_watch.start(runtime_.loop(), leg.tcp.get(), on_reset_seen, &leg);
}

void Session::resume_reading(Leg& leg) {
    if (!leg.is_paused) return;
    leg.is_paused = false;
    leg.reset_watch.stop();
    start_reading(leg);
}

void Session::forward(Leg& to, char* buffer, std::size_t length) {
    if (!rules_.silent_cause()) note_activity();  // bytes a forgotten flow swallows are no activity
    faults::Stream stream = stream_into(to);
    if (rules_.is_transparent(stream)) {
        write(to, buffer, length, buffer);
    } else {
        std::string bytes(buffer, length);
        runtime_.buffers().give(buffer);
        rules_.on_data(stream, std::move(bytes));
    }
    update_backpressure(stream);
}

// Writes bytes toward a leg: whatever the kernel takes at once, the rest queued. `pooled` is the
// pool buffer that holds `data` (it is given back or kept by the queued write), or nullptr.
void Session::write(Leg& to, const char* data, std::size_t length, char* pooled) {
    if (finished_ || to.is_shutdown_requested) {
        runtime_.buffers().give(pooled);
        return;
    }
    std::size_t offset = 0;
    if (to.queued_bytes == 0) {
        // Fast path: the kernel usually takes the whole chunk at once.
        uv_buf_t chunk = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(length));
        int written = uv_try_write(to.tcp.stream(), &chunk, 1);
        if (written >= 0) {
            offset = static_cast<std::size_t>(written);
            to.delivered_bytes += offset;
            if (offset == length) {
                runtime_.buffers().give(pooled);
                return;
            }
        } else if (written != UV_EAGAIN) {
            runtime_.buffers().give(pooled);
            on_leg_failed(to, written);
            return;
        }
    }
    auto* request = new WriteRequest{};
    request->req.data = request;
    request->length = length - offset;
    const char* rest_data = data + offset;
    if (!pooled || request->length <= small_write_bytes) {
        request->buffer = new char[request->length];
        std::memcpy(request->buffer, rest_data, request->length);
        // Many tiny writes (a slicer's pieces) cost their bookkeeping too.
        request->held = std::max(request->length, min_write_charge);
        runtime_.buffers().give(pooled);
    } else {
        request->buffer = pooled;
        request->pool = &runtime_.buffers();
        request->held = BufferPool::buffer_size;
    }
    char* start = request->pool ? const_cast<char*>(rest_data) : request->buffer;
    uv_buf_t rest = uv_buf_init(start, static_cast<unsigned>(request->length));
    int err = uv_write(&request->req, to.tcp.stream(), &rest, 1, on_write);
    if (err != 0) {
        delete request;
        on_leg_failed(to, err);
        return;
    }
    to.queued_bytes += request->held;
}

// Backpressure: what waits to be written toward the destination plus what the stream's faults
// hold is bounded; past the bound the source is not read.
void Session::update_backpressure(faults::Stream stream) {
    // A rule that is ending the connection has stopped reading for good.
    if (finished_ || pending_reset_ || closing_cause_) return;
    Leg& to = destination(stream);
    std::size_t pending = to.queued_bytes + rules_.held_bytes(stream);
    if (pending >= settings().buffer_limit) {
        pause_reading(source(stream));
    } else {
        resume_reading(source(stream));
    }
}

void Session::on_write(uv_write_t* req, int status) {
    std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(req->data));
    auto* leg = static_cast<Leg*>(req->handle->data);
    if (!leg || status == UV_ECANCELED) return;
    leg->session->on_written(*leg, request->length, request->held, status);
}

void Session::on_written(Leg& to, std::size_t length, std::size_t held, int status) {
    if (finished_) return;
    to.queued_bytes -= held;
    if (status < 0) {
        on_leg_failed(to, status);
        return;
    }
    to.delivered_bytes += length;
    note_activity();
    update_backpressure(stream_into(to));
}

void Session::on_eof(Leg& from) {
    from.has_eof = true;
    from.is_reading = false;  // libuv stops reading at EOF
    from.history.sent_fin = true;
    from.history.state = EndpointState::fin_received;
    if (!first_fin_) first_fin_ = Cause{Reason::tcp_fins, initiator_of(from.side), {}, {}};
    note_activity();
    faults::Stream stream = stream_into(other(from));
    if (rules_.is_transparent(stream)) {
        deliver_end(stream);
    } else if (rules_.silent_cause()) {
        end_silently_if_done();
    } else {
        rules_.on_end(stream);
    }
    // The end may need no shutdown of ours (a rule already sent the FIN it stands for, as
    // half_close early_fin does): then this EOF can be the last thing the connection waited for.
    if (!finished_) maybe_end_gracefully();
}

// The FIN goes out after every byte queued before it: libuv runs the shutdown after the pending
// writes.
void Session::deliver_end(faults::Stream stream) {
    Leg& from = source(stream);
    Leg& to = destination(stream);
    if (finished_ || to.is_shutdown_requested) return;
    auto* req = new uv_shutdown_t{};
    int err = uv_shutdown(req, to.tcp.stream(), on_shutdown);
    if (err != 0) {
        delete req;
        on_leg_failed(to, err);
        return;
    }
    to.is_shutdown_requested = true;
    if (!from.has_eof && !first_fin_) {
        first_fin_ = Cause{Reason::tcp_fins, Initiator::faultline, {}, rules_.last_fired()};
    }
    if (!to.has_eof) {
        half_closed_at_ = uv_now(runtime_.loop());
        arm_timer();
        if (from.has_eof) {
            from.reset_watch.start(runtime_.loop(), from.tcp.get(), on_reset_seen, &from);
        }
    }
}

void Session::on_shutdown(uv_shutdown_t* req, int status) {
    std::unique_ptr<uv_shutdown_t> request(req);
    auto* leg = static_cast<Leg*>(req->handle->data);
    if (!leg || status == UV_ECANCELED) return;
    leg->session->on_shut_down(*leg, status);
}

void Session::on_shut_down(Leg& to, int status) {
    if (finished_) return;
    if (status < 0) {
        on_leg_failed(to, status);
        return;
    }
    to.is_shut_down = true;
    if (to.history.state == EndpointState::open) to.history.state = EndpointState::fin_sent;
    maybe_end_gracefully();
}

void Session::maybe_end_gracefully() {
    if (closing_cause_) {
        // A rule closes the connection: FIN toward both after what was queued, then close.
        if (client_.is_shut_down && server_.is_shut_down) {
            end_legs(*closing_cause_, EndpointState::fin_sent, false, EndpointState::fin_sent,
                     false);
        }
        return;
    }
    if (!(client_.has_eof && server_.has_eof && client_.is_shut_down && server_.is_shut_down)) {
        return;
    }
    set_cause(first_fin_.value_or(Cause{Reason::tcp_fins, Initiator::client, {}, {}}));
    client_.history.state = EndpointState::closed;
    server_.history.state = EndpointState::closed;
    close_leg(client_, false);
    close_leg(server_, false);
    finish();
}

void Session::on_reset_seen(void* owner, int error) {
    auto* leg = static_cast<Leg*>(owner);
    leg->session->on_leg_failed(*leg, error);
}

void Session::on_leg_failed(Leg& leg, int status) {
    if (finished_) return;
    if (rules_.silent_cause() && (status == UV_ECONNRESET || status == UV_EPIPE)) {
        // A forgotten flow: the other endpoint hears nothing of it.
        leg.history.sent_rst = true;
        leg.has_eof = true;
        stop_reading(leg);
        end_silently_if_done();
        return;
    }
    EndpointState leg_state = EndpointState::error;
    Cause cause{Reason::unknown, Initiator::faultline, uv_err_name(status), {}};
    // ENOTCONN: a shutdown or write found the socket already reset.
    if (status == UV_ECONNRESET || status == UV_EPIPE || status == UV_ENOTCONN) {
        leg.history.sent_rst = true;
        leg_state = EndpointState::rst_received;
        cause = {reset_reason(leg.side, settings().inside), initiator_of(leg.side), {}, {}};
    } else if (status == UV_ETIMEDOUT) {
        leg_state = EndpointState::timed_out;  // the kernel gave up on this endpoint
        cause.initiator = initiator_of(leg.side);
    }
    bool is_client = leg.side == Side::client;
    EndpointState other_state =
        other(leg).is_connected ? EndpointState::rst_sent : EndpointState::not_connected;
    end_with_reset(cause, is_client ? leg_state : other_state, is_client ? other_state : leg_state);
}

// ---------------------------------------------------------------------------------------------
// Timers.

void Session::note_activity() {
    last_activity_ = uv_now(runtime_.loop());
}

SessionTimes Session::times() const {
    return {server_.is_connected, started_at_, last_activity_, half_closed_at_};
}

void Session::arm_timer() {
    if (finished_ || !timer_) return;
    auto due = next_deadline(settings(), times());
    if (!due) {
        (void)uv_timer_stop(timer_.get());
        timer_due_ = 0;
        return;
    }
    // Activity only moves the idle deadline later; the timer then fires early and re-arms.
    if (timer_due_ != 0 && timer_due_ <= *due) return;
    std::uint64_t now = uv_now(runtime_.loop());
    timer_due_ = *due;
    (void)uv_timer_start(timer_.get(), on_timer, *due > now ? *due - now : 0, 0);
}

void Session::on_timer(uv_timer_t* handle) {
    auto* self = static_cast<Session*>(handle->data);
    if (self) self->on_timer();
}

void Session::on_timer() {
    timer_due_ = 0;
    switch (
        expired_deadline(settings(), times(), uv_now(runtime_.loop())).value_or(Deadline::none)) {
        case Deadline::connect:
            server_.history.connect_timed_out = true;
            end_with_reset({Reason::syn_timeout, Initiator::faultline, {}, {}},
                           EndpointState::rst_sent, EndpointState::connect_timeout);
            return;
        case Deadline::half_closed:
            // One direction ended and the other never did: the rest of that stream is cut off,
            // and both endpoints should hear so (RST), not a FIN that reads like a normal end.
            end_with_reset({Reason::fin_timeout, Initiator::faultline, {}, {}},
                           EndpointState::timed_out, EndpointState::timed_out);
            return;
        case Deadline::idle:
            end_with_close({Reason::conn_timeout, Initiator::faultline, {}, {}},
                           EndpointState::timed_out);
            return;
        case Deadline::none:
            arm_timer();
            return;
    }
}

// ---------------------------------------------------------------------------------------------
// Endings.

void Session::clear(Reason reason) {
    if (finished_) return;
    EndpointState server_state =
        server_.is_connected ? EndpointState::rst_sent : EndpointState::not_connected;
    end_with_reset({reason, Initiator::faultline, {}, {}}, EndpointState::rst_sent, server_state);
}

void Session::set_cause(Cause cause) {
    if (!cause_) cause_ = std::move(cause);
}

void Session::end_legs(Cause cause, EndpointState client_state, bool reset_client,
                       EndpointState server_state, bool reset_server) {
    if (finished_) return;
    set_cause(std::move(cause));
    // A FIN toward an endpoint that had already sent its own ends both directions with FIN. But
    // closing a socket whose input faultline has not read (a leg paused by backpressure) makes
    // the kernel send RST instead: the record says what the endpoint gets.
    auto final_state = [](const Leg& leg, EndpointState wanted, bool with_reset) {
        bool is_graceful = wanted == EndpointState::fin_sent || wanted == EndpointState::closed;
        if (is_graceful && !with_reset && unread_bytes(leg.tcp.get()) > 0) {
            return EndpointState::rst_sent;
        }
        return wanted == EndpointState::fin_sent && leg.history.sent_fin ? EndpointState::closed
                                                                         : wanted;
    };
    client_.history.state = final_state(client_, client_state, reset_client);
    server_.history.state = final_state(server_, server_state, reset_server);
    close_leg(client_, reset_client);
    close_leg(server_, reset_server);
    finish();
}

void Session::end_with_reset(Cause cause, EndpointState client_state, EndpointState server_state) {
    end_legs(std::move(cause), client_state, true, server_state, true);
}

void Session::end_with_close(Cause cause, EndpointState state) {
    end_legs(std::move(cause), state, false, state, false);
}

void Session::end_with_shutdown(Cause cause) {
    if (finished_ || closing_cause_) return;
    set_cause(cause);
    closing_cause_ = std::move(cause);
    closing_deadline_ms_ = uv_now(runtime_.loop()) + flush_limit_ms;
    pause_reading(client_);
    pause_reading(server_);
    for (Leg* leg : {&client_, &server_}) {
        if (leg->is_shutdown_requested) continue;
        auto* req = new uv_shutdown_t{};
        if (uv_shutdown(req, leg->tcp.stream(), on_shutdown) != 0) {
            delete req;
            leg->is_shut_down = true;  // nothing more can be sent on it: close it as it is
            continue;
        }
        leg->is_shutdown_requested = true;
    }
    maybe_end_gracefully();
    if (!finished_) check_closing_deadline();
}

// A destination that does not read would keep a rule's close waiting for ever: past the limit,
// the legs whose FIN is not out are reset.
void Session::check_closing_deadline() {
    if (finished_ || !closing_cause_) return;
    if (uv_now(runtime_.loop()) >= closing_deadline_ms_) {
        end_legs(*closing_cause_,
                 client_.is_shut_down ? EndpointState::fin_sent : EndpointState::rst_sent,
                 !client_.is_shut_down,
                 server_.is_shut_down ? EndpointState::fin_sent : EndpointState::rst_sent,
                 !server_.is_shut_down);
        return;
    }
    start_flush_timer();
}

void Session::close_leg(Leg& leg, bool with_reset) {
    // The duplicate descriptor keeps the socket open: it goes first, or the close sends nothing.
    leg.reset_watch.stop();
    leg.is_reading = false;
    if (with_reset) {
        leg.tcp.close_with_reset();
    } else {
        leg.tcp.close();
    }
}

void Session::finish() {
    if (finished_) return;
    finished_ = true;
    timer_.close();
    flush_timer_.close();
    rules_.stop_timers();
    if (resolving_) {
        resolving_->data = nullptr;  // its callback frees it
        (void)uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
        resolving_ = nullptr;
    }
    if (!upstream_local_.empty()) runtime_.unregister_upstream(upstream_local_, *this);

    TeardownRecord record;
    record.id = id_;
    record.proxy = proxy_.name();
    record.cause = cause_.value_or(Cause{Reason::unknown, Initiator::faultline, "internal", {}});
    // A timer or the operator ended a connection that a rule was acting on (an interruption, a
    // silent flow): the record names that rule.
    bool is_ended_by_waiting = record.cause.reason == Reason::conn_timeout ||
                               record.cause.reason == Reason::fin_timeout ||
                               record.cause.reason == Reason::xlate_clear;
    if (record.cause.rule.empty() && is_ended_by_waiting) record.cause.rule = rules_.last_fired();
    record.inside = settings().inside;
    record.client = client_.history;
    record.server = server_.history;
    record.duration = std::chrono::milliseconds(uv_now(runtime_.loop()) - started_at_);
    record.bytes_up = server_.delivered_bytes;
    record.bytes_down = client_.delivered_bytes;
    runtime_.record(record);
    if (server_.is_connected || server_.history.refused) {
        proxy_.note_outcome(server_.history.refused || server_.history.sent_rst);
    }
    runtime_.retire(*this);
}

}  // namespace faultline::proxy

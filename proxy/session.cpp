// The data path of one connection, its timers and its endings. See session.hpp for the picture.
#include "proxy/session.hpp"

#include "proxy/deadlines.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"

namespace faultline::proxy {

using teardown::Cause;
using teardown::EndpointState;
using teardown::Initiator;
using teardown::Reason;
using teardown::Side;

Session::Session(Runtime& runtime, Proxy& proxy, std::uint64_t id)
    : runtime_(runtime),
      proxy_(proxy),
      id_(id),
      random_(runtime.session_seed(proxy.name(), proxy.next_connection_index())),
      client_(*this, Side::client, runtime.loop(), runtime.buffers()),
      server_(*this, Side::server, runtime.loop(), runtime.buffers()),
      timer_(this),
      rules_(*this, runtime.clock(), random_) {
    server_.history().address = proxy_.config().upstream.text();
    if (uv_timer_init(runtime_.loop(), timer_.get()) == 0) timer_.mark_initialised();
    started_at_ = uv_now(runtime_.loop());
    last_activity_ = started_at_;
    proxy_.attach(*this);
}

Session::~Session() {
    stop_resolving();
    proxy_.detach(*this);
}

const rules::ProxySettings& Session::settings() const {
    return proxy_.config().settings;
}

std::uint64_t Session::age_ms() const {
    return uv_now(runtime_.loop()) - started_at_;
}

// ---------------------------------------------------------------------------------------------
// The data path.

void Session::on_leg_read(Leg& from, char* buffer, std::size_t length) {
    if (state_ != State::open) {
        runtime_.buffers().give(buffer);
        return;
    }
    if (!rules_.silent_cause()) note_activity();  // bytes a forgotten flow swallows are no activity
    faults::Stream stream = stream_from(from);
    if (rules_.is_transparent(stream)) {
        destination(stream).write(buffer, length, buffer);
    } else {
        std::string bytes(buffer, length);
        runtime_.buffers().give(buffer);
        rules_.on_data(stream, std::move(bytes));
    }
    update_backpressure(stream);
}

// Backpressure: what waits to be written toward the destination plus what the stream's rules
// hold is bounded; past the bound the source is not read.
void Session::update_backpressure(faults::Stream stream) {
    if (state_ != State::open) return;  // an ending connection has stopped reading for good
    std::size_t pending = destination(stream).queued_bytes() + rules_.held_bytes(stream);
    if (pending >= settings().buffer_limit) {
        source(stream).pause();
    } else {
        source(stream).resume();
    }
}

void Session::on_leg_written(Leg& to) {
    if (state_ != State::open) return;
    note_activity();
    update_backpressure(stream_from(other(to)));
}

void Session::on_leg_eof(Leg& from) {
    if (state_ != State::open) return;
    if (!first_fin_)
        first_fin_ = Cause{Reason::tcp_fins, teardown::initiator_of(from.side()), {}, {}};
    note_activity();
    faults::Stream stream = stream_from(from);
    if (rules_.is_transparent(stream)) {
        deliver_end(stream);
    } else if (rules_.silent_cause()) {
        end_silently_if_done();
    } else {
        rules_.on_end(stream);
        // faultline has this FIN even when a rule holds it back or drops it (half_close
        // drop_fin): the connection is half-closed from now on, and its timer runs.
        if (state_ == State::open && half_closed_at_ == 0) {
            half_closed_at_ = uv_now(runtime_.loop());
            arm_timer();
        }
    }
    // The end may need no shutdown of ours (a rule already sent the FIN it stands for, as
    // half_close early_fin does): then this EOF can be the last thing the connection waited for.
    maybe_end_gracefully();
}

// The FIN toward a stream's destination, after every byte queued before it.
void Session::deliver_end(faults::Stream stream) {
    Leg& from = source(stream);
    Leg& to = destination(stream);
    if (state_ != State::open || to.is_shutdown_requested()) return;
    to.shutdown_write();
    if (state_ != State::open) return;
    if (!from.has_eof() && !first_fin_) {
        first_fin_ = Cause{Reason::tcp_fins, Initiator::faultline, {}, rules_.last_fired()};
    }
    if (!to.has_eof()) {
        half_closed_at_ = uv_now(runtime_.loop());
        arm_timer();
        // The source sent its FIN and is read no more: an RST it sends now is seen by the watch.
        if (from.has_eof()) from.watch_for_reset();
    }
}

void Session::on_leg_shut_down(Leg&) {
    maybe_end_gracefully();
}

void Session::maybe_end_gracefully() {
    if (state_ != State::open) return;
    bool is_done =
        client_.has_eof() && server_.has_eof() && client_.is_shut_down() && server_.is_shut_down();
    if (!is_done) return;
    end(first_fin_.value_or(Cause{Reason::tcp_fins, Initiator::client, {}, {}}),
        {CloseType::graceful, EndpointState::closed}, {CloseType::graceful, EndpointState::closed});
}

void Session::on_leg_failed(Leg& leg, int status) {
    if (state_ == State::closed) return;
    if (rules_.silent_cause() && state_ == State::open &&
        (status == UV_ECONNRESET || status == UV_EPIPE)) {
        // A forgotten flow: the other endpoint hears nothing of it.
        leg.history().sent_rst = true;
        leg.end_input();
        end_silently_if_done();
        return;
    }
    EndpointState leg_state = EndpointState::error;
    Cause cause{Reason::unknown, Initiator::faultline, uv_err_name(status), {}};
    // ENOTCONN: a shutdown or write found the socket already reset.
    if (status == UV_ECONNRESET || status == UV_EPIPE || status == UV_ENOTCONN) {
        leg.history().sent_rst = true;
        leg_state = EndpointState::rst_received;
        cause = {teardown::reset_reason(leg.side(), settings().inside),
                 teardown::initiator_of(leg.side()),
                 {},
                 {}};
    } else if (status == UV_ETIMEDOUT) {
        leg_state = EndpointState::timed_out;  // the kernel gave up on this endpoint
        cause.initiator = teardown::initiator_of(leg.side());
    }
    EndpointState other_state =
        other(leg).is_connected() ? EndpointState::rst_sent : EndpointState::not_connected;
    bool is_client = leg.side() == Side::client;
    end_with_reset(cause, is_client ? leg_state : other_state, is_client ? other_state : leg_state);
}

// ---------------------------------------------------------------------------------------------
// Timers.

void Session::note_activity() {
    last_activity_ = uv_now(runtime_.loop());
}

void Session::arm_timer() {
    if (is_ending() || !timer_) return;
    SessionTimes times{server_.is_connected(), started_at_, last_activity_, half_closed_at_};
    auto due = next_deadline(settings(), times);
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
    SessionTimes times{server_.is_connected(), started_at_, last_activity_, half_closed_at_};
    switch (expired_deadline(settings(), times, uv_now(runtime_.loop())).value_or(Deadline::none)) {
        case Deadline::connect:
            server_.history().connect_timed_out = true;
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
            end({Reason::conn_timeout, Initiator::faultline, {}, {}},
                {CloseType::close_now, EndpointState::timed_out},
                {CloseType::close_now, EndpointState::timed_out});
            return;
        case Deadline::none:
            arm_timer();
            return;
    }
}

// ---------------------------------------------------------------------------------------------
// Endings.

void Session::clear(Reason reason) {
    EndpointState server_state =
        server_.is_connected() ? EndpointState::rst_sent : EndpointState::not_connected;
    end_with_reset({reason, Initiator::faultline, {}, {}}, EndpointState::rst_sent, server_state);
}

void Session::set_cause(const Cause& cause) {
    if (!cause_) cause_ = cause;
}

void Session::end(const Cause& cause, LegEnding client, LegEnding server) {
    if (state_ == State::closed) return;
    set_cause(cause);
    if (state_ != State::closing) {
        state_ = State::closing;
        timer_.close();
        rules_.stop_timers();
        stop_resolving();
        // An ending connection is no part of a loop any more (and its client leg may be gone).
        if (!upstream_local_.empty()) {
            runtime_.unregister_upstream(std::exchange(upstream_local_, {}), *this);
        }
    }
    // A leg's close may report failures, which end the session again; each leg closes once.
    if (!client_.is_closed()) client_.close(client.type, client.state);
    if (!server_.is_closed()) server_.close(server.type, server.state);
    finish_if_closed();
}

void Session::on_leg_closed(Leg&) {
    finish_if_closed();
}

void Session::finish_if_closed() {
    if (state_ != State::closing || !client_.is_closed() || !server_.is_closed()) return;
    state_ = State::closed;

    teardown::TeardownRecord record;
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
    record.client = client_.history();
    record.server = server_.history();
    record.duration = std::chrono::milliseconds(uv_now(runtime_.loop()) - started_at_);
    record.bytes_up = server_.delivered_bytes();
    record.bytes_down = client_.delivered_bytes();
    runtime_.record(record);
    if (server_.is_connected() || server_.history().refused) {
        proxy_.note_outcome(server_.history().refused || server_.history().sent_rst);
    }
    runtime_.retire(*this);
}

}  // namespace faultline::proxy

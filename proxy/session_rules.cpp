// The session as the rule engine's host: what the engine's rules ask of the connection (deliver,
// reset, close, go silent) done with its legs. Which rules act and when is the engine's business
// (rules/connection_rules.hpp); nothing here names a fault type.
#include "proxy/address.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"
#include "teardown/log.hpp"

namespace faultline::proxy {

void Session::apply_rules(const std::vector<rules::Rule>& rules) {
    if (finished_ || !server_.is_connected) return;
    auto age = faults::Micros(static_cast<std::int64_t>(uv_now(runtime_.loop()) - started_at_) * 1000);
    rules_.apply(rules, facts(), proxy_.rule_counters(), age);
    if (finished_) return;
    update_backpressure(faults::Stream::upstream);
    update_backpressure(faults::Stream::downstream);
    arm_timer();  // the proxy's timers may have changed with its rules
}

rules::ConnectionFacts Session::facts() const {
    return {has_client_sockaddr_ ? reinterpret_cast<const sockaddr*>(&client_sockaddr_) : nullptr};
}

void Session::end_silently_if_done() {
    if (finished_ || !rules_.silent_cause()) return;
    if (client_.has_eof && server_.has_eof) {
        end_with_close(*rules_.silent_cause(), EndpointState::timed_out);
    }
}

faults::Micros Session::last_activity() const {
    return faults::Micros(static_cast<std::int64_t>(last_activity_) * 1000);
}

void Session::deliver(faults::Stream stream, std::string bytes) {
    if (finished_ || rules_.silent_cause()) return;
    write(destination(stream), bytes.data(), bytes.size(), nullptr);
    update_backpressure(stream);
}

void Session::claim_ending(const Cause& cause) {
    set_cause(cause);
}

void Session::reset(const Cause& cause, faults::Target target, bool flush) {
    if (finished_) return;
    set_cause(cause);  // whatever happens while it waits, this rule ended it
    pending_reset_ = PendingReset{cause, target != faults::Target::server,
                                  target != faults::Target::client, flush,
                                  uv_now(runtime_.loop()) + flush_limit_ms};
    if (!flush) {
        finish_flushed_reset();
        return;
    }
    // What was forwarded leaves first: read nothing more, wait for the kernel's send queues.
    pause_reading(client_);
    pause_reading(server_);
    finish_flushed_reset();
}

void Session::finish_flushed_reset() {
    if (finished_ || !pending_reset_) return;
    const PendingReset& reset = *pending_reset_;
    bool is_drained = true;
    for (Leg* leg : {&client_, &server_}) {
        if (leg->queued_bytes > 0 || unsent_bytes(leg->tcp.get()) > 0) is_drained = false;
    }
    bool must_wait = reset.flush && !is_drained && uv_now(runtime_.loop()) < reset.deadline_ms;
    if (!must_wait) {
        Cause cause = reset.cause;
        bool reset_client = reset.client;
        bool reset_server = reset.server;
        pending_reset_.reset();
        end_legs(cause, reset_client ? EndpointState::rst_sent : EndpointState::fin_sent,
                 reset_client, reset_server ? EndpointState::rst_sent : EndpointState::fin_sent,
                 reset_server);
        return;
    }
    start_flush_timer();
}

// Checks a waiting reset or close again in a millisecond.
void Session::start_flush_timer() {
    if (!flush_timer_) {
        flush_timer_ = UvHandle<uv_timer_t>(this);
        if (uv_timer_init(runtime_.loop(), flush_timer_.get()) != 0) {
            // No timer: stop waiting now.
            flush_timer_ = {};
            if (pending_reset_) pending_reset_->flush = false;
            closing_deadline_ms_ = 0;
            finish_flushed_reset();
            check_closing_deadline();
            return;
        }
        flush_timer_.mark_initialised();
    }
    (void)uv_timer_start(flush_timer_.get(), on_flush_check, 1, 0);
}

void Session::on_flush_check(uv_timer_t* handle) {
    auto* self = static_cast<Session*>(handle->data);
    if (!self) return;
    self->finish_flushed_reset();
    self->check_closing_deadline();
}

void Session::close(const Cause& cause) {
    if (finished_) return;
    end_with_shutdown(cause);
}

std::uint64_t Session::age_ms() const {
    return uv_now(runtime_.loop()) - started_at_;
}

void Session::rule_started(const rules::Rule& rule) {
    runtime_.count_rule_activation(proxy_.name(), rule.name);
    teardown::log_event(teardown::LogLevel::debug, {{"event", "rule_fired"},
                                                   {"id", id_},
                                                   {"proxy", proxy_.name()},
                                                   {"rule", rule.name},
                                                   {"type", rule.type()},
                                                   {"stream", rules::stream_name(rule.stream)}});
}

void Session::stream_broken(const Cause& cause) {
    end_with_reset(cause, EndpointState::rst_sent, EndpointState::rst_sent);
}

void Session::held_bytes_changed(faults::Stream stream) {
    update_backpressure(stream);
}

}  // namespace faultline::proxy

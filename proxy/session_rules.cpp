// The session as the rule engine's host: what the rules ask of the connection (deliver, reset,
// close, go silent) done with its legs. Which rules act and when is the engine's business
// (rules/connection_rules.hpp); nothing here names a fault type.
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"
#include "teardown/log.hpp"

namespace faultline::proxy {

using teardown::Cause;
using teardown::EndpointState;

void Session::apply_rules(const std::vector<rules::Rule>& rules) {
    if (state_ != State::open) return;
    auto age = faults::Micros(static_cast<std::int64_t>(age_ms()) * 1000);
    rules_.apply(rules, facts(), proxy_.rule_counters(), age);
    update_backpressure(faults::Stream::upstream);
    update_backpressure(faults::Stream::downstream);
    arm_timer();  // the proxy's timers may have changed with its rules
}

rules::ConnectionFacts Session::facts() const {
    return {has_client_sockaddr_ ? reinterpret_cast<const sockaddr*>(&client_sockaddr_) : nullptr};
}

// A silent connection ends when both endpoints have given up on it.
void Session::end_silently_if_done() {
    if (state_ != State::open || !rules_.silent_cause()) return;
    if (client_.has_eof() && server_.has_eof()) {
        end(*rules_.silent_cause(), {CloseType::close_now, EndpointState::timed_out},
            {CloseType::close_now, EndpointState::timed_out});
    }
}

faults::Micros Session::last_activity() const {
    return faults::Micros(static_cast<std::int64_t>(last_activity_) * 1000);
}

void Session::deliver(faults::Stream stream, std::string bytes) {
    if (state_ != State::open || rules_.silent_cause()) return;
    destination(stream).write(bytes.data(), bytes.size(), nullptr);
    update_backpressure(stream);
}

void Session::claim_ending(const Cause& cause) {
    set_cause(cause);
}

// RST to the target endpoints, FIN to the others. With flush, what was forwarded reaches every
// endpoint first; without, the RST overtakes it and the others' queued bytes are dropped.
void Session::reset(const Cause& cause, faults::Target target, bool flush) {
    auto ending_for = [&](faults::Target endpoint) -> LegEnding {
        if (target != faults::Target::both && target != endpoint) {
            return {flush ? CloseType::graceful : CloseType::close_now, EndpointState::fin_sent};
        }
        return {flush ? CloseType::flush_then_reset : CloseType::reset, EndpointState::rst_sent};
    };
    end(cause, ending_for(faults::Target::client), ending_for(faults::Target::server));
}

// FIN to both endpoints after what was forwarded, then close.
void Session::close(const Cause& cause) {
    end(cause, {CloseType::graceful, EndpointState::fin_sent},
        {CloseType::graceful, EndpointState::fin_sent});
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

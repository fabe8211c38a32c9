// How a session runs its proxy's rules: which rules apply to it (match conditions, toxicity drawn
// once), the chains of running faults per stream, and what a fault may ask of the connection.
// Nothing here names a fault type.

#include <algorithm>
#include <cstring>

#include "proxy/address.hpp"
#include "teardown/log.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"

namespace faultline::proxy {
namespace {

std::size_t stream_index(faults::Stream stream) {
    return stream == faults::Stream::upstream ? 0 : 1;
}

faults::Stream opposite(faults::Stream stream) {
    return stream == faults::Stream::upstream ? faults::Stream::downstream
                                              : faults::Stream::upstream;
}

}  // namespace

void Session::apply_rules(const std::vector<rules::Rule>& rules) {
    if (finished_ || !server_.is_connected) return;
    auto age = uv_now(runtime_.loop()) - started_at_;
    // A rule that no longer acts on this connection is not named by a later timer's record.
    auto forget_fired = [this](const std::string& name) {
        for (auto& collapsed_by : reverse_reset_rule_) {
            if (collapsed_by == name) collapsed_by.clear();
        }
        if (last_fired_rule_ == name && !upstream_chain_.find(name) &&
            !downstream_chain_.find(name)) {
            last_fired_rule_.clear();
        }
    };
    for (const auto& rule : rules) {
        StreamChain& chain = chain_for(rule.stream);
        RuleRunner* runner = chain.find(rule.name);
        bool is_wanted = rule.enabled && rule.fault != nullptr;
        if (runner) {
            const auto& running = runner->rule();
            bool is_same_rule = running.fault->type() == rule.fault->type() &&
                                running.toxicity == rule.toxicity && running.match == rule.match;
            if (is_wanted && is_same_rule) {
                runner->update(rule);
                if (finished_) return;
                continue;
            }
            chain.remove(rule.name);
            if (finished_) return;
            forget_fired(rule.name);
        }
        if (!is_wanted || !rule_applies(rule)) continue;
        ChainHost& host = *this;
        auto added = std::make_unique<RuleRunner>(host, chain, rule);
        RuleRunner* raw = added.get();
        chain.add(std::move(added));
        raw->arm(age);
        if (finished_) return;
    }
    // Rules that are gone release what they hold.
    for (StreamChain* chain : {&upstream_chain_, &downstream_chain_}) {
        for (const auto& name : chain->names()) {
            bool is_kept = std::any_of(rules.begin(), rules.end(), [&](const rules::Rule& rule) {
                return rule.name == name && rule.stream == chain->stream();
            });
            if (is_kept) continue;
            chain->remove(name);
            if (finished_) return;
            forget_fired(name);
        }
    }
    // Decisions about rules that are gone are forgotten: if they come back, they are drawn again.
    std::erase_if(decisions_, [&](const Decision& decision) {
        return std::none_of(rules.begin(), rules.end(), [&](const rules::Rule& rule) {
            return rule.name == decision.name && rule.enabled;
        });
    });
    update_backpressure(faults::Stream::upstream);
    update_backpressure(faults::Stream::downstream);
    arm_timer();  // the proxy's timers may have changed with its rules
}

// Match conditions, then toxicity, decided once per connection and rule: an unrelated change to
// the rule set draws nothing again.
bool Session::rule_applies(const rules::Rule& rule) {
    if (rule.fault->listener_action() != faults::ListenerAction::none) return false;
    auto known = std::find_if(decisions_.begin(), decisions_.end(), [&](const Decision& d) {
        return d.name == rule.name && d.stream == rule.stream;
    });
    if (known != decisions_.end()) {
        if (known->toxicity == rule.toxicity && known->match == rule.match) return known->applies;
        decisions_.erase(known);  // a changed toxicity or match is a new decision
    }
    bool applies = true;
    const auto& match = rule.match;
    if (!match.clients.empty()) {
        const auto& address = reinterpret_cast<const sockaddr&>(client_sockaddr_);
        applies = has_client_sockaddr_ &&
                  std::any_of(match.clients.begin(), match.clients.end(),
                              [&](const rules::Cidr& cidr) { return cidr.contains(address); });
    }
    if (applies && (match.first || match.every)) {
        std::uint64_t index = proxy_.count_rule_connection(rule.name);
        if (match.first && index > *match.first) applies = false;
        if (match.every && index % *match.every != 0) applies = false;
    }
    if (applies) applies = chain_random() < rule.toxicity;
    decisions_.push_back({rule.name, rule.stream, rule.toxicity, rule.match, applies});
    return applies;
}

bool Session::is_transparent(faults::Stream stream) {
    return chain_for(stream).is_empty() && !silent_cause_ &&
           reverse_reset_rule_[stream_index(stream)].empty();
}

void Session::on_rule_data(Leg& from, faults::Stream stream, std::string bytes) {
    if (finished_ || silent_cause_) return;  // a silent connection swallows everything
    const std::string& collapsed_by = reverse_reset_rule_[stream_index(stream)];
    if (!collapsed_by.empty()) {
        // The other endpoint closed its side for good: more bytes toward it draw an RST.
        (void)from;
        end_with_reset({Reason::deny, Initiator::faultline, {}, collapsed_by},
                       EndpointState::rst_sent, EndpointState::rst_sent);
        return;
    }
    chain_for(stream).on_data(std::move(bytes));
}

void Session::on_rule_end(Leg& from, faults::Stream stream) {
    (void)from;
    if (silent_cause_) {
        end_silently_if_done();
        return;
    }
    chain_for(stream).on_end();
}

void Session::end_silently_if_done() {
    if (finished_ || !silent_cause_) return;
    if (client_.has_eof && server_.has_eof) {
        end_with_close(*silent_cause_, EndpointState::timed_out);
    }
}

Cause Session::rule_cause(const RuleRunner& rule) const {
    bool is_idle = rule.rule().fault->end_reason() == faults::EndReason::idle_timeout;
    return {
        is_idle ? Reason::conn_timeout : Reason::deny, Initiator::faultline, {}, rule.rule().name};
}

uv_loop_t* Session::chain_loop() const {
    return runtime_.loop();
}

double Session::chain_random() {
    // The top 53 bits as a double in [0, 1).
    return static_cast<double>(splitmix64(random_state_) >> 11) * 0x1.0p-53;
}

faults::Micros Session::chain_last_activity() const {
    return faults::Micros(static_cast<std::int64_t>(last_activity_) * 1000);
}

void Session::deliver(faults::Stream stream, std::string bytes) {
    if (finished_ || silent_cause_) return;
    write(destination(stream), bytes.data(), bytes.size(), nullptr);
    update_backpressure(stream);
}

void Session::rule_reset(const RuleRunner& rule, faults::Target target, bool flush) {
    if (finished_) return;
    set_cause(rule_cause(rule));  // whatever happens while it waits, this rule ended it
    pending_reset_ = PendingReset{rule_cause(rule), target != faults::Target::server,
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

void Session::rule_close(const RuleRunner& rule) {
    if (finished_) return;
    set_cause(rule_cause(rule));
    chain_for(rule.rule().stream).release_after(rule);
    end_with_shutdown(rule_cause(rule));
}

void Session::rule_go_silent(const RuleRunner& rule) {
    if (!silent_cause_) silent_cause_ = rule_cause(rule);
}

void Session::rule_reset_on_reverse_data(const RuleRunner& rule) {
    reverse_reset_rule_[stream_index(opposite(rule.rule().stream))] = rule.rule().name;
}

nlohmann::ordered_json Session::describe() const {
    auto rules = nlohmann::ordered_json::array();
    for (const StreamChain* chain : {&upstream_chain_, &downstream_chain_}) {
        for (const auto& name : chain->names())
            rules.push_back(name);
    }
    return {{"id", id_},
            {"proxy", proxy_.name()},
            {"client", client_.history.address},
            {"upstream", server_.history.address},
            {"age_ms", uv_now(runtime_.loop()) - started_at_},
            {"bytes_up", server_.delivered_bytes},
            {"bytes_down", client_.delivered_bytes},
            {"rules", rules}};
}

void Session::rule_started(const RuleRunner& rule) {
    runtime_.count_rule_activation(proxy_.name(), rule.rule().name);
    last_fired_rule_ = rule.rule().name;
    teardown::log_event(teardown::LogLevel::debug, {{"event", "rule_fired"},
                                     {"id", id_},
                                     {"proxy", proxy_.name()},
                                     {"rule", rule.rule().name},
                                     {"type", rule.rule().type()},
                                     {"stream", rules::stream_name(rule.rule().stream)}});
}

void Session::rule_left_broken_stream(const std::string& rule) {
    end_with_reset({Reason::xlate_clear, Initiator::faultline, {}, rule}, EndpointState::rst_sent,
                   EndpointState::rst_sent);
}

void Session::chain_changed(faults::Stream stream) {
    update_backpressure(stream);
}

}  // namespace faultline::proxy

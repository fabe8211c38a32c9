// Applying a proxy's rules to one connection, and what the faults ask of it.
#include "rules/connection_rules.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace faultline::rules {
namespace {

std::size_t index_of(faults::Stream stream) {
    return stream == faults::Stream::upstream ? 0 : 1;
}

faults::Stream opposite(faults::Stream stream) {
    return stream == faults::Stream::upstream ? faults::Stream::downstream
                                              : faults::Stream::upstream;
}

// The running rule and its new version differ only in attributes: it is updated in place.
bool is_same_rule(const Rule& running, const Rule& wanted) {
    return running.fault && wanted.fault && running.fault->type() == wanted.fault->type() &&
           running.toxicity == wanted.toxicity && running.match == wanted.match;
}

}  // namespace

ConnectionRules::ConnectionRules(RuleHost& host, Clock& clock, Random& random)
    : host_(host),
      clock_(clock),
      random_(random),
      upstream_(*this, faults::Stream::upstream),
      downstream_(*this, faults::Stream::downstream) {}

StreamChain& ConnectionRules::chain(faults::Stream stream) {
    return stream == faults::Stream::upstream ? upstream_ : downstream_;
}

const StreamChain& ConnectionRules::chain(faults::Stream stream) const {
    return stream == faults::Stream::upstream ? upstream_ : downstream_;
}

void ConnectionRules::apply(const std::vector<Rule>& rules, const ConnectionFacts& facts,
                            RuleCounters& counters, Micros age) {
    is_applying_ = true;
    apply_changes(rules, facts, counters, age);
    is_applying_ = false;
    upstream_.compact();
    downstream_.compact();
    // What the rules hold changed as they came and went: one look at each stream, not one per
    // rule (each look adds up every rule of the stream).
    for (auto stream : {faults::Stream::upstream, faults::Stream::downstream}) {
        if (!host_.is_over()) host_.held_bytes_changed(stream);
    }
}

void ConnectionRules::apply_changes(const std::vector<Rule>& rules, const ConnectionFacts& facts,
                                    RuleCounters& counters, Micros age) {
    for (const auto& rule : rules) {
        StreamChain& stream_chain = chain(rule.stream);
        bool is_wanted = rule.enabled && rule.fault != nullptr;
        if (ActiveRule* active = stream_chain.find(rule.name)) {
            if (is_wanted && is_same_rule(active->rule(), rule)) {
                active->update(rule);
                if (host_.is_over()) return;
                continue;
            }
            remove(stream_chain, rule.name);
            if (host_.is_over()) return;
        }
        if (!is_wanted || !decisions_.applies(rule, facts, counters, random_)) continue;
        stream_chain.add(rule, age);
        if (host_.is_over()) return;
    }
    // Rules that are gone release what they hold.
    std::array<std::unordered_set<std::string_view>, 2> kept;
    for (const auto& rule : rules)
        kept[index_of(rule.stream)].insert(rule.name);
    for (StreamChain* stream_chain : {&upstream_, &downstream_}) {
        const auto& kept_here = kept[index_of(stream_chain->stream())];
        for (const auto& name : stream_chain->names()) {
            if (kept_here.contains(name)) continue;
            remove(*stream_chain, name);
            if (host_.is_over()) return;
        }
    }
    decisions_.keep_only(rules);
}

void ConnectionRules::remove(StreamChain& stream_chain, const std::string& name) {
    bool has_hole = stream_chain.remove(name);
    if (has_hole && !host_.is_over()) {
        host_.stream_broken(
            {teardown::Reason::xlate_clear, teardown::Initiator::faultline, {}, name});
    }
    if (!host_.is_over()) forget(name);
}

void ConnectionRules::forget(const std::string& name) {
    for (auto& collapsed_by : collapsed_by_) {
        if (collapsed_by == name) collapsed_by.clear();
    }
    if (last_fired_ == name && !upstream_.find(name) && !downstream_.find(name)) {
        last_fired_.clear();
    }
}

bool ConnectionRules::is_transparent(faults::Stream stream) const {
    return chain(stream).is_empty() && !silent_cause_ && collapsed_by_[index_of(stream)].empty();
}

void ConnectionRules::on_data(faults::Stream stream, std::string bytes) {
    if (host_.is_over() || silent_cause_) return;  // a silent connection swallows everything
    const std::string& collapsed_by = collapsed_by_[index_of(stream)];
    if (!collapsed_by.empty()) {
        // The other endpoint closed its side for good: more bytes toward it draw an RST.
        host_.reset({teardown::Reason::deny, teardown::Initiator::faultline, {}, collapsed_by},
                    faults::Target::both, false);
        return;
    }
    chain(stream).on_data(std::move(bytes));
}

void ConnectionRules::on_end(faults::Stream stream) {
    if (host_.is_over() || silent_cause_) return;
    chain(stream).on_end();
}

std::size_t ConnectionRules::held_bytes(faults::Stream stream) const {
    return chain(stream).held_bytes();
}

std::vector<std::string> ConnectionRules::active() const {
    auto names = upstream_.names();
    auto downstream = downstream_.names();
    names.insert(names.end(), downstream.begin(), downstream.end());
    return names;
}

void ConnectionRules::stop_timers() {
    upstream_.cancel_timers();
    downstream_.cancel_timers();
}

teardown::Cause ConnectionRules::cause_of(const Rule& rule) {
    bool is_idle = rule.fault && rule.fault->end_reason() == faults::EndReason::idle_timeout;
    return {is_idle ? teardown::Reason::conn_timeout : teardown::Reason::deny,
            teardown::Initiator::faultline,
            {},
            rule.name};
}

void ConnectionRules::rule_started(const ActiveRule& rule) {
    last_fired_ = rule.rule().name;
    host_.rule_started(rule.rule());
}

void ConnectionRules::rule_reset(const ActiveRule& rule, faults::Target target, bool flush) {
    if (host_.is_over()) return;
    host_.reset(cause_of(rule.rule()), target, flush);
}

void ConnectionRules::rule_close(const ActiveRule& rule) {
    if (host_.is_over()) return;
    teardown::Cause cause = cause_of(rule.rule());
    host_.claim_ending(cause);
    // What this rule let through reaches the destination before the FIN; releasing it may end
    // the connection already.
    chain(rule.rule().stream).release_after(rule);
    if (!host_.is_over()) host_.close(cause);
}

void ConnectionRules::rule_go_silent(const ActiveRule& rule) {
    if (!silent_cause_) silent_cause_ = cause_of(rule.rule());
}

void ConnectionRules::rule_reset_on_reverse_data(const ActiveRule& rule) {
    collapsed_by_[index_of(opposite(rule.rule().stream))] = rule.rule().name;
}

}  // namespace faultline::rules

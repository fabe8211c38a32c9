// Match conditions and toxicity, decided once per connection and rule.
#include "rules/decision.hpp"

#include <algorithm>

namespace faultline::rules {
namespace {

bool is_present_and_enabled(const std::vector<Rule>& rules, const std::string& name) {
    return std::any_of(rules.begin(), rules.end(),
                       [&](const Rule& rule) { return rule.name == name && rule.enabled; });
}

}  // namespace

void RuleCounters::keep_only(const std::vector<Rule>& rules) {
    std::erase_if(counts_,
                  [&](const auto& entry) { return !is_present_and_enabled(rules, entry.first); });
}

bool Decisions::applies(const Rule& rule, const ConnectionFacts& facts, RuleCounters& counters,
                        Random& random) {
    if (!rule.fault || rule.fault->listener_action() != faults::ListenerAction::none) return false;
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
        applies = facts.client != nullptr &&
                  std::any_of(match.clients.begin(), match.clients.end(),
                              [&](const Cidr& cidr) { return cidr.contains(*facts.client); });
    }
    if (applies && (match.first || match.every)) {
        std::uint64_t index = counters.next(rule.name);
        if (match.first && index > *match.first) applies = false;
        if (match.every && index % *match.every != 0) applies = false;
    }
    if (applies) applies = random.uniform() < rule.toxicity;
    decisions_.push_back({rule.name, rule.stream, rule.toxicity, rule.match, applies});
    return applies;
}

void Decisions::keep_only(const std::vector<Rule>& rules) {
    std::erase_if(decisions_, [&](const Decision& decision) {
        return !is_present_and_enabled(rules, decision.name);
    });
}

}  // namespace faultline::rules

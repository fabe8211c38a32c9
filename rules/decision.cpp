// Match conditions and toxicity, decided once per connection and rule.
#include "rules/decision.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace faultline::rules {
namespace {

// The names of the rules that are present and enabled.
std::unordered_set<std::string_view> enabled_names(const std::vector<Rule>& rules) {
    std::unordered_set<std::string_view> names;
    names.reserve(rules.size());
    for (const auto& rule : rules) {
        if (rule.enabled) names.insert(rule.name);
    }
    return names;
}

std::size_t index_of(faults::Stream stream) {
    return stream == faults::Stream::upstream ? 0 : 1;
}

}  // namespace

void RuleCounters::keep_only(const std::vector<Rule>& rules) {
    if (counts_.empty()) return;
    const auto kept = enabled_names(rules);
    std::erase_if(counts_, [&](const auto& entry) { return !kept.contains(entry.first); });
}

bool Decisions::applies(const Rule& rule, const ConnectionFacts& facts, RuleCounters& counters,
                        Random& random) {
    if (!rule.fault || rule.fault->listener_action() != faults::ListenerAction::none) return false;
    if (!decisions_) decisions_ = std::make_unique<std::array<ByName, 2>>();
    auto& decisions = (*decisions_)[index_of(rule.stream)];
    auto known = decisions.find(rule.name);
    if (known != decisions.end()) {
        const Decision& decision = known->second;
        if (decision.toxicity == rule.toxicity && decision.match == rule.match) {
            return decision.applies;
        }
        decisions.erase(known);  // a changed toxicity or match is a new decision
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
    decisions.emplace(rule.name, Decision{rule.toxicity, rule.match, applies});
    return applies;
}

void Decisions::keep_only(const std::vector<Rule>& rules) {
    if (!decisions_) return;
    const auto kept = enabled_names(rules);
    for (auto& decisions : *decisions_) {
        std::erase_if(decisions, [&](const auto& entry) { return !kept.contains(entry.first); });
    }
}

}  // namespace faultline::rules

// A rule's match conditions: on which connections and from when it acts. They are applied by the
// rule engine, never by a fault. Each condition is one field of Match and one line in
// match_conditions, through which the TOML reader, the JSON reader and the writer all go; what a
// condition means is decided in decision.cpp (which connections) or chain.cpp (from when).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/cidr.hpp"
#include "rules/units.hpp"

namespace faultline::rules {

struct Match {
    std::vector<Cidr> clients;                 // empty = every client
    std::optional<std::uint64_t> after_bytes;  // starts once this many bytes passed in its stream
    std::optional<Duration> after;             // ... once the connection is this old
    std::optional<std::uint64_t> first;  // only the first N connections after the rule was added
    std::optional<std::uint64_t> every;  // every Nth connection after the rule was added

    bool operator==(const Match&) const = default;
};

// Where a condition's value lives in Match; the kind of value follows from it.
using NetworksField = std::vector<Cidr> Match::*;          // a list of CIDR networks
using CountField = std::optional<std::uint64_t> Match::*;  // an integer of at least min_count
using DurationField = std::optional<Duration> Match::*;    // a duration ("500ms")

struct MatchCondition {
    std::string_view key;
    std::variant<NetworksField, CountField, DurationField> field;
    std::uint64_t min_count = 0;
};

// Every condition, in the order messages and written files list them.
inline constexpr auto match_conditions = std::to_array<MatchCondition>({
    {"clients", &Match::clients},
    {"after_bytes", &Match::after_bytes, 0},
    {"after", &Match::after},
    {"first", &Match::first, 1},
    {"every", &Match::every, 1},
});

// The conditions' keys, for the check of unknown keys.
inline constexpr auto match_keys = [] {
    std::array<std::string_view, match_conditions.size()> keys{};
    for (std::size_t i = 0; i < keys.size(); ++i)
        keys[i] = match_conditions[i].key;
    return keys;
}();

// For std::visit over a condition's field: one callable per kind of value.
template <typename... Callables>
struct ForEachKind : Callables... {
    using Callables::operator()...;
};
template <typename... Callables>
ForEachKind(Callables...) -> ForEachKind<Callables...>;

}  // namespace faultline::rules

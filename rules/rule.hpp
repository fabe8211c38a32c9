// A rule: one fault, aimed at one stream of one proxy's connections, with the probability and the
// conditions under which it acts. Rules are immutable values; a changed rule is a new value.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faults/fault.hpp"
#include "faults/spec.hpp"
#include "rules/cidr.hpp"
#include "rules/units.hpp"

namespace faultline::rules {

// Conditions applied by the rule machinery, never by a fault.
struct Match {
    std::vector<Cidr> clients;               // empty = every client
    std::optional<std::uint64_t> after_bytes;  // the fault starts once this many bytes passed in its stream
    std::optional<Duration> after;           // ... once the connection is this old
    std::optional<std::uint64_t> first;      // only the first N connections after the rule was added
    std::optional<std::uint64_t> every;      // every Nth connection after the rule was added

    bool operator==(const Match&) const = default;
};

struct Rule {
    std::string name;
    faults::Stream stream = faults::Stream::downstream;
    double toxicity = 1.0;  // probability that a connection is affected, drawn once per connection
    bool enabled = true;
    std::shared_ptr<const faults::FaultSpec> fault;
    Match match;

    [[nodiscard]] std::string_view type() const { return fault ? fault->type() : "none"; }
};

[[nodiscard]] std::string_view stream_name(faults::Stream stream);

}  // namespace faultline::rules

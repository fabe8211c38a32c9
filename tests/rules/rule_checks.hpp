// What the tests of rules read from files and from the API share: the fault types as messages
// list them, and checks of the keys a rule was read with.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "faults/registry.hpp"
#include "rules/rule.hpp"

namespace faultline::rules {

// Every known fault type, as a message lists them: "latency, bandwidth, ...".
inline std::string known_types() {
    std::string out;
    for (const auto type : faults::known_types()) {
        out += (out.empty() ? "" : ", ") + std::string(type);
    }
    return out;
}

// Checks the keys every rule has: its name, stream and toxicity, and whether it is enabled.
inline void check_keys(const Rule& rule, const std::string& name, faults::Stream stream,
                       double toxicity, bool enabled) {
    CHECK(rule.name == name);
    CHECK(rule.stream == stream);
    CHECK(rule.toxicity == toxicity);
    CHECK(rule.enabled == enabled);
}

// Checks the conditions of a match that count: bytes, age, first and every.
inline void check_counts(const Match& match, std::uint64_t after_bytes, Duration after,
                         std::uint64_t first, std::uint64_t every) {
    CHECK(match.after_bytes == after_bytes);
    CHECK(match.after == after);
    CHECK(match.first == first);
    CHECK(match.every == every);
}

}  // namespace faultline::rules

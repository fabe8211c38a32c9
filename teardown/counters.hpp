// What the teardown records and rule activations add up to, per proxy: connections, bytes,
// teardowns by reason, rules that started acting. `/metrics` and the report of `faultline run`
// read them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "teardown/record.hpp"

namespace faultline::teardown {

struct Counters {
    std::map<std::string, std::uint64_t> connections;                        // ended, by proxy
    std::map<std::pair<std::string, std::string>, std::uint64_t> teardowns;  // proxy, reason
    std::map<std::string, std::uint64_t> bytes_up;                           // by proxy
    std::map<std::string, std::uint64_t> bytes_down;
    std::map<std::pair<std::string, std::string>, std::uint64_t> rule_activations;  // proxy, rule

    // One finished connection.
    void count(const TeardownRecord& record);
    void count_rule_activation(const std::string& proxy, const std::string& rule) {
        ++rule_activations[{proxy, rule}];
    }
};

}  // namespace faultline::teardown

// What `faultline run` reports once the command has finished: connections by proxy and reason,
// rules by how often they fired, and whether each [[expect]] entry was met; as a table for the
// terminal, as JSON and as JUnit XML for CI systems. Pure functions of the counts, so that they
// are tested without a loop.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "rules/config.hpp"
#include "teardown/counters.hpp"

namespace faultline::cli {

// The counts a run collected: the runtime's counters as they stood at the end.
using RunCounts = teardown::Counters;

struct ExpectationResult {
    rules::Expectation expectation;
    std::uint64_t actual = 0;  // the count, or how often the rule fired
    bool met = false;
    // "saw 0", "it fired 3 times": what happened, in words.
    std::string outcome;
};

[[nodiscard]] std::vector<ExpectationResult> check_expectations(
    const std::vector<rules::Expectation>& expectations, const RunCounts& counts);

struct RunSummary {
    std::vector<std::string> command;
    // The command's exit code, or 128 + the signal that ended it; 127 when it could not start.
    int command_status = 0;
    std::string command_outcome;  // "exited with status 0", "was killed by signal 9 (SIGKILL)"
    std::uint64_t duration_ms = 0;
    struct Proxy {
        std::string name;
        std::string address;
    };
    std::vector<Proxy> proxies;
    struct Rule {
        std::string proxy;
        std::string name;
        std::string type;
    };
    std::vector<Rule> rules;
    RunCounts counts;
    std::vector<ExpectationResult> expectations;

    [[nodiscard]] std::size_t unmet_expectations() const;
    // The command's status when it failed; else 1 when an expectation was not met; else 0.
    [[nodiscard]] int exit_status() const;
};

[[nodiscard]] std::string summary_text(const RunSummary& summary);
[[nodiscard]] nlohmann::ordered_json report_json(const RunSummary& summary);
[[nodiscard]] std::string report_junit(const RunSummary& summary);

}  // namespace faultline::cli

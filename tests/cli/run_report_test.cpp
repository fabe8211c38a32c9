// Tests for cli/run_report.hpp: expectations checked against counts, the exit status, and the
// JSON and JUnit reports.
#include "cli/run_report.hpp"

#include <doctest/doctest.h>

namespace faultline::cli {
namespace {

using Kind = rules::Expectation::Kind;

rules::Expectation reason(std::string name, std::optional<std::string> proxy,
                          std::optional<std::uint64_t> min, std::optional<std::uint64_t> max) {
    rules::Expectation e;
    e.kind = Kind::reason;
    e.reason = std::move(name);
    e.proxy = std::move(proxy);
    e.min = min;
    e.max = max;
    e.where = "chaos.toml:1:1";
    return e;
}

rules::Expectation rule(std::vector<std::string> names, bool fired) {
    rules::Expectation e;
    e.kind = Kind::rule;
    e.rule = names.front();
    for (auto& name : names)
        e.rule_keys.emplace_back("pg", std::move(name));
    e.fired = fired;
    e.where = "chaos.toml:2:1";
    return e;
}

const RunCounts counts{
    .connections = {{"pg", 3}, {"web", 1}},
    .teardowns = {{{"pg", "Reset-I"}, 2}, {{"pg", "TCP FINs"}, 1}, {{"web", "Reset-I"}, 1}},
    .bytes_up = {},
    .bytes_down = {},
    .rule_activations = {{{"pg", "slow_upstream"}, 2}, {{"pg", "slow_downstream"}, 1}},
};

}  // namespace

TEST_CASE("counts reasons over every proxy or one, within min and max") {
    auto results =
        check_expectations({reason("Reset-I", std::nullopt, 3, 3), reason("Reset-I", "pg", 1, 1),
                            reason("Deny", {}, 1, {}), reason("TCP FINs", "web", {}, 0)},
                           counts);
    REQUIRE(results.size() == 4);
    CHECK(results[0].met);
    CHECK(results[0].actual == 3);
    CHECK_FALSE(results[1].met);
    CHECK(results[1].outcome == "saw 2");
    CHECK_FALSE(results[2].met);
    CHECK(results[2].outcome == "saw 0");
    CHECK(results[3].met);
}

TEST_CASE("a rule fired when any of its halves did; fired = false holds only at zero") {
    auto results =
        check_expectations({rule({"slow_upstream", "slow_downstream"}, true), rule({"cut"}, true),
                            rule({"cut"}, false), rule({"slow_upstream"}, false)},
                           counts);
    CHECK(results[0].met);
    CHECK(results[0].outcome == "it fired 3 times");
    CHECK_FALSE(results[1].met);
    CHECK(results[1].outcome == "it never fired");
    CHECK(results[2].met);
    CHECK_FALSE(results[3].met);
}

TEST_CASE("the exit status is the command's, else 1 for an unmet expectation") {
    RunSummary summary;
    summary.command = {"client", "--flag"};
    summary.command_outcome = "exited with status 0";
    CHECK(summary.exit_status() == 0);
    summary.expectations = check_expectations({rule({"cut"}, true)}, counts);
    CHECK(summary.exit_status() == 1);
    summary.command_status = 3;
    CHECK(summary.exit_status() == 3);
}

TEST_CASE("JUnit names and messages are escaped; the JSON report holds the counts") {
    RunSummary summary;
    summary.command = {"sh", "-c", "a < b && echo \"x\""};
    summary.command_status = 2;
    summary.command_outcome = "exited with status 2";
    summary.duration_ms = 1500;
    summary.proxies = {{"pg", "127.0.0.1:1"}};
    summary.counts = counts;
    summary.expectations = check_expectations({reason("Reset-I", "pg", 5, {})}, counts);
    const std::string junit = report_junit(summary);
    CHECK(junit.find("name=\"sh -c a &lt; b &amp;&amp; echo &quot;x&quot;\" time=\"1.500\"") !=
          std::string::npos);
    CHECK(junit.find("tests=\"2\" failures=\"2\"") != std::string::npos);
    CHECK(junit.find("<failure message=\"saw 2\">chaos.toml:1:1: expected teardowns with "
                     "reason Reset-I on proxy pg: at least 5; saw 2</failure>") !=
          std::string::npos);

    const auto json = report_json(summary);
    CHECK(json["passed"] == false);
    CHECK(json["exit_status"] == 2);
    CHECK(json["proxies"][0]["teardowns"] ==
          nlohmann::ordered_json{{"Reset-I", 2}, {"TCP FINs", 1}});
    CHECK(json["proxies"][0]["connections"] == 3);
    CHECK(json["expectations"][0]["actual"] == 2);
}

}  // namespace faultline::cli

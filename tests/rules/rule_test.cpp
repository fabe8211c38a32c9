// Tests for rules/rule.hpp: the JSON form of a rule (a Toxiproxy toxic with faultline's
// extensions) read with Toxiproxy's defaults and exact messages, written back, and read again.
#include "rules/rule.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rules/config.hpp"
#include "tests/rules/config_errors.hpp"
#include "tests/rules/rule_checks.hpp"

namespace faultline::rules {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct InvalidToxic {
    std::string toxic;  // JSON text
    std::vector<std::string> errors;
};

Rule rule_of(std::string_view toxic) {
    auto parsed = parse_rule_json(json::parse(toxic));
    CAPTURE(toxic);
    REQUIRE(parsed.errors.empty());
    REQUIRE(parsed.rule);
    return *parsed.rule;
}

}  // namespace

TEST_CASE("reads a toxic with Toxiproxy's defaults") {
    const auto rule = rule_of(R"({"type": "noop"})");
    check_keys(rule, "noop_downstream", faults::Stream::downstream, 1.0, true);
    CHECK(rule.type() == "noop");
    CHECK(rule.match == Match{});
    CHECK(rule.fault != nullptr);
}

TEST_CASE("treats null and an empty name as absent, and the stream in any case") {
    const auto rule = rule_of(R"({"name": "", "type": "noop", "stream": "UpStream",
        "toxicity": null, "attributes": null, "enabled": null, "match": null})");
    check_keys(rule, "noop_upstream", faults::Stream::upstream, 1.0, true);
    CHECK(rule_of(R"({"name": null, "type": "noop", "stream": null})").name == "noop_downstream");
}

TEST_CASE("reads every field of a toxic and faultline's extensions") {
    const auto rule = rule_of(R"({"name": "watch", "type": "noop", "stream": "upstream",
        "toxicity": 0, "attributes": {}, "enabled": false,
        "match": {"clients": ["10.0.0.0/8", "::1"], "after_bytes": 1024, "after": "1m30s",
                  "first": 3, "every": 2}})");
    check_keys(rule, "watch", faults::Stream::upstream, 0.0, false);
    REQUIRE(rule.match.clients.size() == 2);
    CHECK(rule.match.clients[1].text() == "::1/128");
    check_counts(rule.match, 1024, 90s, 3, 2);
}

TEST_CASE("reports every problem of a toxic with its key path, in key order") {
    const std::vector<InvalidToxic> cases{
        {R"([])", {"expected an object, got an array"}},
        {R"({})", {"missing required field 'type'"}},
        {R"({"type": 7})", {"type: expected a string, got an integer"}},
        {R"({"type": "latncy", "attributes": {"latency": 1}})",
         {"invalid toxic type 'latncy'; known: " + known_types()}},
        {R"({"type": "noop", "stream": "both"})",
         {"stream was invalid, can be either upstream or downstream"}},
        {R"({"type": "noop", "stream": ""})",
         {"stream was invalid, can be either upstream or downstream"}},
        {R"({"type": "noop", "stream": 1})",
         {"stream was invalid, can be either upstream or downstream"}},
        {R"({"type": "noop", "name": "my toxic"})",
         {"name: invalid name 'my toxic'; use only letters, digits, '.', '_' and '-'"}},
        {R"({"type": "noop", "name": 5})", {"name: expected a string, got an integer"}},
        {R"({"type": "noop", "toxicity": 1.5})",
         {"toxicity: expected a number from 0.0 to 1.0, got 1.5"}},
        {R"({"type": "noop", "toxicity": -1})",
         {"toxicity: expected a number from 0.0 to 1.0, got -1"}},
        {R"({"type": "noop", "toxicity": "1"})",
         {"toxicity: expected a number from 0.0 to 1.0, got a string"}},
        {R"({"type": "noop", "enabled": "yes"})", {"enabled: expected a boolean, got a string"}},
        {R"({"type": "noop", "attributes": {"latency": 100, "jitter": 5}})",
         {"attributes.jitter: unknown attribute; this type has none",
          "attributes.latency: unknown attribute; this type has none"}},
        {R"({"type": "slicer", "attributes": {"average_size": 0}})",
         {"attributes.average_size: must be greater than 0, got 0"}},
        {R"({"type": "noop", "attributes": [1]})",
         {"attributes: expected an object, got an array"}},
        {R"({"type": "noop", "match": []})", {"match: expected an object, got an array"}},
        {R"({"type": "noop", "match": {"clients": ["10.0.0.0/33", 7], "after_bytes": -1,
             "after": "soon", "first": 0, "every": 1.5, "frist": 1}})",
         {"match.frist: unknown field; known: clients, after_bytes, after, first, every",
          "match.clients[0]: invalid network '10.0.0.0/33'; expected an address or CIDR like "
          "\"10.0.0.0/8\" or \"::1/128\"",
          "match.clients[1]: expected a CIDR string, got an integer",
          "match.after_bytes: expected a non-negative integer, got -1",
          "match.after: expected a duration like \"500ms\", \"30s\", \"1m30s\" or \"0\", got "
          "'soon'",
          "match.first: expected a positive integer, got 0",
          "match.every: expected a positive integer, got a number with a fraction"}},
        {R"({"type": "noop", "match": {"clients": "10.0.0.0/8", "after": 30}})",
         {"match.clients: expected an array of CIDR strings, got a string",
          "match.after: expected a duration string like \"30s\", got an integer"}},
        {R"({"name": "a b", "type": "noop", "stream": "sideways", "toxicity": 2})",
         {"name: invalid name 'a b'; use only letters, digits, '.', '_' and '-'",
          "stream was invalid, can be either upstream or downstream",
          "toxicity: expected a number from 0.0 to 1.0, got 2"}},
    };
    for (const auto& invalid : cases) {
        CAPTURE(invalid.toxic);
        const auto parsed = parse_rule_json(json::parse(invalid.toxic));
        CHECK_FALSE(parsed.rule);
        CHECK(parsed.errors == invalid.errors);
    }
}

TEST_CASE("writes a rule as a toxic with every key, and match only when it has conditions") {
    CHECK(rule_to_json(rule_of(R"({"type": "noop"})")).dump() ==
          R"({"name":"noop_downstream","type":"noop","stream":"downstream","toxicity":1.0,)"
          R"("attributes":{},"enabled":true})");
    CHECK(rule_to_json(rule_of(R"({"name": "watch", "type": "noop", "stream": "upstream",
              "toxicity": 0.5, "enabled": false,
              "match": {"clients": ["10.0.0.0/8"], "after_bytes": 0, "after": "1m30s",
                        "first": 3, "every": 2}})"))
              .dump() ==
          R"({"name":"watch","type":"noop","stream":"upstream","toxicity":0.5,"attributes":{},)"
          R"("enabled":false,"match":{"clients":["10.0.0.0/8"],"after_bytes":0,"after":"90s",)"
          R"("first":3,"every":2}})");
}

TEST_CASE("reads back what it writes") {
    const auto original = rule_of(R"({"name": "watch", "type": "noop", "stream": "upstream",
        "toxicity": 0.25, "enabled": false,
        "match": {"clients": ["192.168.0.0/16", "fe80::/10"], "after": "250ms", "every": 7}})");
    const auto again = rule_of(rule_to_json(original).dump());
    CHECK(again.name == original.name);
    CHECK(again.type() == original.type());
    CHECK(again.stream == original.stream);
    CHECK(again.toxicity == original.toxicity);
    CHECK(again.enabled == original.enabled);
    CHECK(again.match == original.match);
    CHECK(again.fault->attributes() == original.fault->attributes());
}

TEST_CASE("gives a configuration file's rule the same JSON form as the API's") {
    const auto config = parse_config(
        proxy_table("pg", "127.0.0.1:1", "db:1") + rule_table("watch", "noop") + R"(stream = "both"
toxicity = 0.5
match = { clients = ["10.0.0.0/8"], first = 1 }
)",
        "chaos.toml");
    REQUIRE(config.proxies.at(0).rules.size() == 2);
    const auto& from_file = config.proxies[0].rules[1];
    const auto from_api = rule_of(R"({"name": "watch_downstream", "type": "noop",
        "toxicity": 0.5, "match": {"clients": ["10.0.0.0/8"], "first": 1}})");
    CHECK(rule_to_json(from_file) == rule_to_json(from_api));
}

TEST_CASE("names streams and checks names as the configuration and the API write them") {
    CHECK(stream_name(faults::Stream::upstream) == "upstream");
    CHECK(stream_name(faults::Stream::downstream) == "downstream");
    for (const std::string_view name : {"a", "slow-replies", "pg.main_1", "A-Z.0-9_"}) {
        CAPTURE(name);
        CHECK(is_valid_name(name));
    }
    for (const std::string_view name : {"", "a b", "a/b", "é", "a:b"}) {
        CAPTURE(name);
        CHECK_FALSE(is_valid_name(name));
    }
}

}  // namespace faultline::rules

namespace faultline::rules {

TEST_CASE("ignores unknown top-level fields of a toxic, as Toxiproxy does") {
    auto parsed = parse_rule_json(nlohmann::json::parse(R"({"type": "noop", "id": 1, "x": "y"})"));
    REQUIRE(parsed.rule);
    CHECK(parsed.errors.empty());
}

TEST_CASE("refuses toxicity and match on a toxic that acts on the listener") {
    auto parsed = parse_rule_json(nlohmann::json::parse(
        R"({"type": "refuse", "toxicity": 0.2, "attributes": {"mode": "drop"}})"));
    CHECK_FALSE(parsed.rule);
    REQUIRE(parsed.errors.size() == 1);
    CHECK(parsed.errors[0].starts_with("this mode acts on the listener"));
}

}  // namespace faultline::rules

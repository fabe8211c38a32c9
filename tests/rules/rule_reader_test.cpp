// Tests for rules/rule_reader.hpp through parse_config: the rules that [[proxy.rule]] tables
// produce, and for invalid rules the exact list of messages with their positions.
#include "rules/rule_reader.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rules/config.hpp"
#include "tests/rules/config_errors.hpp"
#include "tests/rules/rule_checks.hpp"

namespace faultline::rules {
namespace {

using namespace std::chrono_literals;

// A proxy whose first rule's table starts on line 5; the rule's keys start on line 6.
const std::string head = proxy_table("pg", "127.0.0.1:1", "db:1") + "[[proxy.rule]]\n";

std::vector<Rule> rules_of(const std::string& text) {
    auto config = parse_config(text, "chaos.toml");
    REQUIRE(config.proxies.size() == 1);
    return config.proxies[0].rules;
}

}  // namespace

TEST_CASE("reads a rule with every key and defaults for the ones left out") {
    const auto rules = rules_of(proxy_table("pg", "127.0.0.1:15432", "127.0.0.1:5432") + "\n" +
                                rule_table("quiet", "noop", "  ") + "\n" +
                                rule_table("watch.all-1", "noop", "  ") + R"(  stream = "upstream"
  toxicity = 0.25
  enabled = false
  attributes = {}
  match = { clients = ["10.0.0.0/8", "::1"], after_bytes = 0, after = "1m30s", first = 3, every = 2 }

)" + rule_table("never", "noop", "  ") +
                                R"(  toxicity = 0

  [proxy.rule.attributes]

  [proxy.rule.match]
  every = 1
)");
    REQUIRE(rules.size() == 3);
    const auto& quiet = rules[0];
    check_keys(quiet, "quiet", faults::Stream::downstream, 1.0, true);
    CHECK(quiet.type() == "noop");
    CHECK(quiet.match == Match{});
    const auto& watch = rules[1];
    check_keys(watch, "watch.all-1", faults::Stream::upstream, 0.25, false);
    REQUIRE(watch.match.clients.size() == 2);
    CHECK(watch.match.clients[0].text() == "10.0.0.0/8");
    CHECK(watch.match.clients[1].text() == "::1/128");
    check_counts(watch.match, 0, 90s, 3, 2);
    CHECK(rules[2].toxicity == 0.0);
    CHECK(rules[2].match.every == 1U);
    CHECK_FALSE(rules[2].match.first);
}

TEST_CASE("expands stream = both into an upstream and a downstream rule, in file order") {
    const auto rules = rules_of(head + R"(name = "slow"
type = "noop"
stream = "both"
toxicity = 0.5
enabled = false
match = { first = 2 }
[[proxy.rule]]
name = "after"
type = "noop"
)");
    REQUIRE(rules.size() == 3);
    CHECK(rules[0].name == "slow_upstream");
    CHECK(rules[0].stream == faults::Stream::upstream);
    CHECK(rules[1].name == "slow_downstream");
    CHECK(rules[1].stream == faults::Stream::downstream);
    for (const auto& half : {rules[0], rules[1]}) {
        CHECK(half.type() == "noop");
        CHECK(half.toxicity == 0.5);
        CHECK_FALSE(half.enabled);
        CHECK(half.match.first == 2U);
    }
    CHECK(rules[2].name == "after");
}

TEST_CASE("lets different proxies use the same rule names") {
    CHECK(errors_of(head + "name = \"a\"\ntype = \"noop\"\n" +
                    proxy_table("b", "127.0.0.1:2", "db:1") + rule_table("a", "noop")) ==
          "(valid)");
}

TEST_CASE("reports missing, unknown and mistyped rule keys") {
    check_invalid({
        {head + "stream = \"up\"\n",
         {"chaos.toml:5:1: proxy[0].rule[0]: missing required key 'name'",
          "chaos.toml:5:1: proxy[0].rule[0]: missing required key 'type'",
          "chaos.toml:6:10: proxy[0].rule[0].stream: unknown stream 'up'; known: upstream, "
          "downstream, both"}},
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicty = 0.5\n",
         {"chaos.toml:8:1: proxy[0].rule[0].toxicty: unknown key; known: name, type, stream, "
          "toxicity, enabled, attributes, match"}},
        {head + "name = \"a\"\ntype = \"noop\"\nenabled = \"yes\"\n",
         {"chaos.toml:8:11: proxy[0].rule[0].enabled: expected a boolean, got a string"}},
        {head + "name = \"a\"\ntype = 1\n",
         {"chaos.toml:7:8: proxy[0].rule[0].type: expected a string, got an integer"}},
        {head + "name = \"\"\ntype = \"noop\"\n",
         {"chaos.toml:6:8: proxy[0].rule[0].name: expected a non-empty string, got ''"}},
        {head + "name = \"slow replies\"\ntype = \"noop\"\n",
         {"chaos.toml:6:8: proxy[0].rule[0].name: invalid name 'slow replies'; use only "
          "letters, digits, '.', '_' and '-'"}},
        {proxy_table("pg", "127.0.0.1:1", "db:1") + "[proxy.rule]\nname = \"a\"\n",
         {"chaos.toml:5:1: proxy[0].rule: expected an array of tables ([[proxy.rule]]), got a "
          "table"}},
        {proxy_table("pg", "127.0.0.1:1", "db:1") + "rule = [1]\n",
         {"chaos.toml:5:9: proxy[0].rule[0]: expected a table, got an integer"}},
    });
}

TEST_CASE("names the known fault types when the type is unknown, and then skips attributes") {
    check_invalid({
        {head + "name = \"slow\"\ntype = \"latncy\"\nattributes = { latency = 100 }\n",
         {"chaos.toml:7:8: proxy[0].rule[0].type: unknown fault type 'latncy'; known: " +
          known_types()}},
    });
}

TEST_CASE("accepts toxicity from 0 to 1 as a number or the integers 0 and 1") {
    for (const std::string toxicity : {"0", "1", "0.0", "0.5", "1.0", "1e-3"}) {
        CAPTURE(toxicity);
        CHECK(errors_of(head + "name = \"a\"\ntype = \"noop\"\ntoxicity = " + toxicity + "\n") ==
              "(valid)");
    }
    const std::string prefix =
        "chaos.toml:8:12: proxy[0].rule[0].toxicity: expected a number "
        "from 0.0 to 1.0, got ";
    check_invalid({
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicity = 1.5\n", {prefix + "1.5"}},
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicity = 2\n", {prefix + "2"}},
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicity = -0.1\n", {prefix + "-0.1"}},
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicity = nan\n", {prefix + "nan"}},
        {head + "name = \"a\"\ntype = \"noop\"\ntoxicity = \"1\"\n", {prefix + "a string"}},
    });
}

TEST_CASE("reports the fault type's attribute errors at the attribute's value") {
    check_invalid({
        {head + "name = \"a\"\ntype = \"noop\"\nattributes = { latency = 200, jitter = 5 }\n",
         {"chaos.toml:8:26: proxy[0].rule[0].attributes.latency: unknown attribute; this type "
          "has none",
          "chaos.toml:8:40: proxy[0].rule[0].attributes.jitter: unknown attribute; this type has "
          "none"}},
        {head + "name = \"a\"\ntype = \"noop\"\n[proxy.rule.attributes]\n\nrate = 5\n",
         {"chaos.toml:10:8: proxy[0].rule[0].attributes.rate: unknown attribute; this type has "
          "none"}},
        {head +
             "name = \"a\"\ntype = \"noop\"\nattributes = { mode = { x = 1 }, at = 1979-05-27 }\n",
         {"chaos.toml:8:23: proxy[0].rule[0].attributes.mode: expected a number, a boolean or a "
          "string, got a table",
          "chaos.toml:8:39: proxy[0].rule[0].attributes.at: expected a number, a boolean or a "
          "string, got a date"}},
        {head + "name = \"a\"\ntype = \"noop\"\nattributes = 5\n",
         {"chaos.toml:8:14: proxy[0].rule[0].attributes: expected a table, got an integer"}},
    });
}

TEST_CASE("passes the attributes to the fault type as numbers, booleans and strings") {
    const auto rules = rules_of(head + "name = \"a\"\ntype = \"latency\"\n" +
                                "attributes = { latency = 200, jitter = 50 }\n");
    REQUIRE(rules.size() == 1);
    CHECK(rules[0].type() == "latency");
    CHECK(rules[0].fault->attributes() == nlohmann::ordered_json{{"latency", 200}, {"jitter", 50}});
}

TEST_CASE("reports an attribute missing from the file at the attributes table, else the rule") {
    check_invalid({
        {head + "name = \"a\"\ntype = \"slicer\"\nattributes = { delay = 10 }\n",
         {"chaos.toml:8:14: proxy[0].rule[0].attributes.average_size: must be greater than 0, got "
          "0"}},
        {head + "name = \"a\"\ntype = \"slicer\"\n",
         {"chaos.toml:5:1: proxy[0].rule[0].attributes.average_size: must be greater than 0, got "
          "0"}},
        {head + "name = \"a\"\ntype = \"slicer\"\n" +
             "attributes = { average_size = 10, size_variation = 20 }\n",
         {"chaos.toml:8:52: proxy[0].rule[0].attributes.size_variation: must not be greater than "
          "average_size (10), got 20"}},
        {head + "name = \"a\"\ntype = \"latency\"\nattributes = { latency = \"100\" }\n",
         {"chaos.toml:8:26: proxy[0].rule[0].attributes.latency: expected an integer, got a "
          "string"}},
    });
}

TEST_CASE("checks every match condition and its keys") {
    check_invalid({
        {head + "name = \"a\"\ntype = \"noop\"\nmatch = { clients = [\"10.0.0.0/33\", 7], "
                "after_bytes = -1, after = \"soon\", first = 0, every = \"2\", frist = 1 }\n",
         {"chaos.toml:8:22: proxy[0].rule[0].match.clients[0]: invalid network '10.0.0.0/33'; "
          "expected an address or CIDR like \"10.0.0.0/8\" or \"::1/128\"",
          "chaos.toml:8:37: proxy[0].rule[0].match.clients[1]: expected a CIDR string, got an "
          "integer",
          "chaos.toml:8:55: proxy[0].rule[0].match.after_bytes: expected a non-negative integer, "
          "got -1",
          "chaos.toml:8:67: proxy[0].rule[0].match.after: expected a duration like \"500ms\", "
          "\"30s\", \"1m30s\" or \"0\", got 'soon'",
          "chaos.toml:8:83: proxy[0].rule[0].match.first: expected a positive integer, got 0",
          "chaos.toml:8:94: proxy[0].rule[0].match.every: expected a positive integer, got a "
          "string",
          "chaos.toml:8:99: proxy[0].rule[0].match.frist: unknown key; known: clients, "
          "after_bytes, after, first, every"}},
        {head + "name = \"a\"\ntype = \"noop\"\nmatch = 1\n",
         {"chaos.toml:8:9: proxy[0].rule[0].match: expected a table, got an integer"}},
        {head + "name = \"a\"\ntype = \"noop\"\n[proxy.rule.match]\nclients = \"10.0.0.0/8\"\n",
         {"chaos.toml:9:11: proxy[0].rule[0].match.clients: expected an array of CIDR strings, "
          "got a string"}},
    });
}

TEST_CASE("requires rule names to be unique within the proxy after expanding both") {
    const std::string second = "[[proxy.rule]]\n";
    check_invalid({
        {head + "name = \"a\"\ntype = \"noop\"\n" + second + "name = \"a\"\ntype = \"noop\"\n",
         {"chaos.toml:9:8: proxy[0].rule[1].name: name 'a' is already used by proxy[0].rule[0]"}},
        {head + "name = \"a_upstream\"\ntype = \"noop\"\n" + second +
             "name = \"a\"\ntype = \"noop\"\nstream = \"both\"\n",
         {"chaos.toml:9:8: proxy[0].rule[1].name: name 'a_upstream' is already used by "
          "proxy[0].rule[0] (stream = \"both\" adds _upstream and _downstream to a rule's name)"}},
        {head + "name = \"a\"\ntype = \"noop\"\nstream = \"both\"\n" + second +
             "name = \"a\"\ntype = \"noop\"\nstream = \"both\"\n",
         {"chaos.toml:10:8: proxy[0].rule[1].name: name 'a_upstream' is already used by "
          "proxy[0].rule[0] (stream = \"both\" adds _upstream and _downstream to a rule's name)"}},
    });
    CHECK(errors_of(head + "name = \"a\"\ntype = \"noop\"\nstream = \"both\"\n" + second +
                    "name = \"a\"\ntype = \"noop\"\n") == "(valid)");
}

TEST_CASE("sorts rule errors with the others by position in the file") {
    check_invalid({
        {proxy_table("pg", "127.0.0.1:1", "db:1") + "idle_timeout = 5\n\n" +
             rule_table("a", "latncy", "  ") + "\n" + rule_table("b", "noop", "  ") +
             R"(  stream = "sideways"

[log]
level = "loud"
)",
         {"chaos.toml:5:16: proxy[0].idle_timeout: expected a duration string like \"30s\", got "
          "an integer",
          "chaos.toml:9:10: proxy[0].rule[0].type: unknown fault type 'latncy'; known: " +
              known_types(),
          "chaos.toml:14:12: proxy[0].rule[1].stream: unknown stream 'sideways'; known: "
          "upstream, downstream, both",
          "chaos.toml:17:9: log.level: unknown level 'loud'; known: trace, debug, info, warn, "
          "error"}},
    });
}

}  // namespace faultline::rules

namespace faultline::rules {

TEST_CASE("refuses toxicity and match on a rule that acts on the listener") {
    const std::string refuse =
        "name = \"a\"\ntype = \"refuse\"\nattributes = { mode = \"reject\" }\n";
    const std::string message =
        "chaos.toml:5:1: proxy[0].rule[0]: this mode acts on the listener, for every connection "
        "at once: toxicity and match do not apply (mode \"reset\" acts per connection and "
        "honours them)";
    CHECK(errors_of(head + refuse + "toxicity = 0.5\n") == message);
    CHECK(errors_of(head + refuse + "match = { first = 1 }\n") == message);
    CHECK(errors_of(head + refuse) == "(valid)");
    CHECK(errors_of(head + "name = \"a\"\ntype = \"refuse\"\nattributes = { mode = \"reset\" }\n"
                           "toxicity = 0.5\nmatch = { first = 1 }\n") == "(valid)");
}

}  // namespace faultline::rules

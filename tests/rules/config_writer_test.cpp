// Tests for rules/config_writer.hpp: what it writes reads back as the same configuration.
#include "rules/config_writer.hpp"

#include <doctest/doctest.h>

#include <string>

#include "tests/rules/config_errors.hpp"

namespace faultline::rules {

TEST_CASE("writes a configuration that reads back the same, rules and settings included") {
    const std::string text = R"(seed = 7
[api]
listen = "127.0.0.1:9000"
token = "secret"
[log]
level = "debug"
format = "json"
[defaults]
idle_timeout = "90s"
)" + proxy_table("pg", "127.0.0.1:15432", "db.internal:5432") +
                             R"(enabled = false
allow = ["10.0.0.0/8", "::1"]
inside = "server"
  [[proxy.rule]]
  name = "slow"
  type = "latency"
  toxicity = 0.5
  attributes = { latency = 200, jitter = 5 }
  match = { after_bytes = 10, after = "2s", clients = ["127.0.0.1"], first = 3 }
  [[proxy.rule]]
  name = "cut"
  type = "half_close"
  stream = "upstream"
  enabled = false
  attributes = { mode = "drop_fin" }
)";
    const Config original = parse_config(text, "in.toml");
    const std::string written = to_toml(original);
    CAPTURE(written);
    const Config again = parse_config(written, "written.toml");
    CHECK(written.find("secret") == std::string::npos);
    CHECK(again.seed == original.seed);
    CHECK(again.api.listen == original.api.listen);
    CHECK(again.log.level == "debug");
    CHECK(again.defaults == original.defaults);
    REQUIRE(again.proxies.size() == 1);
    const auto& a = again.proxies[0];
    const auto& b = original.proxies[0];
    CHECK(a.name == b.name);
    CHECK(a.listen == b.listen);
    CHECK(a.upstream == b.upstream);
    CHECK(a.enabled == b.enabled);
    CHECK(a.allow == b.allow);
    CHECK(a.settings == b.settings);
    REQUIRE(a.rules.size() == 2);
    for (std::size_t i = 0; i < 2; ++i)
        CHECK(rule_to_json(a.rules[i]) == rule_to_json(b.rules[i]));
}

}  // namespace faultline::rules

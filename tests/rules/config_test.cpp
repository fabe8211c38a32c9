// Tests for rules/config.hpp: the values a valid file produces, and for invalid files the exact
// list of messages, driven by tables of input text and expected output.
#include "rules/config.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tests/rules/config_errors.hpp"

namespace faultline::rules {
namespace {

using namespace std::chrono_literals;

const std::string full_example = R"(seed = 42

[api]
listen = "127.0.0.1:8474"

[log]
level = "debug"
format = "json"
file = "/var/log/faultline.log"

[defaults]
connect_timeout = "5s"
half_closed_timeout = "10m"
idle_timeout = "1h"
inside = "server"
buffer_limit = "64KiB"

)" + proxy_table("pg", "127.0.0.1:15432", "127.0.0.1:5432") +
                                 R"(enabled = false
allow = ["127.0.0.0/8", "::1"]
deny = ["127.0.0.2"]
idle_timeout = "0"
inside = "client"

)" + proxy_table("redis.cache-1", "localhost:0", "cache.internal:6379") +
                                 R"(buffer_limit = 2048
)";

}  // namespace

TEST_CASE("reads every section of a valid file") {
    const auto config = parse_config(full_example, "chaos.toml");
    CHECK(config.seed == 42U);
    CHECK(config.api.listen == Endpoint{"127.0.0.1", 8474});
    CHECK_FALSE(config.api.token);
    CHECK(config.log.level == "debug");
    CHECK(config.log.format == LogFormat::json);
    CHECK(config.log.file == "/var/log/faultline.log");
    CHECK(config.defaults.connect_timeout == 5s);
    CHECK(config.defaults.inside == Side::server);
    CHECK(config.defaults.buffer_limit == 64U * 1024U);
    REQUIRE(config.proxies.size() == 2);
    const auto& pg = config.proxies[0];
    CHECK(pg.name == "pg");
    CHECK(pg.listen == Endpoint{"127.0.0.1", 15432});
    CHECK(pg.upstream == Endpoint{"127.0.0.1", 5432});
    CHECK_FALSE(pg.enabled);
    REQUIRE(pg.allow.size() == 2);
    CHECK(pg.allow[1].text() == "::1/128");
    REQUIRE(pg.deny.size() == 1);
    CHECK(pg.deny[0].text() == "127.0.0.2/32");
}

TEST_CASE("lets proxy values override defaults, which override the built-in values") {
    const auto config = parse_config(full_example, "chaos.toml");
    const auto& pg = config.proxies[0].settings;
    CHECK(pg.idle_timeout == 0ms);
    CHECK(pg.inside == Side::client);
    CHECK(pg.connect_timeout == 5s);
    CHECK(pg.half_closed_timeout == 10min);
    CHECK(pg.buffer_limit == 64U * 1024U);
    const auto& redis = config.proxies[1];
    CHECK(redis.name == "redis.cache-1");
    CHECK(redis.listen == Endpoint{"127.0.0.1", 0});
    CHECK(redis.upstream == Endpoint{"cache.internal", 6379});
    CHECK(redis.enabled);
    CHECK(redis.allow.empty());
    CHECK(redis.settings.inside == Side::server);
    CHECK(redis.settings.buffer_limit == 2048U);
}

TEST_CASE("uses the built-in values for everything an empty file leaves out") {
    const auto config = parse_config("", "empty.toml");
    const ProxySettings built_in;
    CHECK_FALSE(config.seed);
    CHECK(config.api.listen == Endpoint{"127.0.0.1", 8474});
    CHECK(config.log.level == "info");
    CHECK(config.log.format == LogFormat::text);
    CHECK_FALSE(config.log.file);
    CHECK(config.defaults.connect_timeout == built_in.connect_timeout);
    CHECK(config.defaults.idle_timeout == 1h);
    CHECK(config.defaults.buffer_limit == 1U << 20U);
    CHECK(config.proxies.empty());
}

TEST_CASE("accepts any api.listen address when a token is set") {
    const auto config = parse_config("[api]\nlisten = \"0.0.0.0:9000\"\ntoken = \"s3cret\"\n", "c");
    CHECK(config.api.listen == Endpoint{"0.0.0.0", 9000});
    CHECK(config.api.token == "s3cret");
}

TEST_CASE("lets proxies share port 0 but not a real listen address") {
    CHECK(errors_of(proxy_table("a", "127.0.0.1:0", "127.0.0.1:1") +
                    proxy_table("b", "127.0.0.1:0", "127.0.0.1:1")) == "(valid)");
    check_invalid({
        {proxy_table("a", "127.0.0.1:7000", "127.0.0.1:1") +
             proxy_table("b", "localhost:7000", "127.0.0.1:1"),
         {"chaos.toml:7:10: proxy[1].listen: 127.0.0.1:7000 is already used by proxy[0]"}},
    });
}

TEST_CASE("reports missing required keys at the table and unknown keys at the key") {
    check_invalid({
        {R"(seed = 1

[[proxy]]
name = "pg"
lisen = "127.0.0.1:15432"
)",
         {"chaos.toml:3:1: proxy[0]: missing required key 'listen'",
          "chaos.toml:3:1: proxy[0]: missing required key 'upstream'",
          "chaos.toml:5:1: proxy[0].lisen: unknown key; known: name, listen, upstream, enabled, "
          "allow, deny, connect_timeout, half_closed_timeout, idle_timeout, inside, "
          "buffer_limit, rule"}},
        {"sed = 1\n",
         {"chaos.toml:1:1: sed: unknown key; known: seed, api, log, defaults, proxy, expect"}},
        {"[default]\nidle_timeout = \"1s\"\n",
         {"chaos.toml:1:1: default: unknown key; known: seed, api, log, defaults, proxy, expect"}},
        {"[api]\nport = 1\n", {"chaos.toml:2:1: api.port: unknown key; known: listen, token"}},
        {"[log]\nlevels = 1\n",
         {"chaos.toml:2:1: log.levels: unknown key; known: level, format, file"}},
        {"[defaults]\nname = \"x\"\n",
         {"chaos.toml:2:1: defaults.name: unknown key; known: connect_timeout, "
          "half_closed_timeout, idle_timeout, inside, buffer_limit"}},
    });
}

TEST_CASE("reads [[expect]] entries, with min = 1 when a count has no bounds") {
    const Config config = parse_config(
        proxy_table("pg", "127.0.0.1:0", "127.0.0.1:5432") + rule_table("cut", "reset", "  ") +
            rule_table("slow", "latency", "  ") + R"(  stream = "both"

[[expect]]
reason = "Reset-I"
min = 2
max = 5

[[expect]]
rule = "cut"
proxy = "pg"

[[expect]]
rule = "cut"
fired = false

[[expect]]
proxy = "pg"

[[expect]]
rule = "slow"
)",
        "chaos.toml");
    REQUIRE(config.expectations.size() == 5);
    const auto& reason = config.expectations[0];
    CHECK(reason.kind == Expectation::Kind::reason);
    CHECK(reason.reason == "Reset-I");
    CHECK(reason.min == 2u);
    CHECK(reason.max == 5u);
    CHECK(reason.where == "chaos.toml:13:1");
    CHECK(reason.describe() == "teardowns with reason Reset-I: 2 to 5");
    CHECK(config.expectations[1].kind == Expectation::Kind::rule);
    CHECK(config.expectations[1].describe() == "rule cut on proxy pg fired");
    CHECK(config.expectations[2].describe() == "rule cut did not fire");
    const auto& connections = config.expectations[3];
    CHECK(connections.kind == Expectation::Kind::connections);
    CHECK(connections.min == 1u);
    CHECK_FALSE(connections.max);
    CHECK(connections.describe() == "connections on proxy pg: at least 1");
    using Keys = std::vector<std::pair<std::string, std::string>>;
    CHECK(config.expectations[1].rule_keys == Keys{{"pg", "cut"}});
    // A rule written with stream = "both" stands for its two halves.
    CHECK(config.expectations[4].rule_keys ==
          Keys{{"pg", "slow_upstream"}, {"pg", "slow_downstream"}});
}

TEST_CASE("refuses [[expect]] entries that cannot be checked, with the reason") {
    const std::string proxy =
        proxy_table("pg", "127.0.0.1:0", "127.0.0.1:1") + rule_table("cut", "reset", "  ");
    check_invalid({
        {proxy + "[[expect]]\nreason = \"Reset-X\"\n",
         {"chaos.toml:9:10: expect[0].reason: unknown reason 'Reset-X'; known: Reset-I, Reset-O, "
          "TCP FINs, FIN Timeout, SYN Timeout, Xlate Clear, Deny, SYN Control, Uauth Deny, "
          "Unknown, Conn-timeout"}},
        {proxy_table("pg", "127.0.0.1:0", "127.0.0.1:1") + rule_table("down", "refuse", "  ") +
             "[[expect]]\nrule = \"down\"\n",
         {"chaos.toml:9:8: expect[0].rule: rule 'down' refuses at the listener (refuse reject): "
          "the "
          "connects it refuses never reach faultline, so whether it fired cannot be told; expect "
          "on the command's own result instead"}},
        {proxy + "[[expect]]\nrule = \"cutt\"\n",
         {"chaos.toml:9:8: expect[0].rule: no rule named 'cutt'"}},
        {proxy + "[[expect]]\nrule = \"cut\"\nproxy = \"db\"\n",
         {"chaos.toml:10:9: expect[0].proxy: no proxy named 'db'; known: pg"}},
        {proxy + "[[expect]]\nrule = \"cut\"\nmin = 1\n",
         {"chaos.toml:10:7: expect[0].min: min and max count teardowns or connections; a rule "
          "takes fired = true or false"}},
        {proxy + "[[expect]]\nreason = \"Deny\"\nrule = \"cut\"\n",
         {"chaos.toml:10:8: expect[0].rule: an expectation is about a reason or a rule, not "
          "both; write two [[expect]]"}},
        {proxy + "[[expect]]\nreason = \"Deny\"\nfired = true\n",
         {"chaos.toml:10:9: expect[0].fired: fired goes with rule = \"...\""}},
        {proxy + "[[expect]]\nreason = \"Deny\"\nmin = 3\nmax = 1\n",
         {"chaos.toml:11:7: expect[0].max: max 1 is less than min 3"}},
        {proxy + "[[expect]]\nmin = 1\n",
         {"chaos.toml:8:1: expect[0]: expected one of reason, rule or proxy"}},
        {"[[expect]]\nreasons = \"Deny\"\n",
         {"chaos.toml:1:1: expect[0]: expected one of reason, rule or proxy",
          "chaos.toml:2:1: expect[0].reasons: unknown key; known: reason, rule, proxy, min, max, "
          "fired"}},
        {"expect = 1\n",
         {"chaos.toml:1:10: expect: expected an array of tables ([[expect]]), got an integer"}},
        {"[[rule]]\n",
         {"chaos.toml:1:1: rule: unknown key; known: seed, api, log, defaults, proxy, expect"}},
    });
}

TEST_CASE("says which type was expected and which was seen") {
    check_invalid({
        {proxy_table("pg", "127.0.0.1:1", "127.0.0.1:2") + "enabled = \"yes\"\n",
         {"chaos.toml:5:11: proxy[0].enabled: expected a boolean, got a string"}},
        {"seed = \"42\"\n",
         {"chaos.toml:1:8: seed: expected a non-negative integer, got a string"}},
        {"api = 1\n", {"chaos.toml:1:7: api: expected a table, got an integer"}},
        {"log = []\n", {"chaos.toml:1:7: log: expected a table, got an array"}},
        {"[log]\nfile = 2\n", {"chaos.toml:2:8: log.file: expected a string, got an integer"}},
        {"[proxy]\nname = \"pg\"\n",
         {"chaos.toml:1:1: proxy: expected an array of tables ([[proxy]]), got a table"}},
        {"proxy = [1]\n", {"chaos.toml:1:10: proxy[0]: expected a table, got an integer"}},
        {"[defaults]\nidle_timeout = 30\n",
         {"chaos.toml:2:16: defaults.idle_timeout: expected a duration string like \"30s\", got an "
          "integer"}},
        {"[defaults]\nconnect_timeout = 1.5\n",
         {"chaos.toml:2:19: defaults.connect_timeout: expected a duration string like \"30s\", got "
          "a floating-point number"}},
        {"[defaults]\nbuffer_limit = true\n",
         {"chaos.toml:2:16: defaults.buffer_limit: expected a size in bytes like 65536 or "
          "\"1MiB\", got a boolean"}},
        {"[defaults]\ninside = 1979-05-27\n",
         {"chaos.toml:2:10: defaults.inside: expected a string, got a date"}},
    });
}

TEST_CASE("lists the valid values when a value is not one of them") {
    check_invalid({
        {"[log]\nlevel = \"verbose\"\n",
         {"chaos.toml:2:9: log.level: unknown level 'verbose'; known: trace, debug, info, warn, "
          "error"}},
        {"[log]\nformat = \"xml\"\n",
         {"chaos.toml:2:10: log.format: unknown format 'xml'; known: text, json"}},
        {"[defaults]\ninside = \"both\"\n",
         {"chaos.toml:2:10: defaults.inside: unknown side 'both'; known: client, server"}},
    });
}

TEST_CASE("checks the values of the top-level sections") {
    check_invalid({
        {"seed = -1\n", {"chaos.toml:1:8: seed: expected a non-negative integer, got -1"}},
        {"[api]\nlisten = \"0.0.0.0:8474\"\n",
         {"chaos.toml:2:10: api.listen: listening on 0.0.0.0:8474 beyond loopback requires "
          "api.token"}},
        {"[api]\nlisten = \"[::]:8474\"\n",
         {"chaos.toml:2:10: api.listen: listening on [::]:8474 beyond loopback requires "
          "api.token"}},
        {"[api]\nlisten = \"example.com:8474\"\n",
         {"chaos.toml:2:10: api.listen: listen address must be an IP literal or localhost, got "
          "'example.com'"}},
        {"[api]\ntoken = \"\"\n",
         {"chaos.toml:2:9: api.token: expected a non-empty string, got ''"}},
        {"[log]\nfile = \"\"\n", {"chaos.toml:2:8: log.file: expected a non-empty string, got ''"}},
    });
}

TEST_CASE("checks durations and buffer limits wherever they appear") {
    check_invalid({
        {"[defaults]\nconnect_timeout = \"1.5s\"\n",
         {"chaos.toml:2:19: defaults.connect_timeout: expected a duration like \"500ms\", "
          "\"30s\", \"1m30s\" or \"0\", got '1.5s'"}},
        {"[defaults]\nidle_timeout = \"-1s\"\n",
         {"chaos.toml:2:16: defaults.idle_timeout: expected a duration like \"500ms\", \"30s\", "
          "\"1m30s\" or \"0\", got '-1s'"}},
        {"[defaults]\nbuffer_limit = 512\n",
         {"chaos.toml:2:16: defaults.buffer_limit: expected 1024 bytes to 1 GiB, got 512 bytes"}},
        {"[defaults]\nbuffer_limit = \"2048MiB\"\n",
         {"chaos.toml:2:16: defaults.buffer_limit: expected 1024 bytes to 1 GiB, got 2147483648 "
          "bytes"}},
        {"[defaults]\nbuffer_limit = -1\n",
         {"chaos.toml:2:16: defaults.buffer_limit: expected 1024 bytes to 1 GiB, got -1 bytes"}},
        {"[defaults]\nbuffer_limit = \"1 MiB\"\n",
         {"chaos.toml:2:16: defaults.buffer_limit: expected a size like \"64KiB\" or \"1MiB\" "
          "(units B, KB, MB, KiB, MiB), got '1 MiB'"}},
        {proxy_table("pg", "127.0.0.1:1", "127.0.0.1:2") + "half_closed_timeout = \"10\"\n",
         {"chaos.toml:5:23: proxy[0].half_closed_timeout: expected a duration like \"500ms\", "
          "\"30s\", \"1m30s\" or \"0\", got '10'"}},
    });
}

TEST_CASE("refuses an upstream that would come back to the proxy itself or to the control API") {
    const std::string head = "[[proxy]]\nname = \"pg\"\n";
    check_invalid({
        {head + "listen = \"0.0.0.0:5000\"\nupstream = \"0.0.0.0:5000\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: 0.0.0.0:5000 reaches the proxy's own listen address "
          "0.0.0.0:5000: every connection would loop back into the proxy"}},
        {head + "listen = \"[::]:5000\"\nupstream = \"[::1]:5000\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: [::1]:5000 reaches the proxy's own listen address "
          "[::]:5000: every connection would loop back into the proxy"}},
        {head + "listen = \"127.0.0.1:5000\"\nupstream = \"localhost:5000\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: localhost:5000 reaches the proxy's own listen "
          "address 127.0.0.1:5000: every connection would loop back into the proxy"}},
        {head + "listen = \"127.0.0.1:5000\"\nupstream = \"0.0.0.0:8474\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: 0.0.0.0:8474 reaches the control API at "
          "127.0.0.1:8474: the proxy would open the API to its clients"}},
        {"[api]\nlisten = \"127.0.0.1:9000\"\n" + head +
             "listen = \"127.0.0.1:5000\"\nupstream = \"127.0.0.1:9000\"\n",
         {"chaos.toml:6:12: proxy[0].upstream: 127.0.0.1:9000 reaches the control API at "
          "127.0.0.1:9000: the proxy would open the API to its clients"}},
    });
    Config config = parse_config(
        head + "listen = \"127.0.0.1:5000\"\nupstream = \"127.0.0.1:9000\"\n", "chaos.toml");
    CHECK(apply_overrides(config, {"127.0.0.1:9000", {}, {}}) ==
          "--api: 127.0.0.1:9000 is reached by the upstream 127.0.0.1:9000 of proxy pg: the proxy "
          "would open the API to its clients");
}

TEST_CASE("checks each proxy's name, addresses and client lists") {
    const std::string head = "[[proxy]]\nname = \"pg\"\nlisten = \"127.0.0.1:1\"\n";
    check_invalid({
        {head + "upstream = \"abc\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: expected host:port, got 'abc'"}},
        {head + "upstream = \"127.0.0.1:0\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: port 0 is not allowed for an upstream; expected "
          "1-65535"}},
        {head + "upstream = \"127.0.0.1:70000\"\n",
         {"chaos.toml:4:12: proxy[0].upstream: port 70000 out of range 0-65535"}},
        {proxy_table("pg", "example.com:1", "db:1"),
         {"chaos.toml:3:10: proxy[0].listen: listen address must be an IP literal or localhost, "
          "got 'example.com'"}},
        {head + "upstream = \"db:1\"\nallow = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
         {"chaos.toml:5:24: proxy[0].allow[1]: invalid network '10.0.0.0/33'; expected an address "
          "or CIDR like \"10.0.0.0/8\" or \"::1/128\""}},
        {head + "upstream = \"db:1\"\ndeny = [8]\n",
         {"chaos.toml:5:9: proxy[0].deny[0]: expected a CIDR string, got an integer"}},
        {head + "upstream = \"db:1\"\nallow = \"10.0.0.0/8\"\n",
         {"chaos.toml:5:9: proxy[0].allow: expected an array of CIDR strings, got a string"}},
        {proxy_table("my pg", "127.0.0.1:1", "db:1"),
         {"chaos.toml:2:8: proxy[0].name: invalid name 'my pg'; use only letters, digits, '.', "
          "'_' and '-'"}},
        {proxy_table("", "127.0.0.1:1", "db:1"),
         {"chaos.toml:2:8: proxy[0].name: expected a non-empty string, got ''"}},
        {head + "upstream = \"db:1\"\n" + proxy_table("pg", "127.0.0.1:2", "db:1"),
         {"chaos.toml:6:8: proxy[1].name: name 'pg' is already used by proxy[0]"}},
    });
}

TEST_CASE("collects every error and sorts them by position in the file") {
    check_invalid({
        {proxy_table("pg", "127.0.0.1:15432", "127.0.0.1:5432") + R"(enabled = "yes"
idle_timeout = "soon"

[log]
level = "verbose"

[defaults]
inside = "both"
)",
         {"chaos.toml:5:11: proxy[0].enabled: expected a boolean, got a string",
          "chaos.toml:6:16: proxy[0].idle_timeout: expected a duration like \"500ms\", \"30s\", "
          "\"1m30s\" or \"0\", got 'soon'",
          "chaos.toml:9:9: log.level: unknown level 'verbose'; known: trace, debug, info, warn, "
          "error",
          "chaos.toml:12:10: defaults.inside: unknown side 'both'; known: client, server"}},
    });
}

TEST_CASE("reports a TOML syntax error as one message with its location") {
    CHECK(errors_of("seed = 1\nseed = 2\n") ==
          "chaos.toml:2:8: Error while parsing key-value pair: cannot redefine existing integer "
          "'seed'");
    CHECK(errors_of("[api]\nlisten = \n") ==
          "chaos.toml:2:10: Error while parsing key-value pair: expected value, saw '\\n'");
}

TEST_CASE("names a file that cannot be read and says why") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"/nonexistent-faultline-dir/chaos.toml",
         "/nonexistent-faultline-dir/chaos.toml: cannot read file: No such file or directory"},
        {"/", "/: cannot read file: Is a directory"},
    };
    for (const auto& [path, message] : cases) {
        try {
            static_cast<void>(load_config(path));
            FAIL("load_config should have thrown");
        } catch (const ConfigError& error) {
            CHECK(error.errors() == std::vector<std::string>{message});
        }
    }
}

TEST_CASE("loads a file from disk and names it in messages") {
    char path[] = "/tmp/faultline-config-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    static_cast<void>(close(fd));
    std::ofstream(path) << "[log]\nlevel = \"loud\"\n";
    try {
        static_cast<void>(load_config(path));
        FAIL("load_config should have thrown");
    } catch (const ConfigError& error) {
        CHECK(std::string(error.what()) == std::string(path) +
                                               ":2:9: log.level: unknown level 'loud'; known: "
                                               "trace, debug, info, warn, error");
    }
    std::ofstream(path) << "seed = 7\n";
    CHECK(load_config(path).seed == 7U);
    static_cast<void>(std::remove(path));
}

TEST_CASE("reads buffer limits as bytes or as a string with a decimal or binary unit") {
    const std::vector<std::pair<std::string, std::size_t>> cases{
        {"2048", 2048},
        {"\"1024B\"", 1024},
        {"\"2KB\"", 2000},
        {"\"1MB\"", 1'000'000},
        {"\"64KiB\"", 65'536},
        {"\"1MiB\"", 1'048'576},
        {"1073741824", 1U << 30U},
        {"\"1024MiB\"", 1U << 30U},
    };
    for (const auto& limit : cases) {
        CAPTURE(limit.first);
        const auto config = parse_config("[defaults]\nbuffer_limit = " + limit.first, "c");
        CHECK(config.defaults.buffer_limit == limit.second);
    }
    for (const std::string unit : {"1GiB", "1kib", "1K", "KiB", "1.5MiB", "1MiB "}) {
        CAPTURE(unit);
        CHECK(errors_of("[defaults]\nbuffer_limit = \"" + unit + "\"") ==
              "chaos.toml:2:16: defaults.buffer_limit: expected a size like \"64KiB\" or \"1MiB\" "
              "(units B, KB, MB, KiB, MiB), got '" +
                  unit + "'");
    }
}

TEST_CASE("names the sides as the configuration spells them") {
    CHECK(side_name(Side::client) == "client");
    CHECK(side_name(Side::server) == "server");
}

}  // namespace faultline::rules

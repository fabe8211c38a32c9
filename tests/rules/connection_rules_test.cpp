// The rule engine on a manual clock: every match condition, the after_bytes split, toxicity drawn
// once from a seeded source, rules switched on and off, their order, and what the faults ask of the
// connection. Real fault types act here; only the connection and the clock are fakes.
#include "rules/connection_rules.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/rules/engine_support.hpp"

namespace faultline::rules {
namespace {

using faults::Stream;
using nlohmann::json;

const Stream down = Stream::downstream;
const Stream up = Stream::upstream;

// A rule that swallows every byte of its stream and never closes: what reaches the destination
// shows exactly when the rule started.
Rule dropping(const std::string& name, const json& match = nullptr) {
    json toxic{{"name", name}, {"type", "timeout"}, {"attributes", {{"timeout", 0}}}};
    if (!match.is_null()) toxic["match"] = match;
    return rule_from(toxic);
}

Rule latency(const std::string& name, int ms) {
    return rule_from({{"name", name}, {"type", "latency"}, {"attributes", {{"latency", ms}}}});
}

}  // namespace

TEST_SUITE("rules/connection_rules") {
    TEST_CASE("a stream without rules is transparent; a rule that applies takes it over") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({}, counters);
        CHECK(connection.rules.is_transparent(down));
        CHECK(connection.rules.is_transparent(up));

        connection.apply({latency("lag", 100)}, counters);
        CHECK_FALSE(connection.rules.is_transparent(down));
        CHECK(connection.rules.is_transparent(up));
        CHECK(connection.host.started == std::vector<std::string>{"lag"});
        CHECK(connection.rules.active() == std::vector<std::string>{"lag"});
    }

    TEST_CASE("rules act in their order: each passes on to the next what it lets through") {
        const Rule limit = rule_from(
            {{"name", "limit"}, {"type", "limit_data"}, {"attributes", {{"bytes", 4}}}});
        const Rule lag = latency("lag", 100);
        ManualClock clock;
        RuleCounters counters;

        // The limit first: four bytes pass it and reach the latency, which holds them; the
        // limit's close releases what the later rule holds first, then asks for the FIN.
        Connection limit_first(clock);
        limit_first.apply({limit, lag}, counters);
        limit_first.send(down, "abcdefgh");
        CHECK(limit_first.host.delivered[down] == "abcd");
        REQUIRE(limit_first.host.closes.size() == 1);
        CHECK(limit_first.host.closes[0].rule == "limit");
        CHECK(limit_first.host.claimed.size() == 1);

        // The latency first: nothing reaches the limit for 100 ms.
        Connection lag_first(clock);
        lag_first.apply({lag, limit}, counters);
        lag_first.send(down, "abcdefgh");
        CHECK(lag_first.host.delivered[down].empty());
        CHECK(lag_first.host.closes.empty());
        clock.advance(100ms);
        CHECK(lag_first.host.delivered[down] == "abcd");
        CHECK(lag_first.host.closes.size() == 1);
    }

    TEST_CASE("after_bytes lets the first bytes through and splits the chunk at the threshold") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({dropping("drop", {{"after_bytes", 5}})}, counters);
        CHECK(connection.host.started.empty());
        connection.send(down, "hello world");
        CHECK(connection.host.delivered[down] == "hello");
        CHECK(connection.host.started == std::vector<std::string>{"drop"});
        connection.send(down, "more");
        CHECK(connection.host.delivered[down] == "hello");
    }

    TEST_CASE("after_bytes counts across chunks, and a threshold at a chunk's end starts the fault "
              "after that chunk") {
        ManualClock clock;
        RuleCounters counters;
        Connection across(clock);
        across.apply({dropping("drop", {{"after_bytes", 5}})}, counters);
        across.send(down, "abc");
        across.send(down, "defgh");
        CHECK(across.host.delivered[down] == "abcde");

        Connection exact(clock);
        exact.apply({dropping("drop", {{"after_bytes", 3}})}, counters);
        exact.send(down, "abc");
        CHECK(exact.host.delivered[down] == "abc");
        CHECK(exact.host.started == std::vector<std::string>{"drop"});
        exact.send(down, "d");
        CHECK(exact.host.delivered[down] == "abc");
    }

    TEST_CASE("after_bytes counts only the rule's own stream") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({dropping("drop", {{"after_bytes", 2}})}, counters);
        connection.send(up, "upstream bytes");
        CHECK(connection.host.started.empty());
        connection.send(down, "xyz");
        CHECK(connection.host.delivered[down] == "xy");
    }

    TEST_CASE("after: the rule starts once the connection is that old, by the clock") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({dropping("drop", {{"after", "100ms"}})}, counters, 30ms);
        connection.send(down, "early");
        CHECK(connection.host.delivered[down] == "early");
        clock.advance(69ms);
        CHECK(connection.host.started.empty());
        clock.advance(1ms);
        CHECK(connection.host.started == std::vector<std::string>{"drop"});
        connection.send(down, "late");
        CHECK(connection.host.delivered[down] == "early");
    }

    TEST_CASE("after: a rule that arrives on an older connection starts at once") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({dropping("drop", {{"after", "100ms"}})}, counters, 250ms);
        CHECK(connection.host.started == std::vector<std::string>{"drop"});
    }

    TEST_CASE("after and after_bytes together: the rule starts once both are met") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({dropping("drop", {{"after", "50ms"}, {"after_bytes", 10}})}, counters);
        connection.send(down, "before");  // counts toward after_bytes while the time runs
        clock.advance(50ms);
        CHECK(connection.host.started.empty());
        connection.send(down, "abcdef");
        CHECK(connection.host.delivered[down] == "beforeabcd");

        Connection bytes_first(clock);
        bytes_first.apply({dropping("drop", {{"after", "50ms"}, {"after_bytes", 2}})}, counters);
        bytes_first.send(down, "abcd");
        CHECK(bytes_first.host.started.empty());
        clock.advance(50ms);
        CHECK(bytes_first.host.started == std::vector<std::string>{"drop"});
        bytes_first.send(down, "late");
        CHECK(bytes_first.host.delivered[down] == "abcd");
    }

    TEST_CASE("first: only the first N connections after the rule was added") {
        ManualClock clock;
        RuleCounters counters;
        const Rule rule = dropping("drop", {{"first", 2}});
        std::vector<bool> applied;
        for (int i = 0; i < 4; ++i) {
            Connection connection(clock);
            connection.apply({rule}, counters);
            applied.push_back(!connection.rules.is_transparent(down));
        }
        CHECK(applied == std::vector<bool>{true, true, false, false});

        // A rule that goes away and comes back counts from zero.
        counters.keep_only({});
        Connection again(clock);
        again.apply({rule}, counters);
        CHECK_FALSE(again.rules.is_transparent(down));
    }

    TEST_CASE("every: every Nth connection after the rule was added") {
        ManualClock clock;
        RuleCounters counters;
        const Rule rule = dropping("drop", {{"every", 3}});
        std::vector<bool> applied;
        for (int i = 0; i < 7; ++i) {
            Connection connection(clock);
            connection.apply({rule}, counters);
            applied.push_back(!connection.rules.is_transparent(down));
        }
        CHECK(applied == std::vector<bool>{false, false, true, false, false, true, false});
    }

    TEST_CASE("clients: only connections from a listed network, never an unknown client") {
        ManualClock clock;
        RuleCounters counters;
        const Rule rule = dropping("drop", {{"clients", {"10.0.0.0/8"}}});
        auto inside = client_address("10.1.2.3");
        auto outside = client_address("192.168.1.1");

        Connection listed(clock);
        listed.facts.client = reinterpret_cast<const sockaddr*>(&inside);
        listed.apply({rule}, counters);
        CHECK_FALSE(listed.rules.is_transparent(down));

        Connection other(clock);
        other.facts.client = reinterpret_cast<const sockaddr*>(&outside);
        other.apply({rule}, counters);
        CHECK(other.rules.is_transparent(down));

        Connection unknown(clock);
        unknown.apply({rule}, counters);
        CHECK(unknown.rules.is_transparent(down));
    }

    TEST_CASE("toxicity is drawn once per connection from its own seeded source") {
        ManualClock clock;
        const Rule half = rule_from({{"name", "half"},
                                     {"type", "latency"},
                                     {"toxicity", 0.5},
                                     {"attributes", {{"latency", 10}}}});
        auto outcomes = [&](std::uint64_t seed) {
            RuleCounters counters;
            std::vector<bool> applied;
            for (std::uint64_t i = 0; i < 64; ++i) {
                Connection connection(clock, connection_seed(seed, "p", i));
                connection.apply({half}, counters);
                applied.push_back(!connection.rules.is_transparent(down));
            }
            return applied;
        };
        const auto first_run = outcomes(42);
        CHECK(first_run == outcomes(42));
        CHECK(first_run != outcomes(43));
        const auto affected = std::count(first_run.begin(), first_run.end(), true);
        CHECK(affected > 16);
        CHECK(affected < 48);
    }

    TEST_CASE("an unrelated change draws nothing again; a changed toxicity is a new draw") {
        ManualClock clock;
        RuleCounters counters;
        const Rule half = rule_from({{"name", "half"},
                                     {"type", "latency"},
                                     {"toxicity", 0.5},
                                     {"attributes", {{"latency", 10}}}});
        // Find a connection whose draw said no, then apply other rule sets many times.
        for (std::uint64_t seed = 0;; ++seed) {
            Connection connection(clock, seed);
            connection.apply({half}, counters);
            if (!connection.rules.is_transparent(down)) continue;
            for (int i = 0; i < 50; ++i) {
                connection.apply({half, latency("other", i + 1)}, counters);
                CHECK(connection.rules.active() == std::vector<std::string>{"other"});
            }
            Rule always = half;
            always.toxicity = 1.0;
            connection.apply({always}, counters);
            CHECK(connection.rules.active() == std::vector<std::string>{"half"});
            break;
        }
    }

    TEST_CASE("toxicity 0 never acts and 1 always does") {
        ManualClock clock;
        RuleCounters counters;
        Rule never = latency("never", 10);
        never.toxicity = 0.0;
        for (std::uint64_t seed = 0; seed < 32; ++seed) {
            Connection connection(clock, seed);
            connection.apply({never, latency("always", 10)}, counters);
            CHECK(connection.rules.active() == std::vector<std::string>{"always"});
        }
    }

    TEST_CASE("disabling a rule releases what it holds; enabling it again decides afresh") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        Rule lag = latency("lag", 1000);
        connection.apply({lag}, counters);
        connection.send(down, "held");
        CHECK(connection.rules.held_bytes(down) == 4);
        CHECK(connection.host.delivered[down].empty());

        lag.enabled = false;
        connection.apply({lag}, counters);
        CHECK(connection.host.delivered[down] == "held");
        CHECK(connection.rules.is_transparent(down));
        CHECK(connection.rules.held_bytes(down) == 0);

        lag.enabled = true;
        connection.apply({lag}, counters);
        CHECK_FALSE(connection.rules.is_transparent(down));
        CHECK(connection.host.started == std::vector<std::string>{"lag", "lag"});
    }

    TEST_CASE("a rule changed in its attributes keeps acting with the new values") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({latency("lag", 1000)}, counters);
        connection.apply({latency("lag", 10)}, counters);
        CHECK(connection.host.started.size() == 1);
        connection.send(down, "x");
        clock.advance(10ms);
        CHECK(connection.host.delivered[down] == "x");
    }

    TEST_CASE("a rule whose type changes is a new rule in the same place") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({latency("r", 1000)}, counters);
        connection.send(down, "held");
        Rule replaced = dropping("r");
        connection.apply({replaced}, counters);
        CHECK(connection.host.delivered[down] == "held");  // the old fault released its bytes
        CHECK(connection.host.started == std::vector<std::string>{"r", "r"});
        connection.send(down, "dropped");
        CHECK(connection.host.delivered[down] == "held");
    }

    TEST_CASE("a rule moved to the other stream leaves the first one") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        Rule lag = latency("lag", 1000);
        connection.apply({lag}, counters);
        lag.stream = up;
        connection.apply({lag}, counters);
        CHECK(connection.rules.is_transparent(down));
        CHECK_FALSE(connection.rules.is_transparent(up));
    }

    TEST_CASE("a rule removed after it swallowed bytes leaves a hole: the connection must end") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({rule_from({{"name", "cut"},
                                     {"type", "interrupt"},
                                     {"attributes", {{"mode", "discard"}}}})},
                         counters);
        connection.send(down, "lost");
        connection.apply({}, counters);
        REQUIRE(connection.host.broken.size() == 1);
        CHECK(connection.host.broken[0].reason == teardown::Reason::xlate_clear);
        CHECK(connection.host.broken[0].rule == "cut");
    }

    TEST_CASE("rules that act on the listener never act on a connection") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply(
            {rule_from({{"name", "refuse"}, {"type", "refuse"}, {"attributes", {{"mode", "reject"}}}})},
            counters);
        CHECK(connection.rules.is_transparent(down));
        CHECK(connection.host.started.empty());
    }

    TEST_CASE("a connection a rule ends carries the rule: Deny, or Conn-timeout for idle_timeout") {
        ManualClock clock;
        RuleCounters counters;
        Connection reset(clock);
        reset.apply({rule_from({{"name", "kill"},
                                {"type", "reset"},
                                {"attributes", {{"target", "client"}, {"flush", true}}}})},
                    counters);
        REQUIRE(reset.host.resets.size() == 1);
        CHECK(reset.host.resets[0].cause.reason == teardown::Reason::deny);
        CHECK(reset.host.resets[0].cause.rule == "kill");
        CHECK(reset.host.resets[0].target == faults::Target::client);
        CHECK(reset.host.resets[0].flush);

        Connection idle(clock);
        idle.host.last_activity_ = clock.now();
        idle.apply({rule_from({{"name", "nat"},
                               {"type", "idle_timeout"},
                               {"attributes", {{"timeout", 100}, {"action", "rst"}}}})},
                   counters);
        clock.advance(100ms);
        REQUIRE(idle.host.resets.size() == 1);
        CHECK(idle.host.resets[0].cause.reason == teardown::Reason::conn_timeout);
        CHECK(idle.host.resets[0].cause.rule == "nat");
    }

    TEST_CASE("a forgotten flow goes silent: every byte either way is swallowed") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.host.last_activity_ = clock.now();
        connection.apply({rule_from({{"name", "nat"},
                                     {"type", "idle_timeout"},
                                     {"attributes", {{"timeout", 100}, {"action", "forget"}}}})},
                         counters);
        CHECK_FALSE(connection.rules.silent_cause());
        clock.advance(100ms);
        REQUIRE(connection.rules.silent_cause());
        CHECK(connection.rules.silent_cause()->reason == teardown::Reason::conn_timeout);
        CHECK(connection.rules.silent_cause()->rule == "nat");
        CHECK_FALSE(connection.rules.is_transparent(up));
        connection.send(up, "lost");
        connection.send(down, "lost too");
        CHECK(connection.host.delivered[up].empty());
        CHECK(connection.host.delivered[down].empty());
    }

    TEST_CASE("a collapsed half-close: bytes that come back the other way reset their sender") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({rule_from({{"name", "collapse"},
                                     {"type", "half_close"},
                                     {"stream", "upstream"},
                                     {"attributes", {{"mode", "collapse"}}}})},
                         counters);
        connection.rules.on_end(up);
        CHECK(connection.host.ends[up] == 1);
        CHECK_FALSE(connection.rules.is_transparent(down));
        connection.send(down, "late reply");
        REQUIRE(connection.host.resets.size() == 1);
        CHECK(connection.host.resets[0].cause.rule == "collapse");
        CHECK(connection.host.resets[0].target == faults::Target::both);
        CHECK_FALSE(connection.host.resets[0].flush);
    }

    TEST_CASE("the last rule that fired is named until it goes away") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({latency("lag", 10)}, counters);
        CHECK(connection.rules.last_fired() == "lag");
        connection.apply({}, counters);
        CHECK(connection.rules.last_fired().empty());
    }

    TEST_CASE("once the connection has ended no fault's timer runs") {
        ManualClock clock;
        RuleCounters counters;
        Connection connection(clock);
        connection.apply({latency("lag", 100)}, counters);
        connection.send(down, "x");
        CHECK(clock.armed_timers() == 1);
        connection.rules.stop_timers();
        CHECK(clock.armed_timers() == 0);
        clock.advance(1s);
        CHECK(connection.host.delivered[down].empty());
    }
}

}  // namespace faultline::rules

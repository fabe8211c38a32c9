// The rule engine on a manual clock: every match condition, the after_bytes split, toxicity drawn
// once from a seeded source, rules switched on and off, their order, and what the faults ask of the
// connection. Real fault types act here; only the connection and the clock are fakes.
#include "rules/connection_rules.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/rules/engine_support.hpp"

namespace faultline::rules {
namespace {

using faults::Stream;
using nlohmann::json;
using Names = std::vector<std::string>;

const Stream down = Stream::downstream;
const Stream up = Stream::upstream;

// A rule that swallows every byte of its stream and never closes: what reaches the destination
// shows exactly when the rule started.
Rule dropping(const std::string& name, const json& match = nullptr) {
    json toxic{{"name", name}, {"type", "timeout"}, {"attributes", {{"timeout", 0}}}};
    if (!match.is_null()) toxic["match"] = match;
    return rule_from(toxic);
}

Rule latency(const std::string& name, int ms, double toxicity = 1.0) {
    return rule_from({{"name", name},
                      {"type", "latency"},
                      {"toxicity", toxicity},
                      {"attributes", {{"latency", ms}}}});
}

// Whether `rule` acts on each of the next `count` connections of the proxy, in turn.
std::vector<bool> affected_in_turn(EngineProxy& proxy, const Rule& rule, int count) {
    std::vector<bool> affected;
    for (int i = 0; i < count; ++i)
        affected.push_back(proxy.connect({rule})->is_affected(down));
    return affected;
}

// The rule "drop" has not started yet; once the clock has moved by `wait` it has, and swallows
// what comes next: what reached the destination stays `delivered`.
void check_drop_starts_after(EngineProxy& proxy, Connection& connection, Micros wait,
                             const std::string& delivered) {
    CHECK(connection.host.started.empty());
    proxy.clock.advance(wait);
    CHECK(connection.host.started == Names{"drop"});
    connection.send(down, "late");
    CHECK(connection.delivered(down) == delivered);
}

// The connection's first cause of ending that a rule asked for, by reset.
const teardown::Cause& reset_cause(Connection& connection) {
    REQUIRE(connection.host.resets.size() == 1);
    return connection.host.resets[0].cause;
}

// A host that, as the session does, adds up what a stream's rules hold whenever that changes.
class BackpressureHost final : public RuleHost {
  public:
    [[nodiscard]] bool is_over() const override { return false; }
    [[nodiscard]] Micros last_activity() const override { return Micros{0}; }
    void deliver(faults::Stream, std::string bytes) override { delivered += bytes.size(); }
    void deliver_end(faults::Stream) override {}
    void reset(const teardown::Cause&, faults::Target, bool) override {}
    void claim_ending(const teardown::Cause&) override {}
    void close(const teardown::Cause&) override {}
    void held_bytes_changed(faults::Stream stream) override { held = engine->held_bytes(stream); }
    void rule_started(const Rule&) override {}
    void stream_broken(const teardown::Cause&) override {}

    ConnectionRules* engine = nullptr;
    std::size_t delivered = 0;
    std::size_t held = 0;
};

// Seconds to set up one connection with `count` rules in both streams (each with a match
// condition that its decision reads; one in eight passes bytes on, the others wait for bytes
// that never come), pass a chunk each way through them, and remove them all: the best of three.
double rule_setup_seconds(std::size_t count) {
    std::vector<Rule> rules;
    for (std::size_t i = 0; i < count; ++i) {
        json match{{"every", 1}};
        if (i % 8 != 0) match["after_bytes"] = 1'000'000;
        auto parsed = parse_rule_json({{"name", "r" + std::to_string(i)},
                                       {"type", "noop"},
                                       {"stream", i % 2 == 0 ? "upstream" : "downstream"},
                                       {"match", match}});
        REQUIRE(parsed.rule);
        rules.push_back(*parsed.rule);
    }
    double best = 1e9;
    for (int run = 0; run < 3; ++run) {
        ManualClock clock;
        RuleCounters counters;
        Random random(1);
        BackpressureHost host;
        ConnectionRules engine(host, clock, random);
        host.engine = &engine;
        const auto start = std::chrono::steady_clock::now();
        engine.apply(rules, {}, counters, 0us);
        engine.on_data(up, "x");
        engine.on_data(down, "y");
        engine.apply({}, {}, counters, 0us);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        best = std::min(best, took.count());
        CHECK(host.delivered == 2);
        CHECK(engine.is_transparent(up));
    }
    return best;
}

}  // namespace

TEST_SUITE("rules/connection_rules") {
    TEST_CASE("a stream without rules is transparent; a rule that applies takes it over") {
        EngineProxy proxy;
        auto connection = proxy.connect({});
        CHECK_FALSE(connection->is_affected(down));
        CHECK_FALSE(connection->is_affected(up));

        connection->apply({latency("lag", 100)}, proxy.counters);
        CHECK(connection->is_affected(down));
        CHECK_FALSE(connection->is_affected(up));
        CHECK(connection->host.started == Names{"lag"});
        CHECK(connection->rules.active() == Names{"lag"});
    }

    TEST_CASE("rules act in their order: each passes on to the next what it lets through") {
        const Rule limit =
            rule_from({{"name", "limit"}, {"type", "limit_data"}, {"attributes", {{"bytes", 4}}}});
        const Rule lag = latency("lag", 100);
        EngineProxy proxy;

        // The limit first: four bytes pass it and reach the latency, which holds them; the
        // limit's close releases what the later rule holds first, then asks for the FIN.
        auto limit_first = proxy.connect({limit, lag});
        limit_first->send(down, "abcdefgh");
        CHECK(limit_first->delivered(down) == "abcd");
        REQUIRE(limit_first->host.closes.size() == 1);
        CHECK(limit_first->host.closes[0].rule == "limit");
        CHECK(limit_first->host.claimed.size() == 1);

        // The latency first: nothing reaches the limit for 100 ms.
        auto lag_first = proxy.connect({lag, limit});
        lag_first->send(down, "abcdefgh");
        CHECK(lag_first->delivered(down).empty());
        CHECK(lag_first->host.closes.empty());
        proxy.clock.advance(100ms);
        CHECK(lag_first->delivered(down) == "abcd");
        CHECK(lag_first->host.closes.size() == 1);
    }

    TEST_CASE("after_bytes lets the first bytes through and splits the chunk at the threshold") {
        EngineProxy proxy;
        auto connection = proxy.connect({dropping("drop", {{"after_bytes", 5}})});
        CHECK(connection->host.started.empty());
        connection->send(down, "hello world");
        CHECK(connection->delivered(down) == "hello");
        CHECK(connection->host.started == Names{"drop"});
        connection->send(down, "more");
        CHECK(connection->delivered(down) == "hello");
    }

    TEST_CASE(
        "after_bytes counts across chunks, and a threshold at a chunk's end starts the fault "
        "after that chunk") {
        EngineProxy proxy;
        auto across = proxy.connect({dropping("drop", {{"after_bytes", 5}})});
        across->send(down, "abc");
        across->send(down, "defgh");
        CHECK(across->delivered(down) == "abcde");

        auto exact = proxy.connect({dropping("drop", {{"after_bytes", 3}})});
        exact->send(down, "abc");
        CHECK(exact->delivered(down) == "abc");
        CHECK(exact->host.started == Names{"drop"});
        exact->send(down, "d");
        CHECK(exact->delivered(down) == "abc");
    }

    TEST_CASE("after_bytes counts only the rule's own stream") {
        EngineProxy proxy;
        auto connection = proxy.connect({dropping("drop", {{"after_bytes", 2}})});
        connection->send(up, "upstream bytes");
        CHECK(connection->host.started.empty());
        connection->send(down, "xyz");
        CHECK(connection->delivered(down) == "xy");
    }

    TEST_CASE("after: the rule starts once the connection is that old, by the clock") {
        EngineProxy proxy;
        auto connection = proxy.connect({dropping("drop", {{"after", "100ms"}})}, 1, 30ms);
        connection->send(down, "early");
        CHECK(connection->delivered(down) == "early");
        proxy.clock.advance(69ms);
        check_drop_starts_after(proxy, *connection, 1ms, "early");
    }

    TEST_CASE("after: a rule that arrives on an older connection starts at once") {
        EngineProxy proxy;
        auto connection = proxy.connect({dropping("drop", {{"after", "100ms"}})}, 1, 250ms);
        CHECK(connection->host.started == Names{"drop"});
    }

    TEST_CASE("after and after_bytes together: the rule starts once both are met") {
        EngineProxy proxy;
        auto time_last =
            proxy.connect({dropping("drop", {{"after", "50ms"}, {"after_bytes", 10}})});
        time_last->send(down, "before");  // counts toward after_bytes while the time runs
        proxy.clock.advance(50ms);
        CHECK(time_last->host.started.empty());
        time_last->send(down, "abcdef");
        CHECK(time_last->delivered(down) == "beforeabcd");

        auto bytes_first =
            proxy.connect({dropping("drop", {{"after", "50ms"}, {"after_bytes", 2}})});
        bytes_first->send(down, "abcd");
        check_drop_starts_after(proxy, *bytes_first, 50ms, "abcd");
    }

    TEST_CASE("first: only the first N connections after the rule was added") {
        EngineProxy proxy;
        const Rule rule = dropping("drop", {{"first", 2}});
        CHECK(affected_in_turn(proxy, rule, 4) == std::vector<bool>{true, true, false, false});

        // A rule that goes away and comes back counts from zero.
        proxy.counters.keep_only({});
        CHECK(affected_in_turn(proxy, rule, 1) == std::vector<bool>{true});
    }

    TEST_CASE("every: every Nth connection after the rule was added") {
        EngineProxy proxy;
        CHECK(affected_in_turn(proxy, dropping("drop", {{"every", 3}}), 7) ==
              std::vector<bool>{false, false, true, false, false, true, false});
    }

    TEST_CASE("clients: only connections from a listed network, never an unknown client") {
        EngineProxy proxy;
        const Rule rule = dropping("drop", {{"clients", {"10.0.0.0/8"}}});
        auto inside = client_address("10.1.2.3");
        auto outside = client_address("192.168.1.1");
        CHECK(proxy.connect({rule}, 1, 0us, reinterpret_cast<const sockaddr*>(&inside))
                  ->is_affected(down));
        CHECK_FALSE(proxy.connect({rule}, 1, 0us, reinterpret_cast<const sockaddr*>(&outside))
                        ->is_affected(down));
        CHECK_FALSE(proxy.connect({rule})->is_affected(down));
    }

    TEST_CASE("toxicity is drawn once per connection from its own seeded source") {
        const Rule half = latency("half", 10, 0.5);
        auto outcomes = [&](std::uint64_t seed) {
            EngineProxy proxy;
            std::vector<bool> affected;
            for (std::uint64_t i = 0; i < 64; ++i)
                affected.push_back(
                    proxy.connect({half}, connection_seed(seed, "p", i))->is_affected(down));
            return affected;
        };
        const auto first_run = outcomes(42);
        CHECK(first_run == outcomes(42));
        CHECK(first_run != outcomes(43));
        const auto affected = std::count(first_run.begin(), first_run.end(), true);
        CHECK(affected > 16);
        CHECK(affected < 48);
    }

    TEST_CASE("an unrelated change draws nothing again; a changed toxicity is a new draw") {
        EngineProxy proxy;
        const Rule half = latency("half", 10, 0.5);
        // Find a connection whose draw said no, then apply other rule sets many times.
        for (std::uint64_t seed = 0;; ++seed) {
            auto connection = proxy.connect({half}, seed);
            if (connection->is_affected(down)) continue;
            for (int i = 0; i < 50; ++i) {
                connection->apply({half, latency("other", i + 1)}, proxy.counters);
                CHECK(connection->rules.active() == Names{"other"});
            }
            Rule always = half;
            always.toxicity = 1.0;
            connection->apply({always}, proxy.counters);
            CHECK(connection->rules.active() == Names{"half"});
            break;
        }
    }

    TEST_CASE("toxicity 0 never acts and 1 always does") {
        EngineProxy proxy;
        for (std::uint64_t seed = 0; seed < 32; ++seed) {
            auto connection =
                proxy.connect({latency("never", 10, 0.0), latency("always", 10)}, seed);
            CHECK(connection->rules.active() == Names{"always"});
        }
    }

    TEST_CASE("disabling a rule releases what it holds; enabling it again decides afresh") {
        EngineProxy proxy;
        Rule lag = latency("lag", 1000);
        auto connection = proxy.connect({lag});
        connection->send(down, "held");
        CHECK(connection->rules.held_bytes(down) == 4);
        CHECK(connection->delivered(down).empty());

        lag.enabled = false;
        connection->apply({lag}, proxy.counters);
        CHECK(connection->delivered(down) == "held");
        CHECK_FALSE(connection->is_affected(down));
        CHECK(connection->rules.held_bytes(down) == 0);

        lag.enabled = true;
        connection->apply({lag}, proxy.counters);
        CHECK(connection->is_affected(down));
        CHECK(connection->host.started == Names{"lag", "lag"});
    }

    TEST_CASE("a rule changed in its attributes keeps acting with the new values") {
        EngineProxy proxy;
        auto connection = proxy.connect({latency("lag", 1000)});
        connection->apply({latency("lag", 10)}, proxy.counters);
        CHECK(connection->host.started.size() == 1);
        connection->send(down, "x");
        proxy.clock.advance(10ms);
        CHECK(connection->delivered(down) == "x");
    }

    TEST_CASE("a rule whose type changes is a new rule in the same place") {
        EngineProxy proxy;
        auto connection = proxy.connect({latency("r", 1000)});
        connection->send(down, "held");
        connection->apply({dropping("r")}, proxy.counters);
        CHECK(connection->delivered(down) == "held");  // the old fault released its bytes
        CHECK(connection->host.started == Names{"r", "r"});
        connection->send(down, "dropped");
        CHECK(connection->delivered(down) == "held");
    }

    TEST_CASE("a rule moved to the other stream leaves the first one") {
        EngineProxy proxy;
        Rule lag = latency("lag", 1000);
        auto connection = proxy.connect({lag});
        lag.stream = up;
        connection->apply({lag}, proxy.counters);
        CHECK_FALSE(connection->is_affected(down));
        CHECK(connection->is_affected(up));
    }

    TEST_CASE("a rule removed after it swallowed bytes leaves a hole: the connection must end") {
        EngineProxy proxy;
        auto connection = proxy.connect({rule_from(
            {{"name", "cut"}, {"type", "interrupt"}, {"attributes", {{"mode", "discard"}}}})});
        connection->send(down, "lost");
        connection->apply({}, proxy.counters);
        REQUIRE(connection->host.broken.size() == 1);
        CHECK(connection->host.broken[0].reason == teardown::Reason::xlate_clear);
        CHECK(connection->host.broken[0].rule == "cut");
    }

    TEST_CASE("rules that act on the listener never act on a connection") {
        EngineProxy proxy;
        auto connection = proxy.connect({rule_from(
            {{"name", "refuse"}, {"type", "refuse"}, {"attributes", {{"mode", "reject"}}}})});
        CHECK_FALSE(connection->is_affected(down));
        CHECK(connection->host.started.empty());
    }

    TEST_CASE("a connection a rule ends carries the rule: Deny, or Conn-timeout for idle_timeout") {
        EngineProxy proxy;
        auto reset =
            proxy.connect({rule_from({{"name", "kill"},
                                      {"type", "reset"},
                                      {"attributes", {{"target", "client"}, {"flush", true}}}})});
        CHECK(reset_cause(*reset).reason == teardown::Reason::deny);
        CHECK(reset_cause(*reset).rule == "kill");
        CHECK(reset->host.resets[0].target == faults::Target::client);
        CHECK(reset->host.resets[0].flush);

        auto idle = std::make_unique<Connection>(proxy.clock);
        idle->host.last_activity_ = proxy.clock.now();
        idle->apply({rule_from({{"name", "nat"},
                                {"type", "idle_timeout"},
                                {"attributes", {{"timeout", 100}, {"action", "rst"}}}})},
                    proxy.counters);
        proxy.clock.advance(100ms);
        CHECK(reset_cause(*idle).reason == teardown::Reason::conn_timeout);
        CHECK(reset_cause(*idle).rule == "nat");
    }

    TEST_CASE("a forgotten flow goes silent: every byte either way is swallowed") {
        EngineProxy proxy;
        Connection connection(proxy.clock);
        connection.host.last_activity_ = proxy.clock.now();
        connection.apply({rule_from({{"name", "nat"},
                                     {"type", "idle_timeout"},
                                     {"attributes", {{"timeout", 100}, {"action", "forget"}}}})},
                         proxy.counters);
        CHECK_FALSE(connection.rules.silent_cause());
        proxy.clock.advance(100ms);
        REQUIRE(connection.rules.silent_cause());
        CHECK(connection.rules.silent_cause()->reason == teardown::Reason::conn_timeout);
        CHECK(connection.rules.silent_cause()->rule == "nat");
        CHECK(connection.is_affected(up));
        connection.send(up, "lost");
        connection.send(down, "lost too");
        CHECK(connection.delivered(up).empty());
        CHECK(connection.delivered(down).empty());
    }

    TEST_CASE("a collapsed half-close: bytes that come back the other way reset their sender") {
        EngineProxy proxy;
        auto connection = proxy.connect({rule_from({{"name", "collapse"},
                                                    {"type", "half_close"},
                                                    {"stream", "upstream"},
                                                    {"attributes", {{"mode", "collapse"}}}})});
        connection->rules.on_end(up);
        CHECK(connection->host.ends[up] == 1);
        CHECK(connection->is_affected(down));
        connection->send(down, "late reply");
        CHECK(reset_cause(*connection).rule == "collapse");
        CHECK(connection->host.resets[0].target == faults::Target::both);
        CHECK_FALSE(connection->host.resets[0].flush);
    }

    TEST_CASE("the last rule that fired is named until it goes away") {
        EngineProxy proxy;
        auto connection = proxy.connect({latency("lag", 10)});
        CHECK(connection->rules.last_fired() == "lag");
        connection->apply({}, proxy.counters);
        CHECK(connection->rules.last_fired().empty());
    }

    TEST_CASE("a connection's rules cost time linear in their number, to set up and to remove") {
        const double small = rule_setup_seconds(1000);
        const double large = rule_setup_seconds(4000);
        INFO("1000 rules: " << small * 1000 << " ms; 4000 rules: " << large * 1000 << " ms");
        // Linear is 4 times as long, quadratic 16 times; the bound leaves room for a busy machine.
        CHECK(large < 8 * small);
    }

    TEST_CASE("once the connection has ended no fault's timer runs") {
        EngineProxy proxy;
        auto connection = proxy.connect({latency("lag", 100)});
        connection->send(down, "x");
        CHECK(proxy.clock.armed_timers() == 1);
        connection->rules.stop_timers();
        CHECK(proxy.clock.armed_timers() == 0);
        proxy.clock.advance(1s);
        CHECK(connection->delivered(down).empty());
    }
}

}  // namespace faultline::rules

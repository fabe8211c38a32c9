// Tests for faults/idle_timeout.hpp: the deadline from the connection's last activity, the three
// actions, re-arming after activity, and the Conn-timeout end reason.
#include "faults/idle_timeout.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

const auto errors_of = config_errors<IdleTimeoutConfig>;

TEST_CASE("requires a timeout greater than 0 and one of the actions") {
    CHECK(errors_of(nlohmann::json()) == "timeout: must be greater than 0, got 0");
    CHECK(errors_of({{"timeout", 0}}) == "timeout: must be greater than 0, got 0");
    CHECK(errors_of({{"timeout", 10}, {"action", "drop"}}) ==
          "action: unknown value 'drop'; known: fin, rst, forget");
    CHECK(errors_of({{"timeout", 10}, {"action", "forget"}}).empty());
}

TEST_CASE("the deadline is the later of the last activity and the start, plus the timeout") {
    CHECK(idle_deadline(5s, 1s, 100ms) == 5s + 100ms);
    CHECK(idle_deadline(1s, 5s, 100ms) == 5s + 100ms);
}

TEST_CASE(
    "acts after timeout ms with no byte either way: fin closes, rst resets, forget silences") {
    const std::vector<std::pair<IdleAction, Event>> cases{
        {IdleAction::fin, close_at(100ms)},
        {IdleAction::rst, reset_at(100ms, Target::both, false)},
        {IdleAction::forget, silent_at(100ms)},
    };
    for (const auto& [action, expected] : cases) {
        CAPTURE(expected);
        FakeContext context;
        IdleTimeoutFault fault(IdleTimeoutConfig{100ms, action});
        fault.on_start(context);
        CHECK(context.timer() == 100ms);
        context.advance(fault, 1s);
        CHECK(context.events() == Events{expected});
        CHECK_FALSE(context.timer());
    }
}

TEST_CASE("activity in either direction moves the deadline and the timer follows it") {
    FakeContext context;
    IdleTimeoutFault fault(IdleTimeoutConfig{100ms, IdleAction::fin});
    fault.on_start(context);
    context.advance(fault, 30ms);
    fault.on_data(context, "ab");
    context.set_last_activity(30ms);
    context.advance_to(fault, 90ms);
    context.set_last_activity(90ms);  // bytes in the other direction
    context.advance_to(fault, 150ms);
    CHECK(context.timer() == 190ms);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(30ms, "ab"), close_at(190ms)});
}

TEST_CASE("on a connection idle before the rule, counts from the rule's start") {
    FakeContext context(Stream::downstream, 10s);
    IdleTimeoutFault fault(IdleTimeoutConfig{100ms, IdleAction::rst});
    fault.on_start(context);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{reset_at(10s + 100ms, Target::both, false)});
}

TEST_CASE("nothing passes once the flow expired") {
    FakeContext context;
    IdleTimeoutFault fault(IdleTimeoutConfig{100ms, IdleAction::forget});
    fault.on_start(context);
    context.advance(fault, 100ms);
    fault.on_data(context, "late");
    fault.on_end(context);
    CHECK(context.events() == Events{silent_at(100ms)});
}

TEST_CASE("going away cancels the timer; a new timeout re-arms it") {
    FakeContext context;
    IdleTimeoutFault fault(IdleTimeoutConfig{100ms, IdleAction::fin});
    fault.on_start(context);
    fault.configure(IdleTimeoutConfig{40ms, IdleAction::fin});
    fault.on_update(context);
    CHECK(context.timer() == 40ms);
    fault.on_stop(context);
    CHECK_FALSE(context.timer());
    CHECK(context.events().empty());
}

TEST_CASE("connections it ends are recorded as an idle timeout") {
    const auto parsed =
        read_basic_spec<IdleTimeoutConfig, IdleTimeoutFault>("idle_timeout", {{"timeout", 5}});
    REQUIRE(parsed.spec);
    CHECK(parsed.spec->end_reason() == EndReason::idle_timeout);
    CHECK(parsed.spec->attributes().dump() == R"({"timeout":5,"action":"fin"})");
}

}  // namespace faultline::faults

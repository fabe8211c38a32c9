// Tests for faults/idle_timeout.hpp: the deadline from the connection's last activity, the three
// actions, re-arming after activity, and the Conn-timeout end reason.
#include "faults/idle_timeout.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

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
        Started<IdleTimeoutFault> idle(IdleTimeoutConfig{100ms, action});
        CHECK(idle.timer() == 100ms);
        idle.wait(1s);
        CHECK(idle.events() == Events{expected});
        CHECK_FALSE(idle.timer());
    }
}

TEST_CASE("activity in either direction moves the deadline and the timer follows it") {
    Started<IdleTimeoutFault> idle(IdleTimeoutConfig{100ms, IdleAction::fin});
    idle.wait(30ms).data("ab");
    idle.context.set_last_activity(30ms);
    idle.wait_until(90ms);
    idle.context.set_last_activity(90ms);  // bytes in the other direction
    idle.wait_until(150ms);
    CHECK(idle.timer() == 190ms);
    idle.wait(1s);
    CHECK(idle.events() == Events{data_at(30ms, "ab"), close_at(190ms)});
}

TEST_CASE("on a connection idle before the rule, counts from the rule's start") {
    Started<IdleTimeoutFault> idle(IdleTimeoutConfig{100ms, IdleAction::rst}, Stream::downstream,
                                   10s);
    idle.wait(1s);
    CHECK(idle.events() == Events{reset_at(10s + 100ms, Target::both, false)});
}

TEST_CASE("nothing passes once the flow expired") {
    Started<IdleTimeoutFault> idle(IdleTimeoutConfig{100ms, IdleAction::forget});
    idle.wait(100ms).data("late").end();
    CHECK(idle.events() == Events{silent_at(100ms)});
}

TEST_CASE("going away cancels the timer; a new timeout re-arms it") {
    Started<IdleTimeoutFault> idle(IdleTimeoutConfig{100ms, IdleAction::fin});
    idle.update(IdleTimeoutConfig{40ms, IdleAction::fin});
    CHECK(idle.timer() == 40ms);
    idle.stop();
    CHECK_FALSE(idle.timer());
    CHECK(idle.events().empty());
}

TEST_CASE("connections it ends are recorded as an idle timeout") {
    const auto parsed =
        read_basic_spec<IdleTimeoutConfig, IdleTimeoutFault>("idle_timeout", {{"timeout", 5}});
    REQUIRE(parsed.spec);
    CHECK(parsed.spec->end_reason() == EndReason::idle_timeout);
    CHECK(parsed.spec->attributes().dump() == R"({"timeout":5,"action":"fin"})");
}

}  // namespace faultline::faults

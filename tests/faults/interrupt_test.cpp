// Tests for faults/interrupt.hpp: stall and discard, the held end, the end of the interruption
// by its duration or by the rule going away.
#include "faults/interrupt.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("stall holds bytes from the start and delivers them when the duration is over") {
    Started<InterruptFault> stall(InterruptConfig{InterruptMode::stall, 100ms});
    stall.wait(10ms).data("ab").wait(10ms).data("cd");
    CHECK(stall.held_bytes() == 4u);
    stall.wait(79ms);
    CHECK(stall.events().empty());
    stall.wait(51ms).data("ef");
    CHECK(stall.events() ==
          Events{data_at(100ms, "ab"), data_at(100ms, "cd"), data_at(150ms, "ef")});
    CHECK(stall.held_bytes() == 0u);
}

TEST_CASE("discard swallows bytes during the interruption, then bytes pass") {
    Started<InterruptFault> discard(InterruptConfig{InterruptMode::discard, 100ms});
    discard.data("lost");
    CHECK(discard.held_bytes() == 0u);
    discard.wait(150ms).data("ef");
    CHECK(discard.events() == Events{data_at(150ms, "ef")});
}

TEST_CASE("in both modes the end of the stream waits for the end of the interruption") {
    for (const auto mode : {InterruptMode::stall, InterruptMode::discard}) {
        CAPTURE(static_cast<int>(mode));
        Started<InterruptFault> interrupt(InterruptConfig{mode, 100ms});
        interrupt.data("a").wait(20ms).end().wait(1s);
        const Events stalled{data_at(100ms, "a"), end_at(100ms)};
        const Events discarded{end_at(100ms)};
        CHECK(interrupt.events() == (mode == InterruptMode::stall ? stalled : discarded));
    }
}

TEST_CASE("a duration of 0 lasts until the rule goes away, which delivers what was held") {
    Started<InterruptFault> interrupt(InterruptConfig{});
    interrupt.data("held").end().wait(1h);
    CHECK(interrupt.events().empty());
    CHECK_FALSE(interrupt.timer());
    interrupt.stop();
    CHECK(interrupt.events() == Events{data_at(1h, "held"), end_at(1h)});
}

TEST_CASE("the rule going away ends the interruption early and cancels its timer") {
    Started<InterruptFault> stall(InterruptConfig{InterruptMode::stall, 100ms});
    stall.data("x").wait(50ms).stop();
    CHECK(stall.events() == Events{data_at(50ms, "x")});
    CHECK_FALSE(stall.timer());
}

TEST_CASE("the rule going away after the interruption ended does nothing more") {
    Started<InterruptFault> stall(InterruptConfig{InterruptMode::stall, 100ms});
    stall.wait(200ms).end().stop();
    CHECK(stall.events() == Events{end_at(200ms)});
}

TEST_CASE("a new duration counts from the start of the interruption") {
    Started<InterruptFault> shorter(InterruptConfig{});
    shorter.data("x").wait(100ms).update(InterruptConfig{InterruptMode::stall, 50ms});
    CHECK(shorter.events() == Events{data_at(100ms, "x")});

    Started<InterruptFault> longer(InterruptConfig{InterruptMode::stall, 100ms});
    longer.wait(50ms).update(InterruptConfig{InterruptMode::stall, 300ms});
    longer.data("y").wait(1s);
    CHECK(longer.events() == Events{data_at(300ms, "y")});
}

TEST_CASE("a discard that swallowed bytes leaves a broken stream; a stall does not") {
    FakeContext context;
    InterruptFault discard(InterruptConfig{InterruptMode::discard, std::chrono::milliseconds(0)});
    discard.on_start(context);
    CHECK_FALSE(discard.has_broken_stream());
    discard.on_data(context, "lost");
    CHECK(discard.has_broken_stream());

    InterruptFault stall(InterruptConfig{InterruptMode::stall, std::chrono::milliseconds(0)});
    stall.on_start(context);
    stall.on_data(context, "kept");
    stall.on_stop(context);
    CHECK_FALSE(stall.has_broken_stream());
}

}  // namespace faultline::faults

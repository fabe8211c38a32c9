// Tests for faults/timeout.hpp: bytes are dropped, the connection is closed after a silence.
#include "faults/timeout.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("the deadline is the last arrival plus the timeout, and 0 means never") {
    CHECK(silence_deadline(5ms, 100ms) == 105ms);
    CHECK_FALSE(silence_deadline(5ms, 0ms));
}

TEST_CASE("drops bytes and closes the connection after timeout ms counted from its start") {
    Started<TimeoutFault> timeout(TimeoutConfig{100ms}, Stream::downstream, 1s);
    timeout.wait(30ms).data("dropped");
    CHECK(timeout.held_bytes() == 0u);
    timeout.wait(1s);
    CHECK(timeout.events() == Events{close_at(1s + 130ms)});
}

TEST_CASE("each arriving chunk restarts the count") {
    Started<TimeoutFault> timeout(TimeoutConfig{100ms});
    timeout.wait(99ms).data("a").wait(99ms).data("b").wait(99ms);
    CHECK(timeout.events().empty());
    timeout.wait(1s);
    CHECK(timeout.events() == Events{close_at(298ms)});
}

TEST_CASE("a timeout of 0 drops bytes and never closes") {
    Started<TimeoutFault> timeout(TimeoutConfig{});
    timeout.data("dropped").wait(24h);
    CHECK(timeout.events().empty());
    CHECK_FALSE(timeout.timer());
}

TEST_CASE("holds the end of the stream and passes it when the rule goes away") {
    Started<TimeoutFault> timeout(TimeoutConfig{});
    timeout.data("dropped").end().wait(1s);
    CHECK(timeout.events().empty());
    timeout.stop();
    CHECK(timeout.events() == Events{end_at(1s)});
}

TEST_CASE("going away cancels the close; after a close, a held end is not passed") {
    Started<TimeoutFault> timeout(TimeoutConfig{100ms});
    timeout.stop();
    CHECK_FALSE(timeout.timer());

    Started<TimeoutFault> closed(TimeoutConfig{100ms});
    closed.end().wait(1s).stop();
    CHECK(closed.events() == Events{close_at(100ms)});
}

TEST_CASE("a new timeout applies at once, from the last arrival") {
    Started<TimeoutFault> timeout(TimeoutConfig{1000ms});
    timeout.wait(200ms);
    timeout.update(TimeoutConfig{100ms}).wait(0ms);  // the deadline, 100 ms, has passed
    CHECK(timeout.events() == Events{close_at(200ms)});

    Started<TimeoutFault> never(TimeoutConfig{});
    never.wait(50ms).update(TimeoutConfig{100ms}).wait(1s);
    CHECK(never.events() == Events{close_at(100ms)});
}

}  // namespace faultline::faults

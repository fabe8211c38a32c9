// Tests for faults/slow_close.hpp: bytes pass, the end of the stream comes `delay` late.
#include "faults/slow_close.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("passes bytes at once and the end of the stream delay late") {
    Started<SlowCloseFault> slow(SlowCloseConfig{300ms});
    slow.data("abc").wait(10ms).end().wait(299ms);
    CHECK(slow.events() == Events{data_at(0us, "abc")});
    slow.wait(1s);
    CHECK(slow.events() == Events{data_at(0us, "abc"), end_at(310ms)});
    CHECK_FALSE(slow.timer());
}

TEST_CASE("with no delay the end of the stream passes at once") {
    Started<SlowCloseFault> slow(SlowCloseConfig{});
    slow.end();
    CHECK(slow.events() == Events{end_at(0us)});
}

TEST_CASE("passes a held end at once when the rule goes away, and only once") {
    Started<SlowCloseFault> slow(SlowCloseConfig{300ms});
    slow.end().wait(50ms).stop().wait(1s);
    CHECK(slow.events() == Events{end_at(50ms)});
    CHECK_FALSE(slow.timer());
}

TEST_CASE("going away without an end passes nothing") {
    Started<SlowCloseFault> slow(SlowCloseConfig{300ms});
    slow.stop();
    CHECK(slow.events().empty());
}

TEST_CASE("applies a new delay to an end arriving afterwards") {
    Started<SlowCloseFault> slow(SlowCloseConfig{300ms});
    slow.update(SlowCloseConfig{20ms}).end().wait(1s);
    CHECK(slow.events() == Events{end_at(20ms)});
}

}  // namespace faultline::faults

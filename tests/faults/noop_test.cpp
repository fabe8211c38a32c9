// Tests for faults/noop.hpp: a fault that changes nothing.
#include "faults/noop.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("passes every byte and the end of the stream at once, and asks for nothing else") {
    Started<NoopFault> noop(NoopConfig{});
    noop.data("abc").wait(1ms).data("de").end().stop();
    CHECK(noop.events() == Events{data_at(0us, "abc"), data_at(1ms, "de"), end_at(1ms)});
    CHECK_FALSE(noop.timer());
    CHECK(noop.held_bytes() == 0u);
}

}  // namespace faultline::faults

// Tests for faults/limit_data.hpp: at most `bytes` pass, then the connection is closed.
#include "faults/limit_data.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("counts how many arriving bytes fit under the limit") {
    CHECK(bytes_within_limit(10, 0, 4) == 4u);
    CHECK(bytes_within_limit(10, 8, 4) == 2u);
    CHECK(bytes_within_limit(10, 10, 4) == 0u);
    CHECK(bytes_within_limit(10, 12, 4) == 0u);
}

TEST_CASE("passes bytes up to the limit, cuts the chunk that reaches it, then closes") {
    Started<LimitDataFault> limit(LimitDataConfig{5});
    limit.data("abc").wait(1ms).data("defg").data("late").end();
    CHECK(limit.events() == Events{data_at(0us, "abc"), data_at(1ms, "de"), close_at(1ms)});
}

TEST_CASE("a chunk that reaches the limit exactly passes whole, then the connection closes") {
    Started<LimitDataFault> limit(LimitDataConfig{3});
    limit.data("abc");
    CHECK(limit.events() == Events{data_at(0us, "abc"), close_at(0us)});
}

TEST_CASE("a limit of 0 closes at the first byte, passing none, and not before") {
    Started<LimitDataFault> limit(LimitDataConfig{});
    limit.wait(1s);
    CHECK(limit.events().empty());
    limit.data("x");
    CHECK(limit.events() == Events{close_at(1s)});
}

TEST_CASE("the end of the stream passes while under the limit") {
    Started<LimitDataFault> limit(LimitDataConfig{100});
    limit.data("abc").end();
    CHECK(limit.events() == Events{data_at(0us, "abc"), end_at(0us)});
}

TEST_CASE("a limit lowered below what passed closes at the next byte") {
    Started<LimitDataFault> limit(LimitDataConfig{100});
    limit.data("abcdef").update(LimitDataConfig{4});
    CHECK(limit.events() == Events{data_at(0us, "abcdef")});
    limit.data("g");
    CHECK(limit.events() == Events{data_at(0us, "abcdef"), close_at(0us)});
}

}  // namespace faultline::faults

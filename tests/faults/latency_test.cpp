// Tests for faults/latency.hpp: due times from latency and jitter, order, the end of the stream,
// release when the rule goes away, and live updates.
#include "faults/latency.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("draws the jitter offset uniformly over [-jitter, +jitter], both ends included") {
    CHECK(jitter_offset(10us, 0.0) == -10us);
    CHECK(jitter_offset(10us, 0.5) == 0us);
    CHECK(jitter_offset(10us, 0.9999999) == 10us);
    CHECK(jitter_offset(0us, 0.7) == 0us);
    std::map<Micros::rep, int> counts;
    for (int i = 0; i < 2100; ++i)
        ++counts[jitter_offset(10us, i / 2100.0).count()];
    CHECK(counts.size() == 21u);
    for (const auto& [offset, count] : counts) {
        CAPTURE(offset);
        CHECK(count == 100);
    }
}

TEST_CASE("a due time is never before the arrival nor before the chunk ahead of it") {
    CHECK(latency_due(1000us, 100us, 50us, 0us) == 1150us);
    CHECK(latency_due(1000us, 100us, -200us, 0us) == 1000us);
    CHECK(latency_due(1000us, 100us, 50us, 2000us) == 2000us);
}

TEST_CASE("delays each chunk by the latency, counted from its own arrival, without adding up") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 0ms});
    for (int i = 0; i < 5; ++i)
        latency.data(std::string(1, static_cast<char>('a' + i))).wait(10ms);
    CHECK(latency.held_bytes() == 5u);
    CHECK(latency.events().empty());
    latency.wait(1s);
    CHECK(latency.events() == Events{data_at(100ms, "a"), data_at(110ms, "b"), data_at(120ms, "c"),
                                     data_at(130ms, "d"), data_at(140ms, "e")});
    CHECK(latency.held_bytes() == 0u);
    CHECK_FALSE(latency.timer());
    CHECK(latency.context.draws_taken() == 0);
}

TEST_CASE("delays each chunk by latency plus at most jitter and never reorders chunks") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 50ms});
    latency.context.queue_draws({0.9999999, 0.0});
    latency.data("first").wait(10ms);  // due 0 + 100 + 50 ms
    latency.data("second").wait(1s);   // own due 10 + 100 - 50 ms, but not before the first
    CHECK(latency.events() == Events{data_at(150ms, "first"), data_at(150ms, "second")});
}

TEST_CASE("jitter larger than the latency never releases a chunk before it arrived") {
    Started<LatencyFault> latency(LatencyConfig{10ms, 50ms});
    latency.context.queue_draws({0.0});
    latency.wait(7ms).data("now");
    CHECK(latency.events() == Events{data_at(7ms, "now")});
    CHECK(latency.held_bytes() == 0u);
}

TEST_CASE("passes bytes at once when there is no latency") {
    Started<LatencyFault> latency(LatencyConfig{});
    latency.data("abc").end();
    CHECK(latency.events() == Events{data_at(0us, "abc"), end_at(0us)});
    CHECK_FALSE(latency.timer());
}

TEST_CASE("passes the end of the stream right after the last byte before it") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 0ms});
    latency.data("abc").wait(20ms).end().wait(1s);
    CHECK(latency.events() == Events{data_at(100ms, "abc"), end_at(100ms)});
}

TEST_CASE("passes the end of the stream at once when no byte is held") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 0ms});
    latency.wait(5ms).end();
    CHECK(latency.events() == Events{end_at(5ms)});
}

TEST_CASE("releases everything held at once, in order, then a held end, when the rule goes away") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 0ms});
    latency.data("a").wait(10ms).data("b").end().wait(40ms).stop();
    CHECK(latency.events() == Events{data_at(50ms, "a"), data_at(50ms, "b"), end_at(50ms)});
    CHECK(latency.held_bytes() == 0u);
    CHECK_FALSE(latency.timer());
}

TEST_CASE("applies a new latency to chunks arriving afterwards, still in order") {
    Started<LatencyFault> latency(LatencyConfig{100ms, 0ms});
    latency.data("a").wait(5ms).update(LatencyConfig{10ms, 0ms});
    latency.data("b").wait(195ms);  // own due 15 ms, but behind "a"
    latency.data("c").wait(1s);
    CHECK(latency.events() ==
          Events{data_at(100ms, "a"), data_at(100ms, "b"), data_at(210ms, "c")});
}

}  // namespace faultline::faults

// Tests for faults/bandwidth.hpp: the rate arithmetic, pieces, the end of the stream, rate 0,
// live updates, and accuracy from 1 KB/s to 500 MB/s with a millisecond timer.
#include "faults/bandwidth.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

namespace {

BandwidthConfig kilobytes_per_second(std::int64_t rate) {
    return BandwidthConfig{rate};
}

}  // namespace

TEST_CASE("counts the bytes a link has carried, rounded down") {
    CHECK(bytes_carried(1000, 999us) == 0u);
    CHECK(bytes_carried(1000, 1ms) == 1u);
    CHECK(bytes_carried(1'000'000, 1500us) == 1500u);
    CHECK(bytes_carried(1000, -5ms) == 0u);
    CHECK(bytes_carried(1'000'000'000'000, 3s + 1us) == 3'000'001'000'000u);
}

TEST_CASE("computes the time to carry bytes, rounded up, consistent with what was carried") {
    CHECK(time_to_carry(1000, 1) == 1ms);
    CHECK(time_to_carry(1000, 2500) == 2500ms);
    CHECK(time_to_carry(3, 1) == 333'334us);
    for (const std::uint64_t rate : {1000ULL, 3000ULL, 1'234'567ULL, 500'000'000ULL}) {
        for (const std::uint64_t bytes : {1ULL, 999ULL, 65536ULL, 10'000'000ULL}) {
            CAPTURE(rate);
            CAPTURE(bytes);
            const auto time = time_to_carry(rate, bytes);
            CHECK(bytes_carried(rate, time) >= bytes);
            CHECK(bytes_carried(rate, time - 1us) < bytes);
        }
    }
}

TEST_CASE("makes pieces of at least a millisecond's worth, and at least one byte") {
    CHECK(piece_bytes(1) == 1u);
    CHECK(piece_bytes(1000) == 1u);
    CHECK(piece_bytes(1500) == 2u);
    CHECK(piece_bytes(500'000'000) == 500'000u);
}

TEST_CASE("releases bytes at the rate, a millisecond's worth at a time, then the end") {
    Started<BandwidthFault> link(kilobytes_per_second(10));  // 10 bytes per millisecond
    link.data("abcdefghijklmnopqrstuvwxy").end();
    CHECK(link.held_bytes() == 25u);
    CHECK(link.timer() == 1ms);
    link.run();
    CHECK(link.events() == Events{data_at(1ms, "abcdefghij"), data_at(2ms, "klmnopqrst"),
                                  data_at(2500us, "uvwxy"), end_at(2500us)});
    CHECK(link.held_bytes() == 0u);
}

TEST_CASE("joins and splits chunks into pieces, keeping the order") {
    Started<BandwidthFault> link(kilobytes_per_second(4));  // 4 bytes per millisecond
    link.data("ab").data("cdefg").data("h").run();
    CHECK(link.events() == Events{data_at(1ms, "abcd"), data_at(2ms, "efgh")});
}

TEST_CASE("bytes arriving while the link is busy follow at the rate") {
    Started<BandwidthFault> link(kilobytes_per_second(1));  // 1 byte per millisecond
    link.data("ab").wait(1500us).data("c").wait_until(2500us);
    link.data("d").run();  // the link is idle, but the next byte's time has not come
    CHECK(link.events() ==
          Events{data_at(1ms, "a"), data_at(2ms, "b"), data_at(3ms, "c"), data_at(4ms, "d")});
}

TEST_CASE("an idle link keeps no credit: bytes after a pause take their own time") {
    Started<BandwidthFault> link(kilobytes_per_second(1));
    link.data("a").wait(100ms).data("bc").run();
    CHECK(link.events() == Events{data_at(1ms, "a"), data_at(101ms, "b"), data_at(102ms, "c")});
}

TEST_CASE("passes the end at once when no byte is held") {
    Started<BandwidthFault> link(kilobytes_per_second(1));
    link.end();
    CHECK(link.events() == Events{end_at(0us)});
}

TEST_CASE("a rate of 0 holds every byte, losing none, until a new rate releases them") {
    Started<BandwidthFault> link(kilobytes_per_second(0));
    link.data("abc").end().wait(1h);
    CHECK(link.events().empty());
    CHECK_FALSE(link.timer());
    CHECK(link.held_bytes() == 3u);

    link.update(kilobytes_per_second(1)).run();
    CHECK(link.events() == Events{data_at(1h + 1ms, "a"), data_at(1h + 2ms, "b"),
                                  data_at(1h + 3ms, "c"), end_at(1h + 3ms)});
}

TEST_CASE("a rate of 0 releases everything at once, then the end, when the rule goes away") {
    Started<BandwidthFault> link(kilobytes_per_second(0));
    link.data("abc").data("def").end().wait(10s).stop();
    CHECK(link.events() == Events{data_at(10s, "abcdef"), end_at(10s)});
    CHECK(link.held_bytes() == 0u);
}

TEST_CASE("releases the rest at once when the rule goes away mid-stream") {
    Started<BandwidthFault> link(kilobytes_per_second(1));
    link.data("abcd").wait(2500us).stop();
    CHECK(link.events() == Events{data_at(1ms, "a"), data_at(2ms, "b"), data_at(2500us, "cd")});
    CHECK_FALSE(link.timer());
}

TEST_CASE("a new rate counts from the moment it is applied") {
    Started<BandwidthFault> link(kilobytes_per_second(1));
    link.data("abcd").wait(1500us);
    link.update(kilobytes_per_second(2)).run();  // 2 bytes per millisecond from 1.5 ms
    CHECK(link.events() == Events{data_at(1ms, "a"), data_at(2500us, "bc"), data_at(3ms, "d")});
}

TEST_CASE("a stall to rate 0 stops the stream until the rule goes away") {
    Started<BandwidthFault> link(kilobytes_per_second(1));
    link.data("abc").wait(1ms).update(kilobytes_per_second(0)).wait(1s);
    CHECK(link.events() == Events{data_at(1ms, "a")});
    CHECK_FALSE(link.timer());
    link.stop();
    CHECK(link.context.forwarded() == "abc");
}

TEST_CASE("stays within 3% of the rate from 1 KB/s to 500 MB/s with a millisecond timer") {
    for (const std::int64_t rate : {1, 7, 100, 1000, 33'333, 100'000, 500'000}) {
        CAPTURE(rate);
        // Long enough to carry a few thousand bytes, short enough to stay small in memory.
        const auto bytes_per_second = static_cast<std::uint64_t>(rate) * 1000;
        const Micros duration = std::max<Micros>(100ms, time_to_carry(bytes_per_second, 2000));
        Started<BandwidthFault> link(kilobytes_per_second(rate), Stream::downstream,
                                     300us);  // off the millisecond grid
        link.context.set_timer_resolution(1ms);
        const Micros start = link.context.now();
        // A sender that keeps the proxy's buffer (1 MiB) full.
        const std::string chunk(std::min<std::uint64_t>(65536, bytes_per_second / 10 + 1), 'x');
        do {
            while (link.held_bytes() < 1024 * 1024)
                link.data(chunk);
        } while (link.context.fire(link.fault) && link.context.now() < start + duration);
        std::uint64_t carried = 0;
        for (const auto& event : link.events())
            if (event.at <= start + duration) carried += event.bytes.size();
        const double expected = static_cast<double>(bytes_carried(bytes_per_second, duration));
        CHECK(static_cast<double>(carried) >= expected * 0.97);
        CHECK(static_cast<double>(carried) <= expected * 1.03);
    }
}

}  // namespace faultline::faults

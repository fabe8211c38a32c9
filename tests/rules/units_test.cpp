// Tests for rules/units.hpp: durations and byte sizes as configuration writes them.
#include "rules/units.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace faultline::rules {

using namespace std::chrono_literals;

TEST_CASE("parses duration strings into milliseconds") {
    const std::vector<std::pair<std::string, Duration>> cases{
        {"0", 0ms},     {"0s", 0ms}, {"500ms", 500ms}, {"30s", 30s},
        {"10m", 10min}, {"1h", 1h},  {"1m30s", 90s},   {"1h2m3s4ms", 1h + 2min + 3s + 4ms},
        {"90m", 90min},
    };
    for (const auto& [text, duration] : cases) {
        CAPTURE(text);
        CHECK(parse_duration(text) == duration);
    }
}

TEST_CASE("rejects durations that are not whole numbers of units, largest unit first") {
    for (const std::string text :
         {"", "10", "s", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1d", "1S", "30s1m", "1s1s",
          "1ms1s", "1h-1m", "0x10s", "99999999999999999999ms", "9999999999999999h"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text));
    }
}

TEST_CASE("formats a duration with the largest unit that divides it exactly") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(1h) == "1h");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(90min) == "90m");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(1500ms) == "1500ms");
    CHECK(format_duration(-30s) == "-30s");
    for (const Duration duration :
         std::initializer_list<Duration>{0ms, 1ms, 999ms, 1s, 61s, 1h + 1ms, 48h}) {
        CHECK(parse_duration(format_duration(duration)) == duration);
    }
}

TEST_CASE("parses byte sizes with decimal and binary units") {
    const std::vector<std::pair<std::string, std::uint64_t>> sizes{
        {"4096B", 4096u}, {"64KiB", 65536u}, {"1MiB", 1048576u},
        {"10KB", 10000u}, {"2MB", 2000000u},
    };
    for (const auto& [text, bytes] : sizes) {
        CAPTURE(text);
        CHECK(parse_size(text) == bytes);
    }
    for (const std::string text : {"", "1", "1 MiB", "1GiB", "1.5MiB", "MiB", "-1KiB"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_size(text));
    }
}

}  // namespace faultline::rules

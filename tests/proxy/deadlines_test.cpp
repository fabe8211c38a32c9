// Session deadlines as arithmetic on a manual clock.
#include "proxy/deadlines.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace faultline::proxy {

using namespace std::chrono_literals;

namespace {

// The deadline expired_deadline should name at one moment, or none.
struct Expiry {
    std::uint64_t now_ms;
    std::optional<Deadline> expired;
};

// Checks the next deadline of `times` under `settings`, and what has expired at each moment.
void check_deadlines(const rules::ProxySettings& settings, const SessionTimes& times,
                     std::optional<std::uint64_t> next,
                     std::initializer_list<Expiry> expiries = {}) {
    CHECK(next_deadline(settings, times) == next);
    for (const auto& expiry : expiries) {
        CAPTURE(expiry.now_ms);
        CHECK(expired_deadline(settings, times, expiry.now_ms) == expiry.expired);
    }
}

}  // namespace

TEST_SUITE("proxy/deadlines") {
    TEST_CASE("before the upstream connects only the connect timeout counts") {
        const SessionTimes times{false, 1000, 1000, 0};
        check_deadlines({.connect_timeout = 300ms, .idle_timeout = 100ms}, times, 1300,
                        {{1299, std::nullopt}, {1300, Deadline::connect}});
        check_deadlines({.connect_timeout = 0ms, .idle_timeout = 100ms}, times, std::nullopt,
                        {{99999, std::nullopt}});
    }

    TEST_CASE("activity moves the idle deadline") {
        const SessionTimes times{true, 0, 2000, 0};
        check_deadlines({.idle_timeout = 500ms}, times, 2500,
                        {{2499, std::nullopt}, {2500, Deadline::idle}});
        check_deadlines({.idle_timeout = 0ms}, times, std::nullopt);
    }

    TEST_CASE("a half-close adds its own deadline, which wins when both are due") {
        const SessionTimes times{true, 0, 100, 100};
        check_deadlines({.half_closed_timeout = 300ms, .idle_timeout = 1000ms}, times, 400,
                        {{400, Deadline::half_closed}, {5000, Deadline::half_closed}});
        check_deadlines({.half_closed_timeout = 0ms, .idle_timeout = 1000ms}, times, 1100,
                        {{1100, Deadline::idle}});
    }

    TEST_CASE("bytes still moving after a half-close push the half-closed deadline back") {
        check_deadlines({.half_closed_timeout = 300ms, .idle_timeout = 0ms}, {true, 0, 900, 100},
                        1200, {{1199, std::nullopt}, {1200, Deadline::half_closed}});
    }
}

}  // namespace faultline::proxy

// Session deadlines as arithmetic on a manual clock.
#include "proxy/deadlines.hpp"

#include <doctest/doctest.h>

namespace faultline::proxy {

using namespace std::chrono_literals;

TEST_SUITE("proxy/deadlines") {
    TEST_CASE("before the upstream connects only the connect timeout counts") {
        rules::ProxySettings settings;
        settings.connect_timeout = 300ms;
        settings.idle_timeout = 100ms;
        SessionTimes times{false, 1000, 1000, 0};
        CHECK(next_deadline(settings, times) == 1300u);
        CHECK_FALSE(expired_deadline(settings, times, 1299));
        CHECK(expired_deadline(settings, times, 1300) == Deadline::connect);
        settings.connect_timeout = 0ms;
        CHECK_FALSE(next_deadline(settings, times));
        CHECK_FALSE(expired_deadline(settings, times, 99999));
    }

    TEST_CASE("activity moves the idle deadline") {
        rules::ProxySettings settings;
        settings.idle_timeout = 500ms;
        SessionTimes times{true, 0, 2000, 0};
        CHECK(next_deadline(settings, times) == 2500u);
        CHECK_FALSE(expired_deadline(settings, times, 2499));
        CHECK(expired_deadline(settings, times, 2500) == Deadline::idle);
        settings.idle_timeout = 0ms;
        CHECK_FALSE(next_deadline(settings, times));
    }

    TEST_CASE("a half-close adds its own deadline, which wins when both are due") {
        rules::ProxySettings settings;
        settings.idle_timeout = 1000ms;
        settings.half_closed_timeout = 300ms;
        SessionTimes times{true, 0, 100, 100};
        CHECK(next_deadline(settings, times) == 400u);
        CHECK(expired_deadline(settings, times, 400) == Deadline::half_closed);
        CHECK(expired_deadline(settings, times, 5000) == Deadline::half_closed);
        settings.half_closed_timeout = 0ms;
        CHECK(next_deadline(settings, times) == 1100u);
        CHECK(expired_deadline(settings, times, 1100) == Deadline::idle);
    }

    TEST_CASE("bytes still moving after a half-close push the half-closed deadline back") {
        rules::ProxySettings settings;
        settings.idle_timeout = 0ms;
        settings.half_closed_timeout = 300ms;
        SessionTimes times{true, 0, 900, 100};
        CHECK(next_deadline(settings, times) == 1200u);
        CHECK_FALSE(expired_deadline(settings, times, 1199));
        CHECK(expired_deadline(settings, times, 1200) == Deadline::half_closed);
    }
}

}  // namespace faultline::proxy

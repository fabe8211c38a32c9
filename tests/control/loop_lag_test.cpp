// The loop-lag figures: the histogram, the maximum, and the maximum over the recent seconds.
#include "control/loop_lag.hpp"

#include <doctest/doctest.h>

#include <string>

#include "control/metrics.hpp"

namespace faultline::control {

TEST_SUITE("control/loop_lag") {
    TEST_CASE("samples fall into every bucket at or above them; the maximum stays") {
        LoopLag lag;
        lag.record(0.0005, 1000);
        lag.record(0.3, 2000);
        lag.record(0.002, 3000);
        CHECK(lag.count() == 3);
        CHECK(lag.max_seconds() == doctest::Approx(0.3));
        CHECK(lag.sum_seconds() == doctest::Approx(0.3025));
        CHECK(lag.cumulative()[0] == 1);  // le 0.001
        CHECK(lag.cumulative()[1] == 2);  // le 0.0025
        CHECK(lag.cumulative()[7] == 2);  // le 0.25
        CHECK(lag.cumulative()[8] == 3);  // le 0.5
        CHECK(lag.cumulative().back() == 3);
    }

    TEST_CASE("the recent maximum forgets what is older than the recent seconds") {
        LoopLag lag;
        lag.record(0.8, 5'000);
        lag.record(0.01, 6'000);
        CHECK(lag.recent_max_seconds() == doctest::Approx(0.8));
        lag.record(0.02, 5'000 + LoopLag::recent_seconds * 1000);
        CHECK(lag.recent_max_seconds() == doctest::Approx(0.02));
        CHECK(lag.max_seconds() == doctest::Approx(0.8));
    }

    TEST_CASE("/metrics shows the histogram and the maximum in Prometheus' format") {
        LoopLag lag;
        lag.record(0.004, 1000);
        lag.record(0.07, 1050);
        const std::string text = metrics_text({}, {}, {}, lag);
        CHECK(text.find("# TYPE faultline_loop_lag_seconds histogram\n") != std::string::npos);
        CHECK(text.find("faultline_loop_lag_seconds_bucket{le=\"0.005\"} 1\n") !=
              std::string::npos);
        CHECK(text.find("faultline_loop_lag_seconds_bucket{le=\"0.1\"} 2\n") != std::string::npos);
        CHECK(text.find("faultline_loop_lag_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
        CHECK(text.find("faultline_loop_lag_seconds_count 2\n") != std::string::npos);
        CHECK(text.find("faultline_loop_lag_max_seconds 0.07\n") != std::string::npos);
    }
}

}  // namespace faultline::control

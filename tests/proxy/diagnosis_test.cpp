// The refusal diagnosis over its sliding window.
#include "proxy/diagnosis.hpp"

#include <doctest/doctest.h>

namespace faultline::proxy {

TEST_SUITE("proxy/diagnosis") {
    TEST_CASE("starts once more than half of at least 20 connects in the window failed") {
        RefusalDiagnosis diagnosis;
        for (int i = 0; i < 9; ++i)
            CHECK(diagnosis.record(1000, false) == RefusalDiagnosis::Change::none);
        for (int i = 0; i < 10; ++i)
            CHECK(diagnosis.record(1000, true) == RefusalDiagnosis::Change::none);
        // 19 connects: too few to say anything, however many failed.
        CHECK(diagnosis.record(1000, true) == RefusalDiagnosis::Change::started);
        CHECK(diagnosis.figures().connects == 20);
        CHECK(diagnosis.figures().upstream_failures == 11);
        CHECK(diagnosis.record(1001, true) == RefusalDiagnosis::Change::none);
        CHECK(diagnosis.is_active());
    }

    TEST_CASE("exactly half is not more than half") {
        RefusalDiagnosis diagnosis;
        for (int i = 0; i < 10; ++i)
            (void)diagnosis.record(0, false);
        for (int i = 0; i < 10; ++i)
            CHECK(diagnosis.record(0, true) == RefusalDiagnosis::Change::none);
        CHECK_FALSE(diagnosis.is_active());
    }

    TEST_CASE("clears when the window slides past the failures") {
        RefusalDiagnosis diagnosis;
        for (int i = 0; i < 20; ++i)
            (void)diagnosis.record(0, true);
        REQUIRE(diagnosis.is_active());
        // 60 s later the old outcomes have left the window; one success is one connect of 20.
        CHECK(diagnosis.record(60'000, false) == RefusalDiagnosis::Change::recovered);
        CHECK(diagnosis.figures().connects == 1);
    }
}

}  // namespace faultline::proxy

// The refusal diagnosis over its sliding window.
#include "proxy/diagnosis.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace faultline::proxy {
namespace {

using Change = RefusalDiagnosis::Change;
using Changes = std::vector<Change>;

// Records `count` connects at `now_ms`, failed or not, and returns what each changed.
Changes record(RefusalDiagnosis& diagnosis, int count, std::uint64_t now_ms, bool failed) {
    Changes changes;
    for (int i = 0; i < count; ++i)
        changes.push_back(diagnosis.record(now_ms, failed));
    return changes;
}

// What `count` connects that change nothing return.
Changes unchanged(int count) {
    return Changes(static_cast<std::size_t>(count), Change::none);
}

}  // namespace

TEST_SUITE("proxy/diagnosis") {
    TEST_CASE("starts once more than half of at least 20 connects in the window failed") {
        RefusalDiagnosis diagnosis;
        CHECK(record(diagnosis, 9, 1000, false) == unchanged(9));
        CHECK(record(diagnosis, 10, 1000, true) == unchanged(10));
        // 19 connects: too few to say anything, however many failed.
        CHECK(diagnosis.record(1000, true) == Change::started);
        CHECK(diagnosis.figures().connects == 20);
        CHECK(diagnosis.figures().upstream_failures == 11);
        CHECK(diagnosis.record(1001, true) == Change::none);
        CHECK(diagnosis.is_active());
    }

    TEST_CASE("exactly half is not more than half") {
        RefusalDiagnosis diagnosis;
        (void)record(diagnosis, 10, 0, false);
        CHECK(record(diagnosis, 10, 0, true) == unchanged(10));
        CHECK_FALSE(diagnosis.is_active());
    }

    TEST_CASE("clears when the window slides past the failures") {
        RefusalDiagnosis diagnosis;
        (void)record(diagnosis, 20, 0, true);
        REQUIRE(diagnosis.is_active());
        // 60 s later the old outcomes have left the window; one success is one connect of 20.
        CHECK(diagnosis.record(60'000, false) == Change::recovered);
        CHECK(diagnosis.figures().connects == 1);
    }
}

}  // namespace faultline::proxy

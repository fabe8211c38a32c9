// Connection seeds and the uniform draws made from them.
#include "rules/random.hpp"

#include <doctest/doctest.h>

#include <set>

namespace faultline::rules {

TEST_SUITE("rules/random") {
    TEST_CASE("a connection's seed depends on the seed, the proxy's name and its index only") {
        CHECK(connection_seed(42, "pg", 0) == connection_seed(42, "pg", 0));
        std::set<std::uint64_t> seeds{connection_seed(42, "pg", 0), connection_seed(42, "pg", 1),
                                      connection_seed(43, "pg", 0),
                                      connection_seed(42, "redis", 0)};
        CHECK(seeds.size() == 4);
    }

    TEST_CASE("draws are uniform from 0 up to 1 and repeat from the same seed") {
        Random first(7);
        Random second(7);
        double sum = 0;
        for (int i = 0; i < 10000; ++i) {
            double value = first.uniform();
            CHECK(value == second.uniform());
            CHECK(value >= 0.0);
            CHECK(value < 1.0);
            sum += value;
        }
        CHECK(sum / 10000 > 0.45);
        CHECK(sum / 10000 < 0.55);
    }
}

}  // namespace faultline::rules

// Every configuration in examples/ is valid: `faultline check` accepts each one, silently on
// standard error. The examples are documentation that users run, so a fault type or a key that
// changes must not leave them behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

// examples/*.toml, sorted, so that failures read in a stable order.
std::vector<std::filesystem::path> example_files() {
    std::vector<std::filesystem::path> files;
    const std::filesystem::path directory =
        std::filesystem::path(FAULTLINE_SOURCE_DIR) / "examples";
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        if (entry.is_regular_file() && entry.path().extension() == ".toml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_SUITE("e2e examples") {
    TEST_CASE("faultline check accepts every example configuration") {
        const auto files = example_files();
        // One per fault type, one per reference scenario, the interrupted download, quickstart.
        REQUIRE(files.size() >= 18);
        for (const auto& file : files) {
            INFO("example: ", file.filename().string());
            auto result = check_config(file.string());
            CHECK_FALSE(result.timed_out);
            CHECK(result.status.code() == 0);
            CHECK(result.err.empty());
        }
    }
}

}  // namespace faultline::e2e

// The log's output: what `check` says about a log file without creating anything, lines that
// cannot be written counted with their reason, and the file opened again after it was moved.
#include "teardown/log_output.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace faultline::teardown {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with its content at the end of the test.
struct ScratchDir {
    fs::path path;
    ScratchDir() {
        std::string name = (fs::temp_directory_path() / "faultline-log-XXXXXX").string();
        REQUIRE(::mkdtemp(name.data()) != nullptr);
        path = name;
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

std::string content(const fs::path& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("log_file_problem names what stops a log file from being opened, creating nothing") {
    ScratchDir dir;
    CHECK(log_file_problem((dir.path / "new.log").string()) == std::nullopt);
    CHECK(log_file_problem((dir.path / "a/b/new.log").string()) ==
          "directory " + (dir.path / "a/b").string() + " does not exist");
    CHECK_FALSE(fs::exists(dir.path / "a"));
    CHECK(log_file_problem(dir.path.string()) == "it is a directory");
    std::ofstream(dir.path / "plain") << "x";
    CHECK(log_file_problem((dir.path / "plain/new.log").string()) ==
          (dir.path / "plain").string() + " is not a directory");
    CHECK(log_file_problem("/dev/full") == std::nullopt);
}

TEST_CASE("lines that cannot be written are counted, with the reason of the last") {
    LogOutput output = LogOutput::open_file("/dev/full");
    CHECK(output.failures().count == 0);
    output.write("one\n");
    output.write("two\n");
    CHECK(output.failures().count == 2);
    CHECK(output.failures().is_failing);
    CHECK(output.failures().last_error == "write to /dev/full failed: No space left on device");
}

TEST_CASE("opened again, the output writes a new file at its path after the old one was moved") {
    ScratchDir dir;
    const fs::path path = dir.path / "faultline.log";
    LogOutput output = LogOutput::open_file(path.string());
    output.write("before\n");
    fs::rename(path, dir.path / "faultline.log.1");
    output.write("moved\n");
    CHECK(output.reopen() == std::nullopt);
    output.write("after\n");
    CHECK(content(dir.path / "faultline.log.1") == "before\nmoved\n");
    CHECK(content(path) == "after\n");
    CHECK(output.failures().count == 0);
}

TEST_CASE("a file that cannot be opened again leaves the output writing the one it has") {
    ScratchDir dir;
    const fs::path path = dir.path / "logs/faultline.log";
    fs::create_directory(dir.path / "logs");
    LogOutput output = LogOutput::open_file(path.string());
    fs::rename(dir.path / "logs", dir.path / "old");
    CHECK(output.reopen() ==
          "cannot open log file " + path.string() + ": No such file or directory");
    output.write("still here\n");
    CHECK(content(dir.path / "old/faultline.log") == "still here\n");
}

}  // namespace faultline::teardown

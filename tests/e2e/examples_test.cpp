// Every configuration in examples/ is valid: `faultline check` accepts each one, silently on
// standard error. The examples are documentation that users run, so a fault type or a key that
// changes must not leave them behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

const std::filesystem::path examples = std::filesystem::path(FAULTLINE_SOURCE_DIR) / "examples";

// examples/**/*.toml, sorted, so that failures read in a stable order.
std::vector<std::filesystem::path> example_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(examples)) {
        if (entry.is_regular_file() && entry.path().extension() == ".toml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// An HTTP server on the listener that answers every request with 200 until stopped.
class HttpServer {
  public:
    HttpServer() : thread_([this] { serve(); }) {}
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    ~HttpServer() {
        stop_ = true;
        thread_.join();
    }
    [[nodiscard]] std::uint16_t port() const { return listener_.port; }

  private:
    void serve() {
        while (!stop_) {
            // Short accept waits, so that the destructor is never held up long.
            Fd client = accept_from(listener_.fd.get(), 100ms);
            if (!client.is_open()) continue;
            std::string request;
            while (request.find("\r\n\r\n") == std::string::npos) {
                std::string piece;
                if (read_result(client.get(), 2s, &piece).kind != ReadResult::Kind::data) break;
                request += piece;
            }
            (void)send_all(client.get(), "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        }
    }

    Listener listener_ = listen_on_loopback();
    std::atomic<bool> stop_ = false;
    std::thread thread_;
};

}  // namespace

TEST_SUITE("e2e examples") {
    TEST_CASE("examples/ci: client.sh survives the injected reset and every expectation is met") {
        HttpServer server;
        std::string toml = read_file(examples / "ci" / "chaos.toml");
        const std::string upstream = "upstream = \"127.0.0.1:8080\"";
        REQUIRE(toml.find(upstream) != std::string::npos);
        toml.replace(toml.find(upstream), upstream.size(),
                     "upstream = \"127.0.0.1:" + std::to_string(server.port()) + "\"");
        TempConfig config(toml);
        ProcessResult result = run_faultline(
            {"run", "--config", config.path(), "--", (examples / "ci" / "client.sh").string()},
            30s);
        INFO(result.out, result.err);
        CHECK(result.status.code() == 0);
        CHECK(result.out == "attempt 2: HTTP/1.0 200 OK\n");
        CHECK(result.err.find("attempt 1 failed; retrying") != std::string::npos);
        CHECK(result.err.ends_with("faultline run: passed\n"));
    }

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

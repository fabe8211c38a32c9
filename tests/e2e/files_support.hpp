// Files for the black-box tests of configuration saves and of the log file: a private temporary
// directory, writing a file the ways editors and tools do, and waiting for a line in a log file
// that faultline writes (rather than on its standard error).
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {

// A directory of its own in the temporary directory, removed with everything in it on
// destruction.
class TempDir {
  public:
    TempDir() {
        const char* tmpdir = std::getenv("TMPDIR");
        std::string path_template =
            std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
            "/faultline-e2e-dir-XXXXXX";
        if (::mkdtemp(path_template.data()) == nullptr) {
            throw std::runtime_error("mkdtemp " + path_template + ": " + std::strerror(errno));
        }
        path_ = path_template;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::string operator/(std::string_view name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// Writes every byte of `text` to the descriptor; throws on failure.
inline void write_all(int fd, std::string_view text, const std::string& what) {
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0) throw std::runtime_error("write " + what + ": " + std::strerror(errno));
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

// Creates (or replaces the content of) the file at `path`.
inline void write_text(const std::string& path, std::string_view text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    write_all(fd, text, path);
    ::close(fd);
}

// The JSON objects of a log file written by faultline, in order; lines that are not JSON are
// skipped (the last one may be half written).
inline std::vector<Json> json_lines(const std::string& path) {
    std::ifstream file(path);
    std::vector<Json> values;
    std::string line;
    while (std::getline(file, line)) {
        Json value = Json::parse(line, nullptr, false);
        if (!value.is_discarded() && value.is_object()) values.push_back(std::move(value));
    }
    return values;
}

// Polls the log file until a line satisfies the predicate, or the timeout passes.
inline std::optional<Json> wait_file_event(const std::string& path,
                                           const Faultline::Predicate& predicate,
                                           Millis timeout = event_timeout) {
    const Deadline deadline(timeout);
    for (;;) {
        for (const Json& value : json_lines(path)) {
            if (predicate(value)) return value;
        }
        if (deadline.has_passed()) return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
}

}  // namespace faultline::e2e

// Where the log's lines go: standard error or `[log] file`. Each line is written with one
// write(2), so that nothing waits in a buffer when faultline stops; a line that cannot be written
// (a full disk) is counted, not lost silently; and a file can be opened again at its path after
// logrotate moved it away.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultline::teardown {

// The lines the log could not write since start-up, and why the last one failed.
struct LogWriteFailures {
    std::uint64_t count = 0;
    std::string last_error;   // "write to /dev/full failed: No space left on device"
    bool is_failing = false;  // the latest line failed too
};

// Why a log file at `path` could not be opened for appending, found without creating anything
// (`faultline check` asks): "directory /var/log/x does not exist", "it is a directory".
[[nodiscard]] std::optional<std::string> log_file_problem(const std::string& path);

class LogOutput {
  public:
    [[nodiscard]] static LogOutput standard_error();
    // Opens the file for appending, creating it but no directory. Throws std::runtime_error
    // ("cannot open log file PATH: REASON").
    [[nodiscard]] static LogOutput open_file(const std::string& path);

    LogOutput(LogOutput&& other) noexcept;
    LogOutput& operator=(LogOutput&& other) noexcept;
    LogOutput(const LogOutput&) = delete;
    LogOutput& operator=(const LogOutput&) = delete;
    ~LogOutput();

    // Writes the whole line or counts it as lost. The first failure of a run of them is said
    // once on standard error when the log is a file.
    void write(std::string_view line);
    // Opens the file again at its path; standard error has nothing to open. On failure the
    // output stays as it was and the reason is returned.
    [[nodiscard]] std::optional<std::string> reopen();
    [[nodiscard]] const LogWriteFailures& failures() const { return failures_; }

  private:
    LogOutput(int fd, std::optional<std::string> path) : fd_(fd), path_(std::move(path)) {}
    void close();

    int fd_ = -1;
    std::optional<std::string> path_;  // none: standard error, which is not ours to close
    LogWriteFailures failures_;
};

}  // namespace faultline::teardown

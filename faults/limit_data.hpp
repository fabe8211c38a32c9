// limit_data (Toxiproxy): at most `bytes` pass in this stream (counted from the fault's start);
// the chunk that reaches the limit is cut at it and the connection is closed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

struct LimitDataConfig {
    std::uint64_t bytes = 0;

    static LimitDataConfig read(AttributeReader& reader) {
        return {static_cast<std::uint64_t>(reader.integer("bytes", 0, 0, max_bytes))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const { return {{"bytes", bytes}}; }
};

// How many of `length` arriving bytes pass when `passed` already did under `limit`.
[[nodiscard]] inline std::size_t bytes_within_limit(std::uint64_t limit, std::uint64_t passed,
                                                    std::size_t length) {
    const std::uint64_t room = limit > passed ? limit - passed : 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(room, length));
}

class LimitDataFault final : public Fault {
  public:
    explicit LimitDataFault(const LimitDataConfig& config) : config_(config) {}
    // A limit below what already passed closes the connection at the next byte.
    void configure(const LimitDataConfig& config) { config_ = config; }

    void on_data(Context& context, std::string bytes) override {
        if (is_closed_ || bytes.empty()) return;
        const auto count = bytes_within_limit(config_.bytes, passed_, bytes.size());
        passed_ += count;
        if (count > 0) {
            bytes.resize(count);
            context.forward(std::move(bytes));
        }
        if (passed_ >= config_.bytes) {
            is_closed_ = true;
            context.close();
        }
    }
    void on_end(Context& context) override {
        if (!is_closed_) context.forward_end();
    }

  private:
    LimitDataConfig config_;
    std::uint64_t passed_ = 0;
    bool is_closed_ = false;
};

}  // namespace faultline::faults

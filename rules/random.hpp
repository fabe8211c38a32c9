// Random draws for rules and faults: each connection draws from its own SplitMix64 source (8
// bytes of state, where a Mersenne Twister would add 2.5 KiB to every connection). With a
// configured seed, a connection's source is seeded from the seed, its proxy's name and its index
// on that proxy, so the n-th connection through a proxy draws the same outcomes in every run,
// whatever the other proxies and connections do meanwhile.
#pragma once

#include <cstdint>
#include <string_view>

namespace faultline::rules {

// SplitMix64: advances `state` and returns the next 64 random bits.
[[nodiscard]] std::uint64_t splitmix64(std::uint64_t& state);

// The seed of the connection with 0-based `index` among those of `proxy`, under `seed`.
[[nodiscard]] std::uint64_t connection_seed(std::uint64_t seed, std::string_view proxy,
                                            std::uint64_t index);

class Random {
  public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    // Uniform in [0, 1).
    [[nodiscard]] double uniform();

  private:
    std::uint64_t state_;
};

}  // namespace faultline::rules

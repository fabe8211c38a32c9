// SplitMix64 and the derivation of connection seeds.
#include "rules/random.hpp"

namespace faultline::rules {
namespace {

// SplitMix64's finaliser: nearby inputs give unrelated outputs.
std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace

std::uint64_t splitmix64(std::uint64_t& state) {
    return mix(state += 0x9E3779B97F4A7C15ULL);
}

std::uint64_t connection_seed(std::uint64_t seed, std::string_view proxy, std::uint64_t index) {
    // FNV-1a of the name: stable across runs and builds, unlike std::hash.
    std::uint64_t name = 0xCBF29CE484222325ULL;
    for (char c : proxy)
        name = (name ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    return mix(mix(seed ^ name) + (index + 1) * 0x9E3779B97F4A7C15ULL);
}

double Random::uniform() {
    // The top 53 bits as a double in [0, 1).
    return static_cast<double>(splitmix64(state_) >> 11) * 0x1.0p-53;
}

}  // namespace faultline::rules

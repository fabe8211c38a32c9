// Whether a rule acts on a connection at all: its match conditions `clients`, `first` and `every`,
// then its toxicity, drawn once per connection and rule. An unrelated change to the rule set draws
// nothing again; a changed toxicity or match is a new decision. (`after` and `after_bytes` decide
// *when* a rule that applies starts: that is the chain's business.)
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/random.hpp"
#include "rules/rule.hpp"

namespace faultline::rules {

// For `first` and `every`: how many connections of one proxy each rule has been considered for
// since it was added. A rule that goes away (or is disabled) counts from zero when it comes back.
class RuleCounters {
  public:
    // The 1-based index of the next connection considered for `rule`.
    [[nodiscard]] std::uint64_t next(const std::string& rule) { return ++counts_[rule]; }
    // Forgets the rules that are not among `rules` or are disabled.
    void keep_only(const std::vector<Rule>& rules);

  private:
    std::unordered_map<std::string, std::uint64_t> counts_;
};

// What the decision knows of the connection.
struct ConnectionFacts {
    const sockaddr* client = nullptr;  // nullptr when the client's address is unknown
};

// The decisions for one connection.
class Decisions {
  public:
    // Whether `rule` acts on this connection, decided on the first call for the rule and stream
    // and remembered. A rule that acts on the listener (refuse reject, drop) never applies to a
    // connection.
    [[nodiscard]] bool applies(const Rule& rule, const ConnectionFacts& facts,
                               RuleCounters& counters, Random& random);
    // Forgets the decisions about rules that are not among `rules` or are disabled: if they come
    // back, they are drawn again.
    void keep_only(const std::vector<Rule>& rules);

  private:
    struct Decision {
        double toxicity;
        Match match;
        bool applies;
    };
    // By stream (upstream, downstream), then by rule name; made on the first decision, so that a
    // connection without rules carries no tables.
    using ByName = std::unordered_map<std::string, Decision>;
    std::unique_ptr<std::array<ByName, 2>> decisions_;
};

}  // namespace faultline::rules

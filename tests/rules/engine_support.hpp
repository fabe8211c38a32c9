// What the rule engine's tests run it on: a manual clock whose timers fire only when the test
// advances it, a host that records everything the engine asked of the connection, and rules
// written as the API's JSON. No loop, no sockets, no sleeping.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/connection_rules.hpp"

namespace faultline::rules {

using namespace std::chrono_literals;

class ManualClock final : public Clock {
  public:
    [[nodiscard]] Micros now() const override { return now_; }
    [[nodiscard]] std::unique_ptr<Timer> make_timer(std::function<void()> on_fire) override {
        return std::make_unique<ManualTimer>(*this, std::move(on_fire));
    }

    // Moves time forward by `by`, firing each timer that falls due, in time order.
    void advance(Micros by) {
        const Micros end = now_ + by;
        for (;;) {
            ManualTimer* next = nullptr;
            for (ManualTimer* timer : timers_) {
                if (timer->at_ && *timer->at_ <= end && (!next || *timer->at_ < *next->at_)) {
                    next = timer;
                }
            }
            if (!next) break;
            now_ = std::max(now_, *next->at_);
            next->at_.reset();
            next->on_fire_();
        }
        now_ = end;
    }
    [[nodiscard]] std::size_t armed_timers() const {
        return static_cast<std::size_t>(std::count_if(
            timers_.begin(), timers_.end(), [](const ManualTimer* timer) { return timer->at_; }));
    }

  private:
    class ManualTimer final : public Timer {
      public:
        ManualTimer(ManualClock& clock, std::function<void()> on_fire)
            : clock_(clock), on_fire_(std::move(on_fire)) {
            clock_.timers_.push_back(this);
        }
        ~ManualTimer() override { std::erase(clock_.timers_, this); }
        ManualTimer(const ManualTimer&) = delete;
        ManualTimer& operator=(const ManualTimer&) = delete;
        void start(Micros at) override { at_ = at; }
        void stop() override { at_.reset(); }

        ManualClock& clock_;
        std::function<void()> on_fire_;
        std::optional<Micros> at_;
    };

    Micros now_{1'000'000};
    std::vector<ManualTimer*> timers_;
};

// Records what the engine asks of its connection. A reset, a close or a broken stream ends the
// connection, as the session does.
class RecordingHost final : public RuleHost {
  public:
    struct Reset {
        teardown::Cause cause;
        faults::Target target;
        bool flush;
    };

    [[nodiscard]] bool is_over() const override { return is_over_; }
    [[nodiscard]] Micros last_activity() const override { return last_activity_; }
    void deliver(faults::Stream stream, std::string bytes) override { delivered[stream] += bytes; }
    void deliver_end(faults::Stream stream) override { ++ends[stream]; }
    void reset(const teardown::Cause& cause, faults::Target target, bool flush) override {
        resets.push_back({cause, target, flush});
        is_over_ = true;
    }
    void claim_ending(const teardown::Cause& cause) override { claimed.push_back(cause); }
    void close(const teardown::Cause& cause) override {
        closes.push_back(cause);
        is_over_ = true;
    }
    void held_bytes_changed(faults::Stream) override {}
    void rule_started(const Rule& rule) override { started.push_back(rule.name); }
    void stream_broken(const teardown::Cause& cause) override {
        broken.push_back(cause);
        is_over_ = true;
    }

    std::map<faults::Stream, std::string> delivered;
    std::map<faults::Stream, int> ends;
    std::vector<Reset> resets;
    std::vector<teardown::Cause> claimed;
    std::vector<teardown::Cause> closes;
    std::vector<std::string> started;
    std::vector<teardown::Cause> broken;
    Micros last_activity_{0};

  private:
    bool is_over_ = false;
};

// A rule from the API's JSON form; the test fails when it does not parse.
inline Rule rule_from(const nlohmann::json& toxic) {
    auto parsed = parse_rule_json(toxic);
    INFO(toxic.dump());
    REQUIRE(parsed.rule);
    return *parsed.rule;
}

// An IPv4 client address.
inline sockaddr_in client_address(const char* ip) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = ::inet_addr(ip);
    return address;
}

// One connection's engine with its host, clock and random source; `facts` may name its client.
struct Connection {
    explicit Connection(ManualClock& shared_clock, std::uint64_t seed = 1)
        : clock(shared_clock), random(seed), rules(host, clock, random) {}

    void apply(const std::vector<Rule>& list, RuleCounters& counters, Micros age = 0us) {
        rules.apply(list, facts, counters, age);
    }
    // Bytes from the stream's source, as the session hands them over.
    void send(faults::Stream stream, const std::string& bytes) {
        if (rules.is_transparent(stream)) {
            host.deliver(stream, bytes);
        } else {
            rules.on_data(stream, bytes);
        }
    }
    // What reached the stream's destination so far.
    [[nodiscard]] const std::string& delivered(faults::Stream stream) {
        return host.delivered[stream];
    }
    // Whether any rule acts on the stream.
    [[nodiscard]] bool is_affected(faults::Stream stream) const {
        return !rules.is_transparent(stream);
    }

    ManualClock& clock;
    RecordingHost host;
    Random random;
    ConnectionFacts facts;
    ConnectionRules rules;
};

// What one proxy's connections share: the clock and the counts behind `first` and `every`.
struct EngineProxy {
    // A new connection (drawing from `seed`, from `client` when given) with `rules` applied at
    // the connection's `age`.
    std::unique_ptr<Connection> connect(const std::vector<Rule>& rules, std::uint64_t seed = 1,
                                        Micros age = 0us, const sockaddr* client = nullptr) {
        auto connection = std::make_unique<Connection>(clock, seed);
        connection->facts.client = client;
        connection->apply(rules, counters, age);
        return connection;
    }

    ManualClock clock;
    RuleCounters counters;
};

}  // namespace faultline::rules

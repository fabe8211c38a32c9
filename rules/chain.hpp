// The faults of one stream of one connection, in rule order. Bytes from the stream's source enter
// at the front; each running fault passes them on (now, later, cut, or not at all) through its
// Context, and what leaves the last fault goes to the stream's destination. A rule waiting for
// its match conditions (`after`, `after_bytes`) lets bytes by untouched until they are met; the
// chunk in which `after_bytes` is reached is split there.
//
//   source -> [rule 1] -> [rule 2] -> ... -> destination
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "faults/fault.hpp"
#include "rules/clock.hpp"
#include "rules/rule.hpp"

namespace faultline::rules {

class ConnectionRules;
class StreamChain;

// One rule on one connection: its fault, once started, and the Context the fault acts through.
class ActiveRule final : public faults::Context {
  public:
    ActiveRule(ConnectionRules& connection, StreamChain& chain, Rule rule);
    ~ActiveRule() override;
    ActiveRule(const ActiveRule&) = delete;
    ActiveRule& operator=(const ActiveRule&) = delete;

    [[nodiscard]] const Rule& rule() const { return rule_; }
    [[nodiscard]] bool is_running() const { return fault_ != nullptr; }
    [[nodiscard]] std::size_t held_bytes() const { return fault_ ? fault_->held_bytes() : 0; }

    // Starts the fault now, or once the connection is `after` old (a timer), or once
    // `after_bytes` have passed.
    void arm(Micros connection_age);
    // New attributes for the same type.
    void update(Rule rule);
    // The rule went away: the fault releases what it holds. True when it had swallowed bytes the
    // destination will never get (the stream has a hole).
    bool stop();

    // Removed from its chain (stopped), until the chain drops it at the end of the change.
    [[nodiscard]] bool is_removed() const { return is_removed_; }
    // Its match conditions are met (or it has none): it runs as soon as bytes or the end reach it.
    [[nodiscard]] bool is_ready() const;
    // Counts bytes passing while the rule waits for after_bytes; returns how many of `length`
    // pass before the fault starts (all of them while it keeps waiting).
    [[nodiscard]] std::size_t count_passing(std::size_t length);
    void start();
    [[nodiscard]] faults::Fault* fault() { return fault_.get(); }

    // faults::Context
    [[nodiscard]] faults::Stream stream() const override { return rule_.stream; }
    [[nodiscard]] Micros now() const override;
    [[nodiscard]] double random() override;
    [[nodiscard]] Micros last_activity() const override;
    void forward(std::string bytes) override;
    void forward_end() override;
    void reset(faults::Target target, bool flush) override;
    void close() override;
    void go_silent() override;
    void reset_on_reverse_data() override;
    void set_timer(Micros at) override;
    void cancel_timer() override;

  private:
    [[nodiscard]] bool is_waiting_for_bytes() const;
    void on_timer();

    friend class StreamChain;

    ConnectionRules& connection_;
    StreamChain& chain_;
    Rule rule_;
    std::size_t index_ = 0;  // its place in the chain, kept by the chain
    bool is_removed_ = false;
    std::unique_ptr<faults::Fault> fault_;
    std::unique_ptr<Timer> timer_;  // made on first use
    bool is_waiting_for_time_ = false;
    std::uint64_t bytes_seen_ = 0;
};

class StreamChain {
  public:
    StreamChain(ConnectionRules& connection, faults::Stream stream)
        : connection_(connection), stream_(stream) {}

    [[nodiscard]] bool is_empty() const { return !by_name_ || by_name_->empty(); }
    [[nodiscard]] faults::Stream stream() const { return stream_; }
    [[nodiscard]] std::size_t held_bytes() const;
    [[nodiscard]] ActiveRule* find(const std::string& name);
    [[nodiscard]] std::vector<std::string> names() const;

    // Adds a rule at the end and arms it.
    void add(Rule rule, Micros connection_age);
    // Stops and removes the named rule; true when it left a hole in the stream. The rule keeps
    // its place, doing nothing, until compact(): removing many rules one by one from the middle
    // of a long chain would cost time quadratic in its length.
    bool remove(const std::string& name);
    // Drops the removed rules; called once a change is done.
    void compact();
    // The rules after `rule` release what they hold and stop acting: what the connection's
    // closing rule let through reaches the destination before the FIN.
    void release_after(const ActiveRule& rule);
    // The connection is over: no fault's timer runs any more (the rules stay until the
    // connection is freed, since this may run inside one of them).
    void cancel_timers();

    // Bytes and the end from the source.
    void on_data(std::string bytes) { pass_from(0, std::move(bytes)); }
    void on_end() { end_from(0); }

    // Bytes and the end leaving the rule at `index` - 1 (entering the chain at `index`).
    void pass_from(std::size_t index, std::string bytes);
    void end_from(std::size_t index);
    [[nodiscard]] static std::size_t index_of(const ActiveRule& rule) { return rule.index_; }

  private:
    ConnectionRules& connection_;
    faults::Stream stream_;
    std::vector<std::unique_ptr<ActiveRule>> rules_;  // removed ones too, until compact()
    // The rules not removed, by name; made with the first rule, so that a stream without rules
    // carries no table.
    std::unique_ptr<std::unordered_map<std::string, ActiveRule*>> by_name_;
    bool has_removed_ = false;
};

}  // namespace faultline::rules

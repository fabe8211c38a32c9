// The faults of one stream of one connection, in rule order. Bytes from the stream's source enter
// at the front; each running fault passes them on (now, later, cut, or not at all) through its
// Context, and what leaves the last fault is written to the destination. A rule waiting for its
// match conditions (after_bytes, after) is transparent until they are met.
//
//   source -> [rule 1] -> [rule 2] -> ... -> destination
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "faults/fault.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/rule.hpp"

namespace faultline::proxy {

class RuleRunner;

// What a chain needs from its connection; the session implements it.
class ChainHost {
  public:
    virtual ~ChainHost() = default;
    [[nodiscard]] virtual uv_loop_t* chain_loop() const = 0;
    [[nodiscard]] virtual bool chain_is_over() const = 0;
    [[nodiscard]] virtual double chain_random() = 0;
    [[nodiscard]] virtual faults::Micros chain_last_activity() const = 0;
    // What leaves the chain, toward the stream's destination.
    virtual void deliver(faults::Stream stream, std::string bytes) = 0;
    virtual void deliver_end(faults::Stream stream) = 0;
    // What a fault asks of the connection.
    virtual void rule_reset(const RuleRunner& rule, faults::Target target, bool flush) = 0;
    virtual void rule_close(const RuleRunner& rule) = 0;
    virtual void rule_go_silent(const RuleRunner& rule) = 0;
    virtual void rule_reset_on_reverse_data(const RuleRunner& rule) = 0;
    // A fault's timer ran or a fault started: held bytes may have changed.
    virtual void chain_changed(faults::Stream stream) = 0;
    // A rule's fault started acting on this connection.
    virtual void rule_started(const RuleRunner& rule) = 0;
    // A rule went away after swallowing bytes for good: the connection ends (Xlate Clear).
    virtual void rule_left_broken_stream(const std::string& rule) = 0;
};

class StreamChain;

// One rule on one connection: the running fault and the Context it acts through.
class RuleRunner final : public faults::Context {
  public:
    RuleRunner(ChainHost& host, StreamChain& chain, rules::Rule rule);
    ~RuleRunner() override;

    [[nodiscard]] const rules::Rule& rule() const { return rule_; }
    [[nodiscard]] bool is_running() const { return fault_ != nullptr; }
    [[nodiscard]] bool is_waiting_for_bytes() const;
    // Its match conditions are met (or it has none): it runs as soon as it is asked to.
    [[nodiscard]] bool is_ready() const;
    [[nodiscard]] std::size_t held_bytes() const { return fault_ ? fault_->held_bytes() : 0; }

    // Starts the fault now, or when `after` has passed (a timer).
    void arm(std::uint64_t connection_age_ms);
    // Counts bytes passing while the rule waits for after_bytes; returns how many of `length`
    // pass before the fault starts (all of them while it keeps waiting).
    [[nodiscard]] std::size_t count_passing(std::size_t length);
    void start();
    // New attributes for the same type.
    void update(rules::Rule rule);
    // The rule went away: the fault releases what it holds. True when it had swallowed bytes the
    // destination will never get (the connection cannot go on).
    bool stop();

    // faults::Context
    [[nodiscard]] faults::Stream stream() const override { return rule_.stream; }
    [[nodiscard]] faults::Micros now() const override;
    [[nodiscard]] double random() override;
    [[nodiscard]] faults::Micros last_activity() const override;
    void forward(std::string bytes) override;
    void forward_end() override;
    void reset(faults::Target target, bool flush) override;
    void close() override;
    void go_silent() override;
    void reset_on_reverse_data() override;
    void set_timer(faults::Micros at) override;
    void cancel_timer() override;

    [[nodiscard]] faults::Fault* fault() { return fault_.get(); }

  private:
    static void on_timer(uv_timer_t* handle);

    ChainHost& host_;
    StreamChain& chain_;
    rules::Rule rule_;
    std::unique_ptr<faults::Fault> fault_;
    UvHandle<uv_timer_t> timer_;  // created on first use
    bool is_waiting_for_time_ = false;
    std::uint64_t bytes_seen_ = 0;
};

class StreamChain {
  public:
    StreamChain(ChainHost& host, faults::Stream stream) : host_(host), stream_(stream) {}

    [[nodiscard]] bool is_empty() const { return runners_.empty(); }
    [[nodiscard]] faults::Stream stream() const { return stream_; }
    [[nodiscard]] std::size_t held_bytes() const;
    [[nodiscard]] RuleRunner* find(std::string_view name);
    [[nodiscard]] std::vector<std::string> names() const;

    void add(std::unique_ptr<RuleRunner> runner) { runners_.push_back(std::move(runner)); }
    // Stops and removes the named rule.
    void remove(std::string_view name);
    // The rules after `runner` release what they hold and stop acting: what the connection's
    // closing rule let through reaches the destination before the FIN.
    void release_after(const RuleRunner& runner);
    // The connection is over: no fault's timer runs any more (the runners stay until the
    // session is freed, since this may run inside one of them).
    void cancel_timers() {
        for (auto& runner : runners_)
            runner->cancel_timer();
    }

    // Bytes and the end from the source.
    void on_data(std::string bytes) { pass_from(0, std::move(bytes)); }
    void on_end() { end_from(0); }

    // Bytes and the end leaving runner `index` (or entering the chain at it).
    void pass_from(std::size_t index, std::string bytes);
    void end_from(std::size_t index);
    [[nodiscard]] std::size_t index_of(const RuleRunner& runner) const;

  private:
    ChainHost& host_;
    faults::Stream stream_;
    std::vector<std::unique_ptr<RuleRunner>> runners_;
};

}  // namespace faultline::proxy

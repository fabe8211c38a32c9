// The rule engine of one connection: which of its proxy's rules act on it (decided once per rule,
// see decision.hpp), the chain of running faults of each stream (chain.hpp), and what the faults
// ask of the connection, turned into requests to the connection's host with the teardown cause
// they carry. It knows no sockets and no loop: time comes from a Clock, and everything it does to
// the connection goes through RuleHost, which the proxy's session implements and the engine's
// tests fake. Nothing here names a fault type.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rules/chain.hpp"
#include "rules/clock.hpp"
#include "rules/decision.hpp"
#include "rules/random.hpp"
#include "rules/rule.hpp"
#include "teardown/classification.hpp"

namespace faultline::rules {

// What the rule engine needs from its connection.
class RuleHost {
  public:
    virtual ~RuleHost() = default;
    // The connection has ended: nothing acts on it any more.
    [[nodiscard]] virtual bool is_over() const = 0;
    // The last time a byte moved in either direction.
    [[nodiscard]] virtual Micros last_activity() const = 0;
    // What leaves a stream's chain, toward the stream's destination.
    virtual void deliver(faults::Stream stream, std::string bytes) = 0;
    virtual void deliver_end(faults::Stream stream) = 0;
    // A rule ends the connection with RST to `target` (the other endpoint gets FIN). With
    // `flush`, what was already forwarded leaves first; without, the RST overtakes it.
    virtual void reset(const teardown::Cause& cause, faults::Target target, bool flush) = 0;
    // A rule is about to end the connection: whatever happens from now on (releasing what other
    // rules hold may already end it), this is the cause of the ending.
    virtual void claim_ending(const teardown::Cause& cause) = 0;
    // A rule ends the connection with FIN to both endpoints, after what was forwarded.
    virtual void close(const teardown::Cause& cause) = 0;
    // The bytes a stream's rules hold changed: the stream's backpressure may change.
    virtual void held_bytes_changed(faults::Stream stream) = 0;
    // A rule's fault started acting on this connection.
    virtual void rule_started(const Rule& rule) = 0;
    // A rule went away after swallowing bytes for good: the stream has a hole, and the connection
    // cannot go on as if it were whole.
    virtual void stream_broken(const teardown::Cause& cause) = 0;
};

class ConnectionRules {
  public:
    ConnectionRules(RuleHost& host, Clock& clock, Random& random);

    // The proxy's rules, at the connection's start and after every change. Rules that arrive
    // are decided and armed (started at once, or when their match conditions are met); changed
    // ones take their new attributes (a changed type, toxicity or match is a new rule); removed
    // and disabled ones stop, releasing what they hold. `age`: how old the connection is.
    void apply(const std::vector<Rule>& rules, const ConnectionFacts& facts, RuleCounters& counters,
               Micros age);

    // No rule touches this stream: bytes may go straight to the destination.
    [[nodiscard]] bool is_transparent(faults::Stream stream) const;
    // Bytes and the end from a stream's source, when the stream is not transparent.
    void on_data(faults::Stream stream, std::string bytes);
    void on_end(faults::Stream stream);
    // Bytes held by the stream's faults: they count against the stream's buffer limit.
    [[nodiscard]] std::size_t held_bytes(faults::Stream stream) const;
    // Set once a rule made the connection go silent (idle_timeout forget): from then on every
    // byte either way is swallowed, and this is the cause of the ending.
    [[nodiscard]] const std::optional<teardown::Cause>& silent_cause() const {
        return silent_cause_;
    }
    // The rule that last started acting, while it still acts ("" when none): a timer that ends
    // the connection names it.
    [[nodiscard]] const std::string& last_fired() const { return last_fired_; }
    // The rules acting on the connection (running or waiting), upstream first.
    [[nodiscard]] std::vector<std::string> active() const;
    // The connection has ended: no fault's timer runs any more.
    void stop_timers();

    // For the chains and their rules.
    [[nodiscard]] bool is_over() const { return host_.is_over(); }
    [[nodiscard]] Micros last_activity() const { return host_.last_activity(); }
    [[nodiscard]] Clock& clock() { return clock_; }
    [[nodiscard]] Random& random() { return random_; }
    void deliver(faults::Stream stream, std::string bytes) {
        host_.deliver(stream, std::move(bytes));
    }
    void deliver_end(faults::Stream stream) { host_.deliver_end(stream); }
    void held_bytes_changed(faults::Stream stream) {
        if (!is_applying_) host_.held_bytes_changed(stream);
    }
    void rule_started(const ActiveRule& rule);
    void rule_reset(const ActiveRule& rule, faults::Target target, bool flush);
    void rule_close(const ActiveRule& rule);
    void rule_go_silent(const ActiveRule& rule);
    void rule_reset_on_reverse_data(const ActiveRule& rule);

  private:
    void apply_changes(const std::vector<Rule>& rules, const ConnectionFacts& facts,
                       RuleCounters& counters, Micros age);
    [[nodiscard]] StreamChain& chain(faults::Stream stream);
    [[nodiscard]] const StreamChain& chain(faults::Stream stream) const;
    // Removes a rule from its chain; a hole it leaves ends the connection.
    void remove(StreamChain& chain, const std::string& name);
    // A rule that no longer acts is not named by a later ending.
    void forget(const std::string& name);
    // How a connection that the rule ends is recorded: Deny, or Conn-timeout for an idle timeout.
    [[nodiscard]] static teardown::Cause cause_of(const Rule& rule);

    RuleHost& host_;
    Clock& clock_;
    Random& random_;
    Decisions decisions_;
    StreamChain upstream_;
    StreamChain downstream_;
    std::optional<teardown::Cause> silent_cause_;
    // Per stream (upstream, downstream): the rule after which bytes in that stream reset their
    // sender, as toward a peer that had fully closed (half_close collapse); "" when none.
    std::array<std::string, 2> collapsed_by_;
    std::string last_fired_;
    bool is_applying_ = false;  // apply() reports held bytes once, at its end
};

}  // namespace faultline::rules

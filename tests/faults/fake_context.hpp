// A Context for fault tests: a manual clock, a deterministic random source, one pending timer, and
// a record of everything the fault did (bytes and ends forwarded, resets, closes, ...) with the
// time it happened; and Started, a fault started on one. No loop, no sockets, no sleeping.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "faults/fault.hpp"

namespace faultline::faults {

struct Event {
    enum class Kind { data, end, reset, close, go_silent, reset_on_reverse_data };

    Micros at{0};
    Kind kind = Kind::data;
    std::string bytes;             // data
    Target target = Target::both;  // reset
    bool flush = false;            // reset

    bool operator==(const Event&) const = default;
};

inline Event event_at(Micros at, Event::Kind kind) {
    Event event;
    event.at = at;
    event.kind = kind;
    return event;
}
inline Event data_at(Micros at, std::string bytes) {
    auto event = event_at(at, Event::Kind::data);
    event.bytes = std::move(bytes);
    return event;
}
inline Event end_at(Micros at) {
    return event_at(at, Event::Kind::end);
}
inline Event reset_at(Micros at, Target target, bool flush) {
    auto event = event_at(at, Event::Kind::reset);
    event.target = target;
    event.flush = flush;
    return event;
}
inline Event close_at(Micros at) {
    return event_at(at, Event::Kind::close);
}
inline Event silent_at(Micros at) {
    return event_at(at, Event::Kind::go_silent);
}
inline Event reset_on_reverse_data_at(Micros at) {
    return event_at(at, Event::Kind::reset_on_reverse_data);
}

inline std::ostream& operator<<(std::ostream& out, const Event& event) {
    constexpr const char* kinds[] = {"data",  "end",       "reset",
                                     "close", "go_silent", "reset_on_reverse_data"};
    constexpr const char* targets[] = {"client", "server", "both"};
    out << kinds[static_cast<int>(event.kind)] << "@" << event.at.count() << "us";
    if (event.kind == Event::Kind::data) {
        if (event.bytes.size() <= 24) {
            out << "(\"" << event.bytes << "\")";
        } else {
            out << "(\"" << event.bytes.substr(0, 16) << "...\" " << event.bytes.size() << " B)";
        }
    }
    if (event.kind == Event::Kind::reset) {
        out << "(" << targets[static_cast<int>(event.target)]
            << (event.flush ? ", flush)" : ", no flush)");
    }
    return out;
}

using Events = std::vector<Event>;

inline std::ostream& operator<<(std::ostream& out, const Events& events) {
    out << "{";
    for (std::size_t i = 0; i < events.size(); ++i)
        out << (i == 0 ? " " : ", ") << events[i];
    return out << " }";
}

class FakeContext final : public Context {
  public:
    explicit FakeContext(Stream stream = Stream::downstream, Micros start = Micros::zero())
        : stream_(stream), now_(start) {}

    // Draws that random() returns first, in order; after them, a fixed pseudo-random sequence.
    void queue_draws(std::initializer_list<double> draws) {
        draws_.insert(draws_.end(), draws.begin(), draws.end());
    }
    void set_last_activity(Micros at) { last_activity_ = at; }
    // The proxy's timers fire on whole milliseconds, late rather than early: with a resolution
    // set, a timer fires at its time rounded up to a multiple of it.
    void set_timer_resolution(Micros resolution) { resolution_ = resolution; }

    // Moves the clock to `at`, firing the fault's timer each time it falls due on the way.
    void advance_to(Fault& fault, Micros at) {
        while (timer_ && firing_time(*timer_) <= at)
            fire(fault);
        if (at > now_) now_ = at;
    }
    void advance(Fault& fault, Micros by) { advance_to(fault, now_ + by); }
    // Moves the clock to the pending timer and fires it; false when none is pending.
    bool fire(Fault& fault) {
        if (!timer_) return false;
        now_ = std::max(now_, firing_time(*timer_));
        timer_.reset();
        ++timer_firings_;
        fault.on_timer(*this);
        return true;
    }
    // Fires the timer until none is pending.
    void run(Fault& fault) {
        for (int i = 0; i < 10'000'000 && fire(fault); ++i) {
        }
    }

    [[nodiscard]] const std::vector<Event>& events() const { return events_; }
    // Every byte forwarded so far, in order.
    [[nodiscard]] std::string forwarded() const {
        std::string bytes;
        for (const auto& event : events_)
            if (event.kind == Event::Kind::data) bytes += event.bytes;
        return bytes;
    }
    [[nodiscard]] std::optional<Micros> timer() const { return timer_; }
    [[nodiscard]] int timer_firings() const { return timer_firings_; }
    [[nodiscard]] int draws_taken() const { return draws_taken_; }

    // Context
    [[nodiscard]] Stream stream() const override { return stream_; }
    [[nodiscard]] Micros now() const override { return now_; }
    [[nodiscard]] double random() override {
        ++draws_taken_;
        if (!draws_.empty()) {
            const double draw = draws_.front();
            draws_.pop_front();
            return draw;
        }
        return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    }
    [[nodiscard]] Micros last_activity() const override { return last_activity_; }
    void forward(std::string bytes) override { events_.push_back(data_at(now_, std::move(bytes))); }
    void forward_end() override { events_.push_back(end_at(now_)); }
    void reset(Target target, bool flush) override {
        events_.push_back(reset_at(now_, target, flush));
    }
    void close() override { events_.push_back(close_at(now_)); }
    void go_silent() override { events_.push_back(silent_at(now_)); }
    void reset_on_reverse_data() override { events_.push_back(reset_on_reverse_data_at(now_)); }
    void set_timer(Micros at) override { timer_ = at; }
    void cancel_timer() override { timer_.reset(); }

  private:
    [[nodiscard]] Micros firing_time(Micros at) const {
        if (resolution_ <= Micros::zero()) return at;
        const auto steps = (at.count() + resolution_.count() - 1) / resolution_.count();
        return resolution_ * steps;
    }

    Stream stream_;
    Micros now_{0};
    Micros last_activity_{0};
    Micros resolution_{0};
    std::optional<Micros> timer_;
    std::vector<Event> events_;
    std::deque<double> draws_;
    std::mt19937_64 engine_{42};
    int timer_firings_ = 0;
    int draws_taken_ = 0;
};

// A fault built from `config` and started on a FakeContext of its own, with one short call for each
// thing a connection does to it, so that a test reads as its story: `latency.data("a").wait(10ms)`.
template <typename F>
struct Started {
    template <typename Config>
    explicit Started(const Config& config, Stream stream = Stream::downstream,
                     Micros start = Micros::zero())
        : context(stream, start), fault(config) {
        fault.on_start(context);
    }

    Started& data(std::string bytes) {
        fault.on_data(context, std::move(bytes));
        return *this;
    }
    Started& end() {
        fault.on_end(context);
        return *this;
    }
    // The rule goes away.
    Started& stop() {
        fault.on_stop(context);
        return *this;
    }
    // The rule's attributes change on the live connection.
    template <typename Config>
    Started& update(const Config& config) {
        fault.configure(config);
        fault.on_update(context);
        return *this;
    }
    Started& wait(Micros by) {
        context.advance(fault, by);
        return *this;
    }
    Started& wait_until(Micros at) {
        context.advance_to(fault, at);
        return *this;
    }
    // Fires the timer until none is pending.
    Started& run() {
        context.run(fault);
        return *this;
    }

    [[nodiscard]] const Events& events() const { return context.events(); }
    [[nodiscard]] std::optional<Micros> timer() const { return context.timer(); }
    [[nodiscard]] std::size_t held_bytes() const { return fault.held_bytes(); }

    FakeContext context;
    F fault;
};

}  // namespace faultline::faults

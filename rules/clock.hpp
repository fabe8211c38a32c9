// The time the rule engine runs on: a clock and one-shot timers. The proxy implements it with the
// event loop's timers; the engine's tests implement it with a manual clock, so that every match
// condition and fault is tested without a loop and without sleeping.
#pragma once

#include <functional>
#include <memory>

#include "faults/fault.hpp"

namespace faultline::rules {

using faults::Micros;

// One timer: calls its callback once, at the time it was last started for. Destroying it stops
// it; the callback never runs after that.
class Timer {
  public:
    virtual ~Timer() = default;
    // Replaces an earlier start. A time already passed fires as soon as the clock allows.
    virtual void start(Micros at) = 0;
    virtual void stop() = 0;
};

class Clock {
  public:
    virtual ~Clock() = default;
    // Monotonic time from an origin of the clock's choosing.
    [[nodiscard]] virtual Micros now() const = 0;
    [[nodiscard]] virtual std::unique_ptr<Timer> make_timer(std::function<void()> on_fire) = 0;
};

}  // namespace faultline::rules

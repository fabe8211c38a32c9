// The rule engine's clock on the event loop: the loop's high-resolution time, and one-shot timers
// that are libuv timers.
#pragma once

#include <uv.h>

#include "rules/clock.hpp"

namespace faultline::proxy {

class LoopClock final : public rules::Clock {
  public:
    explicit LoopClock(uv_loop_t* loop) : loop_(loop) {}

    [[nodiscard]] rules::Micros now() const override;
    [[nodiscard]] std::unique_ptr<rules::Timer> make_timer(std::function<void()> on_fire) override;

  private:
    uv_loop_t* loop_;
};

}  // namespace faultline::proxy

// What a fault is and what it may do. A fault decides only *what* happens to the bytes and the
// ends of one stream of one connection; when and where it applies (toxicity, match conditions,
// the stream) is the rules' business. It never sees libuv: it acts through a Context, which the
// proxy implements with sockets and timers and tests implement with a manual clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace faultline::faults {

// Monotonic time, from an origin the context chooses.
using Micros = std::chrono::microseconds;

// upstream: client to server bytes; downstream: server to client bytes.
enum class Stream { upstream, downstream };

// Which endpoints a reset hits.
enum class Target { client, server, both };

class Context {
  public:
    virtual ~Context() = default;

    // The stream this fault sits in: its source sends the bytes, its destination receives them.
    [[nodiscard]] virtual Stream stream() const = 0;
    [[nodiscard]] virtual Micros now() const = 0;
    // Uniform in [0, 1), from the connection's seeded source.
    [[nodiscard]] virtual double random() = 0;
    // The last time a byte moved in either direction of the connection.
    [[nodiscard]] virtual Micros last_activity() const = 0;

    // Passes bytes on toward the stream's destination (through the stream's later faults).
    virtual void forward(std::string bytes) = 0;
    // Passes the end of the stream (the source's FIN) on toward the destination.
    virtual void forward_end() = 0;
    // Sends RST to the target endpoints and ends the connection. With `flush`, what was already
    // forwarded leaves the kernel first; without, the RST overtakes it.
    virtual void reset(Target target, bool flush) = 0;
    // Ends the connection as a middlebox would with FIN to both endpoints.
    virtual void close() = 0;
    // The connection goes silent: from now on bytes from either side are swallowed, and nothing
    // ends it but the endpoints' own timers (or the rule's removal).
    virtual void go_silent() = 0;
    // From now on, bytes that arrive in the opposite stream make the proxy reset their sender, as
    // a peer that had fully closed would.
    virtual void reset_on_reverse_data() = 0;

    // Asks for one on_timer call at `at`, replacing an earlier request of this fault.
    virtual void set_timer(Micros at) = 0;
    virtual void cancel_timer() = 0;
};

class Fault {
  public:
    Fault() = default;
    Fault(const Fault&) = delete;
    Fault& operator=(const Fault&) = delete;
    virtual ~Fault() = default;

    // The fault starts acting: at the connection's start, or when its rule arrives on (or starts
    // matching) a live connection.
    virtual void on_start(Context& context) { (void)context; }
    virtual void on_data(Context& context, std::string bytes) { context.forward(std::move(bytes)); }
    // The stream's source sent FIN.
    virtual void on_end(Context& context) { context.forward_end(); }
    virtual void on_timer(Context& context) { (void)context; }
    // The rule was removed or disabled: release what is held (unless dropping was the point) and
    // pass on an end of stream that was held back.
    virtual void on_stop(Context& context) { (void)context; }
    // Called right after FaultSpec::update() gave this running fault new attributes (configure()
    // has no context): re-plan what the change moved, such as a timer or a stalled stream.
    virtual void on_update(Context& context) { (void)context; }

    // Bytes were swallowed that the destination will never get, though dropping them is not the
    // fault's lasting purpose (a pulled cable): when the rule goes, the connection cannot go on
    // and the proxy ends it, as an operator clearing it would.
    [[nodiscard]] virtual bool has_broken_stream() const { return false; }

    // Bytes held inside the fault; they count against the direction's buffer limit, so a fault
    // that holds bytes slows the sender down instead of growing memory.
    [[nodiscard]] virtual std::size_t held_bytes() const { return 0; }
};

}  // namespace faultline::faults

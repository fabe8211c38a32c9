// Adding a record to the counters.
#include "teardown/counters.hpp"

namespace faultline::teardown {

void Counters::count(const TeardownRecord& record) {
    ++connections[record.proxy];
    ++teardowns[{record.proxy, std::string(reason_name(record.cause.reason))}];
    bytes_up[record.proxy] += record.bytes_up;
    bytes_down[record.proxy] += record.bytes_down;
}

}  // namespace faultline::teardown

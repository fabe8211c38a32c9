// A doctest listener for the black-box tests: when a check fails (or a test throws), it prints
// the log of every faultline process alive at that moment, once per test case, so a failure
// shows what faultline did without each test asking for it.
#include <doctest/doctest.h>

#include <iostream>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

class LogOnFailure final : public doctest::IReporter {
  public:
    explicit LogOnFailure(const doctest::ContextOptions&) {}

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { has_printed_ = false; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override { print(); }
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData& assert) override {
        if (assert.m_failed) print();
    }
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

  private:
    void print() {
        if (has_printed_) return;
        has_printed_ = true;
        std::cout << Faultline::live_log_tails() << std::flush;
    }

    bool has_printed_ = false;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("faultline-log", 1, LogOnFailure);

}  // namespace faultline::e2e

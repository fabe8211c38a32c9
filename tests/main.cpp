// The one test executable: doctest's runner. CTest registers each test case separately.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

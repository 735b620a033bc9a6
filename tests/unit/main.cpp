// The unit-test executable's module definition; the suites live in the *_test.cpp files.
#define BOOST_TEST_MODULE sitesync_unit
#include <boost/test/unit_test.hpp>

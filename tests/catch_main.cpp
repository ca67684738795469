// Catch2's main(), compiled here rather than linked from Debian's libCatch2WithMain.a so
// that the tests also build for another CPU (scripts/test-aarch64.sh).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

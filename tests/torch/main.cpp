// The single translation unit that carries Catch2's runner, so the test files
// themselves compile quickly.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

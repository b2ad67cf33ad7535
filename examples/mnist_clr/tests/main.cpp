// Catch2's runner for the example's tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

// The real MNIST files, for the cases that check or train on them.
//
// ctest hands the directory over in MNIST_DIR (the CMake cache variable
// CLR_MNIST_DIR, data/mnist by default) and CLR_TESTS_REQUIRE_ALL=0 or 1. When
// the files are not there a case either skips, saying so in a line ctest's
// SKIP_REGULAR_EXPRESSION turns into "Skipped", or, with
// CLR_TESTS_REQUIRE_ALL=1, fails. It never trains on anything else instead.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace mnist_test {

// Matched by the SKIP_REGULAR_EXPRESSION in examples/mnist_clr/CMakeLists.txt.
inline constexpr const char* skip_marker = "SKIPPED (missing input): ";

// The directory holding the four MNIST files, or nullopt when the case is to
// be skipped (after the skip line has been printed). Call it first in a case
// and return when it gives nullopt.
inline std::optional<std::string> mnist_dir() {
    namespace fs = std::filesystem;
    const char* env_dir = std::getenv("MNIST_DIR");
    const char* env_all = std::getenv("CLR_TESTS_REQUIRE_ALL");
    const std::string dir = env_dir != nullptr ? env_dir : "";
    const std::string all = env_all != nullptr ? env_all : "";
    // Two entries of ctest's ENVIRONMENT run together into one when a ';'
    // list is escaped wrongly; a required test must not turn into a skip.
    if (dir.find(';') != std::string::npos || dir.find("CLR_TESTS_REQUIRE_ALL") != std::string::npos)
        FAIL("MNIST_DIR is '" << dir << "': the test's ENVIRONMENT property is mangled");
    if (env_all != nullptr && all != "0" && all != "1")
        FAIL("CLR_TESTS_REQUIRE_ALL is '"
             << all << "', expected 0 or 1: the test's ENVIRONMENT property is mangled");
    const bool required = all == "1";

    std::string problem;
    if (dir.empty()) {
        problem = "MNIST_DIR is not set (ctest sets it from the CMake cache variable CLR_MNIST_DIR)";
    } else {
        std::string missing;
        for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            std::error_code ec;
            if (!fs::is_regular_file(fs::path(dir) / name, ec) &&
                !fs::is_regular_file(fs::path(dir) / (std::string(name) + ".gz"), ec))
                missing += std::string(missing.empty() ? "" : ", ") + name;
        }
        if (!missing.empty()) problem = "MNIST files not found in " + dir + " (" + missing + ")";
    }
    if (problem.empty()) return dir;
    problem += "; run scripts/fetch_mnist.sh, or configure with -DCLR_MNIST_DIR=DIR";
    if (required) FAIL(problem << ", and CLR_TESTS_REQUIRE_ALL is on");
    WARN(skip_marker << problem);
    return std::nullopt;
}

}  // namespace mnist_test

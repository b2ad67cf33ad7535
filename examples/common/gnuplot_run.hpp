// Running gnuplot from the examples: finding it on PATH, quoting file names
// for its scripts, and running it without a shell. POSIX only (posix_spawn).
#pragma once

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace gnuplot {

// The executable `name` as the shell would find it on PATH.
inline std::optional<std::string> find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return std::nullopt;
    std::string all(path);
    std::size_t start = 0;
    while (start <= all.size()) {
        std::size_t end = all.find(':', start);
        if (end == std::string::npos) end = all.size();
        // An empty PATH entry means the current directory.
        std::string candidate = end == start ? std::string(".") : all.substr(start, end - start);
        candidate += '/';
        candidate += name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
        start = end + 1;
    }
    return std::nullopt;
}

// Runs exe with args, inheriting stdout and stderr, and returns its exit status.
inline int run_program(const std::string& exe, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    std::vector<std::string> owned;
    owned.reserve(args.size() + 1);
    owned.push_back(exe);
    owned.insert(owned.end(), args.begin(), args.end());
    argv.reserve(owned.size() + 1);
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ);
    if (rc != 0) throw std::runtime_error("cannot run " + exe + ": " + std::strerror(rc));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("waiting for " + exe + ": " + std::strerror(errno));
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

// A string literal for a gnuplot script. Single quotes take everything
// verbatim except the quote itself, which is doubled; a line break cannot be
// represented at all.
inline std::string quoted(const std::string& s) {
    if (s.find_first_of("\n\r") != std::string::npos)
        throw std::invalid_argument("'" + s + "' contains a line break, which gnuplot cannot take in a file name");
    std::string out = "'";
    for (char c : s) {
        out += c;
        if (c == '\'') out += '\'';
    }
    return out + "'";
}

}  // namespace gnuplot

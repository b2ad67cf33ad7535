// Running gnuplot from the examples: finding it on PATH, naming and quoting
// image files, the terminal that writes them, running it without a shell,
// and checking that the image it wrote is whole before anyone commits it.
// POSIX only (posix_spawn).
#pragma once

#include "example_io.hpp"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
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
        throw std::invalid_argument("'" + s +
                                    "' contains a line break, which gnuplot cannot take in a file name");
    std::string out = "'";
    for (char c : s) {
        out += c;
        if (c == '\'') out += '\'';
    }
    return out + "'";
}

// An image is PNG or SVG by its file's extension, in any case.
inline bool is_svg(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".svg";
}

// What is wrong with `path` as the name of an image to draw, or "".
inline std::string image_name_problem(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext != ".png" && ext != ".svg") return "'" + path + "' must end in .png or .svg";
    if (path.find_first_of("\n\r") != std::string::npos) return "the file name must not contain a line break";
    return "";
}

// The lines that make gnuplot write a width x height image to `image`: SVG,
// or PNG through cairo, which draws antialiased lines, falling back on the
// libgd png terminal of a gnuplot built without cairo.
inline std::string terminal(bool svg, int width, int height, const std::string& image) {
    const std::string size = "size " + std::to_string(width) + "," + std::to_string(height);
    std::string s = "set encoding utf8\n";
    if (svg)
        s += "set terminal svg " + size + " font 'sans,11' background '#ffffff'\n";
    else
        s += "terms = ' ' . GPVAL_TERMINALS . ' '\n"
             "if (strstrt(terms, ' pngcairo ') > 0) {\n"
             "  set terminal pngcairo " +
             size +
             " font 'sans,9' background '#ffffff'\n"
             "} else {\n"
             "  if (strstrt(terms, ' png ') == 0) {\n"
             "    print 'this gnuplot has neither the pngcairo nor the png terminal'\n"
             "    exit status 1\n"
             "  }\n"
             "  set terminal png " +
             size +
             " font 'DejaVuSans,9' background '#ffffff'\n"
             "}\n";
    return s + "set output " + quoted(image) + "\n";
}

// What is wrong with the image at `path`, or "" if it is a whole PNG (the
// signature, and the IEND chunk as the file's last 12 bytes) or a whole SVG
// (ending in </svg>). gnuplot exits 0 even when the disk fills up under it,
// so its exit status alone cannot tell a cut-off image from a good one.
inline std::string image_problem(const std::string& path, bool svg) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return std::string("cannot read it back: ") + std::strerror(errno);
    std::string head(8, '\0'), tail(64, '\0');
    const std::size_t head_n = std::fread(head.data(), 1, head.size(), f);
    head.resize(head_n);
    long size = 0;
    std::size_t tail_n = 0;
    if (std::fseek(f, 0, SEEK_END) == 0 && (size = std::ftell(f)) > 0) {
        const long from = size > 64 ? size - 64 : 0;
        if (std::fseek(f, from, SEEK_SET) == 0) tail_n = std::fread(tail.data(), 1, tail.size(), f);
    }
    tail.resize(tail_n);
    std::fclose(f);
    if (size <= 0) return "gnuplot wrote an empty image";
    if (svg) {
        const std::size_t end = tail.find_last_not_of(" \t\r\n");
        if (end == std::string::npos || end + 1 < 6 || tail.compare(end + 1 - 6, 6, "</svg>") != 0)
            return "gnuplot wrote an incomplete SVG (it does not end in </svg>; a full disk?)";
        return "";
    }
    static const char signature[] = "\x89PNG\r\n\x1a\n";
    static const char iend[] = "\0\0\0\0IEND\xae\x42\x60\x82";
    if (head != std::string(signature, 8)) return "gnuplot wrote something that is not a PNG";
    if (tail.size() < 12 || tail.compare(tail.size() - 12, 12, std::string(iend, 12)) != 0)
        return "gnuplot wrote an incomplete PNG (it does not end in an IEND chunk; a full disk?)";
    return "";
}

// Runs gnuplot on `script_text`, which must write the image to image.path(),
// and checks the image is whole (image_problem). Throws io_error naming the
// image's target if anything fails; committing is left to the caller, so
// that a program can finish every output before putting any in place. The
// script is a scratch file in TMPDIR, removed however this ends.
inline void render(const example_io::temp_file& image, const std::string& script_text, bool svg,
                   const std::string& script_name) {
    const auto exe = find_program("gnuplot");
    if (!exe)
        throw example_io::io_error(image.target(),
                                   "gnuplot not found on PATH; install gnuplot-nox "
                                   "(apt-get install gnuplot-nox)");
    std::error_code ec;
    example_io::output_file script(example_io::temp_file::scratch_tag{},
                                   std::filesystem::temp_directory_path(ec).string(), script_name);
    if (std::fwrite(script_text.data(), 1, script_text.size(), script.stream()) != script_text.size())
        throw example_io::io_error("gnuplot script", std::string("write failed: ") + std::strerror(errno));
    script.finish();
    // -d: the user's ~/.gnuplot must not restyle the plot.
    const int status = run_program(*exe, {"-d", script.temp_path()});
    if (status != 0)
        throw example_io::io_error(
            image.target(), "gnuplot failed (exit status " + std::to_string(status) + "); nothing written");
    const std::string problem = image_problem(image.path(), svg);
    if (!problem.empty()) throw example_io::io_error(image.target(), problem + "; nothing written");
}

}  // namespace gnuplot

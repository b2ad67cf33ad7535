// Data-parallel training for the examples, over MPI when the program was built
// with it (CLR_EXAMPLES_MPI) and started by an MPI launcher:
//
//     mpirun -np 3 build/examples/mnist_clr/mnist_clr --batch 200 ...
//
// Every process (rank) holds the whole model and takes a share of each
// global batch; the gradients are summed across ranks before every rank
// steps the same optimizer. The schedules are closed forms of the step, so
// each rank computes the same rate without being told.
//
//     distributed::world world(argc, argv);   // MPI_Init only under a launcher
//     world.sum(grad.data(), grad.size());    // in place, the same sum on every rank
//
// A program started without a launcher never initialises MPI: it runs as a
// build without MPI does, with no start-up cost and nothing printed by MPI. A
// program built without MPI but started by a launcher for several processes
// refuses to run, rather than train N unrelated copies.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(CLR_EXAMPLES_MPI)
// The C interface only: the deprecated C++ bindings add nothing and warn.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#endif

namespace distributed {

// FNV-1a of `text`: a 64-bit fingerprint for comparing what ranks were given.
inline std::uint64_t fingerprint(const std::string& text) {
    std::uint64_t h = 1469598103934665603ull;
    for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

// The number of processes a launcher started, from the variables Open MPI,
// MPICH (Hydra) and PMIx-based launchers such as Slurm's srun set; 0 when none
// did. Read before MPI_Init, so that a plain run need not initialise MPI.
inline long launched_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
        if (const char* v = std::getenv(name)) {
            char* end = nullptr;
            const long n = std::strtol(v, &end, 10);
            if (end != v && *end == '\0' && n > 0) return n;
        }
    }
    return 0;
}

// The processes of one data-parallel job. One per program, constructed before
// anything else reads the command line (MPI_Init may take its own arguments
// out of argv) and destroyed last.
class world {
public:
    world(int& argc, char**& argv) {
        const long launched = launched_size();
#if defined(CLR_EXAMPLES_MPI)
        if (launched > 0) {
            // A rank waiting on the others' sums yields its core instead of
            // spinning (Open MPI otherwise spins unless mpirun counted more
            // ranks than slots): on a machine busy with other work, spinning
            // ranks starve the ones computing. A user's own setting wins.
            ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
            // Only the main thread calls MPI; OpenMP's threads do the arithmetic.
            int provided = 0;
            MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
            initialised_ = true;
            MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
            MPI_Comm_size(MPI_COMM_WORLD, &size_);
        }
#else
        (void)argc;
        (void)argv;
        if (launched > 1)
            throw std::runtime_error("started as one of " + std::to_string(launched) +
                                     " processes, but built without MPI: each would train alone "
                                     "(install libopenmpi-dev and rebuild)");
#endif
    }
    world(const world&) = delete;
    world& operator=(const world&) = delete;
    ~world() {
#if defined(CLR_EXAMPLES_MPI)
        if (initialised_) MPI_Finalize();
#endif
    }

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool root() const { return rank_ == 0; }
    bool parallel() const { return size_ > 1; }

    // Element-wise sum across ranks, in place, every rank receiving the
    // result. Every rank must call it with the same n.
    void sum(float* data, std::size_t n) const { reduce(data, n); }
    void sum(double* data, std::size_t n) const { reduce(data, n); }
    void sum(std::int64_t* data, std::size_t n) const { reduce(data, n); }

    // Every rank's `values`, rank 0's first, on every rank: for a check that
    // names the rank that differs. Every rank must call it with as many values.
    std::vector<std::uint64_t> gather(const std::vector<std::uint64_t>& values) const {
        if (!parallel()) return values;
        std::vector<std::uint64_t> all(values.size() * static_cast<std::size_t>(size_));
#if defined(CLR_EXAMPLES_MPI)
        MPI_Allgather(values.data(), static_cast<int>(values.size()), MPI_UINT64_T, all.data(),
                      static_cast<int>(values.size()), MPI_UINT64_T, MPI_COMM_WORLD);
#endif
        return all;
    }

    // Ends the whole job: prints "<program>: rank R of N: <message>" and
    // aborts every rank with `code`, so none waits forever on a rank that
    // has failed. Without other ranks, prints "<program>: <message>" and exits.
    [[noreturn]] void abort(const char* program, const std::string& message, int code) const {
        if (parallel())
            std::fprintf(stderr, "%s: rank %d of %d: %s\n", program, rank_, size_, message.c_str());
        else
            std::fprintf(stderr, "%s: %s\n", program, message.c_str());
        std::fflush(stderr);
#if defined(CLR_EXAMPLES_MPI)
        if (initialised_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
        std::exit(code);
    }

private:
    template <class T>
    void reduce(T* data, std::size_t n) const {
        if (!parallel()) return;
#if defined(CLR_EXAMPLES_MPI)
        // MPI counts are int: larger buffers go in pieces.
        constexpr std::size_t most = std::size_t(std::numeric_limits<int>::max());
        for (std::size_t at = 0; at < n; at += most) {
            const int count = int(std::min(most, n - at));
            MPI_Allreduce(MPI_IN_PLACE, data + at, count, mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD);
        }
#else
        (void)data;
        (void)n;
#endif
    }

#if defined(CLR_EXAMPLES_MPI)
    template <class T>
    static MPI_Datatype mpi_type() {
        if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
        if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
        if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
    }
#endif

    int rank_ = 0;
    int size_ = 1;
    [[maybe_unused]] bool initialised_ = false;  // read only where MPI is built in
};

}  // namespace distributed

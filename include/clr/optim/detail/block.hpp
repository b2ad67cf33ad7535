// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Internals shared by the optimizers: a registered parameter block (the
// user's parameter and gradient storage, seen through raw pointers) and the
// compile-time and run-time checks applied when one is registered.
//
//     Eigen::MatrixXd w(784, 10), dw(784, 10);
//     opt.add(w, dw);   // ends up here: checks, then keeps &w(0), &dw(0), 7840
#ifndef CLR_OPTIM_DETAIL_BLOCK_HPP
#define CLR_OPTIM_DETAIL_BLOCK_HPP

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace clr::detail {

// One registered parameter block. Pointers rather than Eigen::Map members:
// maps are rebuilt per chunk in step(), which costs nothing and keeps the
// block trivially copyable. lr_scale is the block's rate multiplier, set at
// add(); weight_decay the decay of the current step (its own or the
// optimizer's, a number or a schedule's value), set by the optimizer before
// it calls prepare(), so that the update itself looks nothing up.
//
// The gradient is held writable when the caller registered writable storage,
// so that step(reduce) can hand it to a reduction in place; one registered
// read-only (a const matrix, a Map of const) is only ever read.
template <class T>
struct param_block {
    T* param;
    T* grad;
    Eigen::Index size;
    double lr_scale = 1.0;
    double weight_decay = 0.0;
    bool grad_writable = false;
};

template <class E>
using eigen_expr_t = std::remove_cv_t<std::remove_reference_t<E>>;

// Whether E is an Eigen dense object, found as Eigen's own functions find it:
// by deducing DenseBase<D> from a base class. is_base_of<DenseBase<E>, E>
// would miss v.head(3) and v.segment(2, 3), whose type (a VectorBlock)
// derives from DenseBase of another type (the Block it extends).
template <class D>
D dense_type_of(const Eigen::DenseBase<D>&);  // never defined: for decltype only

template <class E, class = void>
struct is_dense : std::false_type {};

template <class E>
struct is_dense<E, std::void_t<decltype(dense_type_of(std::declval<const E&>()))>> : std::true_type {};

// Compile-time requirements on a block passed to add() or the block I/O
// helpers. `Arg` is the forwarding-reference type, so a temporary can be told
// apart from an lvalue.
template <class T, class Arg, bool Writable>
constexpr void check_block_type() {
    using E = eigen_expr_t<Arg>;
    static_assert(
        is_dense<E>::value,
        "clr::optim: parameters and gradients must be Eigen dense objects (Matrix, Array, Map, ...)");
    if constexpr (is_dense<E>::value) {
        static_assert(std::is_same_v<typename E::Scalar, T>,
                      "clr::optim: the block's scalar type differs from the schedule's value_type");
        static_assert(
            bool(E::Flags & Eigen::DirectAccessBit),
            "clr::optim: the block needs direct storage access (a Matrix, Array, Map or contiguous Block)");
        static_assert(!Writable || bool(E::Flags & Eigen::LvalueBit),
                      "clr::optim: the parameter block must be writable (not a const Map or an expression)");
        // A matrix or array owns its storage: as a temporary it would be gone
        // before the first step. A temporary Map only views storage the caller
        // keeps, so it is fine.
        constexpr bool owning = std::is_base_of_v<Eigen::PlainObjectBase<E>, E>;
        static_assert(!(owning && std::is_rvalue_reference_v<Arg&&>),
                      "clr::optim: pass the matrix itself (an lvalue), not a temporary: "
                      "the optimizer keeps a view of it");
        static_assert(!(Writable && owning && std::is_const_v<std::remove_reference_t<Arg>>),
                      "clr::optim: the parameter block must be writable, not const");
    }
}

// Whether a block passed as Arg (a forwarding-reference type) can be written
// through: Eigen's LvalueBit, and not a const matrix or array. A const Map
// or Block object still views writable storage, as its flags say.
template <class Arg>
constexpr bool is_writable_block() {
    using E = eigen_expr_t<Arg>;
    if constexpr (is_dense<E>::value) {
        constexpr bool owning = std::is_base_of_v<Eigen::PlainObjectBase<E>, E>;
        return bool(E::Flags & Eigen::LvalueBit) &&
               !(owning && std::is_const_v<std::remove_reference_t<Arg>>);
    } else {
        return false;
    }
}

// Gaps between columns (a sub-block of a larger matrix, a row of a
// column-major matrix) would make the flat pointer walk over foreign values.
template <class E>
void require_contiguous(const std::string& who, const char* what, const E& e) {
    if (e.size() <= 1) return;
    const bool inner_ok = e.innerStride() == 1;
    const bool outer_ok = e.outerSize() <= 1 || e.outerStride() == e.innerSize();
    if (!inner_ok || !outer_ok)
        throw std::invalid_argument(who + ": " + what + " is not contiguous in memory (inner stride " +
                                    std::to_string(e.innerStride()) + ", outer stride " +
                                    std::to_string(e.outerStride()) + " for " + std::to_string(e.rows()) +
                                    "x" + std::to_string(e.cols()) +
                                    "); register the whole matrix or a contiguous Map");
}

// std::less gives a total order even for pointers into unrelated objects.
template <class T>
bool overlaps(const T* a, Eigen::Index na, const T* b, Eigen::Index nb) {
    if (na == 0 || nb == 0) return false;
    std::less<const T*> lt;
    return lt(a, b + nb) && lt(b, a + na);
}

template <class T, bool GradWritable, class P, class G>
param_block<T> make_block(const std::string& who, P& param, const G& grad) {
    if (param.size() != grad.size())
        throw std::invalid_argument(who + ": grad has " + std::to_string(grad.size()) +
                                    " values but param has " + std::to_string(param.size()));
    require_contiguous(who, "param", param);
    require_contiguous(who, "grad", grad);
    // The constness stripped here is that of the expression object (a const
    // Map of writable storage); check_block_type has already refused const
    // matrices and read-only maps for the parameter, and a read-only
    // gradient is marked so and never written (step(reduce) refuses it).
    T* p = const_cast<T*>(param.data());
    T* g = const_cast<T*>(grad.data());
    const Eigen::Index n = param.size();
    if (overlaps<T>(p, n, g, n)) throw std::invalid_argument(who + ": param and grad share memory");
    return {p, g, n, 1.0, 0.0, GradWritable};
}

// A block registered twice would be updated twice per step; a parameter
// aliasing another block's gradient would change that gradient halfway
// through a step: both refused, naming the block. Returns the first
// registered block whose gradient storage the new one shares (allowed, but
// step(reduce) would reduce it twice), if any.
template <class T>
std::optional<std::size_t> check_overlaps(const std::string& who, const param_block<T>& blk,
                                          const std::vector<param_block<T>>& blocks) {
    std::optional<std::size_t> shares_grad;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        const auto& o = blocks[b];
        if (overlaps<T>(blk.param, blk.size, o.param, o.size))
            throw std::invalid_argument(who + ": param overlaps the param of block " + std::to_string(b));
        if (overlaps<T>(blk.param, blk.size, o.grad, o.size))
            throw std::invalid_argument(who + ": param overlaps the grad of block " + std::to_string(b));
        if (overlaps<T>(blk.grad, blk.size, o.param, o.size))
            throw std::invalid_argument(who + ": grad overlaps the param of block " + std::to_string(b));
        if (!shares_grad && overlaps<T>(blk.grad, blk.size, o.grad, o.size)) shares_grad = b;
    }
    return shares_grad;
}

// Strip-mining: every update is a few coefficient-wise statements, each one
// pass over its arrays. Running all of them on one chunk before moving on
// keeps the chunk in L1 (4 arrays x 1024 doubles = 32 KiB), so main memory
// is read and written once per update, as a hand-fused loop would.
inline constexpr Eigen::Index chunk_size = 1024;

// The unit of work a thread takes in step(): a whole number of chunks, so
// that every element goes through the same chunk (the same Eigen calls on
// the same offsets, hence the same scalar or vector path) whatever the
// thread count, and results are bit-identical for any number of threads.
// 16 chunks: large enough that a task costs far more than handing it out,
// small enough that two threads split the MNIST model within a few percent.
inline constexpr Eigen::Index task_size = 16 * chunk_size;

// Below this many parameters in all blocks, step() stays on the calling
// thread: starting a parallel region, and waking a sleeping thread for it,
// costs microseconds to tens of them, and up to 128Ki floats (about 70 us of
// Adam) two threads never measured faster than one (bench/bench_optim.cpp,
// optim_threads/; bench/limits.md).
inline constexpr Eigen::Index parallel_threshold = Eigen::Index{256} * 1024;

// A thread's unit of work: elements [begin, begin + size) of one block.
struct task {
    std::size_t block;
    Eigen::Index begin, size;
};

// run(k) for every task, on up to `threads` threads (OpenMP; the calling
// thread alone without it).
template <class Run>
void run_tasks(const std::vector<task>& tasks, int threads, Run&& run) noexcept {
    const auto count = static_cast<std::ptrdiff_t>(tasks.size());
#if defined(_OPENMP)
    if (threads > 1) {
        // Tasks dealt round-robin: blocks end in short tasks, and dealing
        // them in turn splits the work evenly (the MNIST model's 41 tasks
        // within 0.3% over two threads, against 10% for contiguous
        // halves), while thread j still takes the same tasks every step.
        if (static_cast<std::ptrdiff_t>(threads) > count) threads = static_cast<int>(count);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
        for (std::ptrdiff_t i = 0; i < count; ++i) run(tasks[std::size_t(i)]);
        return;
    }
#else
    (void)threads;
#endif
    for (std::ptrdiff_t i = 0; i < count; ++i) run(tasks[std::size_t(i)]);
}

template <class F>
void for_each_chunk(Eigen::Index n, F&& f) {
    for (Eigen::Index i = 0; i < n; i += chunk_size) f(i, std::min(chunk_size, n - i));
}

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_BLOCK_HPP

// What single-bit flips of a whole checkpoint file do: to libtorch's reader
// (torch::load into a clr::torch::scheduler, in a child process of its own
// so that a crash is counted rather than fatal) and to
// clr::torch::check_checkpoint. Not a test (it has nothing to assert: the
// loader's outcomes are libtorch's); the numbers it prints are the ones
// quoted in the README's libtorch section.
//
//     torch_checkpoint_flips [sched|shared] [N] [unzip]
//
// sched: the scheduler alone, as torch::save(sched, path) stores it;
// shared: one archive with the optimizer's state (SGD with momentum buffers,
// after 5 updates) and the scheduler's. A load counts as right only if it
// restores exactly what was saved. N flips (default: every bit of the file),
// spread evenly over it; the file is written by clr::torch::save into the
// working directory and removed. With `unzip`, each damaged file also goes
// through `unzip -tqq` (the zip entries' own CRC-32s, which libtorch does not
// check), for a file written without clr::torch::save.
#include "torch_model.hpp"

#include <clr/torch.hpp>

#include <torch/serialize.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace clr_torch_test;

auto schedule() { return clr::triangular<double>(0.01, 0.1, 10).with_momentum(0.8, 0.95); }

constexpr clr::step_t saved_steps = 123;

using sgd_scheduler = clr::torch::scheduler<decltype(schedule())>;

::torch::optim::SGDOptions sgd_options() { return ::torch::optim::SGDOptions(0.05).momentum(0.9); }

// The state that is saved: 5 updates, then the scheduler moved to step 123.
void train(std::vector<::torch::Tensor>& p, ::torch::optim::SGD& opt, sgd_scheduler& sched) {
    const auto x = x_data(), y = y_data();
    for (int i = 0; i < 5; ++i) {
        opt.zero_grad();
        loss_of(p, x, y).backward();
        opt.step();
        sched.step();
    }
    sched.set_steps(saved_steps);
}

// Whether two SGD optimizers over the same parameter shapes hold the same
// options and momentum buffers, bit for bit.
bool same_state(::torch::optim::SGD& a, ::torch::optim::SGD& b) {
    auto& ga = a.param_groups();
    auto& gb = b.param_groups();
    if (ga.size() != gb.size()) return false;
    for (std::size_t g = 0; g < ga.size(); ++g) {
        const auto& oa = static_cast<const ::torch::optim::SGDOptions&>(ga[g].options());
        const auto& ob = static_cast<const ::torch::optim::SGDOptions&>(gb[g].options());
        if (!(oa == ob) || ga[g].params().size() != gb[g].params().size()) return false;
        for (std::size_t i = 0; i < ga[g].params().size(); ++i) {
            const auto ka = c10::guts::to_string(ga[g].params()[i].unsafeGetTensorImpl());
            const auto kb = c10::guts::to_string(gb[g].params()[i].unsafeGetTensorImpl());
            const auto sa = a.state().find(ka);
            const auto sb = b.state().find(kb);
            if ((sa == a.state().end()) != (sb == b.state().end())) return false;
            if (sa == a.state().end()) continue;
            const auto& ma = static_cast<const ::torch::optim::SGDParamState&>(*sa->second).momentum_buffer();
            const auto& mb = static_cast<const ::torch::optim::SGDParamState&>(*sb->second).momentum_buffer();
            if (ma.defined() != mb.defined()) return false;
            if (ma.defined() &&
                !(ma.sizes() == mb.sizes() && ma.dtype() == mb.dtype() && ::torch::equal(ma, mb)))
                return false;
        }
    }
    return true;
}

// The child's exit status for each way torch::load can end.
enum outcome : int {
    loaded_right = 0,
    loaded_wrong = 10,       // another step count, or (shared) optimizer state
    refused_by_clr = 11,     // clr::torch::checkpoint_error
    refused_by_torch = 12,   // c10::Error
    refused_otherwise = 13,  // another std::exception (the TorchScript parser's ErrorReport, ...)
    other_exception = 14,
};

[[noreturn]] void load_in_child(const std::string& path, bool shared) {
    alarm(5);  // a hang ends with SIGALRM
    int status = other_exception;
    try {
        auto p = model();
        ::torch::optim::SGD opt(groups(p), sgd_options());
        sgd_scheduler sched(opt, schedule(), {1.0, 0.5});
        ::torch::serialize::InputArchive in;
        in.load_from(path);
        if (shared) opt.load(in);
        sched.load(in);
        bool right = sched.steps() == saved_steps;
        if (shared) {
            auto q = model();
            ::torch::optim::SGD want(groups(q), sgd_options());
            sgd_scheduler want_sched(want, schedule(), {1.0, 0.5});
            train(q, want, want_sched);
            right = right && same_state(opt, want);
        }
        status = right ? loaded_right : loaded_wrong;
    } catch (const clr::torch::checkpoint_error&) {
        status = refused_by_clr;
    } catch (const c10::Error&) {
        status = refused_by_torch;
    } catch (const std::exception&) {
        status = refused_otherwise;
    } catch (...) {
        status = other_exception;
    }
    std::_Exit(status);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) try {
    const std::string kind = argc > 1 ? argv[1] : "sched";
    if (kind != "sched" && kind != "shared") {
        std::fprintf(stderr, "usage: torch_checkpoint_flips [sched|shared] [N] [unzip]\n");
        return 2;
    }
    const std::string good_path = "checkpoint_flips_good.pt", path = "checkpoint_flips_damaged.pt";
    {
        auto p = model();
        ::torch::optim::SGD opt(groups(p), sgd_options());
        sgd_scheduler sched(opt, schedule(), {1.0, 0.5});
        train(p, opt, sched);
        ::torch::serialize::OutputArchive archive;
        if (kind == "shared") opt.save(archive);
        sched.save(archive);
        clr::torch::save(archive, good_path);
    }
    const std::string good = read_file(good_path);
    std::remove(good_path.c_str());
    const std::size_t bits = good.size() * 8;
    const std::size_t n = argc > 2 ? std::min<std::size_t>(std::strtoull(argv[2], nullptr, 10), bits) : bits;
    const auto run_child = [&](const std::string& file) {
        std::fflush(nullptr);
        const pid_t child = fork();
        if (child == 0) load_in_child(file, kind == "shared");
        int status = 0;
        waitpid(child, &status, 0);
        return status;
    };
    // The undamaged file loads right, or the survey means nothing.
    write_file(path, good);
    const int undamaged = run_child(path);
    if (!WIFEXITED(undamaged) || WEXITSTATUS(undamaged) != loaded_right) {
        std::fprintf(stderr, "torch_checkpoint_flips: the undamaged file does not load as saved\n");
        return 1;
    }

    const bool unzip = argc > 3 && std::string(argv[3]) == "unzip";
    const std::string unzip_command = "unzip -tqq " + path + " >/dev/null 2>&1";
    std::map<std::string, std::size_t> loader, caught_by_check, caught_by_unzip;
    std::string bad_bits;  // the flips that crashed, hung or loaded a wrong state
    std::size_t check_refused = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t bit = i * bits / n;
        std::string bad = good;
        bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
        write_file(path, bad);
        bool refused = false;
        try {
            clr::torch::check_checkpoint(path);
        } catch (const clr::torch::checkpoint_error&) {
            refused = true;
        }
        check_refused += refused ? 1 : 0;

        const int status = run_child(path);
        std::string what;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            what = "hung (stopped after 5 s)";
        } else if (WIFSIGNALED(status)) {
            what = std::string("crashed (") + strsignal(WTERMSIG(status)) + ")";
        } else {
            switch (WEXITSTATUS(status)) {
                case loaded_right: what = "loaded the saved state"; break;
                case loaded_wrong: what = "loaded a wrong state"; break;
                case refused_by_clr: what = "refused by clr (checkpoint_error)"; break;
                case refused_by_torch: what = "refused by libtorch (c10::Error)"; break;
                case refused_otherwise: what = "refused by libtorch (other exception)"; break;
                default: what = "another exception"; break;
            }
        }
        ++loader[what];
        if (what != "loaded the saved state" && what.compare(0, 8, "refused ") != 0)
            bad_bits += " " + std::to_string(bit);
        if (refused) ++caught_by_check[what];
        if (unzip && std::system(unzip_command.c_str()) != 0) ++caught_by_unzip[what];
    }
    std::remove(path.c_str());

    std::printf("%s: %zu-byte file, %zu of its %zu bits flipped one at a time\n", kind.c_str(), good.size(),
                n, bits);
    std::printf("%-45s %8s %24s%s\n", "torch::load", "flips", "check_checkpoint caught",
                unzip ? "  unzip -t caught" : "");
    for (const auto& [what, count] : loader) {
        std::printf("%-45s %8zu %24zu", what.c_str(), count, caught_by_check[what]);
        if (unzip) std::printf(" %17zu", caught_by_unzip[what]);
        std::printf("\n");
    }
    std::printf("check_checkpoint refused %zu of %zu\n", check_refused, n);
    std::printf("bits whose flip crashed, hung or loaded a wrong state:%s\n", bad_bits.c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "torch_checkpoint_flips: %s\n", e.what());
    return 1;
}

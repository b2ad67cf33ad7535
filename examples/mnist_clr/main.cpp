// mnist_clr: Smith's CLR case study done honestly. A 784-784-10 MLP trained on
// MNIST with a constant or a cyclical learning rate, every run from the same
// fresh initialisation, reporting time and test error side by side.
//
//     mnist_clr --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 750
//     mnist_clr --compare
//
// Exit status: 0 done, 1 a failure while writing (log, plot), 2 bad flags,
// values or data files, 3 training diverged (a non-finite loss or parameter).
#include "idx.hpp"
#include "mlp.hpp"
#include "plot.hpp"
#include "train.hpp"

#include "output_file.hpp"
#include "schedule_options.hpp"

#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <CLI/CLI.hpp>
#include <Eigen/Core>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifdef EIGEN_USE_BLAS
// OpenBLAS's own description of itself (declared in its cblas.h, which Eigen
// does not include).
extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);
#endif

namespace {

namespace fs = std::filesystem;
using schedule_cli::option_error;

// The exit status of a run whose loss or parameters stopped being finite.
constexpr int diverged_status = 3;

struct run_config {
    schedule_cli::schedule_options schedule;
    std::string optimizer = "adam";
    std::optional<double> lr;            // the constant rate
    std::optional<double> momentum;      // SGD momentum or Adam's beta1
    std::optional<double> weight_decay;  // default 0, AdamW 0.01 as in PyTorch
    mnist::train_options train;
};

// --range-test and --auto-range.
struct range_options {
    bool run = false;
    bool auto_range = false;
    double min_lr = 1e-5;
    double max_lr = 1.0;
    std::optional<clr::step_t> steps;  // default: one epoch of batches
    // A sweep of one epoch is a few hundred batches; fastai's 0.98 would lag
    // the raw loss by ~49 of them, most of a decade of rates.
    double smoothing = 0.9;
};

struct program_options {
    run_config run;
    range_options range;
    int threads = 0;
    std::string data = "data/mnist";
    std::optional<std::string> log;
    std::optional<std::string> plot;
    bool compare = false;
};

// ---- output --------------------------------------------------------------

// Keras's progress bar, drawn only on a terminal.
class progress_bar {
public:
    explicit progress_bar(bool on) : on_(on) {}

    void operator()(int, mnist::index done, mnist::index total, double loss, double seconds) const {
        if (!on_ || (done != total && done % 5 != 0)) return;
        constexpr int width = 30;
        const int filled = static_cast<int>(width * done / total);
        std::string bar(static_cast<std::size_t>(width), '.');
        for (int i = 0; i < filled; ++i) bar[static_cast<std::size_t>(i)] = '=';
        if (filled < width) bar[static_cast<std::size_t>(filled)] = '>';
        const double eta = done > 0 ? seconds * double(total - done) / double(done) : 0.0;
        std::printf("\r%5ld/%ld [%s] - ETA: %.0fs - loss: %.4f", static_cast<long>(done),
                    static_cast<long>(total), bar.c_str(), eta, loss);
        std::fflush(stdout);
    }

    void clear() const {
        if (on_) std::printf("\r%*s\r", 79, "");
    }

private:
    bool on_;
};

std::string describe_run(const run_config& c) {
    std::string s = c.optimizer + ", ";
    if (c.schedule.name == "constant")
        s += "lr " + schedule_cli::detail::number(c.schedule.base_lr.value_or(1e-3));
    else
        s += schedule_cli::describe(c.schedule);
    if (c.momentum) s += ", momentum " + schedule_cli::detail::number(*c.momentum);
    if (c.weight_decay) s += ", weight decay " + schedule_cli::detail::number(*c.weight_decay);
    return s;
}

// What a run's numbers depend on besides its flags: different GEMM kernels
// (another BLAS, another CPU's kernels, another SIMD set) round differently.
constexpr const char* reproducibility_note =
    "The same seed and threads give the same numbers on the same CPU and BLAS.";

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) break;
        const std::size_t start = line.find_first_not_of(" \t", colon + 1);
        if (start != std::string::npos) return line.substr(start);
        break;
    }
    return "unknown";
}

std::string gemm_backend() {
#ifdef EIGEN_USE_BLAS
    // A DYNAMIC_ARCH build names the kernels it chose in its configuration.
    std::string s = openblas_get_config();
    const std::string core = openblas_get_corename();
    if (s.find(core) == std::string::npos) s += " (" + core + " kernels)";
#else
    std::string s = "Eigen's own";
#endif
    return s + "; Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
           "." + std::to_string(EIGEN_MINOR_VERSION) + " SIMD: " + Eigen::SimdInstructionSetsInUse();
}

// ---- one run -------------------------------------------------------------

struct log_writer {
    std::FILE* f;
    std::string name;
    void check(int rc) const {
        if (rc < 0) throw example_io::io_error(name, std::string("write failed: ") + std::strerror(errno));
    }
};

// Builds the optimizer --optimizer names around `schedule`, registers the
// network's parameters with it and returns f(optimizer).
template <class Schedule, class F>
auto with_optimizer(const Schedule& schedule, const run_config& c, mnist::mlp<float>& net,
                    mnist::gradients<float>& g, F&& f) {
    const double momentum = c.momentum.value_or(0.9);
    auto run = [&](auto& opt) {
        mnist::add_parameters(opt, net, g);
        return f(opt);
    };
    if (c.optimizer == "sgd") {
        clr::optim::sgd_options o;
        o.momentum = momentum;
        o.weight_decay = c.weight_decay.value_or(0.0);
        clr::optim::sgd opt(schedule, o);
        return run(opt);
    }
    if (c.optimizer == "adamw") {
        clr::optim::adamw_options o;
        o.beta1 = momentum;
        if (c.weight_decay) o.weight_decay = *c.weight_decay;
        clr::optim::adamw opt(schedule, o);
        return run(opt);
    }
    clr::optim::adam_options o;
    o.beta1 = momentum;
    o.weight_decay = c.weight_decay.value_or(0.0);
    clr::optim::adam opt(schedule, o);
    return run(opt);
}

template <class Schedule>
mnist::run_result train_with(const Schedule& schedule, const run_config& c, const mnist::float_data& data,
                             log_writer* log, mnist::curves* curves, bool print) {
    mnist::mlp<float> net(data.train.x.rows(), 784, 10);
    net.init(c.train.seed);
    mnist::gradients<float> g(net);

    progress_bar bar(print && isatty(STDOUT_FILENO));
    mnist::observers obs;
    obs.on_progress = [&bar](int e, mnist::index d, mnist::index t, double l, double s) {
        bar(e, d, t, l, s);
    };
    obs.on_epoch = [&](const mnist::epoch_record& r) {
        bar.clear();
        if (print)
            std::printf("Epoch %d/%d - %.1fs - loss: %.4f - acc: %.4f - val_loss: %.4f - val_acc: %.4f\n",
                        r.epoch, c.train.epochs, r.seconds, r.loss, r.accuracy, r.test_loss, r.test_accuracy);
        std::fflush(stdout);
        if (log)
            log->check(std::fprintf(log->f, "epoch,%d,%llu,,,%.9g,%.9g,%.9g,%.9g\n", r.epoch,
                                    static_cast<unsigned long long>(r.steps), r.loss, r.accuracy, r.test_loss,
                                    r.test_accuracy));
        if (curves) curves->epochs.push_back(r);
    };
    if (log || curves)
        obs.on_update = [&](const mnist::update_record& u) {
            if (log) {
                char m[32] = "";
                if (u.momentum) std::snprintf(m, sizeof m, "%.9g", *u.momentum);
                log->check(std::fprintf(log->f, "update,%d,%llu,%.9g,%s,%.9g,%.9g,,\n", u.epoch,
                                        static_cast<unsigned long long>(u.step), u.lr, m, u.loss,
                                        u.accuracy));
            }
            if (curves) curves->add_update(u);
        };

    return with_optimizer(schedule, c, net, g, [&](auto& opt) {
        return mnist::train(net, g, opt, data, c.train, c.momentum.value_or(0.9), obs);
    });
}

// Fills in what the schedule flags leave to the trainer and checks the rest.
void settle(run_config& c, mnist::index train_count) {
    auto& s = c.schedule;
    if (s.name.empty()) s.name = "constant";
    if (c.lr) {
        if (s.name != "constant")
            throw option_error(
                "--lr", "is the constant rate; --schedule " + s.name + " takes --base-lr and --max-lr");
        if (s.base_lr) throw option_error("--lr", "and --base-lr both set the constant rate; give one");
        s.base_lr = c.lr;
        c.lr.reset();  // settled: a second pass must not see the rate twice
    }
    if (s.name == "constant" && !s.base_lr) s.base_lr = 1e-3;  // Keras's Adam default
    if (c.optimizer != "sgd" && c.optimizer != "adam" && c.optimizer != "adamw")
        throw option_error("--optimizer", "'" + c.optimizer + "' is not one of sgd, adam, adamw");
    if (c.train.epochs < 1 || c.train.epochs > 10000)
        throw option_error("--epochs", std::to_string(c.train.epochs) + " must lie in [1, 10000]");
    if (c.train.batch < 1 || c.train.batch > 60000)
        throw option_error("--batch", std::to_string(c.train.batch) + " must lie in [1, 60000]");
    if (c.momentum && !(*c.momentum >= 0.0 && *c.momentum < 1.0))
        throw option_error("--momentum", schedule_cli::detail::number(*c.momentum) + " must lie in [0, 1)");
    if (c.weight_decay && !(*c.weight_decay >= 0.0 && std::isfinite(*c.weight_decay)))
        throw option_error("--weight-decay",
                           schedule_cli::detail::number(*c.weight_decay) + " must be finite and >= 0");
    const mnist::index batch = std::min<mnist::index>(c.train.batch, std::max<mnist::index>(train_count, 1));
    const auto per_epoch = static_cast<clr::step_t>((train_count + batch - 1) / batch);
    s.default_total_steps = per_epoch * static_cast<clr::step_t>(c.train.epochs);
    schedule_cli::check(s);
}

mnist::run_result run_one(run_config c, const mnist::float_data& data, log_writer* log, mnist::curves* curves,
                          bool print) {
    settle(c, data.train.x.cols());
    return schedule_cli::with_schedule<float>(
        c.schedule, [&](const auto& s) { return train_with(s, c, data, log, curves, print); });
}

// ---- --range-test and --auto-range -----------------------------------------

bool is_cyclic(const std::string& name) {
    return name == "triangular" || name == "triangular2" || name == "exp_range" || name == "welch" ||
           name == "hann";
}

clr::step_t batches_per_epoch(const run_config& c, mnist::index train_count) {
    const mnist::index batch = std::min<mnist::index>(c.train.batch, std::max<mnist::index>(train_count, 1));
    return static_cast<clr::step_t>((train_count + batch - 1) / batch);
}

// A half cycle of 2 to 8 epochs (Smith), chosen so the run ends after whole
// cycles, back at base_lr: as many cycles of about 2.5 epochs' climb as fit.
clr::step_t whole_cycle_step_size(clr::step_t per_epoch, int epochs) {
    const clr::step_t total = per_epoch * static_cast<clr::step_t>(epochs);
    const clr::step_t cycles = std::max<clr::step_t>(1, static_cast<clr::step_t>(epochs) / 5);
    return std::max<clr::step_t>(1, total / (2 * cycles));
}

clr::range_test<float> make_range_test(const range_options& r, clr::step_t per_epoch) {
    try {
        return clr::range_test<float>(static_cast<float>(r.min_lr), static_cast<float>(r.max_lr),
                                      r.steps.value_or(per_epoch))
            .with_smoothing(static_cast<float>(r.smoothing));
    } catch (const clr::invalid_parameter& e) {
        const std::string& p = e.param();
        const char* flag = p == "min_lr"   ? "--range-min"
                           : p == "max_lr" ? "--range-max"
                           : p == "beta"   ? "--range-smoothing"
                           : p == "steps"  ? "--range-steps"
                                           : "";
        throw option_error(flag, e.what());
    }
}

// The sweep on a freshly initialised network, with the optimizer and batch
// size of the run it is meant for.
clr::range_test_result<float> range_test(const run_config& c, const range_options& r,
                                         const mnist::float_data& data) {
    const clr::range_test<float> test = make_range_test(r, batches_per_epoch(c, data.train.x.cols()));
    mnist::mlp<float> net(data.train.x.rows(), 784, 10);
    net.init(c.train.seed);
    mnist::gradients<float> g(net);
    mnist::batcher batches(data.train, c.train.batch, c.train.seed);
    mnist::workspace<float> ws(net, batches.batch_size());
    return with_optimizer(test.sweep_schedule(), c, net, g, [&](auto& opt) {
        return test.run([&](float) {
            const mnist::index len = batches.next();
            std::size_t right = 0;
            const float loss = mnist::forward_backward(net, batches.x(), batches.y(), ws, g, &right);
            opt.step();  // at the sweep's rate for this step: the optimizer runs the sweep schedule
            return clr::range_test_step{double(loss), double(right) / double(len)};
        });
    });
}

// Three significant digits: what a range test can tell apart.
std::string rate(std::optional<float> v) {
    if (!v) return "none";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", double(*v));
    return buf;
}

void print_suggestion(const char* name, const clr::lr_suggestion<float>& s) {
    if (s)
        std::printf("  %-15s %-12s %s\n", name, rate(s.value).c_str(), s.rule.c_str());
    else
        std::printf("  %-15s %-12s %s\n", name, "none", s.reason.c_str());
}

struct bounds_choice {
    float base_lr;
    float max_lr;
    const char* rule;
};

// The bounds --auto-range trains with. Smith's readings put base_lr where the
// loss first moves, which for Adam on MNIST is a rate too small to train
// (3e-5: 1.82% test error after 10 epochs against 1.50%); the steepest point
// already trains fast, and a tenth of the rate at the minimum stays clear of
// the ragged region. Smith's pair is the fallback when either is missing.
std::optional<bounds_choice> training_bounds(const clr::range_test_suggestions<float>& s) {
    if (s.steepest && s.min_loss_div10 && *s.steepest.value < *s.min_loss_div10.value)
        return bounds_choice{*s.steepest.value, *s.min_loss_div10.value,
                             "base_lr at the steepest descent, max_lr at the minimum / 10"};
    if (s.cyclic) return bounds_choice{*s.cyclic.base_lr, *s.cyclic.max_lr, "Smith's base_lr and max_lr"};
    return std::nullopt;
}

// What the test found, and the command line that trains with it.
void report(const clr::range_test_result<float>& r, const run_config& c, const range_options& ro,
            clr::step_t per_epoch) {
    const auto& last = r.records.back();
    std::printf("LR range test: %zu steps of batch %ld, lr %s to %s, %s at step %llu (lr %s)\n",
                r.records.size(), static_cast<long>(c.train.batch),
                schedule_cli::detail::number(ro.min_lr).c_str(),
                schedule_cli::detail::number(ro.max_lr).c_str(), clr::to_string(r.stop),
                static_cast<unsigned long long>(r.stop_step), rate(last.lr).c_str());
    print_suggestion("base_lr", r.suggestions.base_lr);
    print_suggestion("max_lr", r.suggestions.max_lr);
    print_suggestion("steepest", r.suggestions.steepest);
    print_suggestion("min_loss / 10", r.suggestions.min_loss_div10);
    const auto bounds = training_bounds(r.suggestions);
    if (!bounds) {
        std::printf("No cyclical bounds: %s\n", r.suggestions.cyclic.reason.c_str());
        return;
    }
    const clr::step_t step = whole_cycle_step_size(per_epoch, c.train.epochs);
    std::printf(
        "Suggested (%s):\n  mnist_clr --schedule triangular --base-lr %s --max-lr %s --step-size %llu "
        "--optimizer %s --batch %ld --epochs %d\n",
        bounds->rule, rate(bounds->base_lr).c_str(), rate(bounds->max_lr).c_str(),
        static_cast<unsigned long long>(step), c.optimizer.c_str(), static_cast<long>(c.train.batch),
        c.train.epochs);
}

// Writes the sweep to `out` and finishes it; the caller commits it.
void write_range_log(const clr::range_test_result<float>& r, example_io::output_file& out,
                     const std::string& path) {
    log_writer w{out.stream(), path};
    w.check(std::fputs("step,lr,loss,smoothed_loss,accuracy\n", w.f));
    for (const auto& rec : r.records)
        w.check(std::fprintf(w.f, "%llu,%.9g,%.9g,%.9g,%.9g\n", static_cast<unsigned long long>(rec.step),
                             double(rec.lr), double(rec.loss), double(rec.smoothed_loss),
                             rec.accuracy ? double(*rec.accuracy) : std::nan("")));
    out.finish();
}

// ---- --compare -----------------------------------------------------------

struct comparison_row {
    std::string name;
    run_config config;
};

// The seed study's two runs, done from the same fresh initialisation, and the
// best cyclical settings found for batch 200.
std::vector<comparison_row> comparison_runs(const run_config& base) {
    std::vector<comparison_row> rows;
    auto add = [&](std::string name, const std::string& schedule, mnist::index batch) -> run_config& {
        run_config c;
        c.optimizer = "adam";
        c.train = base.train;
        c.train.batch = batch;
        c.schedule.name = schedule;
        rows.push_back({std::move(name), c});
        return rows.back().config;
    };
    add("constant", "constant", 200).lr = 1e-3;
    {
        // Keras's CyclicLR bounds with a half cycle of two epochs (Smith's
        // advice: 2 to 8 epochs), at the seed's batch of 2000.
        auto& c = add("triangular (seed settings)", "triangular", 2000);
        c.schedule.base_lr = 0.001;
        c.schedule.max_lr = 0.006;
        c.schedule.step_size = 60;
    }
    {
        auto& c = add("triangular", "triangular", 200);
        c.schedule.base_lr = 0.001;
        c.schedule.max_lr = 0.003;
        c.schedule.step_size = 750;
    }
    return rows;
}

void compare(const program_options& p, const mnist::float_data& data) {
    std::vector<std::pair<comparison_row, mnist::run_result>> results;
    for (const auto& row : comparison_runs(p.run)) {
        run_config c = row.config;
        settle(c, data.train.x.cols());
        std::printf("== %s: %s, batch %ld, %d epochs\n", row.name.c_str(), describe_run(c).c_str(),
                    static_cast<long>(c.train.batch), c.train.epochs);
        mnist::run_result r = run_one(c, data, nullptr, nullptr, true);
        std::printf("Test error: %.2f%%\n\n", 100.0 * r.test_error());
        results.emplace_back(row, std::move(r));
    }
    std::printf("| schedule | settings | batch | epochs | seconds | test error |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (auto& [row, r] : results) {
        run_config c = row.config;
        settle(c, data.train.x.cols());
        std::printf("| %s | %s | %ld | %d | %.1f | %.2f%% |\n", row.name.c_str(), describe_run(c).c_str(),
                    static_cast<long>(c.train.batch), c.train.epochs, r.train_seconds,
                    100.0 * r.test_error());
    }
    std::printf("\nSeed %llu, threads %d. %s\n", static_cast<unsigned long long>(p.run.train.seed), p.threads,
                reproducibility_note);
}

// ---- main ----------------------------------------------------------------

// Every output is checked before any work: each can be written where it
// names, and no two name the same file (through "..", a symlink, an absolute
// path or a hard link).
void check_outputs(const program_options& p) {
    std::vector<std::pair<const char*, example_io::target_info>> outs;
    const auto add = [&outs](const char* flag, const std::optional<std::string>& path) {
        if (!path) return;
        try {
            outs.emplace_back(flag, example_io::inspect_target(*path));
        } catch (const example_io::io_error& e) {
            throw option_error(flag, e.what());
        }
    };
    add("--log", p.log);
    add("--plot", p.plot);
    for (std::size_t j = 1; j < outs.size(); ++j)
        for (std::size_t i = 0; i < j; ++i)
            if (example_io::same_target(outs[i].second, outs[j].second))
                throw option_error(outs[j].first, "'" + outs[j].second.path + "' is the same file as " +
                                                      outs[i].first + " '" + outs[i].second.path + "'");
}

// Commits the log after the plot is in place; if that fails, the message
// says the plot was written.
void commit_log_after_plot(example_io::output_file& log, const std::optional<std::string>& plot) {
    try {
        log.commit();
    } catch (const example_io::io_error& e) {
        if (!plot) throw;
        throw std::runtime_error(std::string(e.what()) + "; the --plot image " + *plot +
                                 " was written, the --log file was not");
    }
}

// One line: the update, its rate, and where to look for a rate that trains.
void print_diverged(const mnist::diverged& e, const std::string& tail) {
    std::fprintf(
        stderr,
        "mnist_clr: training diverged at update %llu (lr %.3g): %s; the rate is too high, find one that "
        "trains with --range-test%s\n",
        static_cast<unsigned long long>(e.step()), e.lr(), e.what(), tail.c_str());
}

mnist::float_data load(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT)
        throw mnist::data_error(
            dir, "no such directory; fetch MNIST with scripts/fetch_mnist.sh (or pass --data DIR)");
    // Any other reason it cannot be read is named by load_dataset.
    return mnist::to_float(mnist::load_dataset(dir));
}

}  // namespace

int main(int argc, char** argv) try {
    program_options p;
    run_config& c = p.run;
    c.schedule.name = "constant";

    CLI::App app{"Trains a 784-784-10 MLP on MNIST with a constant or cyclical learning rate.", "mnist_clr"};
    app.get_formatter()->column_width(34);
    schedule_cli::add_schedule_options(app, c.schedule);
    app.add_option("--optimizer", c.optimizer, "sgd, adam or adamw (default adam)")->type_name("NAME");
    // Every number goes through the strict parsers, so that a bad value is
    // refused naming its own flag: CLI11 would take "nan", "inf", "1e400" and
    // "-1" (as 2^64 - 1 for an unsigned) and leave the blame to a later check.
    const auto number = [&app](const char* flag, const char* type, const std::string& help, auto set) {
        app.add_option_function<std::string>(
               flag, [flag, set](const std::string& v) { set(schedule_cli::parse_number(flag, v)); }, help)
            ->type_name(type);
    };
    number("--lr", "RATE", "The rate of --schedule constant (default 0.001)", [&c](double v) { c.lr = v; });
    number("--momentum", "M", "SGD momentum, or Adam's beta1 (default 0.9)",
           [&c](double v) { c.momentum = v; });
    number("--weight-decay", "W", "L2 (sgd, adam) or decoupled (adamw) decay",
           [&c](double v) { c.weight_decay = v; });
    app.add_option("--epochs", c.train.epochs, "Passes over the training set (default 10)")->type_name("N");
    app.add_option("--batch", c.train.batch, "Examples per update (default 200)")->type_name("N");
    app.add_option_function<std::string>(
           "--seed",
           [&c](const std::string& v) {
               c.train.seed = schedule_cli::parse_unsigned("--seed", v, 0, UINT64_MAX,
                                                           "a whole number from 0 to 2^64 - 1");
           },
           "Initialisation and shuffling seed, 0 to 2^64 - 1 (default 1)")
        ->type_name("N");
    app.add_option("--threads", p.threads, "GEMM threads (default: all cores)")->type_name("N");
    app.add_option("--data", p.data, "Directory of the four IDX files, plain or .gz (default data/mnist)")
        ->type_name("DIR");
    app.add_option_function<std::string>(
           "--log", [&p](const std::string& v) { p.log = v; }, "CSV of every update and epoch")
        ->type_name("FILE");
    app.add_option_function<std::string>(
           "--plot", [&p](const std::string& v) { p.plot = v; },
           "Plot loss, rate and test error (PNG or SVG)")
        ->type_name("FILE");
    app.add_flag("--compare", p.compare, "Train the comparison runs and print their table");
    app.add_flag("--range-test", p.range.run, "Run the LR range test and suggest bounds instead of training");
    app.add_flag("--auto-range", p.range.auto_range,
                 "With a cyclic --schedule: take --base-lr and --max-lr from a range test first");
    number("--range-min", "RATE", "Range test: first rate (default 1e-5)",
           [&p](double v) { p.range.min_lr = v; });
    number("--range-max", "RATE", "Range test: last rate (default 1)",
           [&p](double v) { p.range.max_lr = v; });
    number("--range-smoothing", "BETA", "Range test: EMA factor of the loss (default 0.9)",
           [&p](double v) { p.range.smoothing = v; });
    app.add_option_function<std::string>(
           "--range-steps",
           [&p](const std::string& v) {
               p.range.steps = schedule_cli::parse_steps("--range-steps", v, 2, 1000000);
           },
           "Range test: updates in the sweep (default: one epoch)")
        ->type_name("N");
    app.footer(
        schedule_cli::flags_by_schedule() +
        "Exit status: 0 done, 1 writing failed, 2 bad flags, values or data files, 3 training diverged "
        "(a non-finite loss or parameter: the rate is too high; try --range-test).");

    if (const auto status = schedule_cli::parse_command_line(app, argc, argv, "mnist_clr")) return *status;

    try {
        if (p.threads < 0 || p.threads > 256)
            throw option_error("--threads", std::to_string(p.threads) + " must lie in [1, 256]");
        if (p.threads == 0) p.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        if (p.compare && (p.log || p.plot))
            throw option_error("--compare",
                               "writes no --log or --plot; run a single configuration for those");
        if (p.compare && (p.range.run || p.range.auto_range))
            throw option_error("--compare", "cannot be combined with --range-test or --auto-range");
        if (p.range.run && p.range.auto_range)
            throw option_error("--auto-range",
                               "trains after a range test; --range-test only tests: give one");
        if (p.range.auto_range) {
            if (!is_cyclic(c.schedule.name))
                throw option_error("--auto-range",
                                   "needs a cyclic --schedule (triangular, triangular2, exp_range, "
                                   "welch, hann), not " +
                                       c.schedule.name);
            if (c.schedule.base_lr || c.schedule.max_lr)
                throw option_error("--auto-range",
                                   "chooses --base-lr and --max-lr from the range test; drop them");
            // Stand-ins until the test has run, so the other flags are checked now.
            c.schedule.base_lr = 1e-4;
            c.schedule.max_lr = 1e-3;
        }
        if (p.plot) mnist::check_plot_target(*p.plot);
        check_outputs(p);
        // Flags are checked before the data is read: a typo costs nothing.
        run_config checked = c;
        settle(checked, 60000);
        schedule_cli::with_schedule<float>(checked.schedule, [](const auto&) {});  // the library's own checks
        if (p.range.run || p.range.auto_range) make_range_test(p.range, batches_per_epoch(checked, 60000));

        const mnist::float_data data = load(p.data);
        mnist::set_threads(p.threads);
        std::printf("Train: %ld examples, test: %ld, %d threads\n", static_cast<long>(data.train.x.cols()),
                    static_cast<long>(data.test.x.cols()), p.threads);
        std::printf("CPU: %s; GEMM: %s\n%s\n", cpu_model().c_str(), gemm_backend().c_str(),
                    reproducibility_note);

        if (p.compare) {
            compare(p, data);
            return 0;
        }
        if (p.range.run || p.range.auto_range) {
            const clr::step_t per_epoch = batches_per_epoch(checked, data.train.x.cols());
            const auto r = range_test(checked, p.range, data);
            report(r, checked, p.range, per_epoch);
            if (p.range.run) {
                // All or nothing, as for a training run.
                std::optional<example_io::output_file> range_log;
                if (p.log) write_range_log(r, range_log.emplace(*p.log), *p.log);
                if (p.plot)
                    mnist::plot_range_test(
                        r, *p.plot, checked.optimizer + ", batch " + std::to_string(checked.train.batch));
                if (range_log) commit_log_after_plot(*range_log, p.plot);
                return 0;
            }
            const auto bounds = training_bounds(r.suggestions);
            if (!bounds)
                throw std::runtime_error("--auto-range: the range test gives no bounds: " +
                                         r.suggestions.cyclic.reason);
            std::printf("Bounds: %s\n", bounds->rule);
            c.schedule.base_lr = double(bounds->base_lr);
            c.schedule.max_lr = double(bounds->max_lr);
            if (!c.schedule.step_size)
                c.schedule.step_size = whole_cycle_step_size(per_epoch, c.train.epochs);
            checked = c;
            settle(checked, data.train.x.cols());
            std::printf("Training with the suggested bounds.\n");
        }

        std::optional<example_io::output_file> log_file;
        std::optional<log_writer> log;
        if (p.log) {
            log_file.emplace(*p.log);
            log.emplace(log_writer{log_file->stream(), *p.log});
            log->check(
                std::fputs("kind,epoch,step,lr,momentum,loss,accuracy,test_loss,test_accuracy\n", log->f));
        }
        std::optional<mnist::curves> curves;
        if (p.plot) curves.emplace();

        std::printf("%s, batch %ld, %d epochs, seed %llu\n", describe_run(checked).c_str(),
                    static_cast<long>(c.train.batch), c.train.epochs,
                    static_cast<unsigned long long>(c.train.seed));
        std::optional<mnist::run_result> result;
        try {
            result = run_one(c, data, log ? &*log : nullptr, curves ? &*curves : nullptr, true);
        } catch (const mnist::diverged& e) {
            // The log up to the diverging update is what explains it: kept.
            // The plot of a broken run is not drawn.
            std::fflush(stdout);
            std::string kept;
            if (log_file) {
                log_file->commit();
                kept = "; the log up to it is in " + *p.log;
            }
            print_diverged(e, kept + (p.plot ? "; no plot drawn" : ""));
            return diverged_status;
        }
        const mnist::run_result& r = *result;
        std::printf("Train time: %.1f s (%.1f GFLOP/s)\n", r.train_seconds, r.gflops_per_second());
        std::printf("Test error: %.2f%%\n", 100.0 * r.test_error());
        // All or nothing: the log is complete before the plot is drawn, and
        // replaces an earlier one only once the plot has succeeded too.
        if (log_file) log_file->finish();
        if (curves) mnist::plot(*curves, *p.plot, describe_run(checked));
        if (log_file) commit_log_after_plot(*log_file, p.plot);
    } catch (const option_error& e) {
        std::fprintf(stderr, "mnist_clr: %s\n", e.what());
        return 2;
    } catch (const mnist::data_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const mnist::diverged& e) {
        std::fflush(stdout);
        print_diverged(e, "");
        return diverged_status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mnist_clr: %s\n", e.what());
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    // Setting up the command line can throw too; nothing may escape main.
    std::fprintf(stderr, "%s: %s\n", "mnist_clr", e.what());
    return 1;
}

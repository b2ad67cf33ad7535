// mnist_clr: Smith's CLR case study done honestly. A 784-784-10 MLP trained on
// MNIST with a constant or a cyclical learning rate, every run from the same
// fresh initialisation, reporting time and test error side by side.
//
//     mnist_clr --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 750
//     mnist_clr --schedule 'triangular(base_lr=0.001, max_lr=0.003, step_size=750)'
//     mnist_clr --compare
//     mnist_clr --epochs 5 --save run.ckpt && mnist_clr --epochs 10 --resume run.ckpt
//
// Exit status: 0 done, 1 a failure while writing (log, plot), 2 bad flags,
// values or data files, 3 training diverged (a non-finite loss or parameter).
#include "checkpoint.hpp"
#include "idx.hpp"
#include "mlp.hpp"
#include "plot.hpp"
#include "train.hpp"

#include "distributed.hpp"
#include "example_io.hpp"
#include "schedule_flags.hpp"
#include "trainer_flags.hpp"

#include <clr/any_schedule.hpp>
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <CLI/CLI.hpp>
#include <Eigen/Core>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifdef EIGEN_USE_BLAS
// OpenBLAS's own description of itself (declared in its cblas.h, which Eigen
// does not include).
extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);
#endif

namespace {

using schedule_flags::option_error;
using trainer_flags::trainer_options;

// The examples in MNIST's training set: the run length the flags are checked
// against before the data is read.
constexpr std::int64_t mnist_train_count = 60000;

// --range-test and --auto-range.
struct range_options {
    bool run = false;
    bool auto_range = false;
    std::optional<double> min_lr;  // default 1e-5
    std::optional<double> max_lr;  // default 1
    std::optional<double> smoothing;
    std::optional<clr::step_t> steps;  // default: one epoch of batches
};

// --save's name for the checkpoint after `epoch`: each "{epoch}" in it
// replaced by the number, as Keras's ModelCheckpoint names its files, so
// that a run can keep every epoch's; without one, each epoch replaces the last.
std::string checkpoint_name(const std::string& pattern, int epoch) {
    static const std::string key = "{epoch}";
    std::string name = pattern;
    for (std::size_t at = name.find(key); at != std::string::npos; at = name.find(key, at))
        name.replace(at, key.size(), std::to_string(epoch));
    return name;
}

// --save and --resume.
struct checkpoints {
    std::optional<std::string> save;    // written after every epoch (rank 0), a checkpoint_name pattern
    std::optional<std::string> resume;  // read by every rank before training
    // --resume's file, read once, before the data: its header is checked
    // against the flags, its checksum against the other ranks', and the run
    // resumes from these bytes, whatever the file holds by then.
    std::optional<mnist::checkpoint_file> from;
    std::uint32_t data = 0;  // mnist::data_checksum of --data, in every checkpoint's header

    int first_epoch() const { return from ? from->info.epoch + 1 : 1; }
};

struct program {
    schedule_flags::choice schedule;
    trainer_options train;
    range_options range;
    std::optional<std::string> log;
    std::optional<std::string> plot;
    checkpoints ckpt;
    bool compare = false;
    clr::step_t per_epoch = 0;  // updates per epoch, once the data is known
    // The processes training together: this one alone unless mpirun started
    // several (distributed.hpp).
    const distributed::world* world = nullptr;
    // Built while the flags are checked, for MNIST's run length; built again
    // only if the data's length or the range test's bounds differ.
    std::optional<clr::any_schedule<float>> built;
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

struct log_writer {
    std::FILE* f;
    std::string name;
    void check(int rc) const {
        if (rc < 0) throw example_io::io_error(name, std::string("write failed: ") + std::strerror(errno));
    }
};

// ---- one run -------------------------------------------------------------

// "adam, triangular(base_lr=0.001, max_lr=0.003, step_size=750)": the text
// form repeats the schedule exactly through --schedule.
std::string describe_run(const trainer_options& t, const clr::any_schedule<float>& s) {
    return trainer_flags::describe_optimizer(t) + ", " + clr::to_string(s);
}

// --weight-decay's text form, read for the run's length (set with the
// schedule's: 2ep and 50% mean what they mean for the rate). A bad one is
// refused naming the flag.
clr::any_schedule<double> decay_of(const trainer_options& t) {
    try {
        return clr::parse_schedule<double>(*t.weight_decay_text, t.run);
    } catch (const clr::invalid_parameter& e) {
        throw option_error("--weight-decay", e.what());
    }
}

// Builds the optimizer --optimizer names around `schedule`, registers the
// network's parameters with it and returns f(optimizer).
template <class Schedule, class F>
auto with_optimizer(const Schedule& schedule, const trainer_options& t, mnist::mlp<float>& net,
                    mnist::gradients<float>& g, F&& f) {
    const double momentum = t.momentum.value_or(0.9);
    // --weight-decay: a schedule read for the run (decay_of), a number, or PyTorch's default.
    const auto decay = [&t](double fallback) -> clr::optim::decay_value {
        if (t.weight_decay_text) return decay_of(t);
        return t.weight_decay.value_or(fallback);
    };
    auto run = [&](auto& opt) {
        mnist::add_parameters(opt, net, g);
        return f(opt);
    };
    if (t.optimizer == "sgd") {
        clr::optim::sgd_options o;
        o.momentum = momentum;
        o.weight_decay = decay(0.0);
        clr::optim::sgd opt(schedule, o);
        return run(opt);
    }
    if (t.optimizer == "adamw") {
        clr::optim::adamw_options o;
        o.beta1 = momentum;
        o.weight_decay = decay(0.01);
        clr::optim::adamw opt(schedule, o);
        return run(opt);
    }
    clr::optim::adam_options o;
    o.beta1 = momentum;
    o.weight_decay = decay(0.0);
    clr::optim::adam opt(schedule, o);
    return run(opt);
}

mnist::train_options loop_options(const trainer_options& t) { return {t.epochs, t.batch, t.seed}; }

// The checkpoint of a run after `epochs` epochs, all or nothing: an
// interrupted write leaves the previous checkpoint in place. Never written
// in place, not even into a file with other hard links (a backup made with
// ln keeps its content), and on disk before it takes the name.
template <class Optimizer>
void save_checkpoint(const std::string& path, const mnist::checkpoint_info& info,
                     const mnist::mlp<float>& net, const Optimizer& opt) {
    std::ostringstream bytes(std::ios::binary);
    mnist::write_checkpoint(bytes, info, net, opt);
    const std::string b = bytes.str();
    example_io::output_file out(path, example_io::placement::rename);
    if (std::fwrite(b.data(), 1, b.size(), out.stream()) != b.size())
        throw example_io::io_error(path, std::string("write failed: ") + std::strerror(errno));
    out.commit();
}

// The state of --resume's checkpoint, from the bytes read once.
template <class Optimizer>
void resume_from(const checkpoints& ckpt, mnist::mlp<float>& net, Optimizer& opt, clr::step_t per_epoch) {
    const std::string& path = *ckpt.resume;
    try {
        const mnist::checkpoint_info info = mnist::load_checkpoint(*ckpt.from, net, opt);
        if (opt.steps() != per_epoch * static_cast<clr::step_t>(info.epoch))
            throw mnist::checkpoint_error("it holds " + std::to_string(opt.steps()) + " updates, not the " +
                                          std::to_string(info.epoch) + " epochs of " +
                                          std::to_string(per_epoch) + " its header says");
    } catch (const mnist::checkpoint_error& e) {
        throw option_error("--resume", path + ": " + e.what());
    }
}

mnist::run_result train_run(const clr::any_schedule<float>& schedule, const trainer_options& t,
                            const mnist::float_data& data, const distributed::world& world, log_writer* log,
                            mnist::curves* curves, bool print, const checkpoints& ckpt = {}) {
    mnist::mlp<float> net(data.train.x.rows(), 784, 10);
    net.init(t.seed);
    mnist::gradients<float> g(net);

    // mpirun hands the ranks a terminal, but its forwarding breaks a
    // redrawn line: no bar in a data-parallel run.
    progress_bar bar(print && !world.parallel() && isatty(STDOUT_FILENO));
    mnist::observers obs;
    obs.on_progress = [&bar](int e, mnist::index d, mnist::index n, double l, double s) {
        bar(e, d, n, l, s);
    };
    obs.on_epoch = [&](const mnist::epoch_record& r) {
        bar.clear();
        if (print)
            std::printf("Epoch %d/%d - %.1fs - loss: %.4f - acc: %.4f - val_loss: %.4f - val_acc: %.4f\n",
                        r.epoch, t.epochs, r.seconds, r.loss, r.accuracy, r.test_loss, r.test_accuracy);
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

    return with_optimizer(schedule, t, net, g, [&](auto& opt) {
        mnist::train_options o = loop_options(t);
        if (ckpt.resume) {
            const auto per_epoch = static_cast<clr::step_t>(t.batches_per_epoch(data.train.x.cols()));
            resume_from(ckpt, net, opt, per_epoch);
            o.first_epoch = ckpt.first_epoch();
        }
        if (ckpt.save)
            obs.on_epoch = [&, shown = obs.on_epoch](const mnist::epoch_record& r) {
                shown(r);
                save_checkpoint(
                    checkpoint_name(*ckpt.save, r.epoch),
                    {r.epoch, t.batch, t.seed, data.train.x.cols(), data.test.x.cols(), ckpt.data}, net, opt);
            };
        return mnist::train(net, g, opt, data, o, obs, world);
    });
}

// ---- --range-test and --auto-range -----------------------------------------

// The rate the range test hands its step function, as the optimizer's
// schedule: the sweep is the test's, and the optimizer applies what it is given.
class handed_rate : public clr::schedule<handed_rate, float> {
public:
    handed_rate(const float& rate, clr::range<float> bounds) : rate_(&rate), bounds_(bounds) {}
    float lr_at(clr::step_t) const noexcept { return *rate_; }
    clr::range<float> lr_range() const noexcept { return bounds_; }

private:
    const float* rate_;
    clr::range<float> bounds_;
};

clr::range_test<float> make_range_test(const range_options& r, clr::step_t per_epoch) {
    try {
        return clr::range_test<float>(static_cast<float>(r.min_lr.value_or(1e-5)),
                                      static_cast<float>(r.max_lr.value_or(1.0)), r.steps.value_or(per_epoch))
            // A sweep of one epoch is a few hundred batches; fastai's 0.98 would lag
            // the raw loss by ~49 of them, most of a decade of rates.
            .with_smoothing(static_cast<float>(r.smoothing.value_or(0.9)));
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
clr::range_test_result<float> range_test(const program& p, const mnist::float_data& data) {
    const clr::range_test<float> test = make_range_test(p.range, p.per_epoch);
    mnist::mlp<float> net(data.train.x.rows(), 784, 10);
    net.init(p.train.seed);
    mnist::gradients<float> g(net);
    mnist::batcher batches(data.train, p.train.batch, p.train.seed);
    mnist::workspace<float> ws(net, batches.batch_size());
    float rate = 0;
    return with_optimizer(handed_rate(rate, test.sweep_schedule().bounds()), p.train, net, g, [&](auto& opt) {
        return test.run([&](float lr) {
            rate = lr;
            const mnist::index len = batches.next();
            std::size_t right = 0;
            const float loss = mnist::forward_backward(net, batches.x(), batches.y(), ws, g, &right);
            opt.step();
            return clr::range_test_step{double(loss), double(right) / double(len)};
        });
    });
}

// A half cycle of 2 to 8 epochs (Smith), chosen so the run ends after whole
// cycles, back at base_lr: as many cycles of about 2.5 epochs' climb as fit.
clr::step_t whole_cycle_step_size(clr::step_t per_epoch, int epochs) {
    const clr::step_t total = per_epoch * static_cast<clr::step_t>(epochs);
    const clr::step_t cycles = std::max<clr::step_t>(1, static_cast<clr::step_t>(epochs) / 5);
    return std::max<clr::step_t>(1, total / (2 * cycles));
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

// Every name a run writes or reads is checked before any work: each output
// can be written where it names, and no output is another output, the
// --resume checkpoint or a --data file (through "..", a symlink, an absolute
// path or a hard link). --save is checked under the name of every epoch this run writes
// (first_epoch to --epochs), as its {epoch} may be in a directory's name.
// Those names may be --resume's, and may be one another's (without {epoch},
// each epoch replaces the last): a run continued into its own checkpoint has
// read it, once, before its first epoch replaces it.
struct named_target {
    std::string flag;
    int epoch;  // of a --save name; 0 for the others
    example_io::target_info target;
};

// "'r-2.ckpt' (epoch 2)": a --save name says which epoch's it is.
std::string shown(const named_target& t) {
    const std::string name = "'" + t.target.path + "'";
    return t.epoch > 0 ? name + " (epoch " + std::to_string(t.epoch) + ")" : name;
}

// A file the run reads (--resume's, --data's), not writes: it need not be writable.
named_target read_target(const char* flag, const std::string& path) {
    example_io::target_info t;
    t.path = path;
    t.resolved = path;
    t.how = example_io::target_info::kind::replace;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        t.exists = true;
        t.dev = st.st_dev;
        t.ino = st.st_ino;
    }
    return {flag, 0, t};
}

// The data files of --data that exist, plain or gzipped: a run that wrote
// its log over one would destroy the data set.
void add_data_targets(const std::string& dir, std::vector<named_target>& names) {
    for (const char* file : mnist::file_names)
        for (const char* suffix : {"", ".gz"}) {
            const std::string path = (std::filesystem::path(dir) / (std::string(file) + suffix)).string();
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0) names.push_back(read_target("--data", path));
        }
}

// What a name written directly is: "standard output", "a device", ...
std::string special_file_kind(const example_io::target_info& t) {
    if (t.how == example_io::target_info::kind::standard_output) return "standard output";
    struct stat st {};
    if (::stat(t.resolved.c_str(), &st) != 0) return "not a regular file";
    if (S_ISFIFO(st.st_mode)) return "a FIFO";
    if (S_ISSOCK(st.st_mode)) return "a socket";
    return "a device";
}

named_target output_target(const char* flag, const std::string& path, int epoch = 0) {
    using kind = example_io::target_info::kind;
    example_io::target_info t;
    try {
        t = example_io::inspect_target(path);
    } catch (const example_io::io_error& e) {
        throw option_error(flag, e.what());
    }
    // A checkpoint is megabytes of binary, put in place by a rename.
    if (epoch > 0 && (t.how == kind::standard_output || t.how == kind::direct))
        throw option_error(flag, "writes a binary file: '" + path + "' is " + special_file_kind(t) +
                                     "; name a regular file");
    return {flag, epoch, t};
}

void check_outputs(const program& p) {
    std::vector<named_target> names;  // --resume and --data, --log and --plot, then --save's names
    if (p.ckpt.resume) names.push_back(read_target("--resume", *p.ckpt.resume));
    add_data_targets(p.train.data, names);
    const std::size_t reads = names.size();
    if (p.log) names.push_back(output_target("--log", *p.log));
    if (p.plot) names.push_back(output_target("--plot", *p.plot));
    const std::size_t others = names.size();
    if (p.ckpt.save)
        for (int epoch = p.ckpt.first_epoch(); epoch <= p.train.epochs; ++epoch)
            names.push_back(output_target("--save", checkpoint_name(*p.ckpt.save, epoch), epoch));
    for (std::size_t j = 1; j < names.size(); ++j) {
        const bool saved = names[j].epoch > 0;
        for (std::size_t i = 0; i < std::min(j, others); ++i) {
            if (j < reads || (saved && names[i].flag == "--resume")) continue;
            if (example_io::same_target(names[i].target, names[j].target))
                throw option_error(names[j].flag, shown(names[j]) + " is the same file as " + names[i].flag +
                                                      " " + shown(names[i]));
        }
    }
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

// The data as the model reads it, and the checksum of its images and labels
// (for the checkpoints and the other ranks).
mnist::float_data load(const std::string& dir, std::uint32_t& checksum) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT)
        throw mnist::data_error(
            dir, "no such directory; fetch MNIST with scripts/fetch_mnist.sh (or pass --data DIR)");
    // Any other reason it cannot be read is named by load_dataset.
    const mnist::dataset raw = mnist::load_dataset(dir);
    checksum = mnist::data_checksum(raw);
    return mnist::to_float(raw);
}

// What the test found, and the command line that trains with it.
void report(const clr::range_test_result<float>& r, const program& p) {
    const auto& last = r.records.back();
    std::printf("LR range test: %zu steps of batch %ld, lr %s to %s, %s at step %llu (lr %s)\n",
                r.records.size(), static_cast<long>(p.train.batch),
                clr::format_number(p.range.min_lr.value_or(1e-5)).c_str(),
                clr::format_number(p.range.max_lr.value_or(1.0)).c_str(), clr::to_string(r.stop),
                static_cast<unsigned long long>(r.stop_step), rate(last.lr).c_str());
    print_suggestion("base_lr", r.suggestions.base_lr);
    print_suggestion("max_lr", r.suggestions.max_lr);
    print_suggestion("steepest", r.suggestions.steepest);
    print_suggestion("min_loss / 10", r.suggestions.min_loss_div10);
    print_suggestion("valley", r.suggestions.valley);
    print_suggestion("slide", r.suggestions.slide);
    const auto bounds = training_bounds(r.suggestions);
    if (!bounds) {
        std::printf("No cyclical bounds: %s\n", r.suggestions.cyclic.reason.c_str());
        return;
    }
    const clr::step_t step = whole_cycle_step_size(p.per_epoch, p.train.epochs);
    std::printf(
        "Suggested (%s):\n  mnist_clr --schedule triangular --base-lr %s --max-lr %s --step-size %llu "
        "--optimizer %s --batch %ld --epochs %d\n",
        bounds->rule, rate(bounds->base_lr).c_str(), rate(bounds->max_lr).c_str(),
        static_cast<unsigned long long>(step), p.train.optimizer.c_str(), static_cast<long>(p.train.batch),
        p.train.epochs);
}

// ---- --compare -----------------------------------------------------------

struct comparison_row {
    const char* name;
    const char* schedule;  // the text form
    std::int64_t batch;
};

// The seed study's two runs, done from the same fresh initialisation, and the
// best cyclical settings found for batch 200. The seed settings are Keras's
// CyclicLR bounds with a half cycle of two epochs (Smith's advice: 2 to 8
// epochs) at the seed's batch of 2000.
constexpr comparison_row comparison_runs[] = {
    {"constant", "constant(lr=0.001)", 200},
    {"triangular (seed settings)", "triangular(base_lr=0.001, max_lr=0.006, step_size=60)", 2000},
    {"triangular", "triangular(base_lr=0.001, max_lr=0.003, step_size=750)", 200},
    {"warmup, then plateau",
     "sequence(linear(start_lr=0, end_lr=0.003, total_steps=300), 300, plateau(constant(lr=0.003), "
     "factor=0.3, "
     "patience=1))",
     200},
};

int compare(const program& p, const mnist::float_data& data) {
    std::vector<std::string> rows;
    for (const auto& row : comparison_runs) {
        trainer_options t = p.train;
        t.optimizer = "adam";
        t.momentum.reset();
        t.weight_decay.reset();
        t.weight_decay_text.reset();
        t.batch = row.batch;
        const auto schedule = clr::parse_schedule<float>(row.schedule);
        const std::string what = describe_run(t, schedule);
        std::printf("== %s: %s, batch %ld, %d epochs\n", row.name, what.c_str(), static_cast<long>(t.batch),
                    t.epochs);
        const mnist::run_result r = train_run(schedule, t, data, *p.world, nullptr, nullptr, true);
        std::printf("Test error: %.2f%%\n\n", 100.0 * r.test_error());
        char line[512];
        std::snprintf(line, sizeof line, "| %s | %s | %ld | %d | %.1f | %.2f%% |\n", row.name, what.c_str(),
                      static_cast<long>(t.batch), t.epochs, r.train_seconds, 100.0 * r.test_error());
        rows.emplace_back(line);
    }
    std::printf("| schedule | settings | batch | epochs | seconds | test error |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (const auto& row : rows) std::fputs(row.c_str(), stdout);
    std::printf("\nSeed %llu, threads %d. %s\n", static_cast<unsigned long long>(p.train.seed),
                p.train.threads, reproducibility_note);
    return 0;
}

// ---- the program's steps ---------------------------------------------------

// The schedule's and the trainer's flags added after the first `before`
// options that --compare sets itself for each of its runs (the schedule's,
// the optimizer's, --batch): beside it they would be silently ignored. It
// keeps --epochs, --seed, --threads and --data.
std::vector<CLI::Option*> overridden_by_compare(CLI::App& app, std::size_t before) {
    std::vector<CLI::Option*> added = app.get_options();
    added.erase(added.begin(), added.begin() + static_cast<std::ptrdiff_t>(before));
    const auto kept = [](const CLI::Option* o) {
        for (const char* name : {"--epochs", "--seed", "--threads", "--data"})
            if (o->check_name(name)) return true;
        return false;
    };
    added.erase(std::remove_if(added.begin(), added.end(), kept), added.end());
    return added;
}

// The range test's bounds, smoothing and length.
void add_range_flags(CLI::App& app, range_options& r) {
    const auto number = [&app](const char* flag, const char* type, const char* help,
                               std::optional<double>& out) {
        app.add_option_function<std::string>(
               flag, [flag, &out](const std::string& v) { out = schedule_flags::parse_number(flag, v); },
               help)
            ->type_name(type);
    };
    number("--range-min", "RATE", "Range test: first rate (default 1e-5)", r.min_lr);
    number("--range-max", "RATE", "Range test: last rate (default 1)", r.max_lr);
    number("--range-smoothing", "BETA", "Range test: EMA factor of the loss (default 0.9)", r.smoothing);
    app.add_option_function<std::string>(
           "--range-steps",
           [&r](const std::string& v) {
               r.steps = schedule_flags::parse_steps("--range-steps", v, 2, 1000000);
           },
           "Range test: updates in the sweep (default: one epoch)")
        ->type_name("N");
}

void add_flags(CLI::App& app, program& p) {
    app.get_formatter()->column_width(34);
    const std::size_t before = app.get_options().size();
    schedule_flags::add_schedule_flags(app, p.schedule);
    trainer_flags::add_trainer_flags(app, p.train);
    const std::vector<CLI::Option*> overridden = overridden_by_compare(app, before);
    auto* log = app.add_option_function<std::string>(
                       "--log", [&p](const std::string& v) { p.log = v; },
                       "CSV of every update and epoch, after a row with the schedule's text form")
                    ->type_name("FILE");
    auto* plot = app.add_option_function<std::string>(
                        "--plot", [&p](const std::string& v) { p.plot = v; },
                        "Plot loss, rate and test error (PNG or SVG)")
                     ->type_name("FILE");
    auto* save = app.add_option_function<std::string>(
                        "--save", [&p](const std::string& v) { p.ckpt.save = v; },
                        "Checkpoint after every epoch: parameters and optimizer state ({epoch} in FILE "
                        "becomes the epoch's number)")
                     ->type_name("FILE");
    auto* resume = app.add_option_function<std::string>(
                          "--resume", [&p](const std::string& v) { p.ckpt.resume = v; },
                          "Continue the run a --save checkpoint holds, to --epochs in all")
                       ->type_name("FILE");
    auto* compare = app.add_flag("--compare", p.compare, "Train the comparison runs and print their table");
    auto* range_test = app.add_flag("--range-test", p.range.run,
                                    "Run the LR range test and suggest bounds instead of training");
    auto* auto_range =
        app.add_flag("--auto-range", p.range.auto_range,
                     "With a cyclic --schedule: take --base-lr and --max-lr from a range test first");
    add_range_flags(app, p.range);
    // --compare trains its own runs and writes no files; a range test either
    // only tests or trains after it.
    compare->excludes(log)
        ->excludes(plot)
        ->excludes(range_test)
        ->excludes(auto_range)
        ->excludes(save)
        ->excludes(resume);
    for (CLI::Option* o : overridden) compare->excludes(o);
    range_test->excludes(auto_range)->excludes(save)->excludes(resume);
    // A resumed run keeps the bounds it was trained with.
    auto_range->excludes(resume);
    app.footer(
        schedule_flags::flags_by_schedule() +
        "Exit status: 0 done, 1 writing failed, 2 bad flags, values or data files, 3 training diverged "
        "(a non-finite loss or parameter: the rate is too high; try --range-test).");
}

// --resume's header against the flags, before the data is read. The
// schedule and the optimizer are checked when the state is loaded.
void check_resume(program& p) {
    const std::string& path = *p.ckpt.resume;
    try {
        p.ckpt.from = mnist::read_checkpoint_file(path);
    } catch (const mnist::checkpoint_error& e) {
        throw option_error("--resume", path + ": " + e.what());
    }
    const mnist::checkpoint_info& from = p.ckpt.from->info;
    const std::string run = " of the run in " + path;
    if (from.batch != p.train.batch)
        throw option_error("--batch", std::to_string(p.train.batch) + " is not the " +
                                          std::to_string(from.batch) + run +
                                          " (--resume continues a run with its own batch)");
    if (from.seed != p.train.seed)
        throw option_error("--seed", std::to_string(p.train.seed) + " is not the " +
                                         std::to_string(from.seed) + run +
                                         " (--resume continues a run with its own shuffles)");
    if (from.epoch >= p.train.epochs)
        throw option_error("--epochs", std::to_string(p.train.epochs) + " is not more than the " +
                                           std::to_string(from.epoch) + " epochs done" + run);
}

// Every flag, before the data is read: a typo costs nothing.
void check_flags(program& p) {
    trainer_flags::settle(p.train, p.schedule);
    if (p.world->parallel() && (p.range.run || p.range.auto_range))
        throw option_error(p.range.run ? "--range-test" : "--auto-range",
                           "runs in one process; start mnist_clr without mpirun for it");
    if (p.range.auto_range) {
        // The range test chooses the bounds of a schedule that has them.
        const auto* entry = schedule_flags::find_schedule(p.schedule.schedule);
        const auto* base = entry ? schedule_flags::find_param(*entry, "--base-lr") : nullptr;
        if (!base || std::string(base->key) != "base_lr")
            throw option_error("--auto-range",
                               "needs a cyclic --schedule (triangular, triangular2, exp_range, welch, hann) "
                               "named with flags, not " +
                                   p.schedule.schedule);
        if (p.schedule.given("--base-lr") || p.schedule.given("--max-lr"))
            throw option_error("--auto-range",
                               "chooses --base-lr and --max-lr from the range test; drop them");
    }
    if (p.plot) mnist::check_plot_target(*p.plot);
    // --resume first: the epochs --save will write start after its own.
    if (p.ckpt.resume) check_resume(p);
    check_outputs(p);
    const clr::step_t per_epoch = p.train.batches_per_epoch(mnist_train_count);
    p.schedule.run_length = per_epoch * static_cast<clr::step_t>(p.train.epochs);
    p.schedule.steps_per_epoch = per_epoch;
    p.built = schedule_flags::build<float>(p.schedule);
    p.train.run = {per_epoch, *p.schedule.run_length};
    if (p.train.weight_decay_text) (void)decay_of(p.train);  // refused now, like a bad flag
    if (p.range.run || p.range.auto_range) (void)make_range_test(p.range, per_epoch);
}

void print_header(const program& p, const mnist::float_data& data) {
    std::printf("Train: %ld examples, test: %ld, %d threads", static_cast<long>(data.train.x.cols()),
                static_cast<long>(data.test.x.cols()), p.train.threads);
    if (p.world->parallel()) std::printf(" in each of %d ranks (data-parallel)", p.world->size());
    std::printf("\n");
    std::printf("CPU: %s; GEMM: %s\n%s\n", cpu_model().c_str(), gemm_backend().c_str(), reproducibility_note);
}

// Why a rank's part (check_ranks_agree) differs from rank 0's.
std::string disagreement(const program& p, std::size_t part, std::uint64_t theirs, std::uint64_t root) {
    const std::string sums = " (checksum " + mnist::hex32(static_cast<std::uint32_t>(theirs)) +
                             " against rank 0's " + mnist::hex32(static_cast<std::uint32_t>(root)) + ")";
    if (part == 0)
        return "was not started with the same flags as rank 0; give every rank the same command line";
    if (part == 1)
        return "--data: " + p.train.data + " holds other images or labels than on rank 0" + sums +
               "; give every rank the same files";
    return "--resume: " + *p.ckpt.resume + " is not the checkpoint rank 0 read" + sums +
           "; give every rank a copy of the same file";
}

// What every rank of a data-parallel job must share: its command line, its
// data (the checksum of the images and labels) and the checkpoint it resumes
// from (the checksum of the bytes it read: each rank reads its own disk). A
// rank that differs would train another model in silence or, resuming after
// another epoch, wait forever for the others. The first that differs from
// rank 0 is named, every rank throwing alike.
void check_ranks_agree(const program& p, int argc, char** argv) {
    const distributed::world& world = *p.world;
    if (!world.parallel()) return;
    std::string flags;
    for (int i = 1; i < argc; ++i) flags.append(argv[i]).push_back('\0');
    const std::uint64_t resumed = p.ckpt.from ? (std::uint64_t{1} << 32) | p.ckpt.from->checksum : 0;
    const std::vector<std::uint64_t> mine{distributed::fingerprint(flags), p.ckpt.data, resumed};
    const std::vector<std::uint64_t> all = world.gather(mine);
    for (std::size_t part = 0; part < mine.size(); ++part)
        for (int r = 1; r < world.size(); ++r) {
            const std::uint64_t theirs = all[static_cast<std::size_t>(r) * mine.size() + part];
            if (theirs != all[part])
                throw option_error("", "rank " + std::to_string(r) + " of " + std::to_string(world.size()) +
                                           ": " + disagreement(p, part, theirs, all[part]));
        }
}

// --range-test: the sweep, its suggestions, and its log and plot, all or nothing.
int range_test_only(const program& p, const mnist::float_data& data) {
    const auto r = range_test(p, data);
    report(r, p);
    std::optional<example_io::output_file> range_log;
    if (p.log) write_range_log(r, range_log.emplace(*p.log), *p.log);
    if (p.plot)
        mnist::plot_range_test(r, *p.plot, p.train.optimizer + ", batch " + std::to_string(p.train.batch));
    if (range_log) commit_log_after_plot(*range_log, p.plot);
    return 0;
}

// --auto-range: the bounds from a range test become the schedule's flags.
void choose_bounds(program& p, const mnist::float_data& data) {
    const auto r = range_test(p, data);
    report(r, p);
    const auto bounds = training_bounds(r.suggestions);
    if (!bounds)
        throw std::runtime_error("--auto-range: the range test gives no bounds: " +
                                 r.suggestions.cyclic.reason);
    std::printf("Bounds: %s\n", bounds->rule);
    p.schedule.set("--base-lr", double(bounds->base_lr));
    p.schedule.set("--max-lr", double(bounds->max_lr));
    if (!p.schedule.given("--step-size"))
        p.schedule.values["--step-size"] = std::to_string(whole_cycle_step_size(p.per_epoch, p.train.epochs));
    p.built.reset();
    std::printf("Training with the suggested bounds.\n");
}

// The schedule for the data's run length (check_flags built it for MNIST's).
void fit_schedule(program& p) {
    const clr::step_t run_length = p.per_epoch * static_cast<clr::step_t>(p.train.epochs);
    if (!p.built || run_length != p.schedule.run_length) {
        p.schedule.run_length = run_length;
        p.schedule.steps_per_epoch = p.per_epoch;
        p.built = schedule_flags::build<float>(p.schedule);
        p.train.run = {p.per_epoch, run_length};
    }
}

// All of --resume's checkpoint, read into a scratch network before anything
// is printed: a damaged file, or one of another run (data, schedule,
// optimizer), is refused like a bad flag. A version 1 checkpoint knows its
// data only by its sizes.
void check_resume_state(const program& p, const mnist::float_data& data) {
    const mnist::checkpoint_info& from = p.ckpt.from->info;
    if (from.train != data.train.x.cols() || from.test != data.test.x.cols())
        throw option_error("--data", p.train.data + " holds " + std::to_string(data.train.x.cols()) +
                                         " training and " + std::to_string(data.test.x.cols()) +
                                         " test images; the run in " + *p.ckpt.resume + " had " +
                                         std::to_string(from.train) + " and " + std::to_string(from.test));
    if (from.data && *from.data != p.ckpt.data)
        throw option_error("--data", p.train.data + " is not the data the run in " + *p.ckpt.resume +
                                         " trained on: its images and labels have the checksum " +
                                         mnist::hex32(p.ckpt.data) + ", the run's " +
                                         mnist::hex32(*from.data));
    mnist::mlp<float> net(data.train.x.rows(), 784, 10);
    mnist::gradients<float> g(net);
    with_optimizer(*p.built, p.train, net, g, [&](auto& opt) {
        resume_from(p.ckpt, net, opt, p.per_epoch);
        return 0;
    });
}

// The run's length on this data, and --resume's checkpoint read into a
// scratch network against it.
void check_against_data(program& p, const mnist::float_data& data) {
    p.per_epoch = p.train.batches_per_epoch(data.train.x.cols());
    if (p.ckpt.resume) {
        fit_schedule(p);
        check_resume_state(p, data);
    }
}

// The run the flags describe, its log and its plot, all or nothing: the log
// is complete before the plot is drawn, and replaces an earlier one only once
// the plot has succeeded too.
int train_and_write(const program& p, const clr::any_schedule<float>& schedule,
                    const mnist::float_data& data) {
    const std::string text = clr::to_string(schedule);
    std::optional<example_io::output_file> log_file;
    std::optional<log_writer> log;
    if (p.log) {
        log_file.emplace(*p.log);
        log.emplace(log_writer{log_file->stream(), *p.log});
        log->check(std::fputs("kind,epoch,step,lr,momentum,loss,accuracy,test_loss,test_accuracy\n", log->f));
        // The text form has commas, so it is quoted; it holds no quote itself.
        log->check(std::fprintf(log->f, "schedule,,,\"%s\",,,,,\n", text.c_str()));
    }
    std::optional<mnist::curves> curves;
    if (p.plot) curves.emplace();

    const std::string what = describe_run(p.train, schedule);
    std::printf("%s, batch %ld, %d epochs, seed %llu\n", what.c_str(), static_cast<long>(p.train.batch),
                p.train.epochs, static_cast<unsigned long long>(p.train.seed));
    std::optional<mnist::run_result> result;
    try {
        if (p.ckpt.resume)
            std::printf("Resuming after epoch %d from %s\n", p.ckpt.from->info.epoch, p.ckpt.resume->c_str());
        result = train_run(schedule, p.train, data, *p.world, log ? &*log : nullptr,
                           curves ? &*curves : nullptr, true, p.ckpt);
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
        return divergence::exit_status;
    }
    std::printf("Train time: %.1f s (%.1f GFLOP/s)\n", result->train_seconds, result->gflops_per_second());
    std::printf("Test error: %.2f%%\n", 100.0 * result->test_error());
    if (log_file) log_file->finish();
    if (curves) mnist::plot(*curves, *p.plot, what);
    if (log_file) commit_log_after_plot(*log_file, p.plot);
    return 0;
}

// ---- refusals before training, settled by every rank together -------------

// What a step before training ended with on this rank: nothing when the run
// goes on, or the status to exit with and what to print.
struct outcome {
    std::optional<int> status;
    std::string out;   // --help's text
    std::string line;  // the message, as one process prints it
};

outcome parse(CLI::App& app, int argc, char** argv) {
    outcome o;
    std::string err;
    o.status = schedule_flags::parse_command_line(app, argc, argv, o.out, err);
    if (!err.empty()) o.line = "mnist_clr: " + err;
    return o;
}

// Runs a step that checks (the flags, the data, the other ranks): a refusal
// becomes the outcome.
template <class Step>
outcome attempt(Step&& step) {
    try {
        step();
        return {};
    } catch (const option_error& e) {
        return {2, "", std::string("mnist_clr: ") + e.what()};
    } catch (const mnist::data_error& e) {
        return {2, "", e.what()};
    } catch (const std::exception& e) {
        return {1, "", std::string("mnist_clr: ") + e.what()};
    }
}

// Every rank's outcome of the same step, settled alike on all of them:
// returns the status every rank exits with, or nothing to go on. The ranks
// are given one command line, so what rank 0 refuses, all refuse: rank 0
// alone prints it (and --help), not one copy a rank. A rank that stops where
// rank 0 goes on (its own data, its own checkpoint) prints why, naming itself.
std::optional<int> settle(const distributed::world& world, const outcome& mine) {
    const std::vector<std::uint64_t> all = world.gather({mine.status ? std::uint64_t(*mine.status) + 1 : 0});
    const bool root_stops = all.front() != 0;
    if (world.root()) {
        std::fputs(mine.out.c_str(), stdout);
        if (!mine.line.empty()) std::fprintf(stderr, "%s\n", mine.line.c_str());
    } else if (mine.status && !root_stops && !mine.line.empty()) {
        const std::string name = "mnist_clr: ";
        const bool named = mine.line.compare(0, name.size(), name) == 0;
        std::fprintf(stderr, "mnist_clr: rank %d of %d: %s\n", world.rank(), world.size(),
                     mine.line.c_str() + (named ? name.size() : 0));
    }
    for (const std::uint64_t s : all)
        if (s != 0) return static_cast<int>((root_stops ? all.front() : s) - 1);
    return std::nullopt;
}

// The run the flags ask for, once every rank has accepted them. A rank that
// stops alone would leave the others waiting on its sums: with several
// ranks, every failure ends the whole job.
int run(program& p, const mnist::float_data& data) {
    const distributed::world& world = *p.world;
    const auto fail = [&world](int status, const std::string& message) {
        if (world.parallel()) world.abort("mnist_clr", message, status);
        std::fprintf(stderr, "mnist_clr: %s\n", message.c_str());
        return status;
    };
    try {
        mnist::set_threads(p.train.threads);
        print_header(p, data);
        if (p.compare) return compare(p, data);
        if (p.range.run) return range_test_only(p, data);
        if (p.range.auto_range) choose_bounds(p, data);
        fit_schedule(p);
        return train_and_write(p, *p.built, data);
    } catch (const option_error& e) {
        return fail(2, e.what());
    } catch (const mnist::data_error& e) {
        if (world.parallel()) world.abort("mnist_clr", e.what(), 2);
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const mnist::diverged& e) {
        std::fflush(stdout);
        print_diverged(e, "");
        if (world.parallel()) world.abort("mnist_clr", "training diverged", divergence::exit_status);
        return divergence::exit_status;
    } catch (const std::exception& e) {
        return fail(1, e.what());
    }
}

}  // namespace

int main(int argc, char** argv) try {
    distributed::world world(argc, argv);
    program p;
    p.world = &world;
    p.schedule.schedule = "constant";
    CLI::App app{"Trains a 784-784-10 MLP on MNIST with a constant or cyclical learning rate.", "mnist_clr"};
    add_flags(app, p);
    if (const auto status = settle(world, parse(app, argc, argv))) return *status;
    // Rank 0 alone prints and writes the log and the plot.
    if (!world.root()) {
        p.log.reset();
        p.plot.reset();
        p.ckpt.save.reset();
        if (!std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
    }
    mnist::float_data data;
    if (const auto status = settle(world, attempt([&] { check_flags(p); }))) return *status;
    if (const auto status = settle(world, attempt([&] { data = load(p.train.data, p.ckpt.data); })))
        return *status;
    if (const auto status = settle(world, attempt([&] {
                                       check_ranks_agree(p, argc, argv);
                                       check_against_data(p, data);
                                   })))
        return *status;
    return run(p, data);
} catch (const std::exception& e) {
    // Setting up the command line can throw too; nothing may escape main.
    std::fprintf(stderr, "%s: %s\n", "mnist_clr", e.what());
    return 1;
}

#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace convgen::detail {

namespace {

// How long an idle worker watches for the next loop before it sleeps.
std::chrono::microseconds spin_time() {
    static const std::chrono::microseconds spin = [] {
        const char *env = std::getenv("CONVGEN_SPIN_US");
        const long us = env != nullptr ? std::strtol(env, nullptr, 10) : 1000;
        return std::chrono::microseconds(us > 0 ? us : 0);
    }();
    return spin;
}

int default_threads() {
    for (const char *name : {"HL_NUM_THREADS", "HL_NUMTHREADS"}) {
        if (const char *env = std::getenv(name)) {
            const long n = std::strtol(env, nullptr, 10);
            if (n > 0) return static_cast<int>(n);
        }
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The CPU's hint that this thread is spinning.
void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Step `step` of a wait for other threads: a pause, and after a while a yield too, so that
// a waiting thread does not hold a core a thread it waits for needs.
void cpu_relax(int step) {
    pause();
    if (step >= 4096) std::this_thread::yield();
}

// Set while a thread runs a task: a loop it starts then runs on that thread.
thread_local bool g_in_task = false;

int run_serially(int size, ParallelTask task, void *context) {
    for (int i = 0; i < size; i++) {
        if (const int status = task(context, i); status != 0) return status;
    }
    return 0;
}

// One loop at a time, its tasks split into one contiguous block per thread (the caller
// and threads_ - 1 workers). A thread runs its own block first, then takes what is left of
// the others'. A loop is identified by its generation. Threads take part under `mutex_`
// (`taking_part_` counts them) and claim tasks with atomic increments; a new loop waits
// until every thread of the last one has left it before it resets the blocks.
class ThreadPool {
public:
    static ThreadPool &instance() {
        // Never destroyed: workers may still be waiting when the program exits.
        static ThreadPool *pool = new ThreadPool;
        return *pool;
    }

    int set_threads(int threads) {
        std::lock_guard<std::mutex> lock(mutex_);
        const int previous = threads_;
        threads_ = resolved(threads);
        return previous;
    }

    int run(int size, ParallelTask task, void *context) {
        if (size <= 1 || g_in_task) return run_serially(size, task, context);
        std::unique_lock<std::mutex> submitting(submit_, std::try_to_lock);
        if (!submitting.owns_lock()) return run_serially(size, task, context);
        std::unique_lock<std::mutex> lock(mutex_);
        const int threads = std::min(threads_, size);
        if (threads <= 1) {
            lock.unlock();
            return run_serially(size, task, context);
        }
        for (int step = 0; taking_part_ > 0; step++) {  // a worker still leaving the last loop
            lock.unlock();
            cpu_relax(step);
            lock.lock();
        }
        start_workers(threads - 1);
        job_ = Job{task, context, threads};
        for (int t = 0; t < threads; t++) {
            blocks_[t].next.store(static_cast<int>(int64_t(size) * t / threads), std::memory_order_relaxed);
            blocks_[t].end = static_cast<int>(int64_t(size) * (t + 1) / threads);
        }
        failed_.store(0, std::memory_order_relaxed);
        unfinished_.store(size, std::memory_order_relaxed);
        generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        if (sleeping_ > 0) wake_.notify_all();
        taking_part_++;
        const Job job = job_;
        lock.unlock();

        run_tasks(job, 0);
        for (int step = 0; unfinished_.load(std::memory_order_acquire) > 0; step++) cpu_relax(step);
        return failed_.load(std::memory_order_relaxed);
    }

private:
    struct Job {
        ParallelTask task;
        void *context;
        int threads;
    };
    struct alignas(64) Block {  // a cache line each: threads claim from their own
        std::atomic<int> next{0};
        int end = 0;
    };
    static constexpr int kMaxThreads = 256;

    ThreadPool() : threads_(resolved(0)) {}

    // A requested thread count (0: the default) as the pool uses it.
    static int resolved(int threads) { return std::min(threads > 0 ? threads : default_threads(), kMaxThreads); }

    // Workers 0 .. wanted-1 take part in loops; more are started as needed (a lowered
    // count leaves the others asleep).
    void start_workers(int wanted) {
        while (started_ < wanted) {
            std::thread(&ThreadPool::worker, this, started_++).detach();
        }
    }

    // Runs tasks of `job` as thread `me`: its own block, then the others'. Then leaves,
    // counting its tasks done once (a counter all threads wrote after every task was one
    // more cache line travelling between cores per task).
    void run_tasks(const Job &job, int me) {
        int done = 0;
        for (int k = 0; k < job.threads; k++) {
            Block &block = blocks_[(me + k) % job.threads];
            for (int index; (index = block.next.fetch_add(1, std::memory_order_relaxed)) < block.end; done++) {
                if (failed_.load(std::memory_order_relaxed) != 0) continue;  // after a failure, skip the rest
                g_in_task = true;
                int status;
                try {  // (Halide's tasks do not throw; a custom task hook might)
                    status = job.task(job.context, index);
                } catch (...) {
                    status = -1;  // halide_error_code_generic_error
                }
                g_in_task = false;
                int expected = 0;
                if (status != 0) failed_.compare_exchange_strong(expected, status);
            }
        }
        unfinished_.fetch_sub(done, std::memory_order_release);
        std::lock_guard<std::mutex> lock(mutex_);
        taking_part_--;
    }

    void worker(int index) {
        uint64_t seen = 0;
        bool wanted = true;  // whether loops use this worker (as of the last one)
        for (;;) {
            // Watch for a new loop for a while, then sleep until one starts. Workers past
            // the thread count sleep at once.
            const auto spin = wanted ? spin_time() : std::chrono::microseconds(0);
            const auto give_up = std::chrono::steady_clock::now() + spin;
            for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; spins++) {
                pause();
                if (spins % 64 == 0 && std::chrono::steady_clock::now() > give_up) break;
            }
            std::unique_lock<std::mutex> lock(mutex_);
            sleeping_++;
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
            sleeping_--;
            seen = generation_.load(std::memory_order_relaxed);
            wanted = index + 1 < threads_;
            const Job job = job_;
            // Workers past the loop's thread count sit it out; so does a worker waking
            // after its loop ended (its caller may already be starting the next).
            if (index + 1 >= job.threads || unfinished_.load(std::memory_order_acquire) == 0) continue;
            taking_part_++;
            lock.unlock();
            run_tasks(job, index + 1);
        }
    }

    std::mutex submit_;  // held by the thread whose loop the pool runs
    std::mutex mutex_;   // the fields below but the atomics and the blocks' counters
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> unfinished_{0};  // tasks of the loop not yet done
    std::atomic<int> failed_{0};      // the first nonzero status
    int threads_;
    int started_ = 0;
    int sleeping_ = 0;
    int taking_part_ = 0;
    Job job_{};
    Block blocks_[kMaxThreads];
};

}  // namespace

int parallel_for(int size, ParallelTask task, void *context) {
    return ThreadPool::instance().run(size, task, context);
}

int set_pool_threads(int threads) {
    return ThreadPool::instance().set_threads(threads);
}

}  // namespace convgen::detail

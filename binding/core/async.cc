#include "core/async.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace xt {

namespace {

std::atomic<int> g_threads{1};
std::atomic<int> g_generation{0};
thread_local int t_generation = -1;

class WorkerPool {
 public:
  // Up to 4 concurrent native jobs; each uses LibTorch's intra-op threads internally.
  static WorkerPool& Get() {
    static WorkerPool* pool = new WorkerPool(4);  // leaked on purpose: never joined at exit
    return *pool;
  }

  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(job));
      if (idle_ == 0 && static_cast<int>(threads_.size()) < max_threads_) {
        threads_.emplace_back([this] { Loop(); });
        threads_.back().detach();
      }
    }
    cv_.notify_one();
  }

 private:
  explicit WorkerPool(int max_threads) : max_threads_(max_threads) {}

  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++idle_;
        cv_.wait(lock, [this] { return !queue_.empty(); });
        --idle_;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  int max_threads_;
};

}  // namespace

void SubmitToWorkers(std::function<void()> job) { WorkerPool::Get().Submit(std::move(job)); }

int IntraOpThreads() { return g_threads.load(); }

void SetIntraOpThreads(int n) {
  if (n < 1) throw XtError(kInvalid, "threads must be a positive integer, got " + std::to_string(n));
  g_threads.store(n);
  g_generation.fetch_add(1);
  ApplyThreadSettings();
}

void ApplyThreadSettings() {
  int gen = g_generation.load();
  if (t_generation != gen) {
    at::set_num_threads(g_threads.load());
    t_generation = gen;
  }
}

}  // namespace xt

// Hazard pointers: lock-free, allocation-free protection of published model versions.
#ifndef LIVEFIT_DEPLOY_DETAIL_HAZARD_HPP
#define LIVEFIT_DEPLOY_DETAIL_HAZARD_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "livefit/core/assert.hpp"

// Why hazard pointers (M. M. Michael, "Hazard pointers: safe memory reclamation for lock-free
// objects", IEEE TPDS 15(6), 2004) rather than std::atomic<std::shared_ptr>: libstdc++ 12
// implements the latter with an internal spin lock (not lock-free), and every read would add
// two read-modify-writes on a reference count shared by all readers, whose cache-line
// ping-pong shows in the readers' tail latency. Here a read is one store and two loads on
// lines the reader's core owns; only writers pay for reclamation. Unlike an epoch scheme, a
// reader holding a snapshot for a long time pins that one version, not all garbage.

namespace livefit::detail {

/// Hazard slots per record. A thread holding more snapshots at once spills into another
/// record (claimed once, without allocation while the static pool lasts).
inline constexpr std::size_t hazard_slots = 4;

/// Records in the static pool: one per thread that reads concurrently. More threads than
/// this allocate an overflow record once each (kept and reused until the process exits).
// LIMITATION: the first read on a thread beyond the 128th live reader thread allocates
// 64 bytes once; records are recycled at thread exit, never freed before process exit.
inline constexpr std::size_t hazard_static_records = 128;

/// One thread's hazard slots, on its own cache line so readers never share a written line.
struct alignas(64) hazard_record {
  std::array<std::atomic<const void*>, hazard_slots> slots{};
  std::atomic<bool> owned{false};
  hazard_record* next_overflow{nullptr};  ///< Written once before publication, then constant.
  hazard_record* spill{nullptr};          ///< Owner-thread only: its next record, if any.
};

/// A retired object waiting until no hazard slot points at it.
struct retired_object {
  void* pointer;
  void (*deleter)(void*) noexcept;
};

/// The process-wide set of hazard records and objects awaiting reclamation.
///
/// Readers only touch their own record. Writers retire objects (under a mutex: writers may
/// block each other, never readers) and free those no slot protects.
class hazard_domain {
 public:
  constexpr hazard_domain() noexcept = default;
  hazard_domain(const hazard_domain&) = delete;
  hazard_domain& operator=(const hazard_domain&) = delete;

  /// Frees whatever is still retired. Runs at process exit, after every reader is gone.
  ~hazard_domain() {
    for (const auto& r : retired_) r.deleter(r.pointer);
    hazard_record* o = overflow_.load(std::memory_order_acquire);
    while (o != nullptr) {
      hazard_record* next = o->next_overflow;
      delete o;
      o = next;
    }
  }

  /// The domain every registry uses.
  static hazard_domain& global() noexcept {
    static hazard_domain domain;
    return domain;
  }

  /// Claims a free record for the calling thread; nullptr only if memory is exhausted.
  hazard_record* acquire_record() noexcept {
    for (std::size_t i = 0; i < hazard_static_records; ++i) {
      if (try_claim(pool_[i])) {
        std::size_t used = used_.load(std::memory_order_relaxed);
        while (used < i + 1 && !used_.compare_exchange_weak(used, i + 1)) {
        }
        return &pool_[i];
      }
    }
    for (hazard_record* o = overflow_.load(std::memory_order_acquire); o != nullptr;
         o = o->next_overflow)
      if (try_claim(*o)) return o;
    auto* fresh = new (std::nothrow) hazard_record;
    if (fresh == nullptr) return nullptr;
    fresh->owned.store(true, std::memory_order_relaxed);
    hazard_record* head = overflow_.load(std::memory_order_relaxed);
    do {
      fresh->next_overflow = head;
    } while (!overflow_.compare_exchange_weak(head, fresh, std::memory_order_release,
                                              std::memory_order_relaxed));
    return fresh;
  }

  /// Gives a record back (at thread exit). Slots still set by moved-away snapshots stay set
  /// and keep protecting until those snapshots end.
  void release_record(hazard_record* r) noexcept {
    while (r != nullptr) {
      hazard_record* spill = r->spill;
      r->spill = nullptr;
      r->owned.store(false, std::memory_order_release);
      r = spill;
    }
  }

  /// Hands `p` over for deletion once no hazard slot points at it.
  /// @pre `p` is no longer reachable from any atomic pointer a reader loads, and that
  ///      unlinking store was sequentially consistent.
  void retire(void* p, void (*deleter)(void*) noexcept) {
    std::lock_guard<std::mutex> lock(mutex_);
    retired_.push_back({p, deleter});
    // Amortise the scan: its cost is linear in the records in use.
    if (retired_.size() >= scan_threshold_) reclaim_locked();
  }

  /// Frees every retired object no slot protects; returns how many remain retired.
  std::size_t reclaim() {
    std::lock_guard<std::mutex> lock(mutex_);
    reclaim_locked();
    return retired_.size();
  }

  /// Objects retired and not yet freed.
  [[nodiscard]] std::size_t retired_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return retired_.size();
  }

 private:
  static bool try_claim(hazard_record& r) noexcept {
    if (r.owned.load(std::memory_order_relaxed)) return false;
    bool expected = false;
    return r.owned.compare_exchange_strong(expected, true, std::memory_order_acquire,
                                           std::memory_order_relaxed);
  }

  void collect(std::vector<const void*>& out, const hazard_record& r) const {
    for (const auto& s : r.slots) {
      // seq_cst pairs with the reader's seq_cst slot store and the writer's seq_cst unlink:
      // either this load sees the reader's hazard, or the reader's re-check sees the unlink.
      const void* v = s.load(std::memory_order_seq_cst);
      if (v != nullptr) out.push_back(v);
    }
  }

  void reclaim_locked() {
    std::vector<const void*> hazards;
    const std::size_t used = used_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < used; ++i) collect(hazards, pool_[i]);
    for (hazard_record* o = overflow_.load(std::memory_order_acquire); o != nullptr;
         o = o->next_overflow)
      collect(hazards, *o);
    std::sort(hazards.begin(), hazards.end());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < retired_.size(); ++i) {
      if (std::binary_search(hazards.begin(), hazards.end(), retired_[i].pointer))
        retired_[kept++] = retired_[i];
      else
        retired_[i].deleter(retired_[i].pointer);
    }
    retired_.resize(kept);
    scan_threshold_ = std::max<std::size_t>(16, 2 * hazards.size() + kept);
  }

  std::array<hazard_record, hazard_static_records> pool_{};
  std::atomic<std::size_t> used_{0};
  std::atomic<hazard_record*> overflow_{nullptr};
  std::mutex mutex_;
  std::vector<retired_object> retired_;
  std::size_t scan_threshold_{16};
};

/// The calling thread's first hazard record; trivially initialised so the fast path is one
/// TLS load and a test.
inline thread_local hazard_record* this_thread_hazards = nullptr;

/// Gives the thread's records back when the thread ends.
struct hazard_thread_owner {
  hazard_record* record{nullptr};
  ~hazard_thread_owner() {
    this_thread_hazards = nullptr;
    hazard_domain::global().release_record(record);
  }
};

/// Slow path of hazard_slot_for_this_thread(): the first read on a thread.
[[gnu::noinline]] inline hazard_record* claim_thread_hazards() noexcept {
  thread_local hazard_thread_owner owner;
  if (owner.record == nullptr) owner.record = hazard_domain::global().acquire_record();
  this_thread_hazards = owner.record;
  return owner.record;
}

/// A free slot of the calling thread, or nullptr when none can be had (out of memory).
/// Only the owning thread fills its slots; other threads only clear them (a snapshot moved
/// to another thread and released there), so a plain load-then-store claim is race-free.
[[nodiscard]] inline std::atomic<const void*>* free_hazard_slot() noexcept {
  hazard_record* r = this_thread_hazards;
  if (r == nullptr) [[unlikely]] {
    r = claim_thread_hazards();
    if (r == nullptr) return nullptr;
  }
  for (;;) {
    for (auto& s : r->slots)
      if (s.load(std::memory_order_relaxed) == nullptr) return &s;
    if (r->spill == nullptr) [[unlikely]] {
      r->spill = hazard_domain::global().acquire_record();
      if (r->spill == nullptr) return nullptr;
    }
    r = r->spill;
  }
}

/// Loads `source` and protects the loaded object with `slot`.
/// @return the protected pointer (the slot holds it), or nullptr (the slot is left free).
/// @post while the slot holds p, no writer frees p, even after `source` moves on.
template <class T>
[[nodiscard]] inline const T* protect(const std::atomic<const T*>& source,
                                      std::atomic<const void*>& slot) noexcept {
  const T* p = source.load(std::memory_order_acquire);
  while (p != nullptr) {
    slot.store(p, std::memory_order_seq_cst);
    const T* again = source.load(std::memory_order_seq_cst);
    if (again == p) return p;
    p = again;
  }
  slot.store(nullptr, std::memory_order_release);
  return nullptr;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_DEPLOY_DETAIL_HAZARD_HPP

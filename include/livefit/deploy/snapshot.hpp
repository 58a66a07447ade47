// snapshot<Model>: a reader's lock-free handle on one published, immutable model version.
#ifndef LIVEFIT_DEPLOY_SNAPSHOT_HPP
#define LIVEFIT_DEPLOY_SNAPSHOT_HPP

#include <atomic>
#include <cstdint>

#include "livefit/core/assert.hpp"
#include "livefit/deploy/detail/hazard.hpp"
#include "livefit/deploy/lineage.hpp"

namespace livefit {

/// A model version as readers see it: built once by the writer, never modified after it is
/// published, freed only when no snapshot holds it.
template <class Model>
struct published_version {
  Model model;       ///< The model, immutable once published.
  version_id id{0};  ///< Its version number in its registry.
};

/// A reader's handle on a published version (production or canary of a registry).
///
/// Taking one (registry::read()) costs one store and two loads, takes no lock, allocates
/// nothing (after the thread's first read, which claims the thread's hazard record once) and
/// never waits for writers. The version it shows stays alive and unchanged while the handle
/// lives, whatever writers publish, promote, roll back or drop in the meantime, and even if
/// the registry itself is destroyed.
///
/// Thread safety: use a handle on one thread at a time; it may be moved to another thread.
/// Hold it for the duration of a request, not for ever: it pins one version in memory.
/// Each thread has 4 hazard slots before it claims another record; a thread holding many
/// snapshots at once pays that once.
template <class Model>
class snapshot {
 public:
  /// An empty handle (no production version, or no free hazard slot).
  snapshot() noexcept = default;
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;
  /// Takes over `other`'s version; `other` becomes empty.
  snapshot(snapshot&& other) noexcept : version_(other.version_), slot_(other.slot_) {
    other.version_ = nullptr;
    other.slot_ = nullptr;
  }
  /// Releases the current version and takes over `other`'s.
  snapshot& operator=(snapshot&& other) noexcept {
    if (this != &other) {
      reset();
      version_ = other.version_;
      slot_ = other.slot_;
      other.version_ = nullptr;
      other.slot_ = nullptr;
    }
    return *this;
  }
  ~snapshot() { reset(); }

  /// Takes a snapshot of whatever `source` points at (used by registry).
  static snapshot take(const std::atomic<const published_version<Model>*>& source) noexcept {
    snapshot s;
    std::atomic<const void*>* slot = detail::free_hazard_slot();
    if (slot == nullptr) [[unlikely]] return s;
    s.version_ = detail::protect(source, *slot);
    if (s.version_ != nullptr) s.slot_ = slot;
    return s;
  }

  /// Releases the version (the writer may now free it if it was dropped).
  void reset() noexcept {
    // release: the reader's reads of the model happen before a writer that sees the cleared
    // slot frees the version.
    if (slot_ != nullptr) slot_->store(nullptr, std::memory_order_release);
    slot_ = nullptr;
    version_ = nullptr;
  }

  /// True when the handle shows a version.
  [[nodiscard]] explicit operator bool() const noexcept { return version_ != nullptr; }
  /// True when the handle shows no version.
  [[nodiscard]] bool empty() const noexcept { return version_ == nullptr; }

  /// The model. @pre !empty()
  [[nodiscard]] const Model& model() const noexcept {
    LIVEFIT_ASSERT(version_ != nullptr);
    return version_->model;
  }
  /// The model. @pre !empty()
  [[nodiscard]] const Model& operator*() const noexcept { return model(); }
  /// The model's members. @pre !empty()
  [[nodiscard]] const Model* operator->() const noexcept { return &model(); }

  /// The version shown, 0 when empty.
  [[nodiscard]] version_id version() const noexcept {
    return version_ != nullptr ? version_->id : 0;
  }

 private:
  const published_version<Model>* version_{nullptr};
  std::atomic<const void*>* slot_{nullptr};
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_SNAPSHOT_HPP

// registry<Model>: versions, stages, lineage, lock-free reads, rollback and checkpoints.
#ifndef LIVEFIT_DEPLOY_REGISTRY_HPP
#define LIVEFIT_DEPLOY_REGISTRY_HPP

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/deploy/checkpoint.hpp"
#include "livefit/deploy/detail/hazard.hpp"
#include "livefit/deploy/detail/posix_file.hpp"
#include "livefit/deploy/lineage.hpp"
#include "livefit/deploy/snapshot.hpp"

namespace livefit {

/// Where a version is in its life.
enum class stage : std::uint8_t {
  candidate = 0,    ///< Published, not serving.
  shadow = 1,       ///< Scored on live traffic, its predictions not served.
  canary = 2,       ///< Serving a fraction of traffic (at most one canary per registry).
  production = 3,   ///< Serving (exactly one, once any version was promoted).
  retired = 4,      ///< Withdrawn: a former production version (rollback target), or dropped.
  rolled_back = 5,  ///< Withdrawn because it was found bad; never serves again.
};

/// Stable name of a stage.
[[nodiscard]] constexpr std::string_view to_string(stage s) noexcept {
  switch (s) {
    case stage::candidate: return "candidate";
    case stage::shadow: return "shadow";
    case stage::canary: return "canary";
    case stage::production: return "production";
    case stage::retired: return "retired";
    case stage::rolled_back: return "rolled_back";
  }
  return "unknown";
}

/// The stage machine. Versions move forward only:
///
///     candidate -> shadow -> canary -> production -> retired -> production (rollback only)
///          \________\__________\-> retired     shadow, canary, production -> rolled_back
///
/// Changes into or out of production happen only through promote() and rollback(), which
/// keep exactly one production version: promoting retires the old one; rolling back marks
/// the current one rolled_back and returns the previous one from retired to production.
[[nodiscard]] constexpr bool legal_transition(stage from, stage to) noexcept {
  switch (from) {
    case stage::candidate:
      return to == stage::shadow || to == stage::canary || to == stage::production ||
             to == stage::retired;
    case stage::shadow:
      return to == stage::canary || to == stage::production || to == stage::retired ||
             to == stage::rolled_back;
    case stage::canary:
      return to == stage::production || to == stage::retired || to == stage::rolled_back;
    case stage::production: return to == stage::retired || to == stage::rolled_back;
    case stage::retired: return to == stage::production;
    case stage::rolled_back: return false;
  }
  return false;
}

/// Wall-clock time in seconds since the Unix epoch, the registry's default clock.
[[nodiscard]] inline double wall_clock_seconds() noexcept {
  const auto t = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(t).count();
}

/// Options of a registry.
struct registry_options {
  /// Versions kept whatever their stage: the `keep_last` most recent. At least 1; default 8.
  std::size_t keep_last{8};
  /// Former production versions kept as rollback targets. 0 (the default) keeps every
  /// version that was ever in production, as an audit trail; a long-running process that
  /// promotes often should bound it (each kept version costs a model's memory).
  std::size_t keep_past_production{0};
  /// Stage changes kept in history(), oldest dropped first. At least 1; default 64.
  std::size_t history_capacity{64};
  /// Clock of `lineage::created`, event times and history, in seconds. Default: wall clock
  /// since the Unix epoch. A replay passes its stream clock (noexcept, no captures).
  double (*clock)() noexcept {&wall_clock_seconds};
  /// Written into every event's `model` field, so one sink can serve many registries.
  std::uint32_t model_index{0};
};

/// What a registry knows of one version.
struct version_info {
  version_id id{0};                  ///< Its number.
  stage current{stage::candidate};   ///< Its stage now.
  bool ever_production{false};       ///< True once it was promoted.
  lineage origin;                    ///< What trained it and how it was judged.
};

/// One entry of the registry's history: a publication, stage change, promotion, rollback
/// or drop, with when and why.
struct stage_change {
  version_id version{0};                   ///< The version concerned.
  stage from{stage::candidate};            ///< Its stage before.
  stage to{stage::candidate};              ///< Its stage after.
  event_kind kind{event_kind::published};  ///< What happened (the event sent to the sink).
  double time{0.0};                        ///< When, on the registry's clock.
  std::string reason;                      ///< Why, as the caller said.
};

/// Versions of one model: publication, a stage machine with promotion and rollback, data
/// lineage, a retention policy, events, lock-free reads and crash-safe checkpoints.
///
/// Reading: read() and read_canary() return a snapshot of the production (canary) version.
/// They take no lock, allocate nothing, never wait for a writer and are safe from any
/// number of threads; the snapshot stays valid and unchanged while writers carry on.
///
/// Writing (publish, promote, rollback, set_stage, restore, save): serialised by a mutex
/// among writers only; each change is visible to readers through one atomic pointer store,
/// so a reader sees the old version or the new one, never a mix. Every change goes to the
/// sink as an event (called under the writers' mutex, in order; the sink must not call back
/// into the registry).
///
/// Memory: a registry with one version holds the state block (256 bytes with libstdc++ 12 on
/// x86-64: a 64-byte line of reader pointers, the writers' mutex and bookkeeping), one
/// `published_version<Model>` and one version entry (112 bytes plus lineage strings; see
/// version_bytes()) and its history records (about 56 bytes each, up to
/// `history_capacity`). Measured: an idle catalog entry with one 4-dimensional double model
/// takes about 770 heap bytes in all (tests/deploy/registry_test.cpp prints the figure).
///
/// Not copyable (a registry is an identity: its readers, history and sink); movable while no
/// other thread uses it.
/// @tparam Model a movable model; checkpoints need `checkpointable<Model>`, copy_of() a
///         copyable Model.
/// @tparam Sink  receives an event per change; null_sink by default.
template <class Model, event_sink Sink = null_sink>
class registry {
  using node = published_version<Model>;

 public:
  using model_type = Model;               ///< The model type.
  using snapshot_type = snapshot<Model>;  ///< What read() returns.

  /// Makes an empty registry.
  [[nodiscard]] static result<registry> make(const registry_options& opt, Sink sink = Sink{}) {
    if (opt.keep_last < 1)
      return fail(errc::invalid_argument, "registry: keep_last must be >= 1, got 0");
    if (opt.history_capacity < 1)
      return fail(errc::invalid_argument, "registry: history_capacity must be >= 1, got 0");
    if (opt.clock == nullptr)
      return fail(errc::invalid_argument, "registry: clock must not be null");
    return registry(opt, std::move(sink));
  }

  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;
  /// Moves the registry (not while other threads use it); `other` becomes unusable.
  registry(registry&&) noexcept = default;
  /// Drops this registry's versions (held snapshots stay valid) and takes over `other`'s.
  registry& operator=(registry&& other) noexcept {
    if (this != &other) {
      release_all();
      s_ = std::move(other.s_);
    }
    return *this;
  }
  /// Hands every version to the reclamation domain: snapshots still held stay valid.
  ~registry() { release_all(); }

  // ---- readers: lock-free, allocation-free, any thread --------------------------------

  /// The production version, or an empty snapshot when none was promoted yet.
  [[nodiscard]] snapshot_type read() const noexcept { return snapshot_type::take(s_->production); }

  /// The canary version, or an empty snapshot when there is none.
  [[nodiscard]] snapshot_type read_canary() const noexcept {
    return snapshot_type::take(s_->canary);
  }

  /// The production version's number (0 when none), without taking a snapshot.
  [[nodiscard]] version_id production_version() const noexcept {
    return s_->production_id.load(std::memory_order_acquire);
  }

  // ---- writers ------------------------------------------------------------------------

  /// Adds a version as a candidate. `origin.created` is set from the clock when 0.
  /// @return the new version's number.
  [[nodiscard]] result<version_id> publish(Model m, lineage origin = {},
                                           std::string_view reason = {}) {
    std::lock_guard<std::mutex> lock(s_->mutex);
    if (origin.parent != 0 && origin.parent >= s_->next_id)
      return fail(errc::invalid_argument, "registry: lineage parent " +
                                              std::to_string(origin.parent) +
                                              " is not an earlier version");
    const version_id id = s_->next_id++;
    if (origin.created == 0.0) origin.created = now();
    auto* n = new node{std::move(m), id};
    s_->entries.push_back(entry{id, stage::candidate, false, std::move(origin), n});
    record(id, stage::candidate, stage::candidate, event_kind::published, 0.0, reason);
    trim();
    return id;
  }

  /// Makes `v` the production version; the previous one becomes retired (and stays a
  /// rollback target). Readers switch with one atomic store.
  /// @param v       the version to promote.
  /// @param reason  why, for the history and the event.
  /// @param figures the evaluation figures that got `v` promoted, appended to its lineage.
  /// @pre `v` is a candidate, shadow or canary.
  [[nodiscard]] result<void> promote(version_id v, std::string_view reason = {},
                                     std::vector<figure> figures = {}) {
    std::lock_guard<std::mutex> lock(s_->mutex);
    entry* e = find_entry(v);
    if (e == nullptr) return missing(v);
    if (e->current == stage::production)
      return fail(errc::illegal_transition,
                  "registry: version " + std::to_string(v) + " is already production");
    if (!legal_transition(e->current, stage::production) || e->current == stage::retired)
      return fail(errc::illegal_transition,
                  "registry: cannot promote version " + std::to_string(v) + " from " +
                      std::string(to_string(e->current)) +
                      "; only candidate, shadow or canary versions are promoted (use "
                      "rollback() to return to an earlier production version)");
    const version_id old = s_->production_id.load(std::memory_order_relaxed);
    const stage from = e->current;
    publish_pointer(s_->production, s_->production_id, e);
    if (from == stage::canary) publish_pointer(s_->canary, s_->canary_id, nullptr);
    e->current = stage::production;
    e->ever_production = true;
    for (auto& f : figures) e->origin.figures.push_back(std::move(f));
    s_->production_stack.push_back(v);
    if (entry* o = find_entry(old); o != nullptr) {
      o->current = stage::retired;
      record(old, stage::production, stage::retired, event_kind::stage_changed,
             static_cast<double>(v), reason);
    }
    record(v, from, stage::production, event_kind::promoted, static_cast<double>(old), reason);
    trim();
    return {};
  }

  /// Withdraws the production version (now rolled_back) and restores the previous production
  /// version. @return the version now in production.
  [[nodiscard]] result<version_id> rollback(std::string_view reason = {}) {
    std::lock_guard<std::mutex> lock(s_->mutex);
    auto& stack = s_->production_stack;
    if (stack.empty())
      return fail(errc::not_found, "registry: rollback with no production version");
    if (stack.size() < 2)
      return fail(errc::not_found, "registry: rollback of version " +
                                       std::to_string(stack.back()) +
                                       ": no earlier production version is kept");
    entry* bad = find_entry(stack.back());
    entry* prev = find_entry(stack[stack.size() - 2]);
    LIVEFIT_ASSERT(bad != nullptr && prev != nullptr);  // retention keeps the whole stack
    publish_pointer(s_->production, s_->production_id, prev);
    bad->current = stage::rolled_back;
    prev->current = stage::production;
    stack.pop_back();
    record(bad->id, stage::production, stage::rolled_back, event_kind::rolled_back,
           static_cast<double>(prev->id), reason);
    record(prev->id, stage::retired, stage::production, event_kind::promoted,
           static_cast<double>(bad->id), reason);
    trim();
    return prev->id;
  }

  /// Moves `v` to stage `to` (promotion goes through promote()).
  /// @pre legal_transition(current, to); at most one canary; production leaves its stage
  ///      only through promote() of another version or rollback().
  [[nodiscard]] result<void> set_stage(version_id v, stage to, std::string_view reason = {}) {
    if (to == stage::production) return promote(v, reason);
    std::lock_guard<std::mutex> lock(s_->mutex);
    entry* e = find_entry(v);
    if (e == nullptr) return missing(v);
    const stage from = e->current;
    if (from == stage::production)
      return fail(errc::illegal_transition,
                  "registry: version " + std::to_string(v) +
                      " is production; promote another version or roll back instead");
    if (!legal_transition(from, to))
      return fail(errc::illegal_transition,
                  "registry: version " + std::to_string(v) + " cannot go from " +
                      std::string(to_string(from)) + " to " + std::string(to_string(to)));
    const version_id canary = s_->canary_id.load(std::memory_order_relaxed);
    if (to == stage::canary && canary != 0)
      return fail(errc::illegal_transition,
                  "registry: version " + std::to_string(canary) +
                      " is the canary already; promote or withdraw it first");
    if (from == stage::canary) publish_pointer(s_->canary, s_->canary_id, nullptr);
    if (to == stage::canary) publish_pointer(s_->canary, s_->canary_id, e);
    e->current = to;
    record(v, from, to,
           to == stage::rolled_back ? event_kind::rolled_back : event_kind::stage_changed, 0.0,
           reason);
    trim();
    return {};
  }

  // ---- look-ups (take the writers' mutex; off the hot path) ---------------------------

  /// What the registry knows of version `v`.
  [[nodiscard]] result<version_info> info(version_id v) const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    const entry* e = find_entry(v);
    if (e == nullptr) return missing(v);
    return to_info(*e);
  }

  /// The most recent version in stage `st` (the only one for production and canary).
  [[nodiscard]] result<version_id> find(stage st) const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    for (auto it = s_->entries.rbegin(); it != s_->entries.rend(); ++it)
      if (it->current == st) return it->id;
    return fail(errc::not_found, "registry: no version is " + std::string(to_string(st)));
  }

  /// Every version held, oldest first.
  [[nodiscard]] std::vector<version_info> versions() const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    std::vector<version_info> out;
    out.reserve(s_->entries.size());
    for (const auto& e : s_->entries) out.push_back(to_info(e));
    return out;
  }

  /// The last `history_capacity` changes, oldest first.
  [[nodiscard]] std::vector<stage_change> history() const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    return history_unlocked();
  }

  /// A copy of version `v`'s model (to train a child version from it).
  [[nodiscard]] result<Model> copy_of(version_id v) const
    requires std::is_copy_constructible_v<Model>
  {
    std::lock_guard<std::mutex> lock(s_->mutex);
    const entry* e = find_entry(v);
    if (e == nullptr) return missing(v);
    return Model(e->model->model);
  }

  /// Number of versions held.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    return s_->entries.size();
  }

  /// The event sink.
  [[nodiscard]] Sink& sink() noexcept { return s_->sink; }
  /// The options the registry was made with.
  [[nodiscard]] const registry_options& options() const noexcept { return s_->opt; }

  // ---- checkpoints --------------------------------------------------------------------

  /// Loads a checkpoint file as a new candidate version. The file is verified completely
  /// first; on any error the registry is unchanged and the error says why.
  /// @param path      the checkpoint file.
  /// @param prototype a model of the expected dimension to load into (dynamic sizes).
  /// @param origin    the version's lineage.
  /// @param reason    why, for the history and the event.
  [[nodiscard]] result<version_id> publish_checkpoint(const std::string& path,
                                                      const Model& prototype,
                                                      lineage origin = {},
                                                      std::string_view reason = {})
    requires checkpointable<Model> && std::is_copy_constructible_v<Model>
  {
    Model m = prototype;
    if (auto ok = load_checkpoint(path, m); !ok) return ok.error();
    return publish(std::move(m), std::move(origin), reason);
  }

  /// Saves every version to `dir` (created if missing): one checkpoint file per version,
  /// "v<id>.lfck", then the manifest "manifest.lfck" listing versions, stages, lineage,
  /// production stack and history. Each file is replaced atomically and the manifest is
  /// written last, so a crash at any instant leaves the previous or the new registry
  /// loadable; files no longer listed are deleted only after the new manifest is durable.
  /// Writers are blocked only while the state is encoded in memory, readers never.
  /// @pre one process saves into a directory at a time.
  // LIMITATION: no lock file enforces the single saver; two processes saving into one
  // directory can delete each other's temporary files (the loser's save fails cleanly).
  [[nodiscard]] result<void> save(const std::string& dir) const
    requires checkpointable<Model>
  {
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> files;
    {
      std::lock_guard<std::mutex> lock(s_->mutex);
      for (const auto& e : s_->entries)
        files.emplace_back(version_file(e.id), encode_model(e.model->model, e.id));
      files.emplace_back(manifest_file, encode_manifest());
    }
    if (auto ok = detail::ensure_directory(dir); !ok) return ok;
    std::vector<std::string> keep;
    for (const auto& [name, bytes] : files) {
      const std::string path = dir + "/" + name;
      keep.push_back(name);
      // Versions are immutable: an identical file already there needs no rewrite.
      if (name != manifest_file) {
        auto old = detail::read_whole_file(path, bytes.size());
        if (old && *old == bytes) continue;
      }
      if (auto ok = detail::write_file_atomically(path, bytes); !ok) return ok;
    }
    return remove_unlisted(dir, keep);
  }

  /// Replaces the registry's content with the one saved in `dir`. Everything is read and
  /// verified first (manifest, every version file, types, dimensions, checksums, the
  /// consistency of stages); on any error the registry is unchanged. Readers switch to the
  /// restored production version with one atomic store.
  /// @param dir       the directory save() wrote.
  /// @param prototype a model of the expected dimension to load versions into.
  /// @param copt      limits of the file reads.
  [[nodiscard]] result<void> restore(const std::string& dir, const Model& prototype,
                                     const checkpoint_options& copt = {})
    requires checkpointable<Model> && std::is_copy_constructible_v<Model>
  {
    auto loaded = load_directory(dir, prototype, copt);
    if (!loaded) return loaded.error();
    loaded_state& st = *loaded;
    std::lock_guard<std::mutex> lock(s_->mutex);
    entry* prod = nullptr;
    entry* can = nullptr;
    for (auto& e : st.entries) {
      if (e.current == stage::production) prod = &e;
      if (e.current == stage::canary) can = &e;
    }
    std::vector<entry> old = std::move(s_->entries);
    s_->entries = std::move(st.entries);
    st.entries.clear();  // the nodes now belong to the registry
    publish_pointer(s_->production, s_->production_id, prod);
    publish_pointer(s_->canary, s_->canary_id, can);
    for (auto& e : old) retire_node(e.model);
    s_->production_stack = std::move(st.stack);
    s_->next_id = st.next_id;
    s_->history.clear();
    s_->history_head = 0;
    for (auto& c : st.history) push_history(std::move(c));
    record(prod != nullptr ? prod->id : 0, stage::production, stage::production,
           event_kind::published, 0.0, "restored from a checkpoint directory");
    trim();  // this registry's retention options may be stricter than the saver's
    return {};
  }

  /// Makes a registry from a directory written by save().
  [[nodiscard]] static result<registry> load(const std::string& dir, const Model& prototype,
                                             const registry_options& opt, Sink sink = Sink{})
    requires checkpointable<Model> && std::is_copy_constructible_v<Model>
  {
    auto r = make(opt, std::move(sink));
    if (!r) return r.error();
    if (auto ok = r->restore(dir, prototype); !ok) return ok.error();
    return std::move(*r);
  }

  /// Verifies a manifest's bytes (container, model type, stage consistency) without the
  /// version files; for tools and the fuzz target. @return the number of versions listed.
  [[nodiscard]] static result<std::size_t> check_manifest(std::span<const std::uint8_t> bytes)
    requires checkpointable<Model>
  {
    auto st = parse_manifest(bytes, manifest_file);
    if (!st) return st.error();
    return st->entries.size();
  }

  /// Name of the manifest file inside a registry directory.
  static constexpr const char* manifest_file = "manifest.lfck";
  /// Type name written in manifest headers.
  static constexpr std::string_view manifest_type = "livefit.registry";

  /// Size in bytes of the state block of a registry (without versions and history).
  [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return sizeof(state); }
  /// Size in bytes of one version's bookkeeping and published copy (without heap the model
  /// or the lineage strings own).
  [[nodiscard]] static constexpr std::size_t version_bytes() noexcept {
    return sizeof(entry) + sizeof(node);
  }

 private:
  struct entry {
    version_id id{0};
    stage current{stage::candidate};
    bool ever_production{false};
    lineage origin;
    node* model{nullptr};  ///< Owned; handed to the hazard domain when dropped.
  };

  // Reader-facing pointers first, on their own cache line: writers' mutex and bookkeeping
  // traffic must not evict the line every read loads.
  struct alignas(64) state {
    std::atomic<const node*> production{nullptr};
    std::atomic<const node*> canary{nullptr};
    std::atomic<version_id> production_id{0};
    std::atomic<version_id> canary_id{0};
    alignas(64) mutable std::mutex mutex;
    std::vector<entry> entries;             ///< Ascending id.
    std::vector<version_id> production_stack;  ///< Production versions in order; back() serves.
    std::vector<stage_change> history;      ///< Ring buffer of history_capacity records.
    std::size_t history_head{0};
    version_id next_id{1};
    registry_options opt;
    [[no_unique_address]] Sink sink;
  };

  struct loaded_state {
    std::vector<entry> entries;
    std::vector<version_id> stack;
    std::vector<stage_change> history;
    version_id next_id{1};
    loaded_state() = default;
    loaded_state(loaded_state&&) noexcept = default;
    loaded_state& operator=(loaded_state&&) = delete;
    loaded_state(const loaded_state&) = delete;
    ~loaded_state() {
      for (auto& e : entries) delete e.model;  // never published: no reader can hold them
    }
  };

  registry(const registry_options& opt, Sink sink) : s_(std::make_unique<state>()) {
    (void)detail::hazard_domain::global();  // constructed first, so destroyed after us
    s_->opt = opt;
    s_->sink = std::move(sink);
  }

  void release_all() noexcept {
    if (!s_) return;
    s_->production.store(nullptr, std::memory_order_seq_cst);
    s_->canary.store(nullptr, std::memory_order_seq_cst);
    for (auto& e : s_->entries) retire_node(e.model);
    s_->entries.clear();
  }

  static void delete_node(void* p) noexcept { delete static_cast<node*>(p); }

  static void retire_node(node* n) { detail::hazard_domain::global().retire(n, &delete_node); }

  /// seq_cst: a writer's unlink must be ordered before its later hazard scan (see protect).
  static void publish_pointer(std::atomic<const node*>& ptr, std::atomic<version_id>& id,
                              const entry* e) noexcept {
    id.store(e != nullptr ? e->id : 0, std::memory_order_release);
    ptr.store(e != nullptr ? e->model : nullptr, std::memory_order_seq_cst);
  }

  [[nodiscard]] double now() const noexcept { return s_->opt.clock(); }

  [[nodiscard]] static error missing(version_id v) {
    return fail(errc::not_found, "registry: no version " + std::to_string(v));
  }

  [[nodiscard]] entry* find_entry(version_id v) const noexcept {
    auto& es = s_->entries;
    auto it = std::lower_bound(es.begin(), es.end(), v,
                               [](const entry& e, version_id id) { return e.id < id; });
    return (it != es.end() && it->id == v) ? &*it : nullptr;
  }

  [[nodiscard]] static version_info to_info(const entry& e) {
    return version_info{e.id, e.current, e.ever_production, e.origin};
  }

  void push_history(stage_change c) {
    auto& h = s_->history;
    if (h.size() < s_->opt.history_capacity) {
      h.push_back(std::move(c));
      return;
    }
    h[s_->history_head] = std::move(c);
    s_->history_head = (s_->history_head + 1) % h.size();
  }

  /// Appends to the history and tells the sink.
  void record(version_id v, stage from, stage to, event_kind kind, double value,
              std::string_view reason) {
    const double t = now();
    event ev;
    ev.kind = kind;
    ev.time = t;
    ev.version = v;
    ev.model = s_->opt.model_index;
    ev.value = value;
    ev.reason = reason_text(reason);
    push_history(stage_change{v, from, to, kind, t, std::string(reason)});
    s_->sink.on_event(ev);
  }

  /// The retention policy: drops versions that are not among the `keep_last` most recent,
  /// not serving (production, canary, shadow), not a rollback target, and (with
  /// keep_past_production == 0) never were in production.
  void trim() {
    auto& stack = s_->production_stack;
    const std::size_t max_stack = s_->opt.keep_past_production + 1;
    if (s_->opt.keep_past_production != 0 && stack.size() > max_stack)
      stack.erase(stack.begin(), stack.end() - static_cast<std::ptrdiff_t>(max_stack));
    auto& es = s_->entries;
    if (es.size() <= s_->opt.keep_last) return;
    const std::size_t old_end = es.size() - s_->opt.keep_last;
    std::size_t out = 0;
    for (std::size_t i = 0; i < es.size(); ++i) {
      entry& e = es[i];
      const bool keep = i >= old_end || e.current == stage::production ||
                        e.current == stage::canary || e.current == stage::shadow ||
                        (s_->opt.keep_past_production == 0 && e.ever_production) ||
                        std::find(stack.begin(), stack.end(), e.id) != stack.end();
      if (keep) {
        if (out != i) es[out] = std::move(e);
        ++out;
        continue;
      }
      retire_node(e.model);
      e.model = nullptr;
      record(e.id, e.current, e.current, event_kind::retired, 0.0, "retention policy");
    }
    es.resize(out);
  }

  [[nodiscard]] static std::string version_file(version_id v) {
    return "v" + std::to_string(v) + ".lfck";
  }

  [[nodiscard]] std::vector<std::uint8_t> encode_manifest() const
    requires checkpointable<Model>
  {
    byte_writer w;
    w.put_string(Model::checkpoint_type);
    w.put_u64(s_->next_id);
    w.put_u32(static_cast<std::uint32_t>(s_->entries.size()));
    for (const auto& e : s_->entries) {
      w.put_u64(e.id);
      w.put_u8(static_cast<std::uint8_t>(e.current));
      w.put_u8(e.ever_production ? 1 : 0);
      detail::write_lineage(w, e.origin);
    }
    w.put_u32(static_cast<std::uint32_t>(s_->production_stack.size()));
    for (version_id v : s_->production_stack) w.put_u64(v);
    const auto h = history_unlocked();
    w.put_u32(static_cast<std::uint32_t>(h.size()));
    for (const auto& c : h) {
      w.put_u64(c.version);
      w.put_u8(static_cast<std::uint8_t>(c.from));
      w.put_u8(static_cast<std::uint8_t>(c.to));
      w.put_u8(static_cast<std::uint8_t>(c.kind));
      w.put_f64(c.time);
      w.put_string(c.reason);
    }
    const Model* any = s_->entries.empty() ? nullptr : &s_->entries.front().model->model;
    return encode_checkpoint(manifest_type, scalar_code_of<Model>(),
                             any != nullptr ? dimension_of(*any) : 0, 0, w.bytes());
  }

  [[nodiscard]] std::vector<stage_change> history_unlocked() const {
    const auto& h = s_->history;
    std::vector<stage_change> out;
    out.reserve(h.size());
    for (std::size_t i = 0; i < h.size(); ++i) out.push_back(h[(s_->history_head + i) % h.size()]);
    return out;
  }

  /// Parses and checks a manifest (container, model type, consistency), without the
  /// version files. Errors are prefixed with `label` (the file name).
  [[nodiscard]] static result<loaded_state> parse_manifest(std::span<const std::uint8_t> bytes,
                                                           const std::string& label)
    requires checkpointable<Model>
  {
    auto view = parse_checkpoint(bytes);
    auto bad = [&](errc c, const std::string& why) { return fail(c, "'" + label + "': " + why); };
    if (!view) return bad(view.error().code, view.error().message);
    if (view->type != manifest_type)
      return bad(errc::type_mismatch, "holds a '" + std::string(view->type) +
                                          "', expected a registry manifest");
    if (view->scalar != scalar_code_of<Model>())
      return bad(errc::type_mismatch, "registry of " + std::string(to_string(view->scalar)) +
                                          " models, expected " +
                                          std::string(to_string(scalar_code_of<Model>())));
    byte_reader r(view->payload);
    loaded_state st;
    std::string_view type;
    std::uint32_t count = 0;
    const auto malformed = [&] { return bad(errc::format_error, "malformed manifest"); };
    if (!r.get_string(type) || !r.get_u64(st.next_id) || !r.get_u32(count)) return malformed();
    if (type != Model::checkpoint_type)
      return bad(errc::type_mismatch, "registry of '" + std::string(type) + "' models, expected '" +
                                          std::string(Model::checkpoint_type) + "'");
    version_id last = 0;
    std::size_t productions = 0, canaries = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      entry e;
      std::uint8_t st_code = 0, ever = 0;
      if (!r.get_u64(e.id) || !r.get_u8(st_code) || !r.get_u8(ever) ||
          !detail::read_lineage(r, e.origin))
        return malformed();
      if (e.id <= last || e.id >= st.next_id || st_code > 5 || ever > 1)
        return bad(errc::format_error, "inconsistent version entry " + std::to_string(e.id));
      last = e.id;
      e.current = static_cast<stage>(st_code);
      e.ever_production = ever == 1;
      productions += e.current == stage::production ? 1 : 0;
      canaries += e.current == stage::canary ? 1 : 0;
      st.entries.push_back(std::move(e));
    }
    if (productions > 1 || canaries > 1)
      return bad(errc::format_error, "more than one production or canary version");
    if (!r.get_u32(count) || count > st.entries.size()) return malformed();
    for (std::uint32_t i = 0; i < count; ++i) {
      version_id v = 0;
      if (!r.get_u64(v)) return malformed();
      auto it = std::find_if(st.entries.begin(), st.entries.end(),
                             [v](const entry& e) { return e.id == v; });
      if (it == st.entries.end() || !it->ever_production)
        return bad(errc::format_error, "production history names version " + std::to_string(v));
      st.stack.push_back(v);
    }
    const bool top_ok = st.stack.empty()
                            ? productions == 0
                            : productions == 1 && std::any_of(st.entries.begin(),
                                                              st.entries.end(),
                                                              [&](const entry& e) {
                                                                return e.id == st.stack.back() &&
                                                                       e.current ==
                                                                           stage::production;
                                                              });
    if (!top_ok) return bad(errc::format_error, "production version and history disagree");
    if (!r.get_u32(count)) return malformed();
    for (std::uint32_t i = 0; i < count; ++i) {
      stage_change c;
      std::uint8_t from = 0, to = 0, kind = 0;
      std::string_view why;
      if (!r.get_u64(c.version) || !r.get_u8(from) || !r.get_u8(to) || !r.get_u8(kind) ||
          !r.get_f64(c.time) || !r.get_string(why) || from > 5 || to > 5 ||
          kind > static_cast<std::uint8_t>(event_kind::model_reset))
        return malformed();
      c.from = static_cast<stage>(from);
      c.to = static_cast<stage>(to);
      c.kind = static_cast<event_kind>(kind);
      c.reason.assign(why);
      st.history.push_back(std::move(c));
    }
    if (!r.done()) return malformed();
    return st;
  }

  [[nodiscard]] static result<loaded_state> load_directory(const std::string& dir,
                                                           const Model& prototype,
                                                           const checkpoint_options& copt)
    requires checkpointable<Model> && std::is_copy_constructible_v<Model>
  {
    const std::string mpath = dir + "/" + manifest_file;
    auto bytes = detail::read_whole_file(mpath, copt.max_file_bytes);
    if (!bytes) return bytes.error();
    auto parsed = parse_manifest(*bytes, mpath);
    if (!parsed) return parsed.error();
    loaded_state& st = *parsed;
    for (auto& e : st.entries) {
      const std::string path = dir + "/" + version_file(e.id);
      auto vb = detail::read_whole_file(path, copt.max_file_bytes);
      if (!vb) return vb.error();
      auto vv = parse_checkpoint(*vb);
      if (!vv) return fail(vv.error().code, "'" + path + "': " + vv.error().message);
      if (vv->version != e.id)
        return fail(errc::format_error, "'" + path + "': holds version " +
                                            std::to_string(vv->version) + ", expected " +
                                            std::to_string(e.id));
      auto* n = new node{prototype, e.id};
      e.model = n;  // owned by st until committed
      if (auto ok = load_model(*vv, n->model); !ok)
        return fail(ok.error().code, "'" + path + "': " + ok.error().message);
    }
    return std::move(*parsed);
  }

  /// Deletes version files and leftover temporary files that `keep` does not list.
  [[nodiscard]] static result<void> remove_unlisted(const std::string& dir,
                                                    const std::vector<std::string>& keep) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return detail::io_failure("cannot list", dir, errno);
    std::vector<std::string> doomed;
    while (const dirent* ent = ::readdir(d)) {
      const std::string_view name = ent->d_name;
      const bool version_like = name.size() > 6 && name.front() == 'v' &&
                                name.substr(name.size() - 5) == ".lfck";
      const bool temp = name.find(".lfck.tmp.") != std::string_view::npos;
      if ((version_like || temp) && std::find(keep.begin(), keep.end(), name) == keep.end())
        doomed.emplace_back(name);
    }
    ::closedir(d);
    for (const auto& name : doomed) ::unlink((dir + "/" + name).c_str());
    if (doomed.empty()) return {};
    return detail::sync_directory(dir);
  }

  std::unique_ptr<state> s_;
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_REGISTRY_HPP

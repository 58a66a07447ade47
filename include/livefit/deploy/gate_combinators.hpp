// Gate combinators: all_of, any_of, not_ (compile time) and any_gate (type erasure).
//
// Three-valued logic with a veto: a rollback from any member is the combination's answer,
// whatever the others say, because a rollback is a safety signal (a broken or significantly
// worse version) that no amount of good news elsewhere should outvote. Between promote and
// hold, all_of promotes when every member promotes, any_of when at least one does, and not_
// swaps the two (its rollback passes through unchanged).
//
// Usage:
//   auto g = all_of(min_samples{}, any_of(significant{}, not_(sanity{})));
//   static_assert(gate<decltype(g), evidence>);
#ifndef LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP
#define LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP

#include <concepts>
#include <memory>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "livefit/core/concepts.hpp"
#include "livefit/deploy/detail/gate_text.hpp"
#include "livefit/deploy/evidence.hpp"

namespace livefit {

/// Promotes when every member promotes; rolls back when any member rolls back (the first
/// one's reason); else holds with the reason of the first member that holds.
/// Members are evaluated in order and evaluation stops at the first rollback.
template <class... G>
class all_of {
  static_assert(sizeof...(G) >= 1, "all_of needs at least one gate");

 public:
  static constexpr std::string_view name = "all_of";

  /// Members default-constructed (each gate with its default options).
  constexpr all_of() noexcept
    requires(std::is_nothrow_default_constructible_v<G> && ...)
      : gates_() {}

  constexpr explicit all_of(G... gates) noexcept((std::is_nothrow_move_constructible_v<G> && ...))
      : gates_(std::move(gates)...) {}

  /// @post The promote reason joins every member's reason with "; " (truncated at the
  ///       capacity of reason_text).
  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    decision veto{};
    decision first_hold{};
    bool held = false;
    bool vetoed = false;
    reason_text joined;
    // Returns true to stop the fold (a rollback decides).
    auto take = [&](const decision& d) noexcept {
      if (d.action == gate_action::rollback) {
        veto = d;
        vetoed = true;
        return true;
      }
      if (d.action == gate_action::hold && !held) {
        first_hold = d;
        held = true;
      }
      detail::join(joined, d.reason.view());
      return false;
    };
    std::apply([&](const G&... g) { static_cast<void>((take(g.evaluate(e)) || ...)); }, gates_);
    if (vetoed) return veto;
    if (held) return first_hold;
    return decision{gate_action::promote, joined};
  }

  /// The members, in order.
  [[nodiscard]] const std::tuple<G...>& gates() const noexcept { return gates_; }

 private:
  std::tuple<G...> gates_;
};

/// Promotes when at least one member promotes (the first one's reason), unless a member
/// rolls back (its reason wins); else holds, listing why each member held.
template <class... G>
class any_of {
  static_assert(sizeof...(G) >= 1, "any_of needs at least one gate");

 public:
  static constexpr std::string_view name = "any_of";

  /// Members default-constructed (each gate with its default options).
  constexpr any_of() noexcept
    requires(std::is_nothrow_default_constructible_v<G> && ...)
      : gates_() {}

  constexpr explicit any_of(G... gates) noexcept((std::is_nothrow_move_constructible_v<G> && ...))
      : gates_(std::move(gates)...) {}

  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    decision veto{};
    decision first_promote{};
    bool promoted = false;
    bool vetoed = false;
    reason_text holds("none promotes: ");
    const std::size_t prefix = holds.size();
    // Every member is asked: a later rollback must still be able to veto.
    auto take = [&](const decision& d) noexcept {
      if (d.action == gate_action::rollback) {
        veto = d;
        vetoed = true;
        return true;
      }
      if (d.action == gate_action::promote && !promoted) {
        first_promote = d;
        promoted = true;
      } else if (d.action == gate_action::hold) {
        if (holds.size() > prefix) holds.append("; ");
        holds.append(d.reason.view());
      }
      return false;
    };
    std::apply([&](const G&... g) { static_cast<void>((take(g.evaluate(e)) || ...)); }, gates_);
    if (vetoed) return veto;
    if (promoted) return first_promote;
    return decision{gate_action::hold, holds};
  }

  [[nodiscard]] const std::tuple<G...>& gates() const noexcept { return gates_; }

 private:
  std::tuple<G...> gates_;
};

/// Swaps promote and hold of its member; a rollback passes through unchanged (a safety
/// signal is never inverted). E.g. not_(min_improvement{.relative = 0.5}) holds a challenger
/// whose gain is too good to be true.
template <class G>
class not_ {
 public:
  static constexpr std::string_view name = "not_";

  constexpr not_() noexcept
    requires std::is_nothrow_default_constructible_v<G>
      : gate_() {}

  constexpr explicit not_(G g) noexcept(std::is_nothrow_move_constructible_v<G>)
      : gate_(std::move(g)) {}

  template <class Evidence>
    requires gate<G, Evidence>
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    decision d = gate_.evaluate(e);
    if (d.action == gate_action::rollback) return d;
    decision out{d.action == gate_action::promote ? gate_action::hold : gate_action::promote,
                 reason_text("not(")};
    out.reason.append(d.reason.view()).append(")");
    return out;
  }

  [[nodiscard]] const G& inner() const noexcept { return gate_; }

 private:
  G gate_;
};

/// A gate of any type behind one type, for run-time composition (configuration-driven
/// pipelines, user-defined gates inside a gate_tree).
///
/// Holds the gate in an immutable shared block: copies share it, which is safe because gates
/// are stateless. `evaluate` is one indirect call through a function pointer, with no
/// allocation; construction allocates once.
class any_gate {
 public:
  /// Wraps `g`. @pre G is a gate over `evidence`.
  template <class G>
    requires(!std::same_as<std::remove_cvref_t<G>, any_gate> &&
             gate<std::remove_cvref_t<G>, evidence>)
  explicit any_gate(G&& g)
      : impl_(std::make_shared<const std::remove_cvref_t<G>>(std::forward<G>(g))),
        call_(&call<std::remove_cvref_t<G>>) {}

  [[nodiscard]] decision evaluate(const evidence& e) const noexcept { return call_(impl_.get(), e); }

 private:
  template <class G>
  static decision call(const void* g, const evidence& e) noexcept {
    return static_cast<const G*>(g)->evaluate(e);
  }

  std::shared_ptr<const void> impl_;
  decision (*call_)(const void*, const evidence&) noexcept;
};

static_assert(gate<any_gate, evidence>);

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP
